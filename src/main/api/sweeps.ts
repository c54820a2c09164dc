/**
 * The `sweeps.*` channels: preview (points and estimate), start, cancel, resume and list. Where a
 * sweep's points run is a setting (the app's settings, `d2nwg serve --queue`, D2NWG_QUEUE), read
 * when a sweep starts or resumes: in process, one point after another through the engine host
 * (whose worker keeps the node cache between runs, so upstream nodes the points share are computed
 * once), or as jobs for the `d2nwg worker` processes of a Redis queue, all at once
 * (sweeps/queue.ts), recorded as the same runs. One AbortController per running sweep;
 * cancelling also cancels its current run (in process) or its jobs (on a queue).
 */
import type { SweepSummary } from '../../shared/ipc.ts';
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import type { RunOutcome } from '../../shared/runs.ts';
import type { SweepStatus } from '../../shared/sweeps.ts';
import { errorMessage } from '../../shared/errors.ts';
import { InputError } from '../engine/errors.ts';
import { planSweep, previewSweep } from '../sweeps/plan.ts';
import type { RunEvent } from '../../shared/events.ts';
import type { ExecutorSetting } from '../engine/zoo/executor.ts';
import type { SweepExecutor } from '../sweeps/executor.ts';
import { donePoints, runSweep, sweepPlan } from '../sweeps/runner.ts';
import { ArgsError, NotFoundError, type ApiHandlers } from './dispatch.ts';
import type { StoredSweep, StudioStore, StudioSweepStore, SweepRun } from './ports.ts';

type SweepChannels =
  'sweeps.preview' | 'sweeps.start' | 'sweeps.cancel' | 'sweeps.resume' | 'sweeps.list';

export interface SweepApiDeps {
  readonly store: StudioStore;
  /** Absent: every sweeps channel answers that this store cannot hold sweeps. */
  readonly sweeps?: StudioSweepStore;
  readonly registry: NodeRegistry;
  /** Run `runId` (already created) to its end in the engine host. */
  readonly submit: (runId: string, pipeline: Pipeline, seed: number) => Promise<RunOutcome>;
  readonly cancelRun: (runId: string) => void;
  /** Where sweeps run now (read at each start and resume); absent or no queue: in process. */
  readonly executor?: () => ExecutorSetting;
  /** Store a run's event (at: when it happened, ms since epoch), for runs executed elsewhere. */
  readonly record?: (runId: string, event: RunEvent, at: number) => void;
  /** The API's path policy for reading: a queued point's dataset files are read through it. */
  readonly checkRead?: (p: string, what: string) => Promise<string>;
  /** Push a run's event to the UI (events.run, events.log), for runs executed elsewhere. */
  readonly publish?: (runId: string, event: RunEvent) => void;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** A sweep started or ended a pass over its points. */
  readonly notify: (sweepId: string, status: SweepStatus) => void;
}

/** The latest run of each point, a finished one winning over a later failed or cancelled one. */
function pointRuns(runs: readonly SweepRun[]): Map<number, SweepRun> {
  const out = new Map<number, SweepRun>();
  for (const r of runs) {
    const had = out.get(r.point);
    if (!had || had.status !== 'done') out.set(r.point, r);
  }
  return out;
}

