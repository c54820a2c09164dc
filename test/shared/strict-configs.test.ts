/**
 * Unknown keys are errors wherever a config enters: node configs inside a pipeline (what
 * `d2nwg validate` / `d2nwg run` and the canvas check), the pipeline file itself, and every
 * bundled example still validates.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registry } from '../../src/shared/nodes/registry.ts';
import { formatProblem, validatePipeline } from '../../src/shared/nodes/validate.ts';
import { migratePipeline, parsePipeline, type Pipeline } from '../../src/shared/pipeline.ts';

const examplesDir = path.join(import.meta.dirname, '..', '..', 'resources', 'pipelines');

/** Parse, migrate and validate as the CLI and the canvas do; every problem as one line. */
function check(json: unknown): string[] {
  const parsed = parsePipeline(json);
  if (!parsed.ok) return [...parsed.problems];
  const migrated = migratePipeline(parsed.pipeline, registry);
  return [
    ...migrated.problems.map((p) => `node '${p.nodeId}': ${p.message}`),
    ...validatePipeline(migrated.pipeline, registry).problems.map(formatProblem),
  ];
}

function zooPipeline(zooConfig: unknown): Pipeline {
  const node = (id: string, type: string, config: unknown = {}) => ({
    id,
    type,
    version: 1,
    config,
    position: { x: 0, y: 0 },
  });
  const edge = (source: string, sourcePort: string, target: string, targetPort: string) => ({
    id: `${source}-${target}-${targetPort}`,
    source,
    sourcePort,
    target,
    targetPort,
  });
  return {
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'typo',
    nodes: [
      node('data', 'dataset.source'),
      node('tasks', 'tasks.generate'),
      node('feats', 'features.extract'),
      node('zoo', 'zoo.build', zooConfig),
    ],
    edges: [
      edge('data', 'dataset', 'tasks', 'dataset'),
      edge('data', 'dataset', 'feats', 'dataset'),
      edge('tasks', 'tasks', 'feats', 'tasks'),
      edge('feats', 'features', 'zoo', 'features'),
      edge('tasks', 'tasks', 'zoo', 'tasks'),
    ],
  };
}

describe('node configs in a pipeline', () => {
  it('refuse a misspelt key with the path and the key meant, instead of using the default', () => {
    expect(check(zooPipeline({ train: { epochs: 4 } }))).toEqual([]);
    expect(check(zooPipeline({ train: { epoch: 4 } }))).toEqual([
      "node 'zoo': config.train: `epoch`: unknown key; did you mean `epochs`?",
    ]);
    expect(check(zooPipeline({ worker: 2 }))).toEqual([
      "node 'zoo': config: `worker`: unknown key; did you mean `workers`?",
    ]);
    expect(check(zooPipeline({ architecture: { kind: 'mlp', hiden: [8] } }))).toEqual([
      "node 'zoo': config.architecture: `hiden`: unknown key; did you mean `hidden`?",
    ]);
  });

  it('are strict for every registered node type, each key suggested back from a typo', () => {
    for (const spec of registry.list()) {
      const schema = spec.config;
      expect(schema, spec.type).toBeInstanceOf(z.ZodObject);
      if (!(schema instanceof z.ZodObject)) continue;
      for (const key of Object.keys(schema.shape)) {
        const typo = key + key.slice(-1);
        const r = schema.safeParse({ [typo]: 1 });
        expect(r.success, `${spec.type}.${typo}`).toBe(false);
        const messages = r.error?.issues.map((i) => i.message) ?? [];
        expect(messages, `${spec.type}.${typo}`).toContain(
          `\`${typo}\`: unknown key; did you mean \`${key}\`?`,
        );
      }
    }
  });
});

describe('the pipeline file', () => {
  const base = (): Record<string, unknown> => ({
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'p',
    nodes: [{ id: 'data', type: 'dataset.source', version: 1 }],
    edges: [],
  });

  it('refuses unknown keys at the top level, in nodes, positions and edges', () => {
    expect(check({ ...base(), edgs: [] })).toEqual([
      '(root): `edgs`: unknown key; did you mean `edges`?',
    ]);
    expect(
      check({
        ...base(),
        nodes: [{ id: 'data', type: 'dataset.source', version: 1, postion: { x: 1, y: 2 } }],
      }),
    ).toEqual(["nodes[0] (node 'data'): `postion`: unknown key; did you mean `position`?"]);
    expect(
      check({
        ...base(),
        nodes: [{ id: 'data', type: 'dataset.source', version: 1, position: { x: 1, y: 2, z: 3 } }],
      }),
    ).toEqual(["nodes[0].position (node 'data'): `z`: unknown key; known keys: `x`, `y`"]);
    expect(
      check({
        ...base(),
        edges: [{ id: 'e', source: 'a', sourcePrt: 'x', target: 'b', targetPort: 'y' }],
      }),
    ).toContainEqual('edges[0]: `sourcePrt`: unknown key; did you mean `sourcePort`?');
  });
});

describe('bundled example pipelines', () => {
  const files = fs.readdirSync(examplesDir).filter((f) => f.endsWith('.json'));

  it('are all found', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  it.each(files)('%s validates under strict configs', (file) => {
    const json: unknown = JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8'));
    expect(check(json)).toEqual([]);
  });
});
