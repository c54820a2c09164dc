import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { trainVae } from '../../../../src/main/engine/vae/train.ts';
import { loadZoo, memberVector } from '../../../../src/main/engine/zoo/storage.ts';
import {
  detectZooFormat,
  importAnyZoo,
  loadAnyZoo,
} from '../../../../src/main/engine/zoo/torch-zoo.ts';

const FIX = path.join(import.meta.dirname, '..', '..', '..', 'fixtures', 'torch');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-torchzoo-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Expected = Record<string, Record<string, { shape: number[]; values: number[] }>>;
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Expected;

/** Our dense kernel [in, out] at (i, j) is PyTorch's weight [out, in] at (j, i). */
function torchWeight(key: string, tensor: string, i: number, j: number): number {
  const t = expected[key][tensor];
  return t.values[j * t.shape[1] + i];
}

function copyDir(from: string, name: string): string {
  const to = path.join(tmp, name);
  fs.cpSync(from, to, { recursive: true });
  return to;
}

describe("Schürholt's model-zoo layout", () => {
  it('imports into our zoo format: architecture, epochs, accuracies and transposed weights', async () => {
    const src = path.join(FIX, 'schurholt');
    expect(await detectZooFormat(src)).toBe('schurholt');
    const out = path.join(tmp, 'imported');
    await importAnyZoo(src, out);
    const zoo = await loadZoo(out);
    const m = zoo.manifest;
    expect(m.arch).toEqual({
      kind: 'mlp',
      inputDim: 4,
      hidden: [5],
      outputs: 3,
      activation: 'tanh',
    });
    expect(m.members.map((x) => [x.seed, x.epoch])).toEqual([
      [0, 1],
      [0, 2],
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
    ]);
    // result.json: test_acc = 0.4 + 0.1 * epoch + 0.01 * model.
    expect(m.members[3].testAcc).toBeCloseTo(0.61, 10);
    expect(m.members[3].trainAcc).toBeCloseTo(0.71, 10);
    expect(m.tasks.list).toHaveLength(1);
    // Member 3 = model 1 after epoch 2.
    const v = memberVector(zoo, 3);
    const layout = m.layout.params;
    const k0 = layout[0];
    expect(k0.name).toBe('dense0.kernel');
    expect(k0.shape).toEqual([4, 5]);
    // dense0.kernel[2][4] (row-major [in, out]) = module_list.0.weight[4][2].
    expect(v[k0.offset + 2 * 5 + 4]).toBeCloseTo(
      torchWeight('schurholt/1/2', 'module_list.0.weight', 2, 4),
      6,
    );
    const b1 = layout[3];
    expect(b1.name).toBe('dense1.bias');
    expect(Array.from(v.subarray(b1.offset, b1.offset + 3))).toEqual(
      expected['schurholt/1/2']['module_list.2.bias'].values.map((x) => Math.fround(x)),
    );
  });

  it('trains a VAE on the imported zoo', async () => {
    const zoo = await loadZoo(path.join(tmp, 'imported'));
    const n = zoo.manifest.members.length;
    const dim = zoo.manifest.layout.size;
    const { vae, history } = await trainVae({
      vectors: zoo.vectors,
      n,
      dim,
      config: { hidden: [16], latentDim: 2, epochs: 3, batchSize: 3, lr: 1e-3 },
      rng: new Rng(1),
    });
    try {
      expect(history).toHaveLength(3);
      expect(history.every((h) => Number.isFinite(h.loss))).toBe(true);
      const back = await vae.decode(await vae.encodeMean(zoo.vectors, n), n);
      expect(back.length).toBe(n * dim);
    } finally {
      vae.dispose();
    }
  });

  it('refuses missing and inconsistent epochs, naming the model folder', async () => {
    const a = copyDir(path.join(FIX, 'schurholt'), 'missing-epoch');
    const results = path.join(a, 'NN_tune_trainable_00001', 'result.json');
    fs.writeFileSync(results, fs.readFileSync(results, 'utf8').split('\n')[0] + '\n');
    const err = await loadAnyZoo(a).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(
      /NN_tune_trainable_00001: missing epoch: checkpoint_000002 has no line with epoch 2 in result\.json/,
    );

    const b = copyDir(path.join(FIX, 'schurholt'), 'inconsistent');
    fs.rmSync(path.join(b, 'NN_tune_trainable_00002', 'checkpoint_000002'), { recursive: true });
    await expect(loadAnyZoo(b)).rejects.toThrow(
      /NN_tune_trainable_00002: inconsistent epochs: checkpoints at epochs \[1\] but model 'NN_tune_trainable_00000' has \[1, 2\]/,
    );

    // Python's json writes a diverged run's accuracy as a bare NaN.
    const n = copyDir(path.join(FIX, 'schurholt'), 'nan-acc');
    const nanFile = path.join(n, 'NN_tune_trainable_00000', 'result.json');
    const lines = fs.readFileSync(nanFile, 'utf8').split('\n');
    lines[1] = lines[1].replace(/"test_acc": [0-9.]+/, '"test_acc": NaN');
    fs.writeFileSync(nanFile, lines.join('\n'));
    await expect(loadAnyZoo(n)).rejects.toThrow(/result\.json: line 2:\s+- test_acc: /);

    const c = copyDir(path.join(FIX, 'schurholt'), 'no-checkpoint-file');
    fs.rmSync(path.join(c, 'NN_tune_trainable_00000', 'checkpoint_000001', 'checkpoints'));
    await expect(loadAnyZoo(c)).rejects.toThrow(/checkpoint_000001\/checkpoints: cannot read/);
  });
});

