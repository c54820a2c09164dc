/**
 * `d2nwg run PIPELINE.json`: the headless front door of the executor. Progress per node on stderr
 * (a live bar on a terminal, plain lines otherwise), a result table on stdout, the run recorded in
 * the store, Ctrl-C cancelling cleanly. `quickstart` reuses `executePipeline`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { NodeSummary, RunEvent } from '../../../shared/events.ts';
import { SPLIT_MEANING, TASK_SPLITS } from '../../../shared/nodes/eval-finetune.ts';
import { registry } from '../../../shared/nodes/registry.ts';
import { formatProblem } from '../../../shared/nodes/validate.ts';
import type { Pipeline } from '../../../shared/pipeline.ts';
import { InputError } from '../../engine/errors.ts';
import type { RunResult } from '../../graph/executor.ts';
import { checkPipelineFile } from '../../graph/load.ts';
import type { PortValue } from '../../nodes/values.ts';
import { defaultDbPath, openStore } from '../../store/index.ts';
import { RunRecorder } from '../../store/recorder.ts';
import {
  configureZooExecutor,
  executorSettingWith,
  type ExecutorSetting,
} from '../../engine/zoo/executor.ts';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';

/** Where a stream of text goes; tests pass collectors. */
export interface TextSink {
  write(s: string): void;
  /** True for a terminal: draw a live bar instead of plain lines. */
  readonly isTTY?: boolean;
}

/** Options of executePipeline. */
export interface ExecuteOptions {
  /** The pipeline file (for messages and loading). */
  readonly file: string;
  /** SQLite file to record the run in; null: do not record. */
  readonly dbPath: string | null;
  /** Folder relative paths (data, exports) resolve against. */
  readonly dataDir: string;
  readonly seed: number;
  /** Force a tensor backend. */
  readonly backend?: string;
  /** Progress and messages (default process.stderr). */
  readonly err?: TextSink;
  /** Result table (default process.stdout). */
  readonly out?: TextSink;
  /** Abort to cancel; default: Ctrl-C (SIGINT) cancels. */
  readonly signal?: AbortSignal;
}

/** What executePipeline hands back besides the exit code. */
export interface ExecuteOutcome {
  /** 0 done, 1 failed or cancelled, 2 invalid pipeline. */
  readonly code: number;
  readonly result: RunResult | null;
  readonly pipeline: Pipeline | null;
}

