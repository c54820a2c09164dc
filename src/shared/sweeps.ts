/**
 * Sweeps: one pipeline run once per point of a grid (explicit value lists) or of a seeded random
 * draw (choices and ranges), each point setting one or more `node.field` paths of any node's
 * config. This module is the pure part every front door shares: the spec (strict zod), the
 * `--set node.field=a,b,c` syntax, expansion to concrete pipelines validated per point against
 * the node specs, and the time estimate from recorded node timings.
 *
 * Points are ordered so that points sharing the config of upstream nodes come one after another
 * (fields of upstream nodes vary slowest): the executor's node cache, which keeps what the latest
 * run used, then reuses those nodes' outputs across the group.
 */
import { z } from 'zod';
import { canonicalJson } from './canonical-json.ts';
import { closestKey, formatIssue, strictObject } from './issues.ts';
import type { NodeRegistry } from './nodes/spec.ts';
import { validatePipeline } from './nodes/validate.ts';
import type { Pipeline } from './pipeline.ts';

/** Most points one sweep may have. */
export const SWEEP_MAX_POINTS = 500;
/** Most fields one sweep may set. */
export const SWEEP_MAX_FIELDS = 8;

const FIELD_PATH = /^[^.\s=]+(\.[^.\s=]+)+$/;

/** A `node.field` path (`node.a.b` for a nested field). */
export const SweepFieldPathSchema = z
  .string()
  .regex(FIELD_PATH, 'a swept field is written `node.field` (a nested one `node.group.field`)');

/**
 * One swept field: a list of `values` (grid, or random choices), or a numeric range `min`..`max`
 * (random only), drawn uniformly on a linear or log scale, optionally rounded to integers.
 */
export const SweepParamSchema = strictObject({
  path: SweepFieldPathSchema,
  values: z.array(z.json()).min(1, 'give at least one value').max(100).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  scale: z.enum(['linear', 'log']).optional(),
  integer: z.boolean().optional(),
}).superRefine((p, ctx) => {
  const range = p.min !== undefined || p.max !== undefined;
  if (p.values !== undefined && range) {
    ctx.addIssue({ code: 'custom', message: `\`${p.path}\`: give either values or a range` });
  } else if (p.values === undefined && !range) {
    ctx.addIssue({ code: 'custom', message: `\`${p.path}\`: give values or a range (min, max)` });
  } else if (range) {
    if (p.min === undefined || p.max === undefined) {
      ctx.addIssue({ code: 'custom', message: `\`${p.path}\`: a range needs both min and max` });
    } else if (!(p.min <= p.max)) {
      ctx.addIssue({ code: 'custom', message: `\`${p.path}\`: min ${p.min} exceeds max ${p.max}` });
    } else if (p.scale === 'log' && p.min <= 0) {
      ctx.addIssue({ code: 'custom', message: `\`${p.path}\`: a log range needs min > 0` });
    }
  }
});
export type SweepParam = z.infer<typeof SweepParamSchema>;

const params = z
  .array(SweepParamSchema)
  .min(1, 'choose at least one field to sweep')
  .max(SWEEP_MAX_FIELDS, `at most ${SWEEP_MAX_FIELDS} fields per sweep`)
  .superRefine((ps, ctx) => {
    const seen = new Set<string>();
    for (const [i, p] of ps.entries()) {
      if (seen.has(p.path))
        ctx.addIssue({ code: 'custom', path: [i, 'path'], message: `\`${p.path}\` appears twice` });
      seen.add(p.path);
    }
  });

/** A sweep: every combination of the fields' values (grid), or `count` seeded draws (random). */
export const SweepSpecSchema = z.discriminatedUnion('mode', [
  strictObject({
    mode: z.literal('grid'),
    params: params.superRefine((ps, ctx) => {
      for (const [i, p] of ps.entries()) {
        if (p.values === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `\`${p.path}\`: a grid sweep takes a list of values; ranges need a random sweep`,
          });
      }
    }),
  }),
  strictObject({
    mode: z.literal('random'),
    params,
    /** Points drawn. */
    count: z.number().int().min(1).max(SWEEP_MAX_POINTS),
    /** Seed of the draw (not of the runs): same spec and seed, same points. */
    seed: z.number().int().min(0).max(0xffffffff),
  }),
]);
export type SweepSpec = z.infer<typeof SweepSpecSchema>;

