/**
 * `d2nwg sweep PIPELINE.json --set node.field=a,b,c …`: run a pipeline once per point of a grid
 * (or of `--random N` seeded draws), as one group of runs in the store. Prints the number of runs
 * and the estimate, progress per node, then a table of the points with their key metrics and the
 * sweep id. The points share one in-process node cache, so nodes upstream of the swept fields run
 * once. `--resume ID` runs the points of an earlier sweep that have no finished run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registry } from '../../../shared/nodes/registry.ts';
import { formatProblem } from '../../../shared/nodes/validate.ts';
import type { Pipeline } from '../../../shared/pipeline.ts';
import {
  parseSetArg,
  parseSweepSpec,
  showSweepValue,
  type SweepParam,
  type SweepSpec,
  type SweepStatus,
} from '../../../shared/sweeps.ts';
import { SqliteStudioStore } from '../../api/store-adapter.ts';
import { executorSetting, type ExecutorSetting } from '../../engine/zoo/executor.ts';
import type { SweepExecutor } from '../../sweeps/executor.ts';
import { InputError } from '../../engine/errors.ts';
import { checkPipelineFile } from '../../graph/load.ts';
import { defaultDbPath, openStore, type Store } from '../../store/index.ts';
import { planSweep, pointLabel, previewSweep } from '../../sweeps/plan.ts';
import { donePoints, runSweep, sweepPlan, type PointOutcome } from '../../sweeps/runner.ts';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { fmtNum, ProgressView, queueSettingOf, type TextSink } from './run.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** What to sweep: a new sweep over a file, or the rest of an earlier one. */
export type SweepTarget =
  | {
      readonly file: string;
      readonly set: readonly string[];
      /** Random draws instead of the grid. */
      readonly random?: { readonly count: number; readonly seed: number };
      /** Seed of every run (default 0). */
      readonly runSeed?: number;
    }
  | { readonly resume: string };

export interface ExecuteSweepOptions {
  readonly target: SweepTarget;
  /** SQLite file the sweep and its runs are recorded in. */
  readonly dbPath: string;
  readonly dataDir: string;
  readonly backend?: string;
  readonly err?: TextSink;
  readonly out?: TextSink;
  /** Abort to cancel; default: Ctrl-C cancels. */
  readonly signal?: AbortSignal;
  /** Told after each point's run ends. */
  readonly onPoint?: (outcome: PointOutcome) => void;
  /** Where the points run: a queue when one is set (default: D2NWG_QUEUE), else in process. */
  readonly executor?: ExecutorSetting;
}

export interface SweepOutcome {
  /** 0 every point done, 1 a point failed or the sweep was cancelled, 2 invalid input. */
  readonly code: number;
  readonly sweepId: string | null;
  readonly status: SweepStatus | null;
}

/** Largest `@N` step per metric name: the last fine-tuning epoch of `accuracy/…@N` keys. */
function keyMetrics(metrics: Readonly<Record<string, unknown>>): Map<string, number> {
  const best = new Map<string, { step: number; value: number }>();
  for (const [key, value] of Object.entries(metrics)) {
    if (typeof value !== 'number') continue;
    const m = /^(.+)@(-?\d+)$/.exec(key);
    const name = m ? m[1] : key;
    const step = m ? Number(m[2]) : 0;
    const had = best.get(name);
    if (!had || step > had.step) best.set(name, { step, value });
  }
  return new Map([...best].map(([k, v]) => [k, v.value]));
}

/** Most metric columns in the table. */
const METRIC_COLUMNS = 6;

/** The metrics of a run's result nodes (those nothing consumes), by name. */
function runMetrics(store: Store, runId: string, pipeline: Pipeline): Map<string, number> {
  const sinks = new Set(
    pipeline.nodes.filter((n) => !pipeline.edges.some((e) => e.source === n.id)).map((n) => n.id),
  );
  const out = new Map<string, number>();
  for (const n of store.getRun(runId)?.nodes ?? []) {
    if (!sinks.has(n.nodeId) || n.summary === null || typeof n.summary !== 'object') continue;
    const metrics = (n.summary as { metrics?: unknown }).metrics;
    if (metrics === null || typeof metrics !== 'object') continue;
    for (const [k, v] of keyMetrics(metrics as Record<string, unknown>)) out.set(k, v);
  }
  return out;
}

