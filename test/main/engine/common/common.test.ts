import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { sinusoidalEmbeddingValues } from '../../../../src/main/engine/common/embedding.ts';
import { matMul } from '../../../../src/main/engine/common/matmul.ts';
import {
  Adam,
  cosineLr,
  HOST_ADAM_MAX_PARAMS,
  HostAdam,
  adamOverride,
  hasFusedAdam,
  makeAdam,
  optimStep,
} from '../../../../src/main/engine/common/optim.ts';
import { ParamSet, paramSetFromStTensors } from '../../../../src/main/engine/common/params.ts';
import { writeDirAtomic } from '../../../../src/main/engine/common/persist.ts';
import { checkMatrix, gatherRows } from '../../../../src/main/engine/common/rows.ts';
import { InputError, NumericError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { FUSED_ADAM } from '../../../../src/main/engine/kernels/simd.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-common-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('matMul', () => {
  it('matches tf.matMul in value and in both gradients', async () => {
    await expectNoLeakedTensors(() => {
      const rng = new Rng(1);
      const a = tf.tidy(() => tf.variable(tf.tensor2d(rng.normalArray(5 * 7), [5, 7])));
      const b = tf.tidy(() => tf.variable(tf.tensor2d(rng.normalArray(7 * 3), [7, 3])));
      const w = tf.tensor2d(rng.normalArray(5 * 3), [5, 3]);
      const f = (mm: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D) => () =>
        tf.sum(tf.mul(tf.square(mm(a, b)), w)) as tf.Scalar;
      const ref = tf.variableGrads(f((x, y) => tf.matMul(x, y)));
      const got = tf.variableGrads(f((x, y) => matMul(x, y)));
      expect(got.value.dataSync()[0]).toBeCloseTo(ref.value.dataSync()[0], 4);
      expect(maxAbs(got.grads[a.name].dataSync(), ref.grads[a.name].dataSync())).toBeLessThan(1e-4);
      expect(maxAbs(got.grads[b.name].dataSync(), ref.grads[b.name].dataSync())).toBeLessThan(1e-4);
      // Without the input gradient, the weight gradient is unchanged.
      const noA = tf.variableGrads(f((x, y) => matMul(x, y, false)));
      expect(maxAbs(noA.grads[b.name].dataSync(), ref.grads[b.name].dataSync())).toBeLessThan(1e-4);
      tf.dispose([ref.value, got.value, noA.value, w, a, b]);
      tf.dispose([ref.grads, got.grads, noA.grads].flatMap((g) => Object.values(g)));
    });
  });
});

