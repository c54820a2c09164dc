import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/main/engine/rng.ts';
import { run } from '../../../src/main/nodes/model-diffusion.ts';
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

describe('model.diffusion', () => {
  it("trains on the zoo's latents conditioned on the encoder, and samples latents of the VAE's size", async () => {
    const inputs = { ...(await chain.trained()), encoder: await chain.encoder() };
    const { ctx } = nodeContext({ config: TINY.diffusion });
    const res = await run(ctx, wire(inputs));
    const diffusion = output(res, 'diffusion', 'diffusion');
    const { model } = diffusion;
    try {
      expect(model.latentDim).toBe(4);
      expect(model.condDim).toBe(4);
      expect(metric(res, 'pairs')).toBe(12);
      expect(metric(res, 'steps')).toBe(10);
      expect(Number.isFinite(metric(res, 'loss'))).toBe(true);
      const cond = new Float32Array(4).fill(0.5);
      const z = await model.sample({ cond, n: 3, rng: new Rng(1) });
      expect(z).toHaveLength(3 * 4);
      expect(z.every(Number.isFinite)).toBe(true);
      expect(await model.sample({ cond, n: 3, rng: new Rng(1) })).toEqual(z);
    } finally {
      diffusion.dispose();
    }
  });

  it('refuses features of another dimension than the encoder was trained on', async () => {
    // The same features less their last component.
    const six = await chain.features();
    const n = six.data.labels.length;
    const x = new Float32Array(n * 5);
    for (let i = 0; i < n; i++) x.set(six.data.x.subarray(i * 6, i * 6 + 5), i * 5);
    const five = { ...six, data: { ...six.data, x, sampleShape: [5] } };
    const inputs = { ...(await chain.trained()), encoder: await chain.encoder(), features: five };
    const { ctx } = nodeContext({ nodeId: 'diff', config: TINY.diffusion });
    await expectInputError(
      run(ctx, wire(inputs)),
      /^diff: feature dimension 5 does not fit the dataset encoder, which expects 6/,
    );
  });
});