/** The points × (fields, status, run, key metrics) table. */
export function formatSweepTable(
  paths: readonly string[],
  rows: readonly {
    readonly point: number;
    readonly values: Readonly<Record<string, unknown>>;
    readonly status: string;
    readonly runId: string;
    readonly metrics: ReadonlyMap<string, number>;
  }[],
): string {
  const names: string[] = [];
  for (const r of rows) for (const k of r.metrics.keys()) if (!names.includes(k)) names.push(k);
  const metricNames = names.slice(0, METRIC_COLUMNS);
  const head = ['point', ...paths, 'status', 'run', ...metricNames];
  const body = rows.map((r) => [
    String(r.point),
    ...paths.map((p) => showSweepValue(r.values[p] as Parameters<typeof showSweepValue>[0])),
    r.status,
    r.runId,
    ...metricNames.map((k) => {
      const v = r.metrics.get(k);
      return v === undefined ? '—' : fmtNum(v);
    }),
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j].length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, j) => c.padEnd(widths[j]))
      .join('  ')
      .trimEnd();
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n');
}

/** Run the sweep's remaining points on `executor`, recording each as a run; Ctrl-C cancels. */
async function runPoints(
  studio: SqliteStudioStore,
  sweepId: string,
  executor: SweepExecutor,
  total: number,
  opts: ExecuteSweepOptions,
  err: TextSink,
): Promise<SweepStatus> {
  const ac = new AbortController();
  const onSigint = (): void => {
    if (ac.signal.aborted) process.exit(130);
    err.write('\nCtrl-C: cancelling the sweep (resume it with --resume; again to exit)…\n');
    ac.abort();
  };
  if (opts.signal) {
    if (opts.signal.aborted) ac.abort();
    else opts.signal.addEventListener('abort', () => ac.abort(), { once: true });
  } else process.on('SIGINT', onSigint);
  let n = 0;
  try {
    return await runSweep({
      store: studio,
      registry,
      sweepId,
      signal: ac.signal,
      parallel: executor.parallel,
      onRunCreated: (_runId, point) => {
        n += 1;
        err.write(`point ${n}/${total}: ${pointLabel(point.values)}\n`);
      },
      onPoint: opts.onPoint,
      runPoint: ({ runId, pipeline, seed }) => {
        const view = new ProgressView(err, pipeline);
        return executor.runPoint(
          { runId, pipeline, seed },
          {
            signal: ac.signal,
            onEvent: view.listener,
            record: (e, at) => studio.recordEvent(runId, e, at),
          },
        );
      },
    });
  } finally {
    if (!opts.signal) process.off('SIGINT', onSigint);
  }
}

