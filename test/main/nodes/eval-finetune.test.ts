import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/main/nodes/eval-finetune.ts';
import { expectInputError, nodeContext, output, TinyChain, wire } from '../../helpers/nodes.ts';

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