/** JSON values a swept field takes. */
export type SweepValue = z.infer<ReturnType<typeof z.json>>;

/** One concrete point: the values it sets, by path, and the pipeline it runs. */
export interface SweepPoint {
  /** 0-based position in the sweep's order. */
  readonly index: number;
  readonly values: Readonly<Record<string, SweepValue>>;
  readonly pipeline: Pipeline;
}

/** The expanded sweep, or every problem found. */
export type SweepExpansion =
  | {
      readonly ok: true;
      /** Swept paths, upstream nodes first (the order points vary in). */
      readonly paths: readonly string[];
      readonly points: readonly SweepPoint[];
    }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The issues of a spec that does not parse, one `path: message` line each. */
export function parseSweepSpec(
  raw: unknown,
): { ok: true; spec: SweepSpec } | { ok: false; problems: string[] } {
  const r = SweepSpecSchema.safeParse(raw);
  if (r.success) return { ok: true, spec: r.data };
  return { ok: false, problems: r.error.issues.map((i) => formatIssue(i, ['sweep'])) };
}

/** Split `a,b,[1,2]` at the commas outside brackets and quotes. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim());
}

/** One value as typed: JSON when it parses (`4`, `true`, `[4,8]`, `"a"`), else the bare text. */
export function parseSweepValue(token: string): SweepValue {
  try {
    return z.json().parse(JSON.parse(token));
  } catch {
    return token;
  }
}

const RANGE = /^(-?[\d.eE+-]+)\.\.(-?[\d.eE+-]+)(?::(log|int|logint))?$/;

/**
 * Values as the CLI's `--set` and the sweep dialog take them: `a,b,c` (a list), or for random
 * sweeps `LO..HI` (uniform), `LO..HI:log` (log-uniform), `LO..HI:int` / `:logint` (integers).
 * Throws an Error naming the field when the text is empty or a range is malformed.
 */
export function parseSweepValues(path: string, text: string): SweepParam {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error(`\`${path}\`: no values given (write a,b,c)`);
  const m = RANGE.exec(trimmed);
  if (m) {
    const min = Number(m[1]);
    const max = Number(m[2]);
    if (!Number.isFinite(min) || !Number.isFinite(max))
      throw new Error(`\`${path}\`: range '${trimmed}' is not LO..HI with two numbers`);
    const flag = m[3] ?? '';
    return {
      path,
      min,
      max,
      ...(flag.startsWith('log') ? { scale: 'log' as const } : {}),
      ...(flag.endsWith('int') ? { integer: true } : {}),
    };
  }
  const tokens = splitTopLevel(trimmed);
  if (tokens.some((t) => t === ''))
    throw new Error(`\`${path}\`: empty value in '${trimmed}' (write a,b,c)`);
  return { path, values: tokens.map(parseSweepValue) };
}

/** `node.field=a,b,c` (the CLI's `--set`). */
export function parseSetArg(arg: string): SweepParam {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new Error(`--set '${arg}': write node.field=a,b,c`);
  const path = arg.slice(0, eq).trim();
  if (!FIELD_PATH.test(path))
    throw new Error(`--set '${arg}': '${path}' is not node.field (nested: node.group.field)`);
  return parseSweepValues(path, arg.slice(eq + 1));
}

/** The values of a param as text for the dialog and tables (`a,b,c` or `LO..HI:log`). */
export function formatSweepValues(p: SweepParam): string {
  if (p.values)
    return p.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  const flag = `${p.scale === 'log' ? 'log' : ''}${p.integer ? 'int' : ''}`;
  return `${p.min}..${p.max}${flag ? `:${flag}` : ''}`;
}

