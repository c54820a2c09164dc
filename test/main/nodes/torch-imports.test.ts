import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { parsePipeline, type Pipeline } from '../../../src/shared/pipeline.ts';
import { MemoryNodeCache, runPipeline, type RunResult } from '../../../src/main/graph/index.ts';
import { runners } from '../../../src/main/nodes/index.ts';
import type { PortValue } from '../../../src/main/nodes/values.ts';
import { confinedPolicy } from '../../../src/main/paths/policy.ts';
import { toTorchStateDict } from '../../../src/main/engine/export/torch.ts';
import { writeSafetensors, type StTensor } from '../../../src/main/engine/formats/safetensors.ts';
import { layoutOf } from '../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../src/main/engine/nn/params.ts';
import { Rng } from '../../../src/main/engine/rng.ts';

const FIX = path.join(import.meta.dirname, '..', '..', 'fixtures', 'torch');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-torch-nodes-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Node = { id: string; type: string; config: unknown };
type Edge = [string, string, string, string];

function pipeline(nodes: Node[], edges: Edge[]): Pipeline {
  const r = parsePipeline({
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'torch-imports',
    nodes: nodes.map((n) => ({ ...n, version: registry.get(n.type)?.version ?? 1 })),
    edges: edges.map(([source, sourcePort, target, targetPort], i) => ({
      id: `e${i}`,
      source,
      sourcePort,
      target,
      targetPort,
    })),
  });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.pipeline;
}

/** Runs share one cache: the data, features and zoo are built once. */
const cache = new MemoryNodeCache<PortValue>();

function run(p: Pipeline): Promise<RunResult> {
  return runPipeline<PortValue>({ pipeline: p, registry, runners, seed: 3, dataDir: tmp, cache });
}

describe('Import zoo node: PyTorch zoos', () => {
  it("reads Schürholt's layout (auto-detected) and p-diff folders; a VAE trains on the import", async () => {
    const r = await run(
      pipeline(
        [
          { id: 'sch', type: 'zoo.import', config: { path: path.join(FIX, 'schurholt') } },
          {
            id: 'pd',
            type: 'zoo.import',
            config: { path: path.join(FIX, 'pdiff'), format: 'pdiff', activation: 'tanh' },
          },
          {
            id: 'vae',
            type: 'model.vae',
            config: { hidden: [16], latentDim: 2, epochs: 2, batchSize: 3 },
          },
        ],
        [['sch', 'zoo', 'vae', 'zoo']],
      ),
    );
    expect(r.nodes.get('vae')?.error).toBeUndefined();
    expect(r.status).toBe('done');
    expect(r.nodes.get('vae')?.status).toBe('done');
    expect(r.nodes.get('sch')?.summary?.metrics?.members).toBe(6);
    expect(r.nodes.get('sch')?.summary?.metrics?.parameters).toBe(4 * 5 + 5 + 5 * 3 + 3);
    expect(r.nodes.get('pd')?.summary?.metrics?.members).toBe(4);
  });

  it('refuses a checkpoint that a symlink in the zoo folder leads outside the allowed folders', async () => {
    const zoo = path.join(tmp, 'linked-zoo');
    fs.cpSync(path.join(FIX, 'schurholt'), zoo, { recursive: true });
    const ck = path.join(zoo, 'NN_tune_trainable_00001', 'checkpoint_000002', 'checkpoints');
    fs.rmSync(ck);
    fs.symlinkSync(
      path.join(FIX, 'schurholt', 'NN_tune_trainable_00001', 'checkpoint_000002', 'checkpoints'),
      ck,
    );
    const r = await runPipeline<PortValue>({
      pipeline: pipeline([{ id: 'z', type: 'zoo.import', config: { path: 'linked-zoo' } }], []),
      registry,
      runners,
      seed: 3,
      dataDir: tmp,
      paths: confinedPolicy({ dataDir: tmp }),
    });
    expect(r.status).toBe('failed');
    expect(r.nodes.get('z')?.error).toMatch(
      /file in the zoo folder .* is outside the allowed folders/,
    );
  });

  it('says which format it expected when the folder does not hold it', async () => {
    const r = await run(
      pipeline(
        [
          {
            id: 'bad',
            type: 'zoo.import',
            config: { path: path.join(FIX, 'pdiff'), format: 'schurholt' },
          },
        ],
        [],
      ),
    );
    expect(r.status).toBe('failed');
    expect(r.nodes.get('bad')?.error).toMatch(/holds no model folders/);
  });
});

