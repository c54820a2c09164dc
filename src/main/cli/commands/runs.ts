/**
 * `d2nwg runs …`: the experiment store from the terminal: list, inspect, compare, delete runs and
 * export the weights a node produced. The same store the app shows, so a headless run on a server
 * can be examined and its weights shipped without the GUI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { initBackend } from '../../engine/backend.ts';
import { InputError } from '../../engine/errors.ts';
import { decodeWeightsArtifact } from '../../engine/export/artifact.ts';
import { EXPORT_FORMATS, type ExportFormat } from '../../engine/export/index.ts';
import { EXPORT_SELECTS, exportRunWeights, type ExportSelect } from '../../engine/export/run.ts';
import { splitTags } from '../../../shared/runs.ts';
import {
  RUN_STATUSES,
  defaultDbPath,
  openStore,
  type MetricsTable,
  type RunStatus,
  type Store,
} from '../../store/index.ts';

const USAGE = `Usage:
  d2nwg runs list [--status S] [--tag TAG] [--search TEXT] [--limit N] [--offset N] [--json]
  d2nwg runs show ID [--json]
  d2nwg runs set ID [--name NAME] [--tags TAG,TAG…] [--notes TEXT]
  d2nwg runs compare ID ID… [--key KEY] [--json]
  d2nwg runs delete ID
  d2nwg runs export ID --node NODE --format safetensors|tfjs|npy|onnx --out DIR
                       [--select best|all] [--artifact ARTIFACT_ID] [--sample K]

Every subcommand takes --db FILE (default: $XDG_DATA_HOME/d2nwg-studio/studio.db, else
~/.local/share/d2nwg-studio/studio.db). IDs may be abbreviated to a unique prefix.
Statuses: ${RUN_STATUSES.join(', ')}.

list --search matches names, ids, notes and tags; --tag keeps runs with exactly that tag. set
renames a run, replaces its tags (commas or blanks between; --tags '' removes them all) or its
notes. Tags hold letters, digits and _ - . : / +; a name is one line of at most 120 characters.

compare prints one table per metric family: a key 'accuracy/d2nwg' is method 'd2nwg' of family
'accuracy'; columns are steps (epochs). export writes the node's 'weights' artifacts (one per
task) as safetensors (PyTorch naming), a tfjs LayersModel, .npy files or ONNX, each with
manifest.json, into DIR/<run id>/<task>/sample-NNN (DIR/<run id>-2… when the run was exported
before: nothing is overwritten). The models take raw inputs: the feature pipeline (pixel scaling,
PCA mean and basis, whitening) is part of every format. --select best (default) exports the best
sample of each task (by training-set accuracy), all every sample; --sample K sample K of each.

Exit codes: 0 ok, 1 failure, 2 bad input (unknown run id, bad format…).`;

const dbOption = { db: { type: 'string' } } as const;

function dbPath(flag: string | undefined): string {
  return path.resolve(flag ?? defaultDbPath());
}

/** Open an existing store; commands that only read never create a database. */
function openExisting(file: string): Store {
  if (!fs.existsSync(file)) {
    throw new InputError(`no database at ${file} (run a pipeline first, or pass --db FILE)`);
  }
  return openStore(file);
}

