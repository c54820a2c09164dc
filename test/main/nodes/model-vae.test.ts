import { describe, expect, it } from 'vitest';
import { LATENTS_SUMMARY_KEY } from '../../../src/shared/schemas/latents.ts';
import { run } from '../../../src/main/nodes/model-vae.ts';
import { expectNoLeakedTensors } from '../../helpers/tf.ts';
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

describe('model.vae', () => {
  it("trains on the zoo's vectors, reports its losses and the zoo's latents, and frees every tensor on dispose", async () => {
    const zoo = await chain.zoo();
    const { members, layout } = zoo.zoo.manifest;
    await expectNoLeakedTensors(async () => {
      const { ctx } = nodeContext({ config: TINY.vae });
      const res = await run(ctx, wire({ zoo }));
      const v = output(res, 'vae', 'vae');
      try {
        expect(v.vae.inputDim).toBe(layout.size);
        expect(v.vae.latentDim).toBe(4);
        expect(v.zooLatents?.n).toBe(12);
        expect(v.zooLatents?.taskIds).toEqual(members.map((m) => m.taskId));
        // The latents passed on are the VAE's own means of the zoo.
        expect(v.zooLatents?.latents).toEqual(await v.vae.encodeMean(zoo.zoo.vectors, 12));
        const decoded = await v.vae.decode(v.zooLatents?.latents ?? new Float32Array(), 12);
        expect(decoded).toHaveLength(12 * layout.size);
        expect(decoded.every(Number.isFinite)).toBe(true);
        for (const k of ['loss', 'recon', 'kl']) expect(Number.isFinite(metric(res, k))).toBe(true);
        expect(metric(res, 'members')).toBe(12);
        expect(res.summary?.metrics).not.toHaveProperty('predictorTerm');
        expect(res.summary?.latentDim).toBe(4);
        expect(res.summary?.[LATENTS_SUMMARY_KEY]).toBeTypeOf('object');
      } finally {
        v.dispose();
      }
    });
  });

  it('gives the same VAE for the same seed and another for another seed', async () => {
    const zoo = await chain.zoo();
    const latents = async (seed: number) => {
      const { ctx } = nodeContext({ config: TINY.vae, seed });
      const v = output(await run(ctx, wire({ zoo })), 'vae', 'vae');
      v.dispose();
      return v.zooLatents?.latents;
    };
    const a = await latents(1);
    expect(await latents(1)).toEqual(a);
    expect(await latents(2)).not.toEqual(a);
  });

  it('refuses a missing Zoo input', async () => {
    const { ctx } = nodeContext({ config: TINY.vae });
    await expectInputError(run(ctx, wire({})), /input 'zoo' needs exactly one connection, has 0/);
  });
});
