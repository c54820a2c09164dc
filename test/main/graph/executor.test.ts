import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunEvent } from '../../../src/shared/events.ts';
import { defineNode, NodeRegistry, type PortSpec } from '../../../src/shared/nodes/spec.ts';
import type { Pipeline } from '../../../src/shared/pipeline.ts';
import { InputError, NumericError, throwIfAborted } from '../../../src/main/engine/errors.ts';
import {
  MemoryNodeCache,
  PipelineInvalidError,
  defineRunner,
  runPipeline,
  type NodeRunner,
} from '../../../src/main/graph/index.ts';

/** Test-only port values: a number, and a disposal log to check ownership. */
interface Num {
  readonly type: 'dataset' | 'metrics';
  readonly n: number;
  dispose(): void;
}
const disposed: number[] = [];
const num = (n: number, type: Num['type'] = 'dataset'): Num => ({
  type,
  n,
  dispose: () => disposed.push(n),
});

const source = defineNode({
  type: 'test.source',
  version: 1,
  category: 'Data',
  title: 'Source',
  help: 'Emits config.value.',
  config: z.object({ value: z.number().default(1) }),
  inputs: [],
  outputs: [{ id: 'out', label: 'Out', type: 'dataset' }],
  cacheable: true,
});
const add = defineNode({
  type: 'test.add',
  version: 1,
  category: 'Data',
  title: 'Add',
  help: 'Adds config.add to its input; config.fail makes it throw; config.steps reports progress.',
  config: z.object({
    add: z.number().default(0),
    fail: z.enum(['no', 'input', 'numeric', 'bug']).default('no'),
    steps: z.number().int().default(0),
  }),
  inputs: [{ id: 'in', label: 'In', type: 'dataset' }],
  outputs: [{ id: 'out', label: 'Out', type: 'dataset' }],
  cacheable: true,
});
const sum = defineNode({
  type: 'test.sum',
  version: 1,
  category: 'Evaluation',
  title: 'Sum',
  help: 'Sums every input.',
  config: z.object({}),
  inputs: [{ id: 'in', label: 'In', type: 'dataset', multiple: true }],
  outputs: [{ id: 'out', label: 'Out', type: 'metrics' }],
  cacheable: false,
});
const reg = new NodeRegistry<never>().register(source).register(add).register(sum);

const calls: string[] = [];
function runners(hooks: { onStep?: (nodeId: string, step: number) => void } = {}) {
  const r: Record<string, NodeRunner<Num>> = {
    'test.source': defineRunner<Num, typeof source.config>(source, async (ctx) => {
      calls.push(ctx.nodeId);
      return {
        outputs: { out: num(ctx.config.value) },
        summary: { metrics: { value: ctx.config.value } },
      };
    }),
    'test.add': defineRunner<Num, typeof add.config>(add, async (ctx, inputs) => {
      calls.push(ctx.nodeId);
      for (let s = 1; s <= ctx.config.steps; s++) {
        throwIfAborted(ctx.signal);
        ctx.progress({ value: s, max: ctx.config.steps, unit: 'step', metrics: { loss: 1 / s } });
        hooks.onStep?.(ctx.nodeId, s);
        await Promise.resolve();
      }
      if (ctx.config.fail === 'input') throw new InputError('bad data', ctx.nodeId);
      if (ctx.config.fail === 'numeric') throw new NumericError('train', 3, 'loss = NaN');
      if (ctx.config.fail === 'bug') throw new Error('oops');
      return { outputs: { out: num(inputs.in[0].n + ctx.config.add) } };
    }),
    'test.sum': defineRunner<Num, typeof sum.config>(sum, async (ctx, inputs) => {
      calls.push(ctx.nodeId);
      const total = inputs.in.reduce((a, v) => a + v.n, 0);
      return { outputs: { out: num(total, 'metrics') }, summary: { metrics: { total } } };
    }),
  };
  return r;
}

type NodeDef = [id: string, type: string, config?: Record<string, unknown>];
function pipe(nodes: NodeDef[], edges: [string, string][]): Pipeline {
  return {
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'test',
    nodes: nodes.map(([id, type, config]) => ({
      id,
      type,
      version: 1,
      config: config ?? {},
      position: { x: 0, y: 0 },
    })),
    edges: edges.map(([s, t], i) => ({
      id: `e${i}`,
      source: s,
      sourcePort: 'out',
      target: t,
      targetPort: 'in',
    })),
  };
}

