/**
 * Exports must run outside the app on raw inputs. A classifier is trained on PCA features of the
 * embedded Fashion-MNIST (as the quickstart does), exported with its feature pipeline, and then
 * read back by test/main/engine/export/readback.py: NumPy only, its own safetensors and ONNX
 * parsers, raw 0..255 test images. Its accuracy must equal the app's (measured on features) to
 * 0.1 points. The same holds for the tfjs LayersModel, run here on the raw images, and, where
 * torch is installed (optional, not in CI), for the manifest's PyTorch module (torch_check.py).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../src/main/engine/data/sources.ts';
import { generateTasks, materializeTask } from '../../../../src/main/engine/data/tasks.ts';
import type { LabelledData, TaskSpec } from '../../../../src/main/engine/data/types.ts';
import {
  buildLayersModel,
  exportFeaturesOf,
  exportWeights,
  type ExportFeatures,
} from '../../../../src/main/engine/export/index.ts';
import { taskOf, testAccuracyOn } from '../../../../src/main/engine/export/task.ts';
import { applyExtractor, fitExtractor } from '../../../../src/main/engine/features/extractor.ts';
import { encodeNpy } from '../../../../src/main/engine/formats/npy.ts';
import { layoutOf, type Architecture } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { evaluateMany, trainClassifier } from '../../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import {
  PYTHON,
  needPythonNumpy,
  pythonNumpyMissing,
  readback,
  type ReadbackResult,
} from '../../../helpers/python.ts';

const missing = pythonNumpyMissing();
/** torch is optional (CI does not install it): the manifest's PyTorch module is run when present. */
const hasTorch =
  missing === null && spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

let dir: string;
let data: LabelledData;
let task: TaskSpec;
let rawX: Float32Array;
let yTest: Int32Array;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-readback-'));
  data = await loadDataset({ kind: 'fashion-mnist', variant: 'embedded' });
  const tasks = generateTasks(
    data.labels,
    data.classNames.length,
    { k: 5, nTrain: 50, nTest: 100, heldOutClasses: 2, numSeen: 4, seed: 3 },
    data.classNames,
  );
  task = tasks.seen[1];
  const raw = materializeTask(data, task);
  // Raw uint8 pixel values, as a user has them: the loader's [0, 1] values × 255.
  rawX = Float32Array.from(raw.xTest, (v) => Math.round(v * 255));
  yTest = raw.yTest;
  fs.writeFileSync(path.join(dir, 'x.npy'), encodeNpy(rawX, [yTest.length, 784]));
  fs.writeFileSync(path.join(dir, 'y.npy'), encodeNpy(yTest, [yTest.length]));
}, 120_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Fit the extractor on the task pool, train a classifier on the task's features, measure it. */
async function trainOnFeatures(
  extractor: Parameters<typeof fitExtractor>[0],
  arch: Architecture,
  epochs: number,
) {
  const tasks = generateTasks(
    data.labels,
    data.classNames.length,
    { k: 5, nTrain: 50, nTest: 100, heldOutClasses: 2, numSeen: 4, seed: 3 },
    data.classNames,
  );
  const ex = await fitExtractor(extractor, data, tasks.trainPool, new Rng(7));
  const feats = await applyExtractor(ex, data);
  const td = materializeTask(feats, task);
  const layout = layoutOf(arch);
  const { params } = await trainClassifier({
    layout,
    init: initParams(layout, new Rng(11)),
    xTrain: td.xTrain,
    yTrain: td.yTrain,
    epochs,
    batchSize: 25,
    lr: 0.01,
    rng: new Rng(12),
  });
  const [ev] = await evaluateMany(layout, [params], td.xTest, td.yTest);
  const features: ExportFeatures = exportFeaturesOf(ex.state(), 1 / 255);
  return { layout, params, accuracy: ev.accuracy, features };
}