function withStore<T>(file: string, fn: (s: Store) => T): T {
  const store = openExisting(file);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

function resolveRun(store: Store, idOrPrefix: string): string {
  const ids = store.findRunIds(idOrPrefix);
  if (ids.length === 0) throw new InputError(`unknown run '${idOrPrefix}'`);
  if (ids.length > 1) {
    throw new InputError(
      `run id prefix '${idOrPrefix}' is ambiguous: ${ids.slice(0, 5).join(', ')}…`,
    );
  }
  return ids[0];
}

/** Fixed-width table; the first `left` columns are left-aligned, the rest right-aligned. */
function table(header: string[], rows: string[][], left = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Inf' : '-Inf';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toFixed(4);
}

function when(iso: string | null): string {
  return iso === null ? '-' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function secondsBetween(a: string | null, b: string | null): string {
  if (a === null || b === null) return '-';
  return `${((Date.parse(b) - Date.parse(a)) / 1000).toFixed(1)}s`;
}

// ---------------------------------------------------------------------------------------------

function list(argv: string[]): number {
  const { values, positionals } = parseCliArgs('runs list', argv, {
    ...dbOption,
    status: { type: 'string' },
    tag: { type: 'string' },
    search: { type: 'string' },
    limit: { type: 'string' },
    offset: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length)
    throw new InputError(`unexpected argument '${positionals[0]}'`, 'd2nwg runs list');
  const status = values.status;
  if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) {
    throw new InputError(`--status must be one of ${RUN_STATUSES.join(', ')}, got '${status}'`);
  }
  const limit = intFlag(values.limit, 'limit', 50);
  const offset = intFlag(values.offset, 'offset', 0);
  if (limit < 1 || offset < 0) throw new InputError('--limit must be ≥ 1 and --offset ≥ 0');
  const file = dbPath(values.db);
  if (!fs.existsSync(file)) {
    if (values.json) console.log(JSON.stringify({ runs: [], total: 0 }));
    else console.log(`no runs (no database at ${file} yet)`);
    return 0;
  }
  const res = withStore(file, (s) =>
    s.listRuns({
      status: status as RunStatus | undefined,
      tag: values.tag,
      search: values.search,
      limit,
      offset,
    }),
  );
  if (values.json) {
    console.log(JSON.stringify(res, null, 2));
    return 0;
  }
  if (res.total === 0) {
    console.log('no runs');
    return 0;
  }
  console.log(
    table(
      ['id', 'name', 'tags', 'status', 'created', 'duration', 'seed', 'backend'],
      res.runs.map((r) => [
        r.id,
        r.name,
        r.tags.join(','),
        r.status,
        when(r.created),
        r.durationS === null ? '-' : `${r.durationS.toFixed(1)}s`,
        r.seed === null ? '-' : String(r.seed),
        r.backend ?? '-',
      ]),
      4,
    ),
  );
  if (res.total > res.runs.length) {
    console.log(`(${res.runs.length} of ${res.total}; use --limit/--offset for more)`);
  }
  return 0;
}

function show(argv: string[]): number {
  const { values, positionals } = parseCliArgs('runs show', argv, {
    ...dbOption,
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1)
    throw new InputError('expected exactly one run id', 'd2nwg runs show');
  return withStore(dbPath(values.db), (s) => {
    const id = resolveRun(s, positionals[0]);
    const run = s.getRun(id);
    if (!run) throw new InputError(`unknown run '${id}'`);
    const metrics = s.metricsOf(id);
    const artifacts = s.artifactsOf(id);
    if (values.json) {
      console.log(JSON.stringify({ run, metrics, artifacts }, null, 2));
      return 0;
    }
    const out: string[] = [
      `run ${run.id}  ${run.name}  [${run.status}]`,
      `pipeline ${run.pipelineId ?? '-'}  seed ${run.seed ?? '-'}  backend ${run.backend ?? '-'}  pid ${run.pid ?? '-'}`,
      `created ${when(run.created)}  started ${when(run.started)}  finished ${when(run.finished)}  duration ${run.durationS === null ? '-' : `${run.durationS.toFixed(1)}s`}`,
    ];
    if (run.tags.length) out.push(`tags ${run.tags.join(', ')}`);
    if (run.notes) out.push(`notes ${run.notes}`);
    if (run.error) out.push(`error: ${run.error}`);
    if (Object.keys(run.versions).length) out.push(`versions ${JSON.stringify(run.versions)}`);
    out.push('', 'nodes:');
    out.push(
      run.nodes.length === 0
        ? '  (none)'
        : table(
            ['node', 'type', 'status', 'cached', 'time', 'error'],
            run.nodes.map((n) => [
              n.nodeId,
              n.type,
              n.status,
              n.cached ? 'yes' : '',
              secondsBetween(n.started, n.finished),
              n.error ?? '',
            ]),
            4,
          ),
    );
    // Last value of each (node, key): the headline numbers.
    const last = new Map<
      string,
      { nodeId: string; key: string; step: number; value: number; n: number }
    >();
    for (const m of metrics) {
      const k = `${m.nodeId}\u0000${m.key}`;
      const prev = last.get(k);
      last.set(k, {
        nodeId: m.nodeId,
        key: m.key,
        step: m.step,
        value: m.value,
        n: (prev?.n ?? 0) + 1,
      });
    }
    out.push('', 'metrics (last value):');
    out.push(
      last.size === 0
        ? '  (none)'
        : table(
            ['node', 'key', 'step', 'value', 'points'],
            [...last.values()].map((m) => [
              m.nodeId,
              m.key,
              String(m.step),
              fmt(m.value),
              String(m.n),
            ]),
            2,
          ),
    );
    out.push('', 'artifacts:');
    out.push(
      artifacts.length === 0
        ? '  (none)'
        : table(
            ['id', 'node', 'kind', 'name', 'shape', 'bytes', 'sha256'],
            artifacts.map((a) => [
              a.id,
              a.nodeId,
              a.kind,
              a.name,
              a.shape ? `[${a.shape.join(', ')}]` : '-',
              String(a.bytes),
              a.sha256.slice(0, 12),
            ]),
            4,
          ),
    );
    console.log(out.join('\n'));
    return 0;
  });
}

function set(argv: string[]): number {
  const { values, positionals } = parseCliArgs('runs set', argv, {
    ...dbOption,
    name: { type: 'string' },
    tags: { type: 'string' },
    notes: { type: 'string' },
  });
  if (positionals.length !== 1)
    throw new InputError('expected exactly one run id', 'd2nwg runs set');
  if (values.name === undefined && values.tags === undefined && values.notes === undefined)
    throw new InputError('give --name, --tags or --notes', 'd2nwg runs set');
  // Commas or blanks between tags; empty items (a trailing comma, '') are dropped.
  const tags = values.tags === undefined ? undefined : splitTags(values.tags);
  return withStore(dbPath(values.db), (s) => {
    const id = resolveRun(s, positionals[0]);
    const run = s.annotateRun(id, {
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(tags !== undefined ? { tags } : {}),
      ...(values.notes !== undefined ? { notes: values.notes } : {}),
    });
    console.log(
      `run ${run.id}  ${run.name}  tags: ${run.tags.join(', ') || '-'}` +
        (run.notes
          ? `  notes: ${run.notes.split('\n')[0]}${run.notes.includes('\n') ? ' …' : ''}`
          : ''),
    );
    return 0;
  });
}

/** Split 'accuracy/d2nwg' into family 'accuracy' and method 'd2nwg'. */
function familyOf(key: string): { family: string; method: string } {
  const i = key.indexOf('/');
  return i < 0
    ? { family: key, method: '' }
    : { family: key.slice(0, i), method: key.slice(i + 1) };
}

/** One text table per metric family: rows method × run (× node), columns steps. */
export function renderComparison(t: MetricsTable, names: ReadonlyMap<string, string>): string {
  if (t.rows.length === 0) return 'no metrics recorded for these runs';
  const families = new Map<string, typeof t.rows>();
  for (const r of t.rows) {
    const f = familyOf(r.key).family;
    families.set(f, [...(families.get(f) ?? []), r]);
  }
  const multiNode = (rows: typeof t.rows): boolean => new Set(rows.map((r) => r.nodeId)).size > 1;
  const blocks: string[] = [];
  for (const [family, rows] of families) {
    const steps = [...new Set(rows.map((r) => r.step))].sort((a, b) => a - b);
    const showNode = multiNode(rows);
    const lines = new Map<string, { labels: string[]; cells: Map<number, number | null> }>();
    for (const r of rows) {
      const { method } = familyOf(r.key);
      t.runIds.forEach((runId, col) => {
        const v = r.values[col];
        const lk = JSON.stringify([method, runId, showNode ? r.nodeId : '']);
        let line = lines.get(lk);
        if (!line) {
          const runLabel = `${runId}${names.get(runId) ? ` (${names.get(runId)})` : ''}`;
          line = {
            labels: [method || family, runLabel, ...(showNode ? [r.nodeId] : [])],
            cells: new Map(),
          };
          lines.set(lk, line);
        }
        if (v !== null) line.cells.set(r.step, v);
      });
    }
    const body = [...lines.values()]
      .filter((l) => l.cells.size > 0)
      .map((l) => [...l.labels, ...steps.map((s) => fmt(l.cells.get(s)))]);
    const header = ['method', 'run', ...(showNode ? ['node'] : []), ...steps.map((s) => `@${s}`)];
    blocks.push(`${family} (columns: step/epoch)\n${table(header, body, showNode ? 3 : 2)}`);
  }
  return blocks.join('\n\n');
}

function compare(argv: string[]): number {
  const { values, positionals } = parseCliArgs('runs compare', argv, {
    ...dbOption,
    key: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length < 1)
    throw new InputError('expected one or more run ids', 'd2nwg runs compare');
  return withStore(dbPath(values.db), (s) => {
    const ids = positionals.map((p) => resolveRun(s, p));
    const t = s.metricsFor(ids, values.key);
    if (values.json) {
      console.log(JSON.stringify(t, null, 2));
      return 0;
    }
    const names = new Map(ids.map((id) => [id, s.getRun(id)?.name ?? '']));
    console.log(renderComparison(t, names));
    return 0;
  });
}

function del(argv: string[]): number {
  const { values, positionals } = parseCliArgs('runs delete', argv, dbOption);
  if (positionals.length !== 1)
    throw new InputError('expected exactly one run id', 'd2nwg runs delete');
  return withStore(dbPath(values.db), (s) => {
    const id = resolveRun(s, positionals[0]);
    const res = s.deleteRun(id);
    console.log(
      `deleted run ${id}; removed ${res.removedFiles.length} artifact file(s) no other run uses`,
    );
    return 0;
  });
}

async function exportCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs('runs export', argv, {
    ...dbOption,
    node: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    artifact: { type: 'string' },
    sample: { type: 'string' },
    select: { type: 'string' },
  });
  if (positionals.length !== 1)
    throw new InputError('expected exactly one run id', 'd2nwg runs export');
  if (!values.node) throw new InputError('--node NODE is required', 'd2nwg runs export');
  if (!values.out) throw new InputError('--out DIR is required', 'd2nwg runs export');
  const format = values.format;
  if (!format || !(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new InputError(
      `--format must be one of ${EXPORT_FORMATS.join(', ')}, got '${format ?? ''}'`,
    );
  }
  const select = values.select ?? 'best';
  if (!(EXPORT_SELECTS as readonly string[]).includes(select)) {
    throw new InputError(`--select must be one of ${EXPORT_SELECTS.join(', ')}, got '${select}'`);
  }
  const sample = values.sample === undefined ? undefined : intFlag(values.sample, 'sample', 0);
  const nodeId = values.node;

  const store = openExisting(dbPath(values.db));
  let job: Parameters<typeof exportRunWeights>[0];
  try {
    const runId = resolveRun(store, positionals[0]);
    const all = store.artifactsOf(runId, { nodeId });
    let weights = all.filter((a) => a.kind === 'weights');
    if (values.artifact !== undefined) {
      weights = weights.filter((a) => a.id === values.artifact);
      if (weights.length === 0)
        throw new InputError(
          `node '${nodeId}' of run ${runId} has no weights artifact '${values.artifact}'`,
        );
    } else if (weights.length === 0) {
      const nodes = store.getRun(runId)?.nodes.map((n) => n.nodeId) ?? [];
      const kinds = [...new Set(all.map((a) => a.kind))];
      throw new InputError(
        `node '${nodeId}' of run ${runId} produced no 'weights' artifact` +
          (all.length
            ? ` (it has: ${kinds.join(', ')})`
            : nodes.includes(nodeId)
              ? ''
              : ` (nodes: ${nodes.join(', ') || 'none'})`),
      );
    }
    // Metrics: the node's last recorded values, under each artifact's and each sample's own.
    const nodeMetrics: Record<string, number> = {};
    for (const m of store.metricsOf(runId)) if (m.nodeId === nodeId) nodeMetrics[m.key] = m.value;
    job = {
      runId,
      sources: weights.map((art) => ({
        decoded: decodeWeightsArtifact(store.readArtifact(art), art.meta, `artifact ${art.id}`),
        nodeId,
        artifactId: art.id,
      })),
      select: select as ExportSelect,
      ...(sample !== undefined ? { sample } : {}),
      format: format as ExportFormat,
      root: values.out,
      nodeMetrics,
    };
  } finally {
    store.close();
  }
  // tfjs formats build a model: use the same backend as every other command (quiet, no banner).
  if (job.format === 'tfjs') await initBackend({ quiet: true });
  const res = await exportRunWeights(job);
  const what = sample !== undefined ? `sample ${sample} of each task` : `${select} per task`;
  console.log(
    `exported ${res.exports.length} model(s) (${what}) as ${format} to ${res.folder}` +
      (path.basename(res.folder) !== job.runId
        ? ` (${path.join(path.dirname(res.folder), job.runId)} already exists; nothing was overwritten)`
        : ''),
  );
  for (const e of res.exports) {
    const m = e.manifest;
    const acc = m.accuracy !== null ? `  accuracy ${m.accuracy.toFixed(4)}` : '';
    console.log(`  ${path.relative(res.folder, e.outDir)}${acc}`);
  }
  return 0;
}

export const runsCommand: CliCommand = {
  name: 'runs',
  summary: 'List, show, name and tag, compare, delete runs; export the weights a node produced',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'list':
      case 'ls':
        return list(rest);
      case 'show':
        return show(rest);
      case 'set':
        return set(rest);
      case 'compare':
        return compare(rest);
      case 'delete':
      case 'rm':
        return del(rest);
      case 'export':
        return exportCmd(rest);
      default:
        throw new InputError(
          sub === undefined
            ? `missing subcommand\n\n${USAGE}`
            : `unknown subcommand '${sub}'\n\n${USAGE}`,
          'd2nwg runs',
        );
    }
  },
};