export function createSweepApi(deps: SweepApiDeps) {
  const active = new Map<string, { controller: AbortController; runId: string | null }>();
  const pending = new Set<Promise<unknown>>();
  /** Sweep id → where its latest pass ran. */
  const ranOn = new Map<string, string>();
  /** Run id → cancels that point, for points running on a queue (the engine host has none). */
  const queuedRuns = new Map<string, AbortController>();

  /** The queue executor the setting names (connected: an unreachable Redis throws), or null. */
  const openExecutor = async (): Promise<SweepExecutor | null> => {
    const setting = deps.executor?.() ?? {};
    if (!setting.queue) return null;
    if (!deps.record || !deps.publish) {
      throw new ArgsError('this API cannot record runs executed on a queue');
    }
    const { queueSweepExecutor } = await import('../sweeps/queue.ts');
    return queueSweepExecutor(
      { url: setting.queue, ...(setting.queueName ? { queueName: setting.queueName } : {}) },
      deps.checkRead ? { checkRead: deps.checkRead } : {},
    );
  };

  /** One point's run on a queue executor: live events to the UI, its events to the store. */
  const onQueue = (
    executor: SweepExecutor,
    signal: AbortSignal,
    run: { runId: string; pipeline: Pipeline; seed: number },
  ): Promise<RunOutcome> => {
    const { record, publish } = deps;
    if (!record || !publish) throw new Error('unreachable: checked by openExecutor');
    let ended = false;
    // The point stops when its sweep is cancelled or when its run alone is (runs.cancel).
    const point = new AbortController();
    const stop = (): void => point.abort();
    if (signal.aborted) point.abort();
    else signal.addEventListener('abort', stop, { once: true });
    queuedRuns.set(run.runId, point);
    const outcome = executor.runPoint(run, {
      signal: point.signal,
      onEvent: (e) => {
        if (e.type === 'runDone') ended = true;
        publish(run.runId, e);
      },
      record: (e, at) => {
        record(run.runId, e, at);
        // A result collected after its progress events were missed still ends the run in the UI.
        if (e.type === 'runDone' && !ended) {
          ended = true;
          publish(run.runId, e);
        }
      },
    });
    return outcome.finally(() => {
      queuedRuns.delete(run.runId);
      signal.removeEventListener('abort', stop);
    });
  };

  const sweepStore = (): StudioSweepStore => {
    if (!deps.sweeps) throw new ArgsError('this store does not keep sweeps');
    return deps.sweeps;
  };

  const summary = (s: StoredSweep): SweepSummary => {
    const runs = sweepStore().sweepRuns(s.id);
    const latest = pointRuns(runs);
    const done = donePoints(runs).size;
    return {
      id: s.id,
      name: s.name,
      status: s.status,
      seed: s.seed,
      points: s.points,
      done,
      failed: [...latest.values()].filter((r) => r.status === 'failed').length,
      paths: s.spec.params.map((p) => p.path),
      runIds: [...latest.entries()].sort(([a], [b]) => a - b).map(([, r]) => r.runId),
      created: s.created,
      resumable: !active.has(s.id) && s.status !== 'running' && done < s.points,
      ...(ranOn.has(s.id) ? { executor: ranOn.get(s.id) } : {}),
    };
  };

  /** Run the sweep's remaining points in the background, in process or on `executor`. */
  const launch = (sweepId: string, executor: SweepExecutor | null): void => {
    const store = sweepStore();
    const entry = { controller: new AbortController(), runId: null as string | null };
    active.set(sweepId, entry);
    const where = executor?.name ?? 'in process';
    ranOn.set(sweepId, where);
    deps.log('info', `sweep ${sweepId} runs ${where}`);
    const ended = (status: SweepStatus) => {
      active.delete(sweepId);
      deps.notify(sweepId, status);
    };
    const signal = entry.controller.signal;
    const done = runSweep({
      store: { ...pick(store), createRun: (a) => deps.store.createRun(a) },
      registry: deps.registry,
      sweepId,
      signal,
      parallel: executor?.parallel ?? 1,
      runPoint: (run) =>
        executor ? onQueue(executor, signal, run) : deps.submit(run.runId, run.pipeline, run.seed),
      onRunCreated: (runId) => {
        if (entry.runId === null) deps.notify(sweepId, 'running');
        entry.runId = runId;
      },
    })
      .then(
        (status) => {
          deps.log('info', `sweep ${sweepId} ${status}`);
          ended(status);
        },
        (err: unknown) => {
          deps.log('error', `sweep ${sweepId} stopped: ${errorMessage(err)}`);
          ended(store.getSweep(sweepId)?.status ?? 'failed');
        },
      )
      .finally(() => executor?.close().catch(() => undefined));
    pending.add(done);
    void done.finally(() => pending.delete(done));
  };

  const handlers: Pick<ApiHandlers, SweepChannels> = {
    'sweeps.preview': async ({ pipeline, spec }) =>
      previewSweep(planSweep(pipeline, spec, deps.registry), deps.registry, (types) =>
        sweepStore().nodeTimings(types),
      ),
    'sweeps.start': async ({ pipeline, spec, seed, pipelineId }) => {
      const plan = planSweep(pipeline, spec, deps.registry);
      const store = sweepStore();
      // Before the sweep is recorded: an unreachable queue answers an error, with nothing stored.
      const executor = await openExecutor();
      let sweepId: string;
      try {
        sweepId = store.createSweep({
          name: pipeline.name,
          pipeline,
          ...(pipelineId ? { pipelineId } : {}),
          spec,
          seed: seed ?? 0,
          points: plan.points.length,
        });
      } catch (err) {
        await executor?.close();
        throw err;
      }
      deps.log(
        'info',
        `sweep started: ${pipeline.name}, ${plan.points.length} runs over ${plan.paths.join(', ')}`,
      );
      launch(sweepId, executor);
      return { sweepId, points: plan.points.length };
    },
    'sweeps.cancel': async ({ sweepId }) => {
      const entry = active.get(sweepId);
      if (!entry) return { cancelled: false };
      entry.controller.abort();
      if (entry.runId) deps.cancelRun(entry.runId);
      return { cancelled: true };
    },
    'sweeps.resume': async ({ sweepId }) => {
      const store = sweepStore();
      if (!store.getSweep(sweepId)) throw new NotFoundError(`no sweep '${sweepId}'`);
      if (active.has(sweepId)) throw new InputError(`sweep '${sweepId}' is already running`);
      const { sweep } = sweepPlan(store, deps.registry, sweepId);
      const remaining = sweep.points - donePoints(store.sweepRuns(sweepId)).size;
      if (remaining === 0) throw new InputError(`sweep '${sweepId}' has no points left to run`);
      const executor = await openExecutor();
      if (active.has(sweepId)) {
        await executor?.close();
        throw new InputError(`sweep '${sweepId}' is already running`);
      }
      launch(sweepId, executor);
      return { sweepId, remaining };
    },
    'sweeps.list': async () => (deps.sweeps ? deps.sweeps.listSweeps().map(summary) : []),
  };

  return {
    handlers,
    /** Whether `runId` is a sweep point running on a queue. */
    hasQueuedRun: (runId: string): boolean => queuedRuns.has(runId),
    /** Cancel one sweep point running on a queue; false when it is not one. */
    cancelQueuedRun(runId: string): boolean {
      const point = queuedRuns.get(runId);
      if (!point) return false;
      point.abort();
      return true;
    },
    /** Stop every sweep (their runs are cancelled by the host) and wait for the loops to end. */
    async dispose(): Promise<void> {
      for (const entry of active.values()) entry.controller.abort();
      await Promise.allSettled([...pending]);
    },
  };
}

/** The sweep store's methods bound, for the runner's store argument. */
function pick(store: StudioSweepStore) {
  return {
    getSweep: (id: string) => store.getSweep(id),
    claimSweep: (id: string) => store.claimSweep(id),
    finishSweep: (id: string, status: Parameters<StudioSweepStore['finishSweep']>[1]) =>
      store.finishSweep(id, status),
    sweepRuns: (id: string) => store.sweepRuns(id),
  };
}
