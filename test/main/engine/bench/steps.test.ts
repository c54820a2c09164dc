import { describe, expect, it } from 'vitest';
import {
  STEPS_WORKLOADS,
  measureDiffusionSteps,
  measureVaeSteps,
  type StepsWorkload,
} from '../../../../src/main/engine/bench/steps.ts';
import { qualityPresetInput } from '../../../../src/shared/schemas/quality.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const tiny: StepsWorkload = {
  name: 'tiny',
  n: 40,
  dim: 30,
  vae: { hidden: [16], latentDim: 4, batchSize: 16 },
  diffusion: { batchSize: 8, timesteps: 50, denoiser: { width: 16, depth: 1 } },
  condDim: 3,
};

describe('training-step bench', () => {
  it('counts VAE steps as epochs × batches per epoch and frees its tensors', async () => {
    await expectNoLeakedTensors(async () => {
      const r = await measureVaeSteps(tiny, 2);
      expect(r.stage).toBe('vae');
      expect(r.steps).toBe(2 * Math.ceil(40 / 16));
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.stepsPerSecond).toBeCloseTo(r.steps / r.seconds, 6);
      expect(r.examplesPerSecond).toBeCloseTo((r.steps * 16) / r.seconds, 3);
    });
  });

  it('times the requested number of diffusion steps', async () => {
    await expectNoLeakedTensors(async () => {
      const r = await measureDiffusionSteps(tiny, 7);
      expect(r).toMatchObject({ workload: 'tiny', stage: 'diffusion', steps: 7 });
      expect(r.stepsPerSecond).toBeGreaterThan(0);
    });
  });

  it('measures the data-parallel shard count it is given', async () => {
    const one = await measureDiffusionSteps(tiny, 3, { shards: 1 });
    const two = await measureDiffusionSteps(tiny, 3, { shards: 2 });
    expect([one.shards, one.threads]).toEqual([1, 1]);
    expect(two.shards).toBe(2);
    expect(two.threads).toBeGreaterThanOrEqual(1);
    expect(two.stepsPerSecond).toBeGreaterThan(0);
  });

  it('counts kernels per step only when asked', async () => {
    const plain = await measureDiffusionSteps(tiny, 2);
    expect(plain.kernelsPerStep).toBeUndefined();
    const vae = await measureVaeSteps(tiny, 1, { kernels: true });
    const diffusion = await measureDiffusionSteps(tiny, 2, { kernels: true });
    // A forward, a backward and an optimiser step: dozens of kernels.
    expect(vae.kernelsPerStep).toBeGreaterThan(20);
    expect(diffusion.kernelsPerStep).toBeGreaterThan(20);
    // Per step, not per run: far fewer than a whole short run's kernels.
    expect(diffusion.kernelsPerStep).toBeLessThan(5000);
  });

  it('sizes the standard workload like the standard quality preset', () => {
    const preset = qualityPresetInput('standard');
    const w = STEPS_WORKLOADS.standard;
    const d = preset.features?.kind === 'pca' ? (preset.features.components ?? 0) : 0;
    const h =
      preset.zoo?.architecture?.kind === 'mlp' ? (preset.zoo.architecture.hidden?.[0] ?? 0) : 0;
    const k = preset.tasks?.k ?? 0;
    // One MLP checkpoint d → h → k: weights and biases of both layers.
    expect(w?.dim).toBe(d * h + h + h * k + k);
    expect(w?.vae).toMatchObject({
      hidden: preset.vae?.hidden,
      latentDim: preset.vae?.latentDim,
      batchSize: preset.vae?.batchSize,
    });
    expect(w?.diffusion).toMatchObject({ batchSize: preset.diffusion?.batchSize });
    expect(STEPS_WORKLOADS.large?.dim).toBeGreaterThan(w?.dim ?? 0);
    // The UNet workload differs from the standard one in the denoiser only.
    const u = STEPS_WORKLOADS['standard-unet'];
    expect({ ...u, name: w?.name, diffusion: w?.diffusion }).toEqual(w);
    expect(u?.diffusion.denoiser?.kind).toBe('unet1d');
  });
});
