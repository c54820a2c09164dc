import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  ExportWriteError,
  exportWeights,
  resolveOutDir,
  type ExportFs,
} from '../../../../src/main/engine/export/index.ts';
import { nodeExportFs } from '../../../../src/main/engine/export/write.ts';
import {
  layoutOf,
  type Architecture,
  type Layout,
} from '../../../../src/main/engine/nn/architecture.ts';
import { forward } from '../../../../src/main/engine/nn/forward.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const mlp: Architecture = {
  kind: 'mlp',
  inputDim: 6,
  hidden: [5, 4],
  outputs: 3,
  activation: 'leaky_relu',
};
const cnn: Architecture = {
  kind: 'cnn',
  inputShape: [7, 6, 2],
  channels: [3, 4],
  kernelSize: 3,
  outputs: 3,
  activation: 'tanh',
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-export-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function paramsFor(layout: Layout, seed = 1): Float32Array {
  // Larger than the default init so that activations leave their linear regions.
  const p = initParams(layout, new Rng(seed));
  return p.map((v) => v * 3);
}

const provenance = {
  sourceRunId: 'run_abc',
  sourceNodeId: 'sampler',
  dataset: 'fashion-mnist classes 0-2, 5 samples per class',
  metrics: { accuracy: 0.875, loss: 0.4 },
};

// ---- independent minimal readers (deliberately not the project's decoders) ----------------

function parseSafetensors(buf: Buffer): {
  meta: Record<string, string>;
  tensors: Record<string, { shape: number[]; values: Float32Array }>;
} {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const body = buf.subarray(8 + n);
  const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
  let meta: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      meta = info as Record<string, string>;
      continue;
    }
    const t = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    expect(t.dtype).toBe('F32');
    const [b, e] = t.data_offsets;
    const values = new Float32Array((e - b) / 4);
    for (let i = 0; i < values.length; i++) values[i] = body.readFloatLE(b + 4 * i);
    tensors[name] = { shape: t.shape, values };
  }
  return { meta, tensors };
}