/** A value as a table cell. */
export function showSweepValue(v: SweepValue | undefined): string {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Deterministic uniform numbers in [0, 1) from a 32-bit seed (mulberry32). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function draw(p: SweepParam, u: () => number): SweepValue {
  if (p.values) return p.values[Math.min(p.values.length - 1, Math.floor(u() * p.values.length))];
  const min = p.min ?? 0;
  const max = p.max ?? min;
  if (p.integer) {
    const lo = Math.ceil(min);
    const hi = Math.floor(max);
    if (p.scale === 'log') {
      const v = Math.exp(Math.log(lo) + u() * (Math.log(hi + 1) - Math.log(lo)));
      return Math.min(hi, Math.max(lo, Math.floor(v)));
    }
    return Math.min(hi, lo + Math.floor(u() * (hi - lo + 1)));
  }
  const v =
    p.scale === 'log'
      ? Math.exp(Math.log(min) + u() * (Math.log(max) - Math.log(min)))
      : min + u() * (max - min);
  // Six significant digits: readable in tables, and far finer than any config needs.
  return Number(v.toPrecision(6));
}

interface Target {
  readonly path: string;
  readonly nodeId: string;
  /** Keys inside the node's config. */
  readonly keys: readonly string[];
  readonly param: SweepParam;
}

/** The node a path names: the longest node id that is a dot-prefix of it. */
function resolveTarget(p: SweepParam, nodeIds: readonly string[]): Target | string {
  let best: string | undefined;
  for (const id of nodeIds) {
    if (p.path.startsWith(`${id}.`) && (best === undefined || id.length > best.length)) best = id;
  }
  if (best === undefined) {
    const head = p.path.split('.')[0];
    const guess = closestKey(head, nodeIds);
    return `\`${p.path}\`: no node \`${head}\` in the pipeline${
      guess ? `; did you mean \`${guess}\`?` : ` (nodes: ${nodeIds.join(', ')})`
    }`;
  }
  return { path: p.path, nodeId: best, keys: p.path.slice(best.length + 1).split('.'), param: p };
}

/** `config` with `value` at `keys`, creating objects on the way; the input is not changed. */
function setIn(config: unknown, keys: readonly string[], value: SweepValue): unknown {
  const [head, ...rest] = keys;
  const base =
    config !== null && typeof config === 'object' && !Array.isArray(config)
      ? (config as Record<string, unknown>)
      : {};
  return { ...base, [head]: rest.length ? setIn(base[head], rest, value) : value };
}

/** Orders values for grouping: a list value by its position, a range value by itself. */
function rank(p: SweepParam, v: SweepValue): number {
  if (p.values) return p.values.findIndex((x) => canonicalJson(x) === canonicalJson(v));
  return typeof v === 'number' ? v : 0;
}

/**
 * Expand `spec` over `pipeline`: every point's pipeline, its configs checked against the node
 * specs. Problems name the field, the value and the node (an unknown node or key gets the
 * closest known one suggested); an invalid value is reported once per value.
 */
export function expandSweep(
  pipeline: Pipeline,
  spec: SweepSpec,
  registry: NodeRegistry,
): SweepExpansion {
  const base = validatePipeline(pipeline, registry);
  if (!base.ok) {
    return {
      ok: false,
      problems: base.problems.map(
        (p) => `the pipeline: ${p.nodeId ? `${p.nodeId}: ` : ''}${p.message}`,
      ),
    };
  }
  const nodeIds = pipeline.nodes.map((n) => n.id);
  const problems: string[] = [];
  const targets: Target[] = [];
  for (const p of spec.params) {
    const t = resolveTarget(p, nodeIds);
    if (typeof t === 'string') problems.push(t);
    else targets.push(t);
  }
  if (problems.length) return { ok: false, problems };
  // Upstream nodes first: their fields vary slowest, so consecutive points share their outputs.
  const topo = new Map(base.order.map((id, i) => [id, i]));
  const ordered = targets
    .map((t, i) => ({ t, i }))
    .sort((a, b) => (topo.get(a.t.nodeId) ?? 0) - (topo.get(b.t.nodeId) ?? 0) || a.i - b.i)
    .map((x) => x.t);

  let combos: SweepValue[][];
  if (spec.mode === 'grid') {
    const total = ordered.reduce((n, t) => n * (t.param.values?.length ?? 1), 1);
    if (total > SWEEP_MAX_POINTS)
      return {
        ok: false,
        problems: [`the grid has ${total} points; at most ${SWEEP_MAX_POINTS} per sweep`],
      };
    combos = [[]];
    for (const t of ordered) {
      const vs = t.param.values ?? [];
      combos = combos.flatMap((c) => vs.map((v) => [...c, v]));
    }
  } else {
    const u = uniform(spec.seed);
    // Draw in the spec's field order (stable under reordering the pipeline), then group.
    const drawn = Array.from({ length: spec.count }, () => spec.params.map((p) => draw(p, u)));
    combos = drawn.map((row) => ordered.map((t) => row[spec.params.indexOf(t.param)]));
    combos.sort((a, b) => {
      for (const [j, t] of ordered.entries()) {
        const d = rank(t.param, a[j]) - rank(t.param, b[j]);
        if (d !== 0) return d;
      }
      return 0;
    });
  }

  const specOf = new Map(pipeline.nodes.map((n) => [n.id, registry.get(n.type)]));
  const reported = new Set<string>();
  const points: SweepPoint[] = [];
  for (const [index, combo] of combos.entries()) {
    const configs = new Map<string, unknown>();
    for (const [j, t] of ordered.entries()) {
      const current =
        configs.get(t.nodeId) ?? pipeline.nodes.find((n) => n.id === t.nodeId)?.config;
      configs.set(t.nodeId, setIn(current, t.keys, combo[j]));
    }
    for (const [nodeId, config] of configs) {
      const r = specOf.get(nodeId)?.config.safeParse(config);
      if (!r || r.success) continue;
      for (const issue of r.error.issues) {
        const where = formatIssue(issue, [nodeId]);
        // An unknown key is the same error at every point; a bad value names the value.
        const j = ordered.findIndex((x) => x.nodeId === nodeId && where.startsWith(`${x.path}:`));
        const value =
          issue.code === 'unrecognized_keys' || j < 0 ? '' : ` (value ${showSweepValue(combo[j])})`;
        const line = `${where}${value}`;
        if (!reported.has(line)) {
          reported.add(line);
          problems.push(line);
        }
      }
    }
    const values: Record<string, SweepValue> = {};
    for (const [j, t] of ordered.entries()) values[t.path] = combo[j];
    points.push({
      index,
      values,
      pipeline: {
        ...pipeline,
        nodes: pipeline.nodes.map((n) =>
          configs.has(n.id) ? { ...n, config: configs.get(n.id) } : n,
        ),
      },
    });
  }
  if (problems.length) return { ok: false, problems };
  return { ok: true, paths: ordered.map((t) => t.path), points };
}

/** Seconds one node took when it last ran with this config, or of its type; undefined: never. */
export type NodeSeconds = (type: string, config: unknown) => number | undefined;

/** The time a sweep should take, and the nodes nothing is recorded for. */
export interface SweepEstimate {
  /** null when some node that must run has no recorded timing. */
  readonly seconds: number | null;
  /** Node ids without any recorded timing. */
  readonly unknown: readonly string[];
}

/**
 * Sum, over the points in order, of the recorded time of each node that must run: a node
 * reruns at the first point, when it is not cacheable, when its config differs from the point
 * before, or when a node feeding it reruns; otherwise the executor's cache serves it.
 */
export function estimateSweep(
  points: readonly Pipeline[],
  registry: NodeRegistry,
  seconds: NodeSeconds,
): SweepEstimate {
  let total = 0;
  const unknown = new Set<string>();
  let previous: ReadonlyMap<string, string> | null = null;
  for (const pipeline of points) {
    const v = validatePipeline(pipeline, registry);
    const configs = new Map<string, string>();
    const reran = new Set<string>();
    for (const id of v.order) {
      const node = pipeline.nodes.find((n) => n.id === id);
      if (!node) continue;
      const config = v.configs.get(id);
      const key = canonicalJson(config);
      configs.set(id, key);
      const feeds = pipeline.edges.filter((e) => e.target === id).map((e) => e.source);
      const runs =
        previous === null ||
        registry.get(node.type)?.cacheable !== true ||
        previous.get(id) !== key ||
        feeds.some((s) => reran.has(s));
      if (!runs) continue;
      reran.add(id);
      const s = seconds(node.type, config);
      if (s === undefined) unknown.add(id);
      else total += s;
    }
    previous = configs;
  }
  return { seconds: unknown.size ? null : total, unknown: [...unknown] };
}

/** "≈ N min", "< 1 min", or "unknown" (nothing recorded for some node). */
export function formatEstimate(seconds: number | null): string {
  if (seconds === null) return 'unknown';
  if (seconds < 30) return '< 1 min';
  return `≈ ${Math.round(seconds / 60)} min`;
}

/** Sweep lifecycle, as stored. */
export const SWEEP_STATUSES = [
  'queued',
  'running',
  'done',
  'failed',
  'cancelled',
  'interrupted',
] as const;
export const SweepStatusSchema = z.enum(SWEEP_STATUSES);
export type SweepStatus = z.infer<typeof SweepStatusSchema>;