/** Create (or find) the sweep, run its remaining points, print the table; never throws for runs. */
export async function executeSweep(opts: ExecuteSweepOptions): Promise<SweepOutcome> {
  const err = opts.err ?? process.stderr;
  const out = opts.out ?? process.stdout;
  // A new sweep's file and flags are checked before the store is touched.
  const target = opts.target;
  let job:
    | { readonly resume: string }
    | { readonly pipeline: Pipeline; readonly spec: SweepSpec; readonly runSeed: number };
  if ('resume' in target) job = target;
  else {
    const check = await checkPipelineFile(target.file, registry);
    if (!check.pipeline || check.problems.length > 0) {
      err.write(`${target.file}: invalid pipeline (${check.problems.length} problems):\n`);
      for (const p of check.problems) err.write(`  - ${formatProblem(p)}\n`);
      return { code: 2, sweepId: null, status: null };
    }
    if (target.set.length === 0) throw new InputError('give at least one --set node.field=a,b,c');
    const params: SweepParam[] = target.set.map((s) => {
      try {
        return parseSetArg(s);
      } catch (e) {
        throw new InputError(errorMessage(e));
      }
    });
    const raw: SweepSpec = target.random
      ? { mode: 'random', count: target.random.count, seed: target.random.seed, params }
      : { mode: 'grid', params };
    const spec = parseSweepSpec(raw);
    if (!spec.ok) throw new InputError(spec.problems.join('; '));
    job = { pipeline: check.pipeline, spec: spec.spec, runSeed: target.runSeed ?? 0 };
  }
  fs.mkdirSync(path.dirname(opts.dbPath), { recursive: true });
  const store = openStore(opts.dbPath, { dataDir: path.dirname(opts.dbPath) });
  try {
    const studio = new SqliteStudioStore(store, {
      nodes: Object.fromEntries(registry.list().map((sp) => [sp.type, sp.version])),
    });
    /** The sweep's id: the resumed one, or a new one recorded once the executor is ready. */
    let recordSweep: () => string;
    let pending: ReturnType<typeof planSweep>;
    if ('resume' in job) {
      const ids = store.sweeps.findIds(job.resume);
      if (ids.length !== 1) {
        throw new InputError(
          ids.length === 0
            ? `no sweep '${job.resume}' in ${opts.dbPath}`
            : `'${job.resume}' matches ${ids.length} sweeps: ${ids.join(', ')}`,
        );
      }
      const sweepId = ids[0];
      recordSweep = () => sweepId;
      const { plan } = sweepPlan(studio, registry, sweepId);
      const done = donePoints(studio.sweepRuns(sweepId));
      pending = { paths: plan.paths, points: plan.points.filter((p) => !done.has(p.index)) };
      if (pending.points.length === 0) {
        out.write(`sweep ${sweepId}: every point is done; nothing to resume\n`);
        return { code: 0, sweepId, status: 'done' };
      }
    } else {
      const { pipeline, spec, runSeed } = job;
      const points = planSweep(pipeline, spec, registry);
      pending = points;
      recordSweep = () =>
        studio.createSweep({
          name: pipeline.name,
          pipeline,
          spec,
          seed: runSeed,
          points: points.points.length,
        });
    }
    // Before the sweep is recorded: an unreachable queue stops here, with nothing stored.
    fs.mkdirSync(opts.dataDir, { recursive: true });
    const { sweepExecutorFor } = await import('../../sweeps/executor.ts');
    const executor = await sweepExecutorFor(opts.executor ?? executorSetting(), {
      dataDir: opts.dataDir,
      backend: opts.backend,
    });
    let status: SweepStatus;
    let sweepId: string;
    try {
      sweepId = recordSweep();
      const preview = previewSweep(pending, registry, (types) => studio.nodeTimings(types));
      out.write(
        `sweep ${sweepId}: ${preview.points} runs over ${preview.paths.join(', ')}; estimate ${preview.estimate}` +
          `${executor.parallel > 1 ? ` one after another, spread over the workers of ${executor.name}` : ''}\n`,
      );
      status = await runPoints(studio, sweepId, executor, preview.points, opts, err);
    } finally {
      await executor.close();
    }

    const { plan } = sweepPlan(studio, registry, sweepId);
    const runs = studio.sweepRuns(sweepId);
    const rows = plan.points.flatMap((p) => {
      const mine = runs.filter((r) => r.point === p.index);
      const r = mine.find((x) => x.status === 'done') ?? mine.at(-1);
      if (!r) return [];
      return [
        {
          point: p.index,
          values: p.values,
          status: r.status,
          runId: r.runId,
          metrics: runMetrics(store, r.runId, p.pipeline),
        },
      ];
    });
    out.write(`\n${formatSweepTable(plan.paths, rows)}\n`);
    const done = donePoints(runs).size;
    out.write(`\nsweep ${sweepId} ${status}: ${done}/${plan.points.length} points done\n`);
    if (done < plan.points.length) out.write(`resume with: d2nwg sweep --resume ${sweepId}\n`);
    out.write(`sweep id: ${sweepId}\n`);
    return { code: status === 'done' ? 0 : 1, sweepId, status };
  } finally {
    store.close();
  }
}