describe("p-diff's checkpoint folders", () => {
  it('imports every .pt of the folder as one run, in name order', async () => {
    const src = path.join(FIX, 'pdiff');
    expect(await detectZooFormat(src)).toBe('pdiff');
    const out = path.join(tmp, 'pdiff-out');
    await importAnyZoo(src, out, 'auto');
    const zoo = await loadZoo(out);
    expect(zoo.manifest.arch).toEqual({
      kind: 'mlp',
      inputDim: 4,
      hidden: [3],
      outputs: 2,
      activation: 'relu',
    });
    expect(zoo.manifest.members.map((x) => [x.seed, x.epoch])).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
      [0, 4],
    ]);
    const k1 = zoo.manifest.layout.params[2];
    expect(k1.name).toBe('dense1.kernel');
    // dense1.kernel[1][0] = '2.weight'[0][1] of p_data_3.pt.
    expect(memberVector(zoo, 3)[k1.offset + 1 * 2 + 0]).toBeCloseTo(
      torchWeight('pdiff/3', '2.weight', 1, 0),
      6,
    );
  });

  it('refuses a checkpoint of another architecture, naming the tensor and both shapes', async () => {
    const dir = copyDir(path.join(FIX, 'pdiff'), 'pdiff-mixed');
    fs.copyFileSync(
      path.join(FIX, 'schurholt', 'NN_tune_trainable_00000', 'checkpoint_000001', 'checkpoints'),
      path.join(dir, 'p_data_9.pt'),
    );
    await expect(loadAnyZoo(dir, 'pdiff')).rejects.toThrow(
      /p_data_9\.pt: tensor 'module_list\.0\.weight' has shape \[5, 4\] but the architecture's dense0\.kernel needs \[3, 4\] \(PyTorch order\)/,
    );
  });

  it('refuses convolutional checkpoints and files that are not state dicts', async () => {
    const conv = path.join(tmp, 'conv-zoo');
    fs.mkdirSync(conv);
    fs.copyFileSync(path.join(FIX, 'cnn.pt'), path.join(conv, 'a.pt'));
    await expect(loadAnyZoo(conv)).rejects.toThrow(
      /tensor 'convs\.0\.weight' has shape \[2, 1, 3, 3\]: only MLPs .* are imported/,
    );
    const evil = path.join(tmp, 'evil-zoo');
    fs.mkdirSync(evil);
    fs.copyFileSync(path.join(FIX, 'malicious.pt'), path.join(evil, 'a.pt'));
    await expect(loadAnyZoo(evil)).rejects.toThrow(/refused: the pickle names the global/);
    await expect(detectZooFormat(tmp + '-none')).rejects.toThrow(/cannot list the folder/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await expect(detectZooFormat(empty)).rejects.toThrow(/not a zoo folder/);
  });
});