async function exportBoth(m: Awaited<ReturnType<typeof trainOnFeatures>>, name: string) {
  const folders: string[] = [];
  for (const format of ['safetensors', 'onnx', 'npy'] as const) {
    const res = await exportWeights({
      layout: m.layout,
      params: m.params,
      format,
      outDir: path.join(dir, name, format),
      features: m.features,
      manifest: {
        sourceRunId: 'run_readback',
        metrics: { accuracy: m.accuracy },
        accuracyOn: testAccuracyOn(task),
        task: taskOf(task, data.classNames),
      },
    });
    expect(res.manifest.accuracy).toBe(m.accuracy);
    expect(res.manifest.classNames).toEqual(task.classes.map((c) => data.classNames[c]));
    expect(res.manifest.task?.id).toBe(task.id);
    expect(res.manifest.input).toMatchObject({ raw: true, shape: ['n', 784], scale: 1 / 255 });
    if (format !== 'npy') folders.push(res.outDir);
  }
  return folders;
}

function pythonAccuracy(folders: string[]): Record<string, ReadbackResult> {
  return readback(path.join(dir, 'x.npy'), path.join(dir, 'y.npy'), folders);
}

/** Accuracy of the manifest's PyTorch module on the raw images (safetensors folders only). */
function torchAccuracy(folders: string[]): Record<string, { accuracy: number }> {
  const r = spawnSync(
    PYTHON,
    [
      path.join(import.meta.dirname, 'torch_check.py'),
      path.join(dir, 'x.npy'),
      path.join(dir, 'y.npy'),
      ...folders,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(r.status, `torch_check.py failed:\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Record<string, { accuracy: number }>;
}

/** Accuracy of the exported tfjs LayersModel on the raw images. */
function tfjsAccuracy(m: Awaited<ReturnType<typeof trainOnFeatures>>): number {
  const model = buildLayersModel(m.layout, m.params, m.features);
  try {
    const pred = tf.tidy(() =>
      (model.predict(tf.tensor2d(rawX, [yTest.length, 784])) as tf.Tensor2D).argMax(1),
    );
    const p = Array.from(pred.dataSync());
    pred.dispose();
    return p.filter((v, i) => v === yTest[i]).length / yTest.length;
  } finally {
    model.dispose();
  }
}

describe('exports run on raw inputs outside the app', () => {
  it('MLP on whitened PCA features: NumPy (safetensors, ONNX), tfjs and PyTorch match the app accuracy', async (ctx) => {
    if (!needPythonNumpy((note) => ctx.skip(note))) return;
    const m = await trainOnFeatures(
      { kind: 'pca', components: 32, whiten: true },
      { kind: 'mlp', inputDim: 32, hidden: [16], outputs: 5, activation: 'leaky_relu' },
      8,
    );
    expect(m.accuracy).toBeGreaterThan(0.5);
    const folders = await exportBoth(m, 'mlp');
    const py = pythonAccuracy(folders);
    for (const f of folders) {
      expect(Math.abs(py[f].accuracy - m.accuracy), `${py[f].kind}`).toBeLessThanOrEqual(0.001);
    }
    expect(Object.values(py).map((r) => r.kind)).toEqual(['safetensors', 'onnx']);
    expect(Math.abs(tfjsAccuracy(m) - m.accuracy)).toBeLessThanOrEqual(0.001);
    if (hasTorch) {
      const [st] = folders;
      expect(Math.abs(torchAccuracy([st])[st].accuracy - m.accuracy)).toBeLessThanOrEqual(0.001);
    }
  }, 120_000);

  it('CNN on standardised pixels: NumPy (safetensors, ONNX), tfjs and PyTorch match the app accuracy', async (ctx) => {
    if (!needPythonNumpy((note) => ctx.skip(note))) return;
    const m = await trainOnFeatures(
      { kind: 'pixels', standardise: true },
      {
        kind: 'cnn',
        inputShape: [28, 28, 1],
        channels: [4, 8],
        kernelSize: 3,
        outputs: 5,
        activation: 'relu',
      },
      3,
    );
    expect(m.accuracy).toBeGreaterThan(0.3);
    const folders = await exportBoth(m, 'cnn');
    const py = pythonAccuracy(folders);
    for (const f of folders) {
      expect(Math.abs(py[f].accuracy - m.accuracy), `${py[f].kind}`).toBeLessThanOrEqual(0.001);
    }
    expect(Math.abs(tfjsAccuracy(m) - m.accuracy)).toBeLessThanOrEqual(0.001);
    if (hasTorch) {
      const [st] = folders;
      expect(Math.abs(torchAccuracy([st])[st].accuracy - m.accuracy)).toBeLessThanOrEqual(0.001);
    }
  }, 180_000);
});