function parseNpy(buf: Buffer): { descr: string; shape: number[]; values: Float32Array } {
  expect([...buf.subarray(0, 6)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  const hlen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + hlen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  expect(/'fortran_order':\s*False/.test(header)).toBe(true);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const start = 10 + hlen;
  expect(start % 64).toBe(0);
  const values = new Float32Array((buf.length - start) / 4);
  for (let i = 0; i < values.length; i++) values[i] = buf.readFloatLE(start + 4 * i);
  return { descr, shape, values };
}

function readManifest(outDir: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
}

// --------------------------------------------------------------------------------------------

describe('safetensors export', () => {
  it('writes the MLP as a PyTorch state dict with transposed Linear weights', async () => {
    const layout = layoutOf(mlp);
    const params = paramsFor(layout);
    const res = await exportWeights({
      layout,
      params,
      format: 'safetensors',
      outDir: path.join(dir, 'st'),
      manifest: provenance,
      now: new Date(0),
    });
    expect(res.files.map((f) => path.basename(f))).toEqual([
      'weights.safetensors',
      'manifest.json',
    ]);
    const { meta, tensors } = parseSafetensors(
      fs.readFileSync(path.join(dir, 'st', 'weights.safetensors')),
    );
    expect(meta.format).toBe('pt');
    expect(JSON.parse(meta.architecture)).toEqual(mlp);
    expect(Object.keys(tensors).sort()).toEqual([
      'layers.0.bias',
      'layers.0.weight',
      'layers.1.bias',
      'layers.1.weight',
      'layers.2.bias',
      'layers.2.weight',
    ]);
    const widths = [6, 5, 4, 3];
    for (let l = 0; l < 3; l++) {
      const [inD, outD] = [widths[l], widths[l + 1]];
      const k = layout.params[2 * l];
      const b = layout.params[2 * l + 1];
      const w = tensors[`layers.${l}.weight`];
      expect(w.shape).toEqual([outD, inD]);
      for (let i = 0; i < inD; i++)
        for (let j = 0; j < outD; j++)
          expect(w.values[j * inD + i]).toBe(params[k.offset + i * outD + j]);
      expect(tensors[`layers.${l}.bias`].shape).toEqual([outD]);
      expect([...tensors[`layers.${l}.bias`].values]).toEqual([
        ...params.subarray(b.offset, b.offset + b.size),
      ]);
    }
    const m = readManifest(path.join(dir, 'st'));
    expect(m).toMatchObject({
      format: 'd2nwg-weights-export',
      exportFormat: 'safetensors',
      created: '1970-01-01T00:00:00.000Z',
      architecture: mlp,
      parameterCount: layout.size,
      source: { runId: 'run_abc', nodeId: 'sampler' },
      conditioningDataset: provenance.dataset,
      metrics: { accuracy: 0.875, loss: 0.4 },
      accuracy: 0.875,
    });
    expect(m.layout).toEqual(
      layout.params.map((p) => ({ name: p.name, shape: p.shape, offset: p.offset, size: p.size })),
    );
    const files = m.files as { name: string; bytes: number }[];
    expect(files[0]).toMatchObject({
      name: 'weights.safetensors',
      bytes: fs.statSync(res.files[0]).size,
    });
    const conv = m.conventions as { tensors: { name: string; from: string; transform: string }[] };
    expect(conv.tensors[0]).toEqual({
      name: 'layers.0.weight',
      shape: [5, 6],
      from: 'dense0.kernel',
      transform: 'transpose(1, 0)',
    });
  });

  it('writes CNN kernels as [cout, cin, kh, kw]', async () => {
    const layout = layoutOf(cnn);
    const params = paramsFor(layout, 2);
    await exportWeights({
      layout,
      params,
      format: 'safetensors',
      outDir: path.join(dir, 'c'),
      manifest: {},
    });
    const { tensors } = parseSafetensors(
      fs.readFileSync(path.join(dir, 'c', 'weights.safetensors')),
    );
    expect(Object.keys(tensors).sort()).toEqual([
      'convs.0.bias',
      'convs.0.weight',
      'convs.1.bias',
      'convs.1.weight',
      'head.bias',
      'head.weight',
    ]);
    const k = layout.params[2]; // conv1.kernel [3, 3, 3, 4]
    const w = tensors['convs.1.weight'];
    expect(w.shape).toEqual([4, 3, 3, 3]);
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 3; x++)
        for (let ci = 0; ci < 3; ci++)
          for (let co = 0; co < 4; co++)
            expect(w.values[((co * 3 + ci) * 3 + y) * 3 + x]).toBe(
              params[k.offset + ((y * 3 + x) * 3 + ci) * 4 + co],
            );
    expect(tensors['head.weight'].shape).toEqual([3, 4]);
    const m = readManifest(path.join(dir, 'c'));
    expect(m.source).toEqual({ runId: null, nodeId: null });
    expect(m.accuracy).toBeNull();
  });
});

describe('tfjs export', () => {
  async function roundTrip(arch: Architecture, seed: number): Promise<void> {
    const layout = layoutOf(arch);
    const params = paramsFor(layout, seed);
    const out = path.join(dir, `tfjs-${arch.kind}`);
    await expectNoLeakedTensors(() =>
      exportWeights({ layout, params, format: 'tfjs', outDir: out, manifest: provenance }),
    );
    const modelJson = JSON.parse(
      fs.readFileSync(path.join(out, 'model.json'), 'utf8'),
    ) as tf.io.ModelJSON;
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    const bin = fs.readFileSync(path.join(out, 'weights.bin'));
    expect(bin.byteLength).toBe(layout.size * 4);
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    );
    try {
      await expectNoLeakedTensors(() => {
        const rng = new Rng(seed + 100);
        const n = 9;
        const shape = arch.kind === 'mlp' ? [n, arch.inputDim] : [n, ...arch.inputShape];
        const size = shape.reduce((a, b) => a * b, 1);
        const [got, want] = tf.tidy(() => {
          const x = tf.tensor(rng.normalArray(size), shape);
          const p = tf.tensor1d(params);
          return [(model.predict(x) as tf.Tensor).dataSync(), forward(layout, p, x).dataSync()];
        });
        expect(got.length).toBe(n * arch.outputs);
        let maxDiff = 0;
        for (let i = 0; i < got.length; i++)
          maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        expect(maxDiff).toBeLessThan(1e-5);
        // not a trivial model: outputs vary across samples
        expect(new Set([...want].map((v) => v.toFixed(4))).size).toBeGreaterThan(n);
      });
    } finally {
      model.dispose();
    }
    expect(readManifest(out).exportFormat).toBe('tfjs');
  }

  it('loads back with tf.loadLayersModel and predicts what forward() computes (MLP)', async () => {
    await roundTrip(mlp, 3);
    await roundTrip({ ...mlp, activation: 'relu', hidden: [7] }, 4);
  });

  it('loads back with tf.loadLayersModel and predicts what forward() computes (CNN)', async () => {
    await roundTrip(cnn, 5);
    await roundTrip({ ...cnn, activation: 'leaky_relu', inputShape: [8, 8, 1], channels: [2] }, 6);
  });
});