export function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const r = Math.round(s % 60);
  return m < 60
    ? `${m}m${String(r).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100
    ? v.toFixed(1)
    : Math.abs(v) >= 0.01
      ? v.toFixed(4)
      : v.toExponential(2);
}

function bar(value: number, max: number, width = 24): string {
  const f = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

function metricsText(m: Readonly<Record<string, number>> | undefined, max = 4): string {
  if (!m) return '';
  return Object.entries(m)
    .slice(0, max)
    .map(([k, v]) => `${k}=${fmtNum(v)}`)
    .join(' ');
}

/**
 * Turns run events into progress output: on a terminal one live line for the running node (bar,
 * count, ETA, latest metrics) and a final line per node; otherwise a plain line per 10% step.
 */
export class ProgressView {
  private readonly types = new Map<string, string>();
  private lastPct = new Map<string, number>();
  private live = false;

  constructor(
    private readonly sink: TextSink,
    pipeline: Pipeline,
  ) {
    for (const n of pipeline.nodes) this.types.set(n.id, n.title ?? n.type);
  }

  private clearLive(): void {
    if (this.live) {
      this.sink.write('\r\x1b[2K');
      this.live = false;
    }
  }

  private line(s: string): void {
    this.clearLive();
    this.sink.write(`${s}\n`);
  }

  private name(nodeId: string): string {
    return `${nodeId} (${this.types.get(nodeId) ?? '?'})`;
  }

  readonly listener = (e: RunEvent): void => {
    switch (e.type) {
      case 'runStart':
        this.line(
          `run ${e.runId}: '${e.pipeline}', ${e.nodeIds.length} nodes, seed ${e.seed}, backend ${e.backend}`,
        );
        return;
      case 'nodeStart':
        this.lastPct.set(e.nodeId, -1);
        if (!this.sink.isTTY) this.line(`… ${this.name(e.nodeId)} started`);
        return;
      case 'nodeProgress': {
        const label = e.label ? ` ${e.label}` : '';
        const eta = e.etaS !== undefined ? ` ETA ${fmtDuration(e.etaS)}` : '';
        const text =
          `${e.unit} ${e.value}/${e.max}${eta}${label} ${metricsText(e.metrics)}`.trimEnd();
        if (this.sink.isTTY) {
          const cols =
            'columns' in this.sink && typeof this.sink.columns === 'number'
              ? this.sink.columns
              : 120;
          const s = `  ${e.nodeId} ${bar(e.value, e.max)} ${text}`;
          this.sink.write(`\r\x1b[2K${s.slice(0, Math.max(20, cols - 1))}`);
          this.live = true;
        } else {
          const pct = e.max > 0 ? Math.floor((10 * e.value) / e.max) : 0;
          if (pct > (this.lastPct.get(e.nodeId) ?? -1)) {
            this.lastPct.set(e.nodeId, pct);
            this.line(`  ${e.nodeId} ${text}`);
          }
        }
        return;
      }
      case 'nodeCached':
        this.line(`= ${this.name(e.nodeId)} cached ${metricsText(e.summary?.metrics)}`.trimEnd());
        return;
      case 'nodeFinish':
        this.line(
          `✓ ${this.name(e.nodeId)} ${fmtDuration(e.durationS)} ${metricsText(e.summary.metrics)}`.trimEnd(),
        );
        return;
      case 'nodeError':
        this.line(`✗ ${this.name(e.nodeId)} failed (${e.kind}): ${e.message}`);
        return;
      case 'nodeSkipped':
        this.line(`- ${this.name(e.nodeId)} skipped: ${e.reason}`);
        return;
      case 'runCancelled':
        this.line('run cancelled');
        return;
      case 'runDone':
        this.line(`run ${e.status} in ${fmtDuration(e.durationS)}`);
        return;
      case 'log':
        if (e.level !== 'debug')
          this.line(
            `${e.level === 'info' ? '' : `${e.level}: `}${e.nodeId ? `[${e.nodeId}] ` : ''}${e.message}`,
          );
        return;
      case 'artifact':
        return;
    }
  };
}

/** A method × epoch table, as Compare, Evaluate and Reference nodes put in their summaries. */
const TableRowsSchema = z.array(
  z.object({
    method: z.string(),
    /** Task split of the row; absent in summaries of older runs. */
    split: z.string().optional(),
    epochs: z.array(z.number()),
    mean: z.array(z.number().nullable()),
    std: z.array(z.number().nullable()),
    /** Tasks the mean and std are over. */
    tasks: z.number().optional(),
  }),
);
type TableRows = z.infer<typeof TableRowsSchema>;

const rowKey = (r: TableRows[number]): string => `${r.split ?? ''}\u0000${r.method}`;

/**
 * Render a method × fine-tuning-epoch accuracy table (mean ± std over tasks, in %). Rows that
 * carry a split get `split` and `tasks` columns and are grouped by split (seen, unseen-combo,
 * unseen-class first, in that order), a blank line between groups.
 */
export function formatMethodTable(rows: TableRows): string {
  const epochs = [...new Set(rows.flatMap((r) => r.epochs))].sort((a, b) => a - b);
  const withSplit = rows.some((r) => r.split !== undefined);
  const splitRank = (sp: string | undefined) => {
    const i = (TASK_SPLITS as readonly string[]).indexOf(sp ?? '');
    return i >= 0 ? i : TASK_SPLITS.length;
  };
  const ordered = withSplit
    ? rows
        .map((r, i) => ({ r, i }))
        .sort((x, y) => splitRank(x.r.split) - splitRank(y.r.split) || x.i - y.i)
        .map((x) => x.r)
    : [...rows];
  const head = [
    ...(withSplit ? ['split'] : []),
    'method',
    ...(withSplit ? ['tasks'] : []),
    ...epochs.map((e) => `epoch ${e}`),
  ];
  const body = ordered.map((r) => [
    ...(withSplit ? [r.split ?? ''] : []),
    r.method,
    ...(withSplit ? [r.tasks !== undefined ? String(r.tasks) : ''] : []),
    ...epochs.map((e) => {
      const i = r.epochs.indexOf(e);
      const m = i >= 0 ? r.mean[i] : null;
      const s = i >= 0 ? r.std[i] : null;
      return m === null || m === undefined || !Number.isFinite(m)
        ? '—'
        : `${(100 * m).toFixed(1)} ± ${(100 * (s ?? 0)).toFixed(1)}`;
    }),
  ]);
  const text = new Set(withSplit ? [0, 1] : [0]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j].length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, j) => (text.has(j) ? c.padEnd(widths[j]) : c.padStart(widths[j])))
      .join('  ')
      .trimEnd();
  const lines = [fmt(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  body.forEach((b, i) => {
    if (withSplit && i > 0 && ordered[i].split !== ordered[i - 1].split) lines.push('');
    lines.push(fmt(b));
  });
  return lines.join('\n');
}

/** One line per split present in the rows: what it means (SPLIT_MEANING). */
export function splitLegend(rows: TableRows): string[] {
  const present = new Set(rows.map((r) => r.split));
  return TASK_SPLITS.filter((sp) => present.has(sp)).map(
    (sp) => `  ${sp.padEnd(12)}  ${SPLIT_MEANING[sp]}`,
  );
}

/** The end-of-run report: one line per node, then the method tables of result nodes. */
export function formatResults(pipeline: Pipeline, result: RunResult): string {
  const lines: string[] = [];
  const width = Math.max(...pipeline.nodes.map((n) => n.id.length), 4);
  lines.push(`${'node'.padEnd(width)}  ${'status'.padEnd(9)}  ${'time'.padStart(7)}  metrics`);
  const tables: { nodeId: string; rows: TableRows }[] = [];
  for (const id of result.order) {
    const r = result.nodes.get(id);
    if (!r) continue;
    const time = r.durationS !== undefined ? fmtDuration(r.durationS) : '';
    const detail = r.status === 'failed' ? (r.error ?? '') : metricsText(r.summary?.metrics, 6);
    lines.push(
      `${id.padEnd(width)}  ${r.status.padEnd(9)}  ${time.padStart(7)}  ${detail}`.trimEnd(),
    );
    const rows = tableOf(r.summary);
    if (rows) tables.push({ nodeId: id, rows });
  }
  // Evaluate nodes feeding a Compare would repeat its rows: show only the widest tables.
  const shown = tables.filter(
    (t) =>
      !tables.some(
        (o) =>
          o !== t &&
          o.rows.length > t.rows.length &&
          t.rows.every((r) => o.rows.some((x) => rowKey(x) === rowKey(r))),
      ),
  );
  for (const t of shown) {
    const legend = splitLegend(t.rows);
    lines.push(
      '',
      `${t.nodeId}: test accuracy (%) by fine-tuning epoch, mean ± std over the tasks of each split`,
      formatMethodTable(t.rows),
      ...(legend.length ? ['splits:', ...legend] : []),
    );
  }
  return lines.join('\n');
}

function tableOf(summary: NodeSummary | undefined): TableRows | null {
  if (!summary) return null;
  const t = TableRowsSchema.safeParse(summary.table);
  if (t.success) return t.data;
  const single = TableRowsSchema.element.safeParse(summary);
  return single.success ? [single.data] : null;
}

/** Load, run and report a pipeline file; see ExecuteOptions. Never throws for node failures. */
export async function executePipeline(opts: ExecuteOptions): Promise<ExecuteOutcome> {
  const err = opts.err ?? process.stderr;
  const out = opts.out ?? process.stdout;
  const check = await checkPipelineFile(opts.file, registry);
  if (!check.pipeline || check.problems.length > 0) {
    err.write(`${opts.file}: invalid pipeline (${check.problems.length} problems):\n`);
    for (const p of check.problems) err.write(`  - ${formatProblem(p)}\n`);
    return { code: 2, result: null, pipeline: check.pipeline };
  }
  const pipeline = check.pipeline;
  fs.mkdirSync(opts.dataDir, { recursive: true });
  // The engine (tfjs and every node) loads only when something runs: `--help` and `validate` stay fast.
  const [{ initBackend }, { runPipeline }, { runners }] = await Promise.all([
    import('../../engine/backend.ts'),
    import('../../graph/executor.ts'),
    import('../../nodes/index.ts'),
  ]);
  const backend = await initBackend({ backend: opts.backend, quiet: true });

  const store = opts.dbPath ? openStore(opts.dbPath, { dataDir: path.dirname(opts.dbPath) }) : null;
  const recorder = store
    ? new RunRecorder({
        store,
        config: pipeline,
        versions: {
          backend: backend.name,
          tfjs: backend.tfjsVersion,
          nodes: Object.fromEntries(registry.list().map((sp) => [sp.type, sp.version])),
        },
      })
    : null;
  const view = new ProgressView(err, pipeline);

  const ac = new AbortController();
  const onSigint = (): void => {
    if (ac.signal.aborted) {
      err.write('\nsecond Ctrl-C: exiting now\n');
      process.exit(130);
    }
    err.write('\nCtrl-C: cancelling the run (press again to exit at once)…\n');
    ac.abort();
  };
  const external = opts.signal;
  if (external) {
    if (external.aborted) ac.abort();
    else external.addEventListener('abort', () => ac.abort(), { once: true });
  } else {
    process.on('SIGINT', onSigint);
  }
  let result: RunResult;
  try {
    result = await runPipeline<PortValue>({
      pipeline,
      registry,
      runners,
      seed: opts.seed,
      signal: ac.signal,
      dataDir: opts.dataDir,
      backend: backend.name,
      onEvent: (e) => {
        view.listener(e);
        recorder?.listener(e);
      },
    });
  } finally {
    if (!external) process.off('SIGINT', onSigint);
    store?.close();
  }
  out.write(`${formatResults(pipeline, result)}\n`);
  if (store && opts.dbPath) err.write(`recorded as run ${result.runId} in ${opts.dbPath}\n`);
  return { code: result.status === 'done' ? 0 : 1, result, pipeline };
}

/**
 * The executor setting of `--queue` / `--queue-name` over D2NWG_QUEUE / D2NWG_QUEUE_NAME, checked
 * here so that a typo is exit code 2 before anything runs (the Redis client loads only then).
 */
export async function queueSettingOf(values: {
  readonly queue?: string;
  readonly 'queue-name'?: string;
}): Promise<ExecutorSetting> {
  const setting = executorSettingWith({ queue: values.queue, queueName: values['queue-name'] });
  if (setting.queue) {
    const { parseQueueTarget } = await import('../../engine/queue/connection.ts');
    parseQueueTarget(setting.queue, setting.queueName);
  }
  return setting;
}

export const runCommand: CliCommand = {
  name: 'run',
  summary: 'Run a pipeline file headless, with progress bars and a result table',
  usage: [
    'Usage: d2nwg run PIPELINE.json [--db FILE | --no-db] [--data-dir DIR] [--seed N] [--backend NAME]',
    '                [--queue redis://HOST:PORT [--queue-name NAME]]',
    '',
    'Validates the pipeline, then runs its nodes in dependency order. Progress goes to stderr (a',
    'live bar per node on a terminal, plain lines otherwise); a table of results goes to stdout.',
    'A failing node skips what depends on it; independent branches still run. Ctrl-C cancels.',
    '',
    'Options:',
    `  --db FILE        record the run in this SQLite store (default ${defaultDbPath()})`,
    '  --no-db          do not record the run',
    '  --data-dir DIR   folder relative paths in the pipeline (data, exports) resolve against (default: .)',
    '  --seed N         seed of the run (default 0): same pipeline + seed → same numbers',
    '  --backend NAME   tensor backend: wasm, cpu or tensorflow (default: D2NWG_BACKEND, then auto)',
    '  --queue URL      train zoo batches on `d2nwg worker` processes through this Redis queue',
    '                   (default: D2NWG_QUEUE; unset: worker threads in this process)',
    "  --queue-name N   queue name on that Redis (default: D2NWG_QUEUE_NAME, then 'd2nwg')",
    '',
    'Exit codes: 0 done, 1 a node failed or the run was cancelled, 2 invalid pipeline or options.',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseCliArgs('run', argv, {
      db: { type: 'string' },
      'no-db': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
    });
    if (positionals.length !== 1)
      throw new InputError('expected exactly one pipeline file', 'd2nwg run');
    if (values['no-db'] && values.db)
      throw new InputError('--db and --no-db exclude each other', 'd2nwg run');
    const seed = intFlag(values.seed, 'seed', 0);
    if (seed < 0 || seed > 0xffffffff)
      throw new InputError(`--seed must be in 0..${0xffffffff}, got ${seed}`);
    configureZooExecutor(await queueSettingOf(values));
    const outcome = await executePipeline({
      file: positionals[0],
      dbPath: values['no-db'] ? null : path.resolve(values.db ?? defaultDbPath()),
      dataDir: path.resolve(values['data-dir'] ?? '.'),
      seed,
      backend: values.backend,
    });
    return outcome.code;
  },
};
