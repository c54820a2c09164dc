/**
 * How a sweep's points execute: one interface, two implementations. In process (the default) the
 * points run one after another on this process's tensor backend and share one node cache, so the
 * nodes upstream of the swept fields run once. On a queue (`--queue redis://…`, D2NWG_QUEUE) each
 * point is a job for the `d2nwg worker` processes serving it (sweeps/queue.ts). Either way the
 * caller records each point's events as a run of the sweep group, so the store holds the same
 * runs, names and metrics whichever executor ran them.
 */
import type { RunEvent } from '../../shared/events.ts';
import { registry } from '../../shared/nodes/registry.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import type { RunOutcome } from '../../shared/runs.ts';
import { initBackend } from '../engine/backend.ts';
import type { ExecutorSetting } from '../engine/zoo/executor.ts';
import { MemoryNodeCache } from '../graph/cache.ts';
import { runPipeline } from '../graph/executor.ts';
import { runners, type PortValue } from '../nodes/index.ts';
import { unrestrictedPolicy } from '../paths/policy.ts';

/** A point's run, created in the store before it executes. */
export interface SweepPointRun {
  readonly runId: string;
  readonly pipeline: Pipeline;
  readonly seed: number;
}

export interface SweepPointHooks {
  /** Abort to cancel the point. */
  readonly signal: AbortSignal;
  /** Every event as it happens, for progress (the CLI's lines, the canvas). */
  readonly onEvent: (event: RunEvent) => void;
  /** The run's events to store, each once and in order, with when it happened (ms since epoch). */
  readonly record: (event: RunEvent, at: number) => void;
}

export interface SweepExecutor {
  /** For messages: 'in process', "queue redis://… 'd2nwg'". */
  readonly name: string;
  /** Points run at once (runSweep's `parallel`). */
  readonly parallel: number;
  /** Execute one point's run to its end; failures are the outcome 'failed', never a throw. */
  runPoint(run: SweepPointRun, hooks: SweepPointHooks): Promise<RunOutcome>;
  /** Let go of what the executor holds (connections). */
  close(): Promise<void>;
}

/** Points one after another on this process's backend, sharing one node cache. */
export function inProcessSweepExecutor(opts: {
  /** Folder relative paths resolve against. */
  readonly dataDir: string;
  /** Backend name for the runs' runStart. */
  readonly backend: string;
}): SweepExecutor {
  const cache = new MemoryNodeCache<PortValue>();
  return {
    name: 'in process',
    parallel: 1,
    async runPoint(run, hooks) {
      const result = await runPipeline<PortValue>({
        pipeline: run.pipeline,
        registry,
        runners,
        seed: run.seed,
        signal: hooks.signal,
        dataDir: opts.dataDir,
        backend: opts.backend,
        cache,
        runId: run.runId,
        onEvent: (e) => {
          hooks.onEvent(e);
          hooks.record(e, Date.now());
        },
      });
      return result.status;
    },
    close: () => Promise.resolve(),
  };
}

/**
 * The executor a setting names: a queue when one is set (this process then needs no tensor
 * backend), else in process on the backend asked for.
 */
export async function sweepExecutorFor(
  setting: ExecutorSetting,
  inProcess: { readonly dataDir: string; readonly backend?: string },
): Promise<SweepExecutor> {
  if (!setting.queue) {
    const backend = await initBackend({ backend: inProcess.backend, quiet: true });
    return inProcessSweepExecutor({ dataDir: inProcess.dataDir, backend: backend.name });
  }
  const { queueSweepExecutor } = await import('./queue.ts');
  // The points' dataset files are read here (relative to the data dir) and travel by content.
  const policy = unrestrictedPolicy(inProcess.dataDir);
  return queueSweepExecutor(
    { url: setting.queue, queueName: setting.queueName },
    { checkRead: (p, what) => policy.checkRead(p, what) },
  );
}