describe('npy export', () => {
  it('writes the flat vector and one file per layout tensor', async () => {
    const layout = layoutOf(cnn);
    const params = paramsFor(layout, 7);
    const out = path.join(dir, 'npy');
    const res = await exportWeights({
      layout,
      params,
      format: 'npy',
      outDir: out,
      manifest: provenance,
    });
    expect(res.files.map((f) => path.basename(f))).toEqual([
      'params.npy',
      ...layout.params.map((p) => `${p.name}.npy`),
      'manifest.json',
    ]);
    const flat = parseNpy(fs.readFileSync(path.join(out, 'params.npy')));
    expect(flat.descr).toBe('<f4');
    expect(flat.shape).toEqual([layout.size]);
    expect(flat.values).toEqual(params);
    for (const p of layout.params) {
      const a = parseNpy(fs.readFileSync(path.join(out, `${p.name}.npy`)));
      expect(a.shape).toEqual(p.shape);
      expect(a.values).toEqual(params.subarray(p.offset, p.offset + p.size));
    }
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('refusals', () => {
  it('rejects output folders escaping baseDir', async () => {
    const base = path.join(dir, 'base');
    fs.mkdirSync(base);
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(base, 'link'));
    const layout = layoutOf(mlp);
    const params = paramsFor(layout);
    for (const bad of ['../escape', 'a/../../escape', '/etc/d2nwg', outside, 'link/sub', '']) {
      await expect(
        exportWeights({ layout, params, format: 'npy', outDir: bad, baseDir: base, manifest: {} }),
      ).rejects.toThrow(InputError);
    }
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'escape'))).toBe(false);
    expect(resolveOutDir('a/./b', base)).toBe(path.join(base, 'a', 'b'));
    expect(resolveOutDir(path.join(base, 'x'), base)).toBe(path.join(base, 'x'));
    const ok = await exportWeights({
      layout,
      params,
      format: 'npy',
      outDir: 'runs/1',
      baseDir: base,
      manifest: {},
    });
    expect(ok.outDir).toBe(path.join(base, 'runs', '1'));
  });

  it('refuses NaN/Inf weights, a wrong length or a mismatched layout before writing anything', async () => {
    const layout = layoutOf(mlp);
    const out = path.join(dir, 'never');
    const bad = paramsFor(layout);
    bad[7] = Number.NaN;
    await expect(
      exportWeights({ layout, params: bad, format: 'safetensors', outDir: out, manifest: {} }),
    ).rejects.toThrow(/weight 7 \(dense0\.kernel\[7\]\) is NaN/);
    bad[7] = Number.POSITIVE_INFINITY;
    await expect(
      exportWeights({ layout, params: bad, format: 'tfjs', outDir: out, manifest: {} }),
    ).rejects.toThrow(InputError);
    await expect(
      exportWeights({
        layout,
        params: new Float32Array(3),
        format: 'npy',
        outDir: out,
        manifest: {},
      }),
    ).rejects.toThrow(/3 values, the architecture needs/);
    const tampered: Layout = {
      ...layout,
      params: layout.params.map((p, i) => (i === 0 ? { ...p, name: '../../x' } : p)),
    };
    await expect(
      exportWeights({
        layout: tampered,
        params: paramsFor(layout),
        format: 'npy',
        outDir: out,
        manifest: {},
      }),
    ).rejects.toThrow(/does not match its architecture/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it.skipIf(process.getuid?.() === 0)(
    'reports a read-only folder clearly and leaves no file',
    async () => {
      const ro = path.join(dir, 'ro');
      fs.mkdirSync(ro);
      fs.chmodSync(ro, 0o555);
      const layout = layoutOf(mlp);
      try {
        await expect(
          exportWeights({
            layout,
            params: paramsFor(layout),
            format: 'npy',
            outDir: ro,
            manifest: {},
          }),
        ).rejects.toThrow(
          /cannot write the export to .*permission denied \(EACCES\); nothing was written/,
        );
        expect(fs.readdirSync(ro)).toEqual([]);
      } finally {
        fs.chmodSync(ro, 0o755);
      }
    },
  );

  // Root ignores permission bits, so the disk failures are also simulated at the fs layer.
  function failing(code: string, when: (op: string, file: string, n: number) => boolean): ExportFs {
    const counts = new Map<string, number>();
    const check = (op: string, file: string): void => {
      const n = (counts.get(op) ?? 0) + 1;
      counts.set(op, n);
      if (when(op, file, n)) throw Object.assign(new Error(`${code}: simulated`), { code });
    };
    return {
      mkdir: (d, o) => nodeExportFs.mkdir(d, o),
      async writeFile(f, data) {
        check('write', f);
        await nodeExportFs.writeFile(f, data);
      },
      async rename(a, b) {
        check('rename', b);
        await nodeExportFs.rename(a, b);
      },
      rm: (f, o) => nodeExportFs.rm(f, o),
      rmdir: (d) => nodeExportFs.rmdir(d),
    };
  }

  it('on EACCES while writing, reports the folder and removes temp files and the new folder', async () => {
    const layout = layoutOf(cnn);
    const out = path.join(dir, 'new', 'deeper');
    const err = await exportWeights({
      layout,
      params: paramsFor(layout),
      format: 'npy',
      outDir: out,
      manifest: {},
      io: failing('EACCES', (op, _f, n) => op === 'write' && n === 3),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportWriteError);
    expect((err as Error).message).toBe(
      `cannot write the export to ${out} (conv0.bias.npy): permission denied (EACCES); nothing was written`,
    );
    expect(fs.existsSync(path.join(dir, 'new'))).toBe(false);
  });

  it('on ENOSPC at a late rename, removes the files already renamed and keeps an existing folder', async () => {
    const layout = layoutOf(mlp);
    const out = path.join(dir, 'existing');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    await expect(
      exportWeights({
        layout,
        params: paramsFor(layout),
        format: 'tfjs',
        outDir: out,
        manifest: {},
        io: failing('ENOSPC', (op, f) => op === 'rename' && f.endsWith('manifest.json')),
      }),
    ).rejects.toThrow(/no space left on the device \(ENOSPC\)/);
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
  });
});
