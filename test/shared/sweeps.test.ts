import { describe, expect, it } from 'vitest';
import { registry } from '../../src/shared/nodes/registry.ts';
import { parsePipeline, type Pipeline } from '../../src/shared/pipeline.ts';
import {
  estimateSweep,
  expandSweep,
  formatEstimate,
  parseSetArg,
  parseSweepSpec,
  type SweepSpec,
} from '../../src/shared/sweeps.ts';

/** data → tasks → features, the tiny configs. */
function pipeline(): Pipeline {
  const r = parsePipeline({
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'sweep-test',
    nodes: [
      { id: 'data', type: 'dataset.source', version: 1, config: {} },
      { id: 'tasks', type: 'tasks.generate', version: 1, config: { k: 3, nTrain: 10 } },
      {
        id: 'features',
        type: 'features.extract',
        version: 1,
        config: { extractor: { kind: 'pca', components: 6 } },
      },
    ],
    edges: [
      { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
      {
        id: 'e3',
        source: 'data',
        sourcePort: 'dataset',
        target: 'features',
        targetPort: 'dataset',
      },
      { id: 'e2', source: 'tasks', sourcePort: 'tasks', target: 'features', targetPort: 'tasks' },
    ],
  });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.pipeline;
}

const configOf = (p: Pipeline, id: string) => p.nodes.find((n) => n.id === id)?.config;

function expand(spec: SweepSpec) {
  const r = expandSweep(pipeline(), spec, registry);
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r;
}

function problems(spec: SweepSpec): readonly string[] {
  const r = expandSweep(pipeline(), spec, registry);
  if (r.ok) throw new Error('expected the sweep to be refused');
  return r.problems;
}

describe('sweep expansion', () => {
  it('a grid is every combination, upstream fields varying slowest, other config kept', () => {
    const r = expand({
      mode: 'grid',
      params: [
        { path: 'features.extractor.components', values: [4, 8] },
        { path: 'tasks.k', values: [3, 4, 5] },
      ],
    });
    // tasks feeds features: its field is the outer loop whatever the order given.
    expect(r.paths).toEqual(['tasks.k', 'features.extractor.components']);
    expect(
      r.points.map((p) => [p.values['tasks.k'], p.values['features.extractor.components']]),
    ).toEqual([
      [3, 4],
      [3, 8],
      [4, 4],
      [4, 8],
      [5, 4],
      [5, 8],
    ]);
    const last = r.points[5].pipeline;
    expect(configOf(last, 'tasks')).toEqual({ k: 5, nTrain: 10 });
    // A nested field is set inside its object; its siblings stay.
    expect(configOf(last, 'features')).toEqual({ extractor: { kind: 'pca', components: 8 } });
    // The base pipeline is not changed.
    expect(configOf(pipeline(), 'tasks')).toEqual({ k: 3, nTrain: 10 });
    expect(r.points.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('random draws are seeded, in range, integer when asked, grouped by upstream value', () => {
    const spec: SweepSpec = {
      mode: 'random',
      count: 12,
      seed: 7,
      params: [
        { path: 'features.extractor.components', min: 2, max: 40, scale: 'log', integer: true },
        { path: 'tasks.k', values: [3, 5] },
        { path: 'tasks.trainFraction', min: 0.5, max: 0.9 },
      ],
    };
    const a = expand(spec);
    const b = expand(spec);
    expect(a.points.map((p) => p.values)).toEqual(b.points.map((p) => p.values));
    expect(a.points).toHaveLength(12);
    const ks = a.points.map((p) => p.values['tasks.k']);
    // Grouped: every k = 3 before every k = 5.
    expect(ks).toEqual([...ks].sort());
    expect(new Set(ks)).toEqual(new Set([3, 5]));
    for (const p of a.points) {
      const c = p.values['features.extractor.components'];
      expect(Number.isInteger(c)).toBe(true);
      expect(c).toBeGreaterThanOrEqual(2);
      expect(c).toBeLessThanOrEqual(40);
      const f = Number(p.values['tasks.trainFraction']);
      expect(f).toBeGreaterThanOrEqual(0.5);
      expect(f).toBeLessThan(0.9);
    }
    const other = expand({ ...spec, seed: 8 });
    expect(other.points.map((p) => p.values)).not.toEqual(a.points.map((p) => p.values));
  });

  it('an unknown node or key names it and suggests the closest one', () => {
    expect(problems({ mode: 'grid', params: [{ path: 'tsks.k', values: [3] }] })).toEqual([
      '`tsks.k`: no node `tsks` in the pipeline; did you mean `tasks`?',
    ]);
    expect(problems({ mode: 'grid', params: [{ path: 'tasks.nTrian', values: [5, 6] }] })).toEqual([
      'tasks: `nTrian`: unknown key; did you mean `nTrain`?',
    ]);
  });

  it('an invalid value is reported with the field and the value, once per value', () => {
    expect(problems({ mode: 'grid', params: [{ path: 'tasks.k', values: [3, 1, 'x'] }] })).toEqual([
      expect.stringMatching(/^tasks\.k: .*2.* \(value 1\)$/),
      expect.stringMatching(/^tasks\.k: .*number.* \(value x\)$/),
    ]);
  });

  it('refuses more points than the limit', () => {
    const values = Array.from({ length: 30 }, (_, i) => i + 2);
    expect(
      problems({
        mode: 'grid',
        params: [
          { path: 'tasks.k', values },
          { path: 'tasks.nTrain', values },
        ],
      }),
    ).toEqual(['the grid has 900 points; at most 500 per sweep']);
  });
});

describe('sweep spec and --set syntax', () => {
  it('parses lists, JSON values and ranges', () => {
    expect(parseSetArg('tasks.k=3,4,5')).toEqual({ path: 'tasks.k', values: [3, 4, 5] });
    expect(parseSetArg('zoo.architecture.hidden=[4],[4,4]')).toEqual({
      path: 'zoo.architecture.hidden',
      values: [[4], [4, 4]],
    });
    expect(parseSetArg('s.sampler=ddim,ddpm')).toEqual({
      path: 's.sampler',
      values: ['ddim', 'ddpm'],
    });
    expect(parseSetArg('zoo.train.lr=1e-4..1e-2:log')).toEqual({
      path: 'zoo.train.lr',
      min: 1e-4,
      max: 1e-2,
      scale: 'log',
    });
    expect(parseSetArg('tasks.k=2..9:int')).toEqual({
      path: 'tasks.k',
      min: 2,
      max: 9,
      integer: true,
    });
  });

  it('refuses malformed flags with a message naming them', () => {
    expect(() => parseSetArg('tasks.k')).toThrow("--set 'tasks.k': write node.field=a,b,c");
    expect(() => parseSetArg('k=3')).toThrow("'k' is not node.field");
    expect(() => parseSetArg('tasks.k=')).toThrow('`tasks.k`: no values given');
    expect(() => parseSetArg('tasks.k=3,,4')).toThrow('empty value');
  });

  it('the spec is strict: unknown keys, ranges in a grid, repeated fields', () => {
    const bad = (raw: unknown) => {
      const r = parseSweepSpec(raw);
      if (r.ok) throw new Error('expected a refusal');
      return r.problems.join('\n');
    };
    expect(bad({ mode: 'grid', params: [{ path: 'tasks.k', values: [3] }], cout: 3 })).toContain(
      '`cout`: unknown key',
    );
    expect(bad({ mode: 'grid', params: [{ path: 'tasks.k', min: 2, max: 5 }] })).toContain(
      'a grid sweep takes a list of values',
    );
    expect(
      bad({
        mode: 'grid',
        params: [
          { path: 'tasks.k', values: [3] },
          { path: 'tasks.k', values: [4] },
        ],
      }),
    ).toContain('`tasks.k` appears twice');
    expect(
      bad({
        mode: 'random',
        count: 3,
        seed: 0,
        params: [{ path: 'a.b', min: 0, max: 1, scale: 'log' }],
      }),
    ).toContain('a log range needs min > 0');
  });
});

describe('sweep estimate', () => {
  const points = () =>
    expand({
      mode: 'grid',
      params: [{ path: 'features.extractor.components', values: [4, 6, 8] }],
    }).points.map((p) => p.pipeline);
  const timings: Record<string, number> = {
    'dataset.source': 2,
    'tasks.generate': 10,
    'features.extract': 30,
  };

  it('counts upstream nodes once (cached across points) and each swept node per point', () => {
    const e = estimateSweep(points(), registry, (type) => timings[type]);
    // data and tasks once; features three times.
    expect(e).toEqual({ seconds: 2 + 10 + 3 * 30, unknown: [] });
    expect(formatEstimate(e.seconds)).toBe('≈ 2 min');
  });

  it('is unknown when a node that must run has no recorded timing', () => {
    const e = estimateSweep(points(), registry, (type) =>
      type === 'features.extract' ? undefined : timings[type],
    );
    expect(e).toEqual({ seconds: null, unknown: ['features'] });
    expect(formatEstimate(e.seconds)).toBe('unknown');
    expect(formatEstimate(12)).toBe('< 1 min');
  });
});
