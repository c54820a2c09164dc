import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { parsePipeline, type Pipeline } from '../../../src/shared/pipeline.ts';
import { runPipeline } from '../../../src/main/graph/index.ts';
import { runners } from '../../../src/main/nodes/index.ts';
import type { PortValue } from '../../../src/main/nodes/values.ts';
import { tempDir, writeSquaresIdx } from '../../fixtures/datagen.ts';
import { TINY } from '../../helpers/nodes.ts';

const tmp = tempDir('unseen-dataset-node');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A toy zoo on Fashion-MNIST, and tasks of another dataset (`other`) conditioned on it. */
interface NodeIn {
  readonly id: string;
  readonly type: string;
  readonly version: number;
  readonly config: unknown;
}

function pipeline(other: unknown, extra: NodeIn[] = [], extraEdges: string[][] = []): Pipeline {
  const n = (id: string, type: string, config: unknown = {}) => ({
    id,
    type,
    version: registry.get(type)?.version ?? 1,
    config,
  });
  const nodes = [
    n('data', 'dataset.source'),
    n('other', 'dataset.source', { source: other }),
    n('tasks', 'tasks.generate', { ...TINY.tasks, numUnseenCombo: 0, numUnseenClass: 0 }),
    n('features', 'features.extract', TINY.features),
    n('ud', 'tasks.unseen-dataset', { numTasks: 2 }),
    n('zoo', 'zoo.build', TINY.zoo),
    n('vae', 'model.vae', TINY.vae),
    n('encoder', 'model.encoder', TINY.encoder),
    n('diffusion', 'model.diffusion', TINY.diffusion),
    n('sampler', 'sample.generate', { ...TINY.sampler, splits: ['unseen-dataset'], maxTasks: 2 }),
    n('gen', 'eval.finetune', {
      init: 'd2nwg',
      splits: ['unseen-dataset'],
      maxTasks: 2,
      finetuneEpochs: [0, 1],
    }),
    n('rand', 'eval.finetune', {
      init: 'randinit',
      splits: ['unseen-dataset'],
      maxTasks: 2,
      finetuneEpochs: [0, 1],
    }),
    n('ref', 'eval.reference', { method: 'ncm', splits: ['unseen-dataset'], maxTasks: 2 }),
    n('compare', 'eval.compare'),
    ...extra,
  ];
  const edges = [
    ['data', 'dataset', 'tasks', 'dataset'],
    ['data', 'dataset', 'features', 'dataset'],
    ['tasks', 'tasks', 'features', 'tasks'],
    ['other', 'dataset', 'ud', 'dataset'],
    ['tasks', 'tasks', 'ud', 'tasks'],
    ['features', 'features', 'ud', 'features'],
    ['features', 'features', 'zoo', 'features'],
    ['tasks', 'tasks', 'zoo', 'tasks'],
    ['zoo', 'zoo', 'vae', 'zoo'],
    ['zoo', 'zoo', 'encoder', 'zoo'],
    ['vae', 'vae', 'encoder', 'vae'],
    ['features', 'features', 'encoder', 'features'],
    ['tasks', 'tasks', 'encoder', 'tasks'],
    ['zoo', 'zoo', 'diffusion', 'zoo'],
    ['vae', 'vae', 'diffusion', 'vae'],
    ['encoder', 'encoder', 'diffusion', 'encoder'],
    ['features', 'features', 'diffusion', 'features'],
    ['tasks', 'tasks', 'diffusion', 'tasks'],
    ['diffusion', 'diffusion', 'sampler', 'diffusion'],
    ['vae', 'vae', 'sampler', 'vae'],
    ['encoder', 'encoder', 'sampler', 'encoder'],
    ['zoo', 'zoo', 'sampler', 'zoo'],
    // The other dataset's tasks and features where the zoo's would go.
    ['ud', 'features', 'sampler', 'features'],
    ['ud', 'tasks', 'sampler', 'tasks'],
    ['ud', 'features', 'gen', 'features'],
    ['ud', 'tasks', 'gen', 'tasks'],
    ['sampler', 'weights', 'gen', 'weights'],
    ['ud', 'features', 'rand', 'features'],
    ['ud', 'tasks', 'rand', 'tasks'],
    ['zoo', 'zoo', 'rand', 'zoo'],
    ['ud', 'features', 'ref', 'features'],
    ['ud', 'tasks', 'ref', 'tasks'],
    ['gen', 'metrics', 'compare', 'metrics'],
    ['rand', 'metrics', 'compare', 'metrics'],
    ['ref', 'metrics', 'compare', 'metrics'],
    ...extraEdges,
  ].map(([source, sourcePort, target, targetPort], i) => ({
    id: `e${i}`,
    source,
    sourcePort,
    target,
    targetPort,
  }));
  const r = parsePipeline({ format: 'd2nwg-pipeline', version: 1, name: 'unseen', nodes, edges });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.pipeline;
}

