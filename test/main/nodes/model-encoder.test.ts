import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/main/engine/rng.ts';
import { taskSupportSet } from '../../../src/main/engine/data/tasks.ts';
import { run } from '../../../src/main/nodes/model-encoder.ts';
import { run as drawTasks } from '../../../src/main/nodes/tasks-generate.ts';
import {
  expectInputError,
  metric,
  nodeContext,
  output,
  TinyChain,
  TINY,
  wire,
} from '../../helpers/nodes.ts';

const chain = new TinyChain();
afterAll(() => chain.dispose());

describe('model.encoder', () => {
  it('trains on one support set per zoo member and embeds a new support set', async () => {
    const trained = await chain.trained();
    const { ctx } = nodeContext({ config: TINY.encoder });
    const res = await run(ctx, wire(trained));
    const { encoder } = output(res, 'encoder', 'encoder');
    try {
      expect(encoder.embedDim).toBe(4);
      expect(encoder.shape).toMatchObject({ numClasses: 3, perClass: 3, featDim: 6, latentDim: 4 });
      expect(metric(res, 'pairs')).toBe(12);
      expect(metric(res, 'embedDim')).toBe(4);
      expect(Number.isFinite(metric(res, 'loss'))).toBe(true);
      expect(Number.isFinite(metric(res, 'lossFirst'))).toBe(true);
      expect(res.summary?.kind).toBe(encoder.kind);
      const task = trained.tasks.tasks.unseenCombo[0];
      const set = taskSupportSet(trained.features.data, task, 3, new Rng(1)).x;
      expect(set).toHaveLength(3 * 3 * 6);
      const emb = await encoder.embed(set, 3, 3, 6);
      expect(emb).toHaveLength(4);
      expect(emb.every(Number.isFinite)).toBe(true);
      // Another task's support set gets another embedding.
      const other = taskSupportSet(
        trained.features.data,
        trained.tasks.tasks.seen[0],
        3,
        new Rng(1),
      ).x;
      expect(await encoder.embed(other, 3, 3, 6)).not.toEqual(emb);
    } finally {
      encoder.dispose();
    }
  });

  it('refuses a zoo whose members were trained on tasks its Tasks input did not draw', async () => {
    const trained = await chain.trained();
    const { ctx: tctx } = nodeContext({ config: { ...TINY.tasks, numSeen: 1 } });
    const fewer = output(
      await drawTasks(tctx, wire({ dataset: await chain.dataset() })),
      'tasks',
      'tasks',
    );
    const { ctx } = nodeContext({ nodeId: 'enc', config: TINY.encoder });
    await expectInputError(
      run(ctx, wire({ ...trained, tasks: fewer })),
      /^enc: zoo member \d+ was trained on task '.+', which the Tasks node did not draw/,
    );
  });
});
