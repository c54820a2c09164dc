/**
 * Runs a sweep's points, each as a run of the group (`sweep_id`, `sweep_point`): one after another
 * by default, or up to `parallel` at once (a queue spreads them over its workers). Points that
 * already have a finished run are skipped, so the same call starts a sweep and resumes one after a
 * cancel or a restart. The caller supplies how one run executes (the engine host in the app and
 * web mode, a SweepExecutor in the CLI), so all share this loop and record runs the same way.
 */
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import type { RunOutcome } from '../../shared/runs.ts';
import type { SweepPoint, SweepStatus } from '../../shared/sweeps.ts';
import { InputError } from '../engine/errors.ts';
import type { StudioStore, StudioSweepStore, SweepRun } from '../api/ports.ts';
import { planSweep, pointLabel } from './plan.ts';

/** The store calls the loop makes. */
export type SweepRunStore = Pick<StudioStore, 'createRun'> &
  Pick<StudioSweepStore, 'getSweep' | 'claimSweep' | 'finishSweep' | 'sweepRuns'>;

/** One point's run, as the loop reports it. */
export interface PointOutcome {
  readonly point: SweepPoint;
  readonly runId: string;
  readonly status: RunOutcome;
}

export interface RunSweepArgs {
  readonly store: SweepRunStore;
  readonly registry: NodeRegistry;
  readonly sweepId: string;
  /** Execute one created run to its end. */
  readonly runPoint: (run: {
    readonly runId: string;
    readonly pipeline: Pipeline;
    readonly seed: number;
  }) => Promise<RunOutcome>;
  /**
   * Points run at once (default 1). Each run is created when its point starts, in point order.
   */
  readonly parallel?: number;
  /** Abort to stop after (or, through the caller's cancel of the run, during) the current point. */
  readonly signal?: AbortSignal;
  /** Told when a point's run is created and when it ends. */
  readonly onRunCreated?: (runId: string, point: SweepPoint) => void;
  readonly onPoint?: (outcome: PointOutcome) => void;
}

/** Points with a finished run. */
export function donePoints(runs: readonly SweepRun[]): Set<number> {
  return new Set(runs.filter((r) => r.status === 'done').map((r) => r.point));
}

/** The sweep's points, re-expanded from its stored spec and pipeline. */
export function sweepPlan(
  store: Pick<StudioSweepStore, 'getSweep'>,
  registry: NodeRegistry,
  sweepId: string,
) {
  const sweep = store.getSweep(sweepId);
  if (!sweep) throw new InputError(`unknown sweep '${sweepId}'`);
  const plan = planSweep(sweep.pipeline, sweep.spec, registry);
  if (plan.points.length !== sweep.points) {
    throw new InputError(
      `sweep '${sweepId}' expands to ${plan.points.length} points, not the ${sweep.points} it was started with`,
    );
  }
  return { sweep, plan };
}

/** Run every point without a finished run; resolves to the sweep's final status. */
export async function runSweep(args: RunSweepArgs): Promise<SweepStatus> {
  const { store, sweepId } = args;
  const { sweep, plan } = sweepPlan(store, args.registry, sweepId);
  store.claimSweep(sweepId);
  let status: Exclude<SweepStatus, 'queued' | 'running'> | null = null;
  try {
    const done = donePoints(store.sweepRuns(sweepId));
    const todo = plan.points.filter((p) => !done.has(p.index));
    let next = 0;
    let failed = false;
    let stop = false;
    // Each lane takes the next point when its previous one ends; one lane is the plain loop.
    const lane = async (): Promise<void> => {
      while (next < todo.length && !stop) {
        if (args.signal?.aborted) {
          status = 'cancelled';
          return;
        }
        const point = todo[next++];
        const runId = store.createRun({
          pipeline: point.pipeline,
          ...(sweep.pipelineId ? { pipelineId: sweep.pipelineId } : {}),
          seed: sweep.seed,
          sweep: { id: sweepId, point: point.index, label: pointLabel(point.values) },
        });
        args.onRunCreated?.(runId, point);
        let outcome: RunOutcome;
        try {
          outcome = await args.runPoint({ runId, pipeline: point.pipeline, seed: sweep.seed });
        } catch (err) {
          stop = true;
          throw err;
        }
        args.onPoint?.({ point, runId, status: outcome });
        if (outcome === 'cancelled') {
          status = 'cancelled';
          stop = true;
        }
        if (outcome === 'failed') failed = true;
      }
    };
    const lanes = Math.max(1, Math.min(args.parallel ?? 1, todo.length));
    const ends = await Promise.allSettled(Array.from({ length: lanes }, lane));
    const thrown = ends.find((e) => e.status === 'rejected');
    if (thrown) throw thrown.reason;
    status ??= failed ? 'failed' : 'done';
  } finally {
    store.finishSweep(sweepId, status ?? (args.signal?.aborted ? 'cancelled' : 'failed'));
  }
  return status;
}