const run = (p: Pipeline) =>
  runPipeline<PortValue>({ pipeline: p, registry, runners, seed: 3, dataDir: tmp });

describe('the Unseen-dataset tasks node', () => {
  it("conditions the generator on another dataset's tasks; every row is on that split", async () => {
    const r = await run(pipeline(writeSquaresIdx(tmp, 4, 60, 28)));
    expect(r.status).toBe('done');
    const ud = r.nodes.get('ud')?.summary;
    expect(ud?.metrics).toEqual({ unseenDataset: 2, classes: 4 });
    for (const id of ['gen', 'rand', 'ref']) {
      const rows = r.nodes.get(id)?.summary?.table as { split: string; tasks: number }[];
      expect(rows.map((x) => x.split)).toEqual(['unseen-dataset']);
      expect(rows[0].tasks).toBe(2);
    }
    // The squares are easy: NCM on the zoo's PCA features of them is far above chance (1/3).
    const ncm = (r.nodes.get('ref')?.summary?.table as { mean: number[] }[])[0].mean[0];
    expect(ncm).toBeGreaterThan(0.8);
    const metrics = r.nodes.get('compare')?.summary?.metrics ?? {};
    expect(Object.keys(metrics).some((k) => k.startsWith('accuracy/unseen-dataset/'))).toBe(true);
  });

  it('refuses another input shape (both named), pretrained_source, and unseen-dataset on zoo tasks', async () => {
    const small = await run(pipeline(writeSquaresIdx(tmp, 4, 60, 12)));
    expect(small.status).toBe('failed');
    expect(small.nodes.get('ud')?.error).toMatch(/\[28, 28, 1\].*\[12, 12, 1\]/);

    const p = pipeline(
      writeSquaresIdx(tmp, 4, 60, 28),
      [
        {
          id: 'pre',
          type: 'eval.finetune',
          version: registry.get('eval.finetune')?.version ?? 1,
          config: { init: 'pretrained_source', splits: ['unseen-dataset'], maxTasks: 1 },
        },
        {
          id: 'wrong',
          type: 'eval.reference',
          version: registry.get('eval.reference')?.version ?? 1,
          config: { method: 'ncm', splits: ['unseen-dataset'], maxTasks: 1 },
        },
      ],
      [
        ['ud', 'features', 'pre', 'features'],
        ['ud', 'tasks', 'pre', 'tasks'],
        ['zoo', 'zoo', 'pre', 'zoo'],
        ['features', 'features', 'wrong', 'features'],
        ['tasks', 'tasks', 'wrong', 'tasks'],
      ],
    );
    const r = await run({
      ...p,
      nodes: p.nodes.filter((nd) =>
        ['data', 'other', 'tasks', 'features', 'ud', 'zoo', 'pre', 'wrong'].includes(nd.id),
      ),
      edges: p.edges.filter((e) =>
        [e.source, e.target].every((id) =>
          ['data', 'other', 'tasks', 'features', 'ud', 'zoo', 'pre', 'wrong'].includes(id),
        ),
      ),
    });
    expect(r.nodes.get('pre')?.error).toMatch(/use init 'pretrained_file'/);
    expect(r.nodes.get('wrong')?.error).toMatch(
      /connect the Tasks and Features outputs of an Unseen-dataset tasks node/,
    );
  });
});