export const sweepCommand: CliCommand = {
  name: 'sweep',
  summary: 'Run a pipeline over a grid or random draw of config values, as one group of runs',
  usage: [
    'Usage: d2nwg sweep PIPELINE.json --set node.field=a,b,c [--set …] [--random N --seed S]',
    '                  [--run-seed N] [--db FILE] [--data-dir DIR] [--backend NAME]',
    '                  [--queue redis://HOST:PORT [--queue-name NAME]]',
    '       d2nwg sweep --resume SWEEP_ID [--db FILE] [--data-dir DIR] [--backend NAME] [--queue …]',
    '',
    'Runs the pipeline once per point: every combination of the --set values (a grid), or N',
    'points drawn with seed S (--random). A value list is a,b,c (JSON where it parses: 4, true,',
    '[4,8]); with --random a field may take a range LO..HI, LO..HI:log, LO..HI:int or :logint.',
    'Nested fields are node.group.field. Every point is checked before anything runs. Prints the',
    'number of runs and the time estimated from earlier runs of the same nodes, progress, then',
    'a table of the points with their key metrics and the sweep id. Ctrl-C cancels; --resume',
    'runs the points that have no finished run.',
    '',
    'With --queue (or D2NWG_QUEUE) every point is a job for the `d2nwg worker` processes serving',
    'that Redis, on any machines: they run at once, spread over the workers, and each is recorded',
    "here as a run of the sweep as if it had run in this process. A point's csv, npy and idx",
    'dataset files travel with it by content (sha256, at most D2NWG_QUEUE_FILE_MAX_BYTES each,',
    'default 64 MiB); folders, zoo imports and exports cannot be used on a worker.',
    '',
    'Options:',
    '  --set P=V        a swept field and its values (repeat for more fields)',
    '  --random N       N random points instead of the grid',
    '  --seed S         seed of the random draw (default 0)',
    '  --run-seed N     seed of every run (default 0)',
    '  --resume ID      continue an earlier sweep (an id or a unique prefix)',
    `  --db FILE        SQLite store (default ${defaultDbPath()})`,
    '  --data-dir DIR   folder relative paths resolve against (default: .)',
    '  --backend NAME   tensor backend: wasm, cpu or tensorflow (default: D2NWG_BACKEND, then auto)',
    '  --queue URL      run the points on `d2nwg worker` processes through this Redis queue',
    "  --queue-name N   queue name on that Redis (default: D2NWG_QUEUE_NAME, then 'd2nwg')",
    '',
    'Exit codes: 0 every point done, 1 a point failed or the sweep was cancelled, 2 invalid input.',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseCliArgs('sweep', argv, {
      set: { type: 'string', multiple: true },
      random: { type: 'string' },
      seed: { type: 'string' },
      'run-seed': { type: 'string' },
      resume: { type: 'string' },
      db: { type: 'string' },
      'data-dir': { type: 'string' },
      backend: { type: 'string' },
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
    });
    const executor = await queueSettingOf(values);
    const common = {
      dbPath: path.resolve(values.db ?? defaultDbPath()),
      dataDir: path.resolve(values['data-dir'] ?? '.'),
      backend: values.backend,
      executor,
    };
    if (values.resume !== undefined) {
      if (positionals.length || values.set?.length || values.random !== undefined)
        throw new InputError('--resume takes no pipeline file, --set or --random', 'd2nwg sweep');
      return (await executeSweep({ ...common, target: { resume: values.resume } })).code;
    }
    if (positionals.length !== 1)
      throw new InputError('expected exactly one pipeline file', 'd2nwg sweep');
    const runSeed = intFlag(values['run-seed'], 'run-seed', 0);
    if (runSeed < 0 || runSeed > 0xffffffff)
      throw new InputError(`--run-seed must be in 0..${0xffffffff}, got ${runSeed}`);
    const seed = intFlag(values.seed, 'seed', 0);
    if (values.seed !== undefined && values.random === undefined)
      throw new InputError('--seed is the seed of --random draws; give --random N too');
    const count = values.random === undefined ? undefined : intFlag(values.random, 'random', 0);
    const outcome = await executeSweep({
      ...common,
      target: {
        file: positionals[0],
        set: values.set ?? [],
        runSeed,
        ...(count !== undefined ? { random: { count, seed } } : {}),
      },
    });
    return outcome.code;
  },
};