async function run(
  p: Pipeline,
  opts: {
    cache?: MemoryNodeCache<Num>;
    signal?: AbortSignal;
    now?: () => number;
    onStep?: (nodeId: string, step: number) => void;
  } = {},
) {
  const events: RunEvent[] = [];
  calls.length = 0;
  const result = await runPipeline<Num>({
    pipeline: p,
    registry: reg,
    runners: runners({ onStep: opts.onStep }),
    seed: 7,
    dataDir: '/tmp',
    backend: 'test',
    cache: opts.cache,
    signal: opts.signal,
    now: opts.now,
    onEvent: (e) => events.push(e),
  });
  const brief = events.map((e) => ('nodeId' in e ? `${e.type}:${e.nodeId}` : e.type));
  return { result, events, brief };
}

const chain = (addB = 10, addC = 100) =>
  pipe(
    [
      ['c', 'test.add', { add: addC }],
      ['a', 'test.source', { value: 1 }],
      ['b', 'test.add', { add: addB }],
      ['s', 'test.sum'],
    ],
    [
      ['a', 'b'],
      ['b', 'c'],
      ['a', 's'],
      ['b', 's'],
      ['c', 's'],
    ],
  );

describe('runPipeline', () => {
  it('runs nodes in dependency order and passes values along edges', async () => {
    const { result, brief, events } = await run(chain());
    expect(calls).toEqual(['a', 'b', 'c', 's']);
    expect(result.status).toBe('done');
    expect(result.nodes.get('s')?.summary).toEqual({ metrics: { total: 1 + 11 + 111 } });
    expect(brief[0]).toBe('runStart');
    expect(brief.at(-1)).toBe('runDone');
    expect(brief.filter((b) => b.startsWith('nodeFinish'))).toEqual([
      'nodeFinish:a',
      'nodeFinish:b',
      'nodeFinish:c',
      'nodeFinish:s',
    ]);
    const start = events[0];
    expect(start.type === 'runStart' && start.nodeIds).toEqual(['a', 'b', 'c', 's']);
    expect(start.type === 'runStart' && start.seed).toBe(7);
  });

  it('re-running after editing one node re-runs only that node and what is downstream', async () => {
    const cache = new MemoryNodeCache<Num>();
    await run(chain(10, 100), { cache });
    expect(calls).toEqual(['a', 'b', 'c', 's']);

    const again = await run(chain(10, 100), { cache });
    expect(calls).toEqual(['s']); // test.sum is not cacheable
    expect(again.brief.filter((b) => b.startsWith('nodeCached'))).toEqual([
      'nodeCached:a',
      'nodeCached:b',
      'nodeCached:c',
    ]);

    const edited = await run(chain(10, 200), { cache });
    expect(calls).toEqual(['c', 's']);
    expect(edited.result.nodes.get('a')?.status).toBe('cached');
    expect(edited.result.nodes.get('c')?.status).toBe('done');
    expect(edited.result.nodes.get('s')?.summary).toEqual({ metrics: { total: 1 + 11 + 211 } });

    // changing an upstream node invalidates everything below it
    await run(chain(20, 200), { cache });
    expect(calls).toEqual(['b', 'c', 's']);
    cache.clear();
  });

  it('caches by config content: key order and spelled-out defaults do not matter', async () => {
    const cache = new MemoryNodeCache<Num>();
    await run(
      pipe(
        [
          ['a', 'test.source', { value: 1 }],
          ['b', 'test.add', { add: 2, fail: 'no' }],
        ],
        [['a', 'b']],
      ),
      { cache },
    );
    await run(
      pipe(
        [
          ['a', 'test.source', { value: 1 }],
          ['b', 'test.add', { fail: 'no', add: 2, steps: 0 }],
        ],
        [['a', 'b']],
      ),
      { cache },
    );
    expect(calls).toEqual([]);
    cache.clear();
  });

  it('disposes values it owns, and cached values only when the cache drops them', async () => {
    disposed.length = 0;
    const cache = new MemoryNodeCache<Num>();
    await run(chain(10, 100), { cache });
    expect(disposed).toEqual([123]); // the uncached sum output
    disposed.length = 0;
    await run(chain(10, 200), { cache });
    // the old 'c' (111) is no longer used by the latest run and is dropped
    expect(disposed.sort((x, y) => x - y)).toEqual([111, 223]);
    disposed.length = 0;
    cache.clear();
    expect(disposed.sort((x, y) => x - y)).toEqual([1, 11, 211]);
    disposed.length = 0;
    await run(chain()); // no cache given: everything is disposed at the end
    expect(disposed.sort((x, y) => x - y)).toEqual([1, 11, 111, 123]);
  });

  it('a failure skips everything downstream but independent branches still run', async () => {
    const p = pipe(
      [
        ['a', 'test.source'],
        ['bad', 'test.add', { fail: 'numeric' }],
        ['below', 'test.add'],
        ['further', 'test.add'],
        ['ok', 'test.add', { add: 5 }],
        ['ok2', 'test.add', { add: 1 }],
      ],
      [
        ['a', 'bad'],
        ['bad', 'below'],
        ['below', 'further'],
        ['a', 'ok'],
        ['ok', 'ok2'],
      ],
    );
    const { result, events } = await run(p);
    expect(result.status).toBe('failed');
    expect(calls).toEqual(['a', 'bad', 'ok', 'ok2']);
    const err = events.find((e) => e.type === 'nodeError');
    expect(err).toMatchObject({
      nodeId: 'bad',
      kind: 'numeric',
      message: expect.stringMatching(/NaN/),
    });
    const skipped = events.filter((e) => e.type === 'nodeSkipped');
    expect(skipped).toMatchObject([
      { nodeId: 'below', reason: "upstream node 'bad' failed" },
      { nodeId: 'further', reason: "upstream node 'below' was skipped" },
    ]);
    expect(result.nodes.get('ok2')?.status).toBe('done');
  });

  it('classifies errors: input, numeric, internal; a missing runner is internal', async () => {
    const p = pipe(
      [
        ['a', 'test.source'],
        ['i', 'test.add', { fail: 'input' }],
        ['b', 'test.add', { fail: 'bug' }],
      ],
      [
        ['a', 'i'],
        ['a', 'b'],
      ],
    );
    const { events } = await run(p);
    const errs = events.filter((e) => e.type === 'nodeError');
    expect(errs).toMatchObject([
      { nodeId: 'i', kind: 'input', message: 'i: bad data' },
      { nodeId: 'b', kind: 'internal', message: 'oops' },
    ]);
    const events2: RunEvent[] = [];
    const r = await runPipeline<Num>({
      pipeline: pipe([['a', 'test.source']], []),
      registry: reg,
      runners: {},
      seed: 1,
      dataDir: '/tmp',
      onEvent: (e) => events2.push(e),
    });
    expect(r.status).toBe('failed');
    expect(events2.find((e) => e.type === 'nodeError')).toMatchObject({
      kind: 'internal',
      message: expect.stringMatching(/no run function .* 'test.source'/),
    });
  });

  it('refuses an invalid pipeline before running anything, listing all problems', async () => {
    const p = pipe(
      [
        ['a', 'test.source', { value: 'x' }],
        ['b', 'test.add'],
        ['c', 'nope'],
      ],
      [],
    );
    const err = await run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineInvalidError);
    expect(calls).toEqual([]);
    const problems = err instanceof PipelineInvalidError ? err.problems.map((x) => x.nodeId) : [];
    expect(problems).toEqual(['a', 'c', 'b']);
  });

  it('cancellation mid-node emits runCancelled and starts no later node', async () => {
    const ac = new AbortController();
    const p = pipe(
      [
        ['a', 'test.source'],
        ['slow', 'test.add', { steps: 50 }],
        ['after', 'test.add'],
        ['side', 'test.source', { value: 3 }],
      ],
      [
        ['a', 'slow'],
        ['slow', 'after'],
      ],
    );
    const { result, brief } = await run(p, {
      signal: ac.signal,
      onStep: (_id, step) => {
        if (step === 5) ac.abort();
      },
    });
    expect(result.status).toBe('cancelled');
    expect(calls).toEqual(['a', 'slow']);
    expect(brief.slice(-2)).toEqual(['runCancelled', 'runDone']);
    expect(brief).not.toContain('nodeStart:after');
    expect(brief).not.toContain('nodeStart:side');
    expect(result.nodes.get('slow')?.status).toBe('cancelled');
    expect(result.nodes.get('after')?.status).toBe('pending');
  });

  it('an already aborted signal runs nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const { brief } = await run(chain(), { signal: ac.signal });
    expect(calls).toEqual([]);
    expect(brief).toEqual(['runStart', 'runCancelled', 'runDone']);
  });

  it('throttles progress to one event per interval per node and always sends the last one', async () => {
    let t = 0;
    // each step advances the clock 30 ms: 100 steps = 3 s, so about 3000/100 = 30 events
    const p = pipe(
      [
        ['a', 'test.source'],
        ['train', 'test.add', { steps: 100 }],
      ],
      [['a', 'train']],
    );
    const { events } = await run(p, {
      now: () => t,
      onStep: () => {
        t += 30;
      },
    });
    const prog = events.filter((e) => e.type === 'nodeProgress');
    expect(prog.length).toBeGreaterThanOrEqual(25);
    expect(prog.length).toBeLessThanOrEqual(35);
    const last = prog.at(-1);
    expect(last).toMatchObject({ value: 100, max: 100, unit: 'step', metrics: { loss: 0.01 } });
    // consecutive events are ≥ 100 ms apart in clock time: values advance by ≥ 3 steps (but the last)
    for (let i = 1; i < prog.length - 1; i++) {
      const a = prog[i - 1];
      const b = prog[i];
      if (a.type === 'nodeProgress' && b.type === 'nodeProgress')
        expect(b.value - a.value).toBeGreaterThanOrEqual(3);
    }
    const mid = prog[5];
    expect(mid.type === 'nodeProgress' && mid.etaS).toBeGreaterThan(0);
    // the final progress precedes nodeFinish
    const iLast = events.indexOf(prog[prog.length - 1]);
    expect(events[iLast + 1]).toMatchObject({ type: 'nodeFinish', nodeId: 'train' });
  });

  it('is deterministic: the node rng depends only on seed and node type', async () => {
    const seen: number[] = [];
    const reg2 = new NodeRegistry<never>().register(source);
    const r: NodeRunner<Num> = async (ctx) => {
      seen.push(ctx.rng.next());
      return { outputs: { out: num(0) } };
    };
    for (let i = 0; i < 2; i++) {
      await runPipeline<Num>({
        pipeline: pipe([['x', 'test.source']], []),
        registry: reg2,
        runners: { 'test.source': r },
        seed: 42,
        dataDir: '/tmp',
      });
    }
    expect(seen[0]).toBe(seen[1]);
  });

  it('rejects outputs that do not match the declared port types', async () => {
    const bad: NodeRunner<Num> = async () => ({ outputs: { out: num(1, 'metrics') } });
    const events: RunEvent[] = [];
    disposed.length = 0;
    await runPipeline<Num>({
      pipeline: pipe([['x', 'test.source']], []),
      registry: reg,
      runners: { 'test.source': bad },
      seed: 1,
      dataDir: '/tmp',
      onEvent: (e) => events.push(e),
    });
    expect(events.find((e) => e.type === 'nodeError')).toMatchObject({
      message: "node returned a 'metrics' value for output 'out', which is declared 'dataset'",
    });
    expect(disposed).toEqual([1]);
  });

  it('treats a failing cache as a miss and still finishes the run', async () => {
    const events: RunEvent[] = [];
    calls.length = 0;
    const r = await runPipeline<Num>({
      pipeline: chain(),
      registry: reg,
      runners: runners(),
      seed: 1,
      dataDir: '/tmp',
      cache: {
        get: () => {
          throw new Error('disk gone');
        },
        set: async () => {
          throw new Error('disk gone');
        },
      },
      onEvent: (e) => events.push(e),
    });
    expect(r.status).toBe('done');
    expect(calls).toEqual(['a', 'b', 'c', 's']);
    const warns = events.filter((e) => e.type === 'log' && e.level === 'warn');
    expect(warns.length).toBe(6);
    expect(r.nodes.get('s')?.summary).toEqual({ metrics: { total: 123 } });
  });
});

