import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskSpec } from '../../../src/main/engine/data/types.ts';
import { layoutOf } from '../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../src/main/engine/nn/params.ts';
import { unrestrictedPolicy } from '../../../src/main/paths/policy.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import type { NodeContext } from '../../../src/main/graph/types.ts';
import { run } from '../../../src/main/nodes/export-weights.ts';
import type { PortValue } from '../../../src/main/nodes/values.ts';
import type { ExportWeightsConfig } from '../../../src/shared/nodes/export-weights.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-export-node-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function ctx(config: ExportWeightsConfig, runId = 'run_1'): NodeContext<ExportWeightsConfig> {
  return {
    runId,
    nodeId: 'export',
    config,
    seed: 0,
    rng: new Rng(0),
    signal: new AbortController().signal,
    progress: () => undefined,
    log: () => undefined,
    artifact: () => undefined,
    dataDir: dir,
    paths: unrestrictedPolicy(dir),
  };
}

const layout = layoutOf({
  kind: 'mlp',
  inputDim: 3,
  hidden: [4],
  outputs: 2,
  activation: 'relu',
});
const task = (id: string, classes: number[]): TaskSpec => ({
  id,
  classes,
  trainIndex: new Int32Array(4),
  testIndex: new Int32Array(10),
  split: 'seen',
});
const weights: PortValue = {
  type: 'weights',
  layout,
  dataset: 'toy',
  method: 'd2nwg',
  classNames: ['cat', 'dog', 'fox'],
  features: {
    kind: 'pca',
    inputShape: [2, 2, 1],
    inputScale: 1 / 255,
    mean: Float32Array.of(0.1, 0.2, 0.3, 0.4),
    basis: Float32Array.from({ length: 12 }, (_, i) => (i % 5) / 5),
    scale: null,
  },
  perTask: [
    {
      task: task('t0', [2, 0]),
      vectors: [initParams(layout, new Rng(1)), initParams(layout, new Rng(2))],
      supportAccuracy: [0.9, 0.8],
      testAccuracy: [0.7, 0.6],
    },
    {
      task: task('t1', [1, 2]),
      vectors: [initParams(layout, new Rng(3)), initParams(layout, new Rng(4))],
      testAccuracy: [0.5, 0.4],
    },
  ],
};

function manifest(p: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(p, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
}

describe('export.weights', () => {
  it('exports every sample into <folder>/<run id>/<task>/sample-NNN with task, classes, accuracy', async () => {
    const cfg = { format: 'safetensors', folder: 'exports', select: 'all' } as const;
    const out = await run(ctx(cfg), { weights: [weights] });
    const root = path.join(dir, 'exports', 'run_1');
    expect(out.summary?.folder).toBe(root);
    expect(fs.readdirSync(root).sort()).toEqual(['t0', 't1']);
    expect(fs.readdirSync(path.join(root, 't0')).sort()).toEqual(['sample-000', 'sample-001']);
    const m = manifest(path.join(root, 't0', 'sample-001'));
    expect(m.classNames).toEqual(['fox', 'cat']);
    expect(m.task).toMatchObject({ id: 't0', classes: [2, 0], classNames: ['fox', 'cat'] });
    expect(m.accuracy).toBe(0.6);
    expect(m.accuracyOn).toBe('the 10 test samples of task t0');
    expect(m.input).toMatchObject({ raw: true, shape: ['n', 4] });
    // Weights with generated output layers say nothing about a head; a Sampler's head is recorded.
    expect(m.head).toBeUndefined();
    const cfgB = { ...cfg, folder: 'exports-b' };
    await run(ctx(cfgB), { weights: [{ ...weights, head: 'class (support)' }] });
    expect(manifest(path.join(dir, 'exports-b', 'run_1', 't0', 'sample-000')).head).toBe(
      'class (support)',
    );
  });

  it('exports the best sample per task, and a second export of a run goes to <run id>-2', async () => {
    const cfg = { format: 'onnx', folder: 'out', select: 'best' } as const;
    await run(ctx(cfg), { weights: [weights] });
    const again = await run(ctx(cfg), { weights: [weights] });
    expect(again.summary?.folder).toBe(path.join(dir, 'out', 'run_1-2'));
    for (const r of ['run_1', 'run_1-2']) {
      expect(fs.readdirSync(path.join(dir, 'out', r, 't1'))).toEqual(['sample-000']);
      expect(fs.readdirSync(path.join(dir, 'out', r, 't1', 'sample-000')).sort()).toEqual([
        'manifest.json',
        'model.onnx',
      ]);
    }
    const other = await run(ctx(cfg, 'run_2'), { weights: [weights] });
    expect(other.summary?.folder).toBe(path.join(dir, 'out', 'run_2'));
  });
});

describe('export.weights v1 → v2 migration', () => {
  it('maps bestOnly to select (v1 defaulted to every sample)', async () => {
    const { exportWeightsSpec } = await import('../../../src/shared/nodes/export-weights.ts');
    const up = (c: unknown) => exportWeightsSpec.config.parse(exportWeightsSpec.migrate?.(c, 1));
    expect(up({ format: 'npy', folder: 'x', bestOnly: true })).toEqual({
      format: 'npy',
      folder: 'x',
      select: 'best',
    });
    expect(up({ bestOnly: false }).select).toBe('all');
    expect(up({}).select).toBe('all');
  });
});
