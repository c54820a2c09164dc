import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadZoo, saveZoo } from '../../../src/main/engine/zoo/storage.ts';
import { run } from '../../../src/main/nodes/zoo-build.ts';
import {
  expectInputError,
  metric,
  nodeContext,
  output,
  runNode,
  TinyChain,
  TINY,
  wire,
} from '../../helpers/nodes.ts';

const chain = new TinyChain();
let first: Float32Array | null = null;

async function build(config: unknown = TINY.zoo) {
  const { ctx, recorded } = nodeContext({ config });
  const res = await run(
    ctx,
    wire({ features: await chain.features(), tasks: await chain.tasks() }),
  );
  return { res, recorded, zoo: output(res, 'zoo', 'zoo').zoo };
}

describe('zoo.build', () => {
  it('trains every seen task from each seed and keeps the last checkpoints as weight vectors', async () => {
    const seen = (await chain.tasks()).tasks.seen;
    const { res, recorded, zoo } = await build();
    // [6 → 4 → 3] MLP: 6·4 + 4 + 4·3 + 3 weights.
    const size = 6 * 4 + 4 + 4 * 3 + 3;
    expect(zoo.manifest.layout.size).toBe(size);
    // 3 seen tasks × 2 seeds × the last 2 of 3 epochs.
    const members = zoo.manifest.members;
    expect(members).toHaveLength(12);
    expect(zoo.vectors).toHaveLength(12 * size);
    expect(zoo.vectors.every(Number.isFinite)).toBe(true);
    const keys = members.map((m) => `${m.taskId} s${m.seed} e${m.epoch}`).sort();
    expect(keys).toEqual(
      seen.flatMap((t) => [0, 1].flatMap((s) => [2, 3].map((e) => `${t.id} s${s} e${e}`))).sort(),
    );
    for (const m of members) {
      expect(m.classes).toEqual(seen.find((t) => t.id === m.taskId)?.classes);
      expect(m.testAcc).toBeGreaterThanOrEqual(0);
      expect(m.testAcc).toBeLessThanOrEqual(1);
    }
    expect(members.map((m) => m.index)).toEqual([...Array(12).keys()]);
    expect(metric(res, 'members')).toBe(12);
    expect(metric(res, 'parameters')).toBe(size);
    expect(metric(res, 'meanTestAcc')).toBeCloseTo(
      members.reduce((a, m) => a + m.testAcc, 0) / 12,
      6,
    );
    expect(recorded.progress.length).toBeGreaterThan(0);
    first = zoo.vectors;
  });

  it('gives the same vectors for the same seed', async () => {
    expect(first).not.toBeNull();
    expect((await chain.zoo()).zoo.vectors).toEqual(first);
  });

  it('refuses Features fitted on other tasks than its Tasks input, and a missing Features input', async () => {
    const ds = await chain.dataset();
    const { ctx: tctx } = nodeContext({ config: { ...TINY.tasks, seed: 99, numSeen: 1 } });
    const { run: drawTasks } = await import('../../../src/main/nodes/tasks-generate.ts');
    const other = output(await drawTasks(tctx, wire({ dataset: ds })), 'tasks', 'tasks');
    const { ctx } = nodeContext({ config: TINY.zoo });
    await expectInputError(
      run(ctx, wire({ features: await chain.features(), tasks: other })),
      /fitted different features than the Features node; connect Features and Zoo to the same Dataset and Tasks/,
    );
    await expectInputError(
      run(ctx, wire({ tasks: await chain.tasks() })),
      /input 'features' needs exactly one connection, has 0/,
    );
  });
  it('adds class-permuted copies of every seen task that the encoder trains on, and saves them all', async () => {
    const { res, zoo } = await build({ ...TINY.zoo, augment: { outputPermutations: 2 } });
    const members = zoo.manifest.members;
    // 12 trained checkpoints, then 2 permuted copies of each.
    expect(members).toHaveLength(36);
    expect(metric(res, 'trainedMembers')).toBe(12);
    expect(new Set(members.map((m) => m.tensorName)).size).toBe(36);
    const size = zoo.manifest.layout.size;
    expect(zoo.vectors.subarray(0, 12 * size)).toEqual(first);
    for (const m of members.slice(12)) expect(m.taskId).toMatch(/~\d\.\d\.\d$/);
    const trained = await chain.trained();
    const vae = output(
      (await runNode('model.vae', TINY.vae, wire({ zoo: { type: 'zoo', zoo } }))).result,
      'vae',
      'vae',
    );
    const enc = await runNode(
      'model.encoder',
      TINY.encoder,
      wire({ zoo: { type: 'zoo', zoo }, vae, features: trained.features, tasks: trained.tasks }),
    );
    expect(metric(enc.result, 'pairs')).toBe(36);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-aug-'));
    try {
      // The node's zoo travels without its extractor (the Features node holds it).
      await saveZoo(path.join(dir, 'zoo'), {
        ...zoo,
        manifest: { ...zoo.manifest, features: null },
      });
      const back = await loadZoo(path.join(dir, 'zoo'));
      expect(back.vectors).toEqual(zoo.vectors);
      expect(back.manifest.members.map((m) => m.taskId)).toEqual(members.map((m) => m.taskId));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      vae.vae.dispose();
      output(enc.result, 'encoder', 'encoder').encoder.dispose();
    }
  });
});
