import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/main/nodes/eval-finetune.ts';
import { materializeTask } from '../../../src/main/engine/data/tasks.ts';
import { initRng, labelledSupport } from '../../../src/main/engine/eval/inits.ts';
import { trainSourceModel } from '../../../src/main/engine/eval/pretrained.ts';
import { discriminantHead } from '../../../src/main/engine/eval/protohead.ts';
import { accuracy } from '../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import { zooLayout } from '../../../src/main/engine/zoo/storage.ts';
import { zooSourceModel } from '../../../src/main/engine/zoo/build.ts';
import {
  expectInputError,
  nodeContext,
  output,
  SEED,
  TinyChain,
  wire,
} from '../../helpers/nodes.ts';

const chain = new TinyChain();
afterAll(() => chain.dispose());

async function evaluate(config: Record<string, unknown>, ports: Parameters<typeof wire>[0]) {
  const { ctx, recorded } = nodeContext({ nodeId: 'eval', config });
  const res = await run(ctx, wire(ports));
  const m = output(res, 'metrics', 'metrics');
  return { res, results: m.results, recorded };
}

describe('eval.finetune', () => {
  it('reports test accuracy of a random init at each fine-tuning epoch, per task and as metrics', async () => {
    const tasks = await chain.tasks();
    const { res, results, recorded } = await evaluate(
      {
        init: 'randinit',
        splits: ['unseen-combo', 'unseen-class'],
        maxTasks: 1,
        finetuneEpochs: [2, 0],
      },
      { zoo: await chain.zoo(), features: await chain.features(), tasks },
    );
    expect(results.map((r) => [r.method, r.split, r.epochs])).toEqual([
      ['randinit', 'unseen-combo', [0, 2]],
      ['randinit', 'unseen-class', [0, 2]],
    ]);
    expect(results[0].perTask.map((p) => p.taskId)).toEqual([tasks.tasks.unseenCombo[0].id]);
    expect(results[1].perTask.map((p) => p.taskId)).toEqual([tasks.tasks.unseenClass[0].id]);
    for (const r of results) {
      // One task: the mean is its accuracy, the spread over tasks 0. 30 test samples: k/30.
      expect(r.mean).toEqual(r.perTask[0].accuracy);
      expect(r.std).toEqual([0, 0]);
      for (const a of r.mean) expect(a * 30).toBeCloseTo(Math.round(a * 30), 4);
    }
    expect(Object.keys(res.summary?.metrics ?? {})).toEqual([
      'accuracy/unseen-combo/randinit@0',
      'accuracy/unseen-combo/randinit@2',
      'accuracy/unseen-class/randinit@0',
      'accuracy/unseen-class/randinit@2',
    ]);
    expect(res.summary?.method).toBe('randinit');
    expect(recorded.progress.length).toBeGreaterThan(0);
  });

  it("starts d2nwg from the Sampler's best sample: epoch 0 is that sample's test accuracy", async () => {
    const weights = await chain.weights();
    const { results } = await evaluate(
      { init: 'd2nwg', label: 'D2NWG', splits: ['seen'], maxTasks: 1, finetuneEpochs: [0, 1] },
      { weights, features: await chain.features(), tasks: await chain.tasks() },
    );
    expect(results).toHaveLength(1);
    expect(results[0].method).toBe('D2NWG');
    expect(results[0].perTask[0].taskId).toBe(weights.perTask[0].task.id);
    expect(results[0].mean[0]).toBeCloseTo(weights.perTask[0].testAccuracy?.[0] ?? NaN, 6);
  });

  it("with samples 'mean', averages every init at epoch 0 and fine-tunes only finetuneInits of them", async () => {
    const weights = await chain.weights();
    const mine = weights.perTask[0];
    expect(mine.vectors.length).toBe(2);
    const { results } = await evaluate(
      {
        init: 'd2nwg',
        samples: 'mean',
        finetuneInits: 1,
        splits: ['seen'],
        maxTasks: 1,
        finetuneEpochs: [0, 1],
      },
      { weights, features: await chain.features(), tasks: await chain.tasks() },
    );
    const [r] = results;
    expect(r.initsPerTask).toEqual([2, 1]);
    const test = mine.testAccuracy ?? [];
    expect(r.mean[0]).toBeCloseTo((test[0] + test[1]) / 2, 6);
    // One fine-tuning run, the first sample's, whose curve gives the epoch-1 row.
    expect(r.curves?.map((c) => c.taskId)).toEqual([mine.task.id]);
    expect(r.curves?.[0].accuracy[0]).toBeCloseTo(test[0], 6);
    expect(r.mean[1]).toBe(r.curves?.[0].accuracy[1]);
  });

  it('draws `draws` noisy copies of the nearest checkpoint for noise_nearest, the same on a rerun', async () => {
    const ports = {
      zoo: await chain.zoo(),
      features: await chain.features(),
      tasks: await chain.tasks(),
    };
    const config = {
      init: 'noise_nearest',
      samples: 'mean',
      draws: 3,
      splits: ['unseen-combo'],
      maxTasks: 1,
      finetuneEpochs: [0, 1],
    };
    const a = await evaluate(config, ports);
    const b = await evaluate(config, ports);
    expect(a.results[0].initsPerTask).toEqual([3, 3]);
    expect(a.results[0].curves).toHaveLength(3);
    expect(b.results[0].perTask).toEqual(a.results[0].perTask);
    const first = await evaluate({ ...config, samples: 'first' }, ports);
    expect(first.results[0].initsPerTask).toEqual([1, 1]);
    // 'first' is the first of the same draws.
    expect(first.results[0].curves?.[0].accuracy).toEqual(a.results[0].curves?.[0].accuracy);
  });

  it("pretrained_probe is the source model's body with an LDA head on the task's training samples", async () => {
    const [zoo, features, tasks] = [await chain.zoo(), await chain.features(), await chain.tasks()];
    const ports = { zoo, features, tasks };
    const common = { splits: ['unseen-class'], maxTasks: 1, finetuneEpochs: [0] };
    const probe = await evaluate({ ...common, init: 'pretrained_probe', ldaShrinkage: 0.3 }, ports);
    const task = tasks.tasks.unseenClass[0];
    // The same source model (the node's stream: nodeContext forks the seed by 'test') and head.
    const built = zoo.zoo.manifest.config;
    if (!built) throw new Error('the chain zoo records its build config');
    const source = await trainSourceModel({
      feat: features.data,
      trainPool: tasks.tasks.trainPool,
      heldOut: tasks.tasks.heldOut,
      architecture: built.arch,
      train: built.train,
      rng: new Rng(SEED).fork('test').fork('source'),
    });
    const layout = zooLayout(zoo.zoo.manifest);
    const td = materializeTask(features.data, task);
    // The body with a fresh head from the node's init stream, then the LDA head from (x, y).
    const probeAccuracy = async (x: Float32Array, y: Int32Array) => {
      const fresh = source.transfer(layout, initRng(SEED, task.id));
      const w = await discriminantHead(layout, fresh, x, y, 0.3);
      return accuracy(layout, w, td.xTest, td.yTest);
    };
    expect(probe.results[0].perTask[0].accuracy[0]).toBeCloseTo(
      await probeAccuracy(td.xTrain, td.yTrain),
      6,
    );
    // pretrained_source: the same body (the node reuses the trained model) with a fresh head.
    const src = await evaluate({ ...common, init: 'pretrained_source' }, ports);
    const fresh = source.transfer(layout, initRng(SEED, task.id));
    expect(src.results[0].perTask[0].accuracy[0]).toBeCloseTo(
      await accuracy(layout, fresh, td.xTest, td.yTest),
      6,
    );
    expect(probe.results[0].method).toBe('pretrained_probe');
    // probeFrom 'support': the head from the support set of perClass per class alone.
    const fromSupport = await evaluate(
      { ...common, init: 'pretrained_probe', ldaShrinkage: 0.3, probeFrom: 'support', perClass: 2 },
      ports,
    );
    const support = labelledSupport(features.data, task, 2, SEED);
    expect(support.y.length).toBe(2 * task.classes.length);
    expect(fromSupport.results[0].perTask[0].accuracy[0]).toBeCloseTo(
      await probeAccuracy(support.x, support.y),
      6,
    );
  });

  it('compares a zoo fine-tuned from a pretrained body with that body (train.pretrainEpochs)', async () => {
    const [zoo, features, tasks] = [await chain.zoo(), await chain.features(), await chain.tasks()];
    const built = zoo.zoo.manifest.config;
    if (!built) throw new Error('the chain zoo records its build config');
    const pretrainedCfg = { ...built, train: { ...built.train, pretrainEpochs: 2 } };
    const pretrainedZoo = {
      ...zoo,
      zoo: { ...zoo.zoo, manifest: { ...zoo.zoo.manifest, config: pretrainedCfg } },
    };
    const common = { splits: ['unseen-class'], maxTasks: 1, finetuneEpochs: [0] };
    const probe = await evaluate(
      { ...common, init: 'pretrained_probe', ldaShrinkage: 0.3 },
      { zoo: pretrainedZoo, features, tasks },
    );
    // The zoo's own source model (its seed, pretrainEpochs), not one from the node's stream.
    const source = await zooSourceModel(pretrainedCfg, features.data, tasks.tasks);
    const task = tasks.tasks.unseenClass[0];
    const layout = zooLayout(zoo.zoo.manifest);
    const td = materializeTask(features.data, task);
    const fresh = source.transfer(layout, initRng(SEED, task.id));
    const w = await discriminantHead(layout, fresh, td.xTrain, td.yTrain, 0.3);
    expect(probe.results[0].perTask[0].accuracy[0]).toBeCloseTo(
      await accuracy(layout, w, td.xTest, td.yTest),
      6,
    );
    // A zoo built in this run carries the model: it is used as is, not trained again.
    const other = await zooSourceModel(
      { ...pretrainedCfg, seed: pretrainedCfg.seed + 1 },
      features.data,
      tasks.tasks,
    );
    const carried = await evaluate(
      { ...common, init: 'pretrained_probe', ldaShrinkage: 0.3 },
      { zoo: { ...pretrainedZoo, pretrained: other }, features, tasks },
    );
    const wOther = await discriminantHead(
      layout,
      other.transfer(layout, initRng(SEED, task.id)),
      td.xTrain,
      td.yTrain,
      0.3,
    );
    expect(carried.results[0].perTask[0].accuracy[0]).toBeCloseTo(
      await accuracy(layout, wOther, td.xTest, td.yTest),
      6,
    );
  });

  it('refuses init d2nwg without a Weights input, naming the node', async () => {
    await expectInputError(
      evaluate(
        { init: 'd2nwg', splits: ['seen'], maxTasks: 1 },
        { zoo: await chain.zoo(), features: await chain.features(), tasks: await chain.tasks() },
      ),
      /^eval: init 'd2nwg' needs the Weights input connected/,
    );
  });
});