describe('optimisers', () => {
  it('HostAdam and tensor Adam take the same steps, and clip the same way', async () => {
    await expectNoLeakedTensors(async () => {
      const rng = new Rng(2);
      const init = rng.normalArray(12);
      const target = rng.normalArray(12);
      const run = async (host: boolean) => {
        const ps = new ParamSet('t');
        const v = ps.addValues('w', [3, 4], init);
        const opt = host
          ? new HostAdam([v], { lr: 0.05, weightDecay: 0.01 })
          : new Adam([v], { lr: 0.05, weightDecay: 0.01 });
        const losses: number[] = [];
        for (let s = 0; s < 15; s++) {
          losses.push(
            await optimStep({
              optimizer: opt,
              vars: [v],
              clip: 0.5,
              stage: 't',
              step: s,
              loss: () => tf.sum(tf.square(tf.sub(v, tf.tensor2d(target, [3, 4])))) as tf.Scalar,
            }),
          );
        }
        const out = Float32Array.from(v.dataSync());
        opt.dispose();
        ps.dispose();
        return { losses, out };
      };
      const a = await run(true);
      const b = await run(false);
      expect(a.losses[14]).toBeLessThan(a.losses[0]);
      expect(maxAbs(a.out, b.out)).toBeLessThan(1e-5);
    });
  });

  it('both optimisers keep the same warming-up EMA; makeAdam picks by size', async () => {
    await expectNoLeakedTensors(async () => {
      for (const host of [true, false]) {
        const ps = new ParamSet('t');
        const v = ps.addValues('w', [1], Float32Array.from([0]));
        const opt = host
          ? new HostAdam([v], { lr: 1, emaDecay: 0.99 })
          : new Adam([v], { lr: 1, emaDecay: 0.99 });
        const g = tf.tensor1d([-1]);
        for (let s = 0; s < 3; s++) await opt.apply([g]);
        // Adam moves the weight by ~lr per step: 1, 2, 3. Decays 0.1, 2/11, 3/12.
        expect((await opt.weights())[0][0]).toBeCloseTo(3, 4);
        const ema = (await opt.emaWeights())?.[0][0] ?? Number.NaN;
        expect(ema).toBeCloseTo(0.25 * ((2 / 11) * 0.9 + (9 / 11) * 2) + 0.75 * 3, 4);
        g.dispose();
        opt.dispose();
        ps.dispose();
      }
      const small = new ParamSet('s');
      small.addConst('w', [10], 0);
      const big = new ParamSet('b');
      big.addConst('w', [HOST_ADAM_MAX_PARAMS + 1], 0);
      // With the fused Adam kernel (wasm): tensor Adam, one kernel per variable, at any size.
      expect(hasFusedAdam()).toBe(tf.getBackend() === 'wasm');
      const fused = makeAdam(small.variables(), { lr: 1 });
      expect(fused).toBeInstanceOf(hasFusedAdam() ? Adam : HostAdam);
      fused.dispose();
      // Without it: host Adam for small models, tensor Adam for big ones.
      const kernel = tf.getKernel(FUSED_ADAM, tf.getBackend());
      if (kernel) tf.unregisterKernel(FUSED_ADAM, tf.getBackend());
      try {
        const a = makeAdam(small.variables(), { lr: 1 });
        const b = makeAdam(big.variables(), { lr: 1 });
        expect(a).toBeInstanceOf(HostAdam);
        expect(b).toBeInstanceOf(Adam);
        expect(await b.emaWeights()).toBeNull();
        a.dispose();
        b.dispose();
      } finally {
        if (kernel) tf.registerKernel(kernel);
      }
      // D2NWG_ADAM forces either optimiser; a misspelt value is refused, naming the variable.
      expect(adamOverride({})).toBeNull();
      expect(adamOverride({ D2NWG_ADAM: 'auto' })).toBeNull();
      expect(adamOverride({ D2NWG_ADAM: 'tensor' })).toBe('tensor');
      expect(() => adamOverride({ D2NWG_ADAM: 'hots' })).toThrow(
        /D2NWG_ADAM.*expected auto, host or tensor, got 'hots'|expected auto, host or tensor, got 'hots'/,
      );
      const saved = process.env.D2NWG_ADAM;
      try {
        process.env.D2NWG_ADAM = 'host';
        const h = makeAdam(small.variables(), { lr: 1 });
        expect(h).toBeInstanceOf(HostAdam);
        h.dispose();
      } finally {
        if (saved === undefined) delete process.env.D2NWG_ADAM;
        else process.env.D2NWG_ADAM = saved;
      }
      small.dispose();
      big.dispose();
    });
  });

  it('optimStep throws NumericError before touching the weights', async () => {
    await expectNoLeakedTensors(async () => {
      const ps = new ParamSet('t');
      const v = ps.addValues('w', [2], Float32Array.from([1, 2]));
      const opt = new Adam([v], { lr: 0.1 });
      await expect(
        optimStep({
          optimizer: opt,
          vars: [v],
          stage: 'unit',
          step: 7,
          loss: () => tf.sum(tf.mul(v, Number.NaN)) as tf.Scalar,
        }),
      ).rejects.toThrow(/unit: non-finite value at step 7: loss = NaN/);
      // A finite loss whose gradient overflows is caught too.
      let e: unknown;
      try {
        await optimStep({
          optimizer: opt,
          vars: [v],
          stage: 'unit',
          step: 8,
          loss: () => tf.sum(tf.mul(tf.sqrt(tf.sub(v, 1)), 1)) as tf.Scalar,
        });
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(NumericError);
      expect(Array.from(v.dataSync())).toEqual([1, 2]);
      opt.dispose();
      ps.dispose();
    });
  });

  it('cosineLr decays from lr to the floor', () => {
    expect(cosineLr(1, 0, 100)).toBeCloseTo(1, 12);
    expect(cosineLr(1, 50, 100)).toBeCloseTo(0.525, 12);
    expect(cosineLr(1, 100, 100)).toBeCloseTo(0.05, 12);
  });
});

describe('ParamSet', () => {
  it('round-trips through safetensors entries and validates names and shapes', async () => {
    await expectNoLeakedTensors(async () => {
      const ps = new ParamSet('p');
      ps.addNormal('a.w', [2, 3], 1, new Rng(1));
      ps.addConst('a.b', [3], 0.5);
      const st = await ps.toStTensors();
      const expected = new Map([
        ['a.w', [2, 3]],
        ['a.b', [3]],
      ]);
      const back = paramSetFromStTensors('p', st, expected, 'file.safetensors');
      expect(back.names()).toEqual(['a.w', 'a.b']);
      expect(Array.from(back.get('a.w').dataSync())).toEqual(Array.from(ps.get('a.w').dataSync()));
      expect(back.size()).toBe(9);
      back.dispose();
      expect(() =>
        paramSetFromStTensors(
          'p',
          st,
          new Map([
            ['a.w', [3, 2]],
            ['a.b', [3]],
          ]),
          'f.st',
        ),
      ).toThrow(/f\.st: tensor 'a\.w' has shape \[2, 3\], expected \[3, 2\]/);
      expect(() => paramSetFromStTensors('p', st, new Map([['a.w', [2, 3]]]), 'f.st')).toThrow(
        /unexpected tensor 'a\.b'/,
      );
      const withNaN = {
        ...st,
        'a.b': { dtype: 'F32' as const, shape: [3], data: Float32Array.from([0, Number.NaN, 0]) },
      };
      expect(() => paramSetFromStTensors('p', withNaN, expected, 'f.st')).toThrow(InputError);
      ps.dispose();
    });
  });
});

describe('writeDirAtomic', () => {
  it('replaces a folder completely and leaves nothing behind on failure', async () => {
    const dir = path.join(tmp, 'model');
    await writeDirAtomic(dir, async (t) => {
      fs.writeFileSync(path.join(t, 'a.txt'), 'one');
      fs.writeFileSync(path.join(t, 'old.txt'), 'x');
    });
    await writeDirAtomic(dir, async (t) => {
      fs.writeFileSync(path.join(t, 'a.txt'), 'two');
    });
    expect(fs.readdirSync(dir)).toEqual(['a.txt']);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('two');
    await expect(
      writeDirAtomic(dir, async (t) => {
        fs.writeFileSync(path.join(t, 'a.txt'), 'three');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('two');
    expect(fs.readdirSync(tmp)).toEqual(['model']);
  });
});

describe('helpers', () => {
  it('sinusoidal embedding: sin/cos halves, t = 0 gives [0…, 1…]', () => {
    const e = sinusoidalEmbeddingValues([0, 3], 6);
    expect(Array.from(e.subarray(0, 6))).toEqual([0, 0, 0, 1, 1, 1]);
    const f = [1, Math.exp(-Math.log(10000) / 3), Math.exp((-2 * Math.log(10000)) / 3)];
    for (let k = 0; k < 3; k++) {
      expect(e[6 + k]).toBeCloseTo(Math.sin(3 * f[k]), 6);
      expect(e[9 + k]).toBeCloseTo(Math.cos(3 * f[k]), 6);
    }
  });

  it('gatherRows and checkMatrix', () => {
    const m = Float32Array.from([0, 1, 2, 3, 4, 5]);
    expect(Array.from(gatherRows(m, 2, [2, 0]))).toEqual([4, 5, 0, 1]);
    expect(() => checkMatrix(m, 3, 2, 'm')).not.toThrow();
    expect(() => checkMatrix(m, 2, 2, 'm')).toThrow(/m: expected 2×2 = 4 values, got 6/);
    m[3] = Number.NaN;
    expect(() => checkMatrix(m, 3, 2, 'm')).toThrow(/row 1, column 1/);
  });
});