describe('Evaluate node: init pretrained_file', () => {
  // The zoo architecture: 6 PCA features → 4 hidden → 3 classes.
  const nodes = (checkpoint: string): Node[] => [
    { id: 'data', type: 'dataset.source', config: {} },
    {
      id: 'tasks',
      type: 'tasks.generate',
      config: {
        k: 3,
        nTrain: 10,
        nTest: 10,
        heldOutClasses: 1,
        numSeen: 2,
        numUnseenCombo: 1,
        numUnseenClass: 1,
      },
    },
    {
      id: 'features',
      type: 'features.extract',
      config: { extractor: { kind: 'pca', components: 6 } },
    },
    {
      id: 'zoo',
      type: 'zoo.build',
      config: {
        architecture: { kind: 'mlp', hidden: [4] },
        train: { epochs: 1, keepLast: 1, seeds: 1, batchSize: 10, lr: 0.01 },
        workers: 0,
      },
    },
    {
      id: 'pre',
      type: 'eval.finetune',
      config: {
        init: 'pretrained_file',
        checkpoint,
        splits: ['seen', 'unseen-class'],
        maxTasks: 1,
        finetuneEpochs: [0, 1],
      },
    },
  ];
  const edges: Edge[] = [
    ['data', 'dataset', 'tasks', 'dataset'],
    ['data', 'dataset', 'features', 'dataset'],
    ['tasks', 'tasks', 'features', 'tasks'],
    ['features', 'features', 'zoo', 'features'],
    ['tasks', 'tasks', 'zoo', 'tasks'],
    ['features', 'features', 'pre', 'features'],
    ['tasks', 'tasks', 'pre', 'tasks'],
    ['zoo', 'zoo', 'pre', 'zoo'],
  ];

  it('evaluates a checkpoint with another class count (fresh head) and refuses one that does not fit', async () => {
    // A 5-class checkpoint of the same body, saved with PyTorch names.
    const layout = layoutOf({
      kind: 'mlp',
      inputDim: 6,
      hidden: [4],
      outputs: 5,
      activation: 'leaky_relu',
    });
    const tensors: Record<string, StTensor> = {};
    for (const t of toTorchStateDict(layout, initParams(layout, new Rng(4)))) {
      tensors[t.name] = { dtype: 'F32', shape: t.shape, data: t.data };
    }
    const ck = path.join(tmp, 'five-classes.safetensors');
    await writeSafetensors(ck, tensors);
    const ok = await run(pipeline(nodes(ck), edges));
    expect(ok.nodes.get('pre')?.error).toBeUndefined();
    expect(ok.status).toBe('done');
    const metrics = ok.nodes.get('pre')?.summary?.metrics ?? {};
    const accs = Object.values(metrics).filter((v): v is number => typeof v === 'number');
    expect(accs.length).toBeGreaterThan(0);
    expect(accs.every((a) => Number.isFinite(a))).toBe(true);

    const bad = await run(pipeline(nodes(path.join(FIX, 'plain.pt')), edges));
    expect(bad.status).toBe('failed');
    expect(bad.nodes.get('pre')?.error).toMatch(
      /plain\.pt: tensor 'module_list\.0\.weight' has shape \[3, 4\] but the architecture's dense0\.kernel needs \[4, 6\] \(PyTorch order\)/,
    );

    const outside = await runPipeline<PortValue>({
      pipeline: pipeline(nodes(path.join(FIX, 'plain.pt')), edges),
      registry,
      runners,
      seed: 3,
      dataDir: tmp,
      cache,
      paths: confinedPolicy({ dataDir: tmp }),
    });
    expect(outside.nodes.get('pre')?.error).toMatch(
      /checkpoint .*plain\.pt.* is outside the allowed folders/,
    );

    const none = await run(pipeline(nodes(''), edges));
    expect(none.nodes.get('pre')?.error).toMatch(/needs a checkpoint file: set config\.checkpoint/);
  });
});