describe('inherited inputs', () => {
  /** A value of any port type, with the id of the node that made it. */
  interface Made {
    readonly type: 'tasks' | 'features' | 'metrics';
    readonly by: string;
  }
  /** A config-less, cacheable node type with these ports. */
  const spec = (type: string, inputs: readonly PortSpec[], outputs: readonly PortSpec[]) =>
    defineNode({
      type,
      version: 1,
      category: 'Data',
      title: type,
      help: '',
      config: z.object({}),
      inputs,
      outputs,
      cacheable: true,
    });
  const tasks = spec('inh.tasks', [], [{ id: 'tasks', label: 'Tasks', type: 'tasks' }]);
  const features = spec(
    'inh.features',
    [{ id: 'tasks', label: 'Tasks', type: 'tasks' }],
    [{ id: 'features', label: 'Features', type: 'features' }],
  );
  const use = spec(
    'inh.use',
    [
      { id: 'features', label: 'Features', type: 'features' },
      { id: 'tasks', label: 'Tasks', type: 'tasks', inheritFrom: ['features'] },
    ],
    [{ id: 'out', label: 'Out', type: 'metrics' }],
  );
  const inhReg = new NodeRegistry<never>().register(tasks).register(features).register(use);
  const got: Record<string, readonly Made[]>[] = [];
  const make =
    (type: Made['type'], port: string): NodeRunner<Made> =>
    async (ctx, inputs) => {
      got.push({ [ctx.nodeId]: Object.values(inputs).flat() });
      return { outputs: { [port]: { type, by: ctx.nodeId } } };
    };
  const inhRunners = {
    'inh.tasks': make('tasks', 'tasks'),
    'inh.features': make('features', 'features'),
    'inh.use': make('metrics', 'out'),
  };
  const node = (id: string, type: string) => ({
    id,
    type,
    version: 1,
    config: {},
    position: { x: 0, y: 0 },
  });
  const edge = (id: string, s: string, sp: string, t: string, tp: string) => ({
    id,
    source: s,
    sourcePort: sp,
    target: t,
    targetPort: tp,
  });
  const pipeline = (wireTasks: boolean): Pipeline => ({
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'inherit',
    nodes: [node('t', 'inh.tasks'), node('f', 'inh.features'), node('u', 'inh.use')],
    edges: [
      edge('e1', 't', 'tasks', 'f', 'tasks'),
      edge('e2', 'f', 'features', 'u', 'features'),
      ...(wireTasks ? [edge('e3', 't', 'tasks', 'u', 'tasks')] : []),
    ],
  });

  it('feeds an unwired inherited input the carried value, under the wired cache key', async () => {
    got.length = 0;
    const chain = await runPipeline<Made>({
      pipeline: pipeline(false),
      registry: inhReg,
      runners: inhRunners,
      seed: 1,
      dataDir: '/tmp',
      backend: 'test',
    });
    expect(chain.status).toBe('done');
    // 'u' got the features of 'f' and, unwired, the tasks of 't' that they carry.
    expect(got.find((g) => g.u)?.u).toEqual([
      { type: 'features', by: 'f' },
      { type: 'tasks', by: 't' },
    ]);
    const wired = await runPipeline<Made>({
      pipeline: pipeline(true),
      registry: inhReg,
      runners: inhRunners,
      seed: 1,
      dataDir: '/tmp',
      backend: 'test',
    });
    expect(wired.nodes.get('u')?.cacheKey).toBe(chain.nodes.get('u')?.cacheKey);
  });

  it('refuses to run when the carrier is not connected either', async () => {
    const p = pipeline(false);
    const err = await runPipeline<Made>({
      pipeline: { ...p, edges: p.edges.filter((e) => e.target !== 'u') },
      registry: inhReg,
      runners: inhRunners,
      seed: 1,
      dataDir: '/tmp',
      backend: 'test',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineInvalidError);
    expect(String(err)).toContain(
      "required input 'tasks' (tasks) is not connected, nor is the input it can be taken from ('features'): connect 'tasks' or 'features'",
    );
  });
});
