import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineNode, NodeRegistry } from '../../src/shared/nodes/spec.ts';
import {
  MAX_CONFIG_DEPTH,
  MAX_PIPELINE_NODES,
  migratePipeline,
  parsePipeline,
  type Pipeline,
} from '../../src/shared/pipeline.ts';

const v2 = defineNode({
  type: 'test.renamed',
  version: 3,
  category: 'Data',
  title: 'Renamed',
  help: 'A node whose config field `n` was renamed `count` in v2 and doubled in v3.',
  config: z.object({ count: z.number().default(1) }),
  inputs: [],
  outputs: [{ id: 'out', label: 'Out', type: 'dataset' }],
  cacheable: true,
  migrate(config, fromVersion) {
    let c = z.record(z.string(), z.unknown()).parse(config);
    if (fromVersion < 2) c = { count: c.n };
    if (fromVersion < 3) c = { count: Number(c.count) * 2 };
    return c;
  },
});
const noMigrate = defineNode({ ...v2, type: 'test.nomigrate', migrate: undefined });
const registry = new NodeRegistry<never>().register(v2).register(noMigrate);

function pipeline(nodes: Pipeline['nodes']): Pipeline {
  return { format: 'd2nwg-pipeline', version: 1, name: 'p', nodes, edges: [] };
}

describe('parsePipeline', () => {
  it('accepts a minimal file and fills defaults for config, position and edges', () => {
    const r = parsePipeline({
      format: 'd2nwg-pipeline',
      version: 1,
      name: 'x',
      nodes: [{ id: 'a', type: 't', version: 1 }],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.pipeline.nodes[0]).toEqual({
      id: 'a',
      type: 't',
      version: 1,
      config: {},
      position: { x: 0, y: 0 },
    });
    expect(r.pipeline.edges).toEqual([]);
  });

  it('reports every structural problem with its path and node id', () => {
    const r = parsePipeline({
      format: 'other',
      version: 1,
      name: 'x',
      nodes: [{ id: 'n1', type: 't', version: 0 }],
      edges: [{ id: 'e', source: 'a' }],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.problems.join('\n');
    expect(text).toMatch(/^format:/m);
    expect(text).toMatch(/nodes\[0\]\.version \(node 'n1'\)/);
    expect(text).toMatch(/edges\[0\]\.target/);
    expect(r.problems.length).toBeGreaterThanOrEqual(4);
  });
});

describe('pipeline size and depth limits', () => {
  const node = (i: number, config: unknown = {}) => ({
    id: `n${i}`,
    type: 'test.renamed',
    version: 3,
    config,
    position: { x: 0, y: 0 },
  });

  it(`refuses more than ${MAX_PIPELINE_NODES} nodes with one clear problem`, () => {
    const r = parsePipeline(pipeline(Array.from({ length: 10_000 }, (_, i) => node(i))));
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems).toEqual([
        `nodes: a pipeline may have at most ${MAX_PIPELINE_NODES} nodes`,
      ]);
    expect(
      parsePipeline(pipeline(Array.from({ length: MAX_PIPELINE_NODES }, (_, i) => node(i)))).ok,
    ).toBe(true);
  });

  it(`refuses a node config nested deeper than ${MAX_CONFIG_DEPTH} levels, naming the node`, () => {
    const deep = JSON.parse(`{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}`) as unknown;
    const r = parsePipeline(pipeline([node(0), node(1, deep)]));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toEqual([
        `nodes[1].config (node 'n1'): config nests deeper than ${MAX_CONFIG_DEPTH} levels`,
      ]);
    }
    let ok: unknown = 1;
    for (let i = 0; i < MAX_CONFIG_DEPTH; i++) ok = { c: ok };
    expect(parsePipeline(pipeline([node(0, ok)])).ok).toBe(true);
  });
});

describe('migratePipeline', () => {
  it("upgrades old nodes through the spec's migrate and leaves current ones alone", () => {
    const p = pipeline([
      { id: 'old', type: 'test.renamed', version: 1, config: { n: 5 }, position: { x: 0, y: 0 } },
      {
        id: 'mid',
        type: 'test.renamed',
        version: 2,
        config: { count: 4 },
        position: { x: 0, y: 0 },
      },
      {
        id: 'cur',
        type: 'test.renamed',
        version: 3,
        config: { count: 7 },
        position: { x: 0, y: 0 },
      },
      { id: 'unknown', type: 'nope', version: 1, config: {}, position: { x: 0, y: 0 } },
    ]);
    const m = migratePipeline(p, registry);
    expect(m.problems).toEqual([]);
    expect(m.migrated).toEqual([
      { nodeId: 'old', from: 1, to: 3 },
      { nodeId: 'mid', from: 2, to: 3 },
    ]);
    expect(m.pipeline.nodes.map((n) => [n.id, n.version, n.config])).toEqual([
      ['old', 3, { count: 10 }],
      ['mid', 3, { count: 8 }],
      ['cur', 3, { count: 7 }],
      ['unknown', 1, {}],
    ]);
    expect(p.nodes[0].version).toBe(1); // input untouched
  });

  it('reports nodes from a newer app, without a migration, or whose migration throws', () => {
    const p = pipeline([
      { id: 'future', type: 'test.renamed', version: 9, config: {}, position: { x: 0, y: 0 } },
      { id: 'stuck', type: 'test.nomigrate', version: 1, config: {}, position: { x: 0, y: 0 } },
      { id: 'broken', type: 'test.renamed', version: 1, config: 'oops', position: { x: 0, y: 0 } },
    ]);
    const m = migratePipeline(p, registry);
    expect(m.migrated).toEqual([]);
    expect(m.problems.map((x) => x.nodeId)).toEqual(['future', 'stuck', 'broken']);
    expect(m.problems[0].message).toMatch(/update the app/);
    expect(m.problems[1].message).toMatch(/no migration/);
    expect(m.problems[2].message).toMatch(/migration from v1 failed/);
  });
});

describe('split → splits (Sampler, Evaluate and Reference v1 → v2)', () => {
  it('turns one split into a list of one, and a missing one into the default seen', async () => {
    const { registry: real } = await import('../../src/shared/nodes/registry.ts');
    const { validatePipeline } = await import('../../src/shared/nodes/validate.ts');
    const node = (id: string, type: string, config: object) => ({
      id,
      type,
      version: 1,
      config,
      position: { x: 0, y: 0 },
    });
    const p = {
      format: 'd2nwg-pipeline' as const,
      version: 1 as const,
      name: 'old',
      nodes: [
        node('s', 'sample.generate', { split: 'unseen-class', maxTasks: 2 }),
        node('e', 'eval.finetune', { init: 'randinit', split: 'unseen-combo' }),
        node('r', 'eval.reference', { method: 'lda' }),
      ],
      edges: [],
    };
    const m = migratePipeline(p, real);
    expect(m.problems).toEqual([]);
    expect(m.pipeline.nodes.map((n) => [n.version, n.config])).toEqual([
      [2, { splits: ['unseen-class'], maxTasks: 2 }],
      [2, { init: 'randinit', splits: ['unseen-combo'] }],
      [2, { method: 'lda', splits: ['seen'] }],
    ]);
    // Only missing inputs remain wrong: the migrated configs are valid.
    const problems = validatePipeline(m.pipeline, real).problems;
    expect(problems.filter((q) => q.code === 'bad-config' || q.code === 'version')).toEqual([]);
    expect(problems.some((q) => q.code === 'missing-input')).toBe(true);
  });
});
