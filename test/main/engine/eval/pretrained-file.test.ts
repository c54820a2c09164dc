import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { loadPretrainedFile } from '../../../../src/main/engine/eval/pretrained-file.ts';
import { tfjsModelFiles } from '../../../../src/main/engine/export/tfjs.ts';
import { toTorchStateDict } from '../../../../src/main/engine/export/torch.ts';
import {
  writeSafetensors,
  type StTensor,
} from '../../../../src/main/engine/formats/safetensors.ts';
import { layoutOf, type Architecture } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';

const FIX = path.join(import.meta.dirname, '..', '..', '..', 'fixtures', 'torch');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-pretrained-file-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<
  string,
  Record<string, { shape: number[]; values: number[] }>
>;

const mlp = (hidden: number[], outputs: number, inputDim = 4): Architecture => ({
  kind: 'mlp',
  inputDim,
  hidden,
  outputs,
  activation: 'relu',
});

async function saveTorchSafetensors(file: string, arch: Architecture, params: Float32Array) {
  const tensors: Record<string, StTensor> = {};
  for (const t of toTorchStateDict(layoutOf(arch), params)) {
    tensors[t.name] = { dtype: 'F32', shape: t.shape, data: t.data };
  }
  await writeSafetensors(file, tensors);
}

describe('pretrained from a file', () => {
  it('reads a PyTorch .pt state dict onto the architecture (Linear weights transposed)', async () => {
    const layout = layoutOf(mlp([3], 2));
    const ck = await loadPretrainedFile(path.join(FIX, 'plain.pt'), layout);
    expect(ck.kind).toBe('torch');
    expect(ck.headKept).toBe(true);
    const v = ck.init(new Rng(1));
    const w = expected['plain.pt']['module_list.0.weight']; // [3, 4]
    // dense0.kernel [4, 3] at (i, j) = weight[j][i].
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++) expect(v[i * 3 + j]).toBeCloseTo(w.values[j * 4 + i], 6);
    const b = expected['plain.pt']['module_list.2.bias'].values;
    expect(Array.from(v.subarray(layout.size - 2))).toEqual(b.map((x) => Math.fround(x)));
  });

  it('keeps the body and re-initialises the head when the class count differs', async () => {
    const layout = layoutOf(mlp([3], 5));
    const ck = await loadPretrainedFile(path.join(FIX, 'plain.pt'), layout);
    expect(ck.headKept).toBe(false);
    const a = ck.init(new Rng(1));
    const b = ck.init(new Rng(2));
    const head = layout.params[2].offset;
    expect(Array.from(a.subarray(0, head))).toEqual(Array.from(b.subarray(0, head)));
    const w = expected['plain.pt']['module_list.0.weight'];
    expect(a[0]).toBeCloseTo(w.values[0], 6);
    // The head comes from the rng: the default init of the layout, different per draw.
    expect(Array.from(a.subarray(head))).toEqual(
      Array.from(initParams(layout, new Rng(1)).subarray(head)),
    );
    expect(Array.from(a.subarray(head))).not.toEqual(Array.from(b.subarray(head)));
  });

  it('refuses a checkpoint whose shapes do not fit, naming the tensor and both shapes', async () => {
    const err = await loadPretrainedFile(path.join(FIX, 'plain.pt'), layoutOf(mlp([6], 2))).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(
      /plain\.pt: tensor 'module_list\.0\.weight' has shape \[3, 4\] but the architecture's dense0\.kernel needs \[6, 4\] \(PyTorch order\)/,
    );
    await expect(
      loadPretrainedFile(path.join(FIX, 'plain.pt'), layoutOf(mlp([3, 3], 2))),
    ).rejects.toThrow(
      /has 2 layers \(module_list\.0, module_list\.2\) but the architecture, mlp 4→3→3→2 relu \(35 params\), has 3/,
    );
    await expect(
      loadPretrainedFile(path.join(FIX, 'mixed.pt'), layoutOf(mlp([3], 2))),
    ).rejects.toThrow(/tensor 'half' is not a layer weight or bias/);
    await expect(
      loadPretrainedFile(path.join(FIX, 'malicious.pt'), layoutOf(mlp([3], 2))),
    ).rejects.toThrow(/refused: the pickle names the global 'posix\.system'/);
    const txt = path.join(tmp, 'weights.txt');
    fs.writeFileSync(txt, 'x');
    await expect(loadPretrainedFile(txt, layoutOf(mlp([3], 2)))).rejects.toThrow(
      /unknown checkpoint type '\.txt'/,
    );
  });

  it('reads a CNN state dict (Conv2d [out, in, kh, kw] → [kh, kw, in, out])', async () => {
    const arch: Architecture = {
      kind: 'cnn',
      inputShape: [8, 8, 1],
      channels: [2, 3],
      kernelSize: 3,
      outputs: 4,
      activation: 'relu',
    };
    const layout = layoutOf(arch);
    const v = (await loadPretrainedFile(path.join(FIX, 'cnn.pt'), layout)).init(new Rng(0));
    const w = expected['cnn.pt']['convs.1.weight']; // [3, 2, 3, 3]
    const k = layout.params[2];
    expect(k.shape).toEqual([3, 3, 2, 3]);
    // ours [y, x, c, o] = theirs [o, c, y, x], at y=2, x=1, c=1, o=2.
    expect(v[k.offset + ((2 * 3 + 1) * 2 + 1) * 3 + 2]).toBeCloseTo(
      w.values[((2 * 2 + 1) * 3 + 2) * 3 + 1],
      6,
    );
  });

  it('round-trips our safetensors (PyTorch names) and tfjs exports', async () => {
    const arch = mlp([5], 3, 6);
    const layout = layoutOf(arch);
    const params = initParams(layout, new Rng(3));
    const st = path.join(tmp, 'model.safetensors');
    await saveTorchSafetensors(st, arch, params);
    const fromSt = await loadPretrainedFile(st, layout);
    expect(fromSt.kind).toBe('safetensors');
    expect(Array.from(fromSt.init(new Rng(9)))).toEqual(Array.from(params));

    const files = await tfjsModelFiles(layout, params);
    const dir = path.join(tmp, 'tfjs');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'model.json'), files.modelJson);
    fs.writeFileSync(path.join(dir, 'weights.bin'), files.weightsBin);
    const fromTfjs = await loadPretrainedFile(dir, layout);
    expect(fromTfjs.kind).toBe('tfjs');
    expect(Array.from(fromTfjs.init(new Rng(9)))).toEqual(Array.from(params));
    // A manifest pointing outside its folder is refused.
    const evil = JSON.parse(files.modelJson) as { weightsManifest: { paths: string[] }[] };
    evil.weightsManifest[0].paths = ['../model.safetensors'];
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(evil));
    await expect(loadPretrainedFile(dir, layout)).rejects.toThrow(
      /weight file '\.\.\/model\.safetensors' lies outside the model's folder/,
    );
  });
});
