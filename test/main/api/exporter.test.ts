import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createExporter } from '../../../src/main/api/exporter.ts';
import { encodeWeightsArtifact } from '../../../src/main/engine/export/artifact.ts';
import { layoutOf } from '../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../src/main/engine/nn/params.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import type { RunDetail } from '../../../src/shared/ipc.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-api-export-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const layout = layoutOf({ kind: 'mlp', inputDim: 2, hidden: [3], outputs: 2, activation: 'relu' });

/** A run whose sampler stored one weights artifact per task (2 samples each). */
function fixture() {
  const metas = new Map<string, unknown>();
  const artifacts = ['t0', 't1'].map((task, k) => {
    const enc = encodeWeightsArtifact(
      layout,
      [initParams(layout, new Rng(k)), initParams(layout, new Rng(k + 10))],
      {
        sampleMetrics: [
          { supportAccuracy: 0.5, testAccuracy: 0.4 },
          { supportAccuracy: 0.9, testAccuracy: 0.8 },
        ],
        accuracyOn: `the 20 test samples of task ${task}`,
        task: { id: task, split: 'seen', classes: [k, 5], classNames: [`c${k}`, 'c5'] },
        features: {
          kind: 'pixels',
          inputShape: [2],
          inputScale: 1,
          mean: Float32Array.of(0.5, 0.25),
          basis: null,
          scale: Float32Array.of(2, 4),
        },
      },
    );
    const file = path.join(dir, `${task}.safetensors`);
    fs.writeFileSync(file, enc.bytes);
    const id = `art_${task}`;
    metas.set(id, JSON.parse(JSON.stringify(enc.meta)));
    return { id, nodeId: 'sampler', kind: 'weights', path: file, bytes: enc.bytes.length };
  });
  const run = { id: 'run_x', artifacts } as unknown as RunDetail;
  return { run, exporter: createExporter((id) => metas.get(id)) };
}

describe('API exporter', () => {
  it('exports the best sample of every task into <folder>/<run id>/, then <run id>-2', async () => {
    const { run, exporter } = fixture();
    const folder = path.join(dir, 'out');
    const r = await exporter.exportWeights({ run, format: 'safetensors', folder });
    expect(r.folder).toBe(path.join(folder, 'run_x'));
    expect(r.files.map((f) => f.name).sort()).toEqual([
      path.join('t0', 'sample-001', 'manifest.json'),
      path.join('t0', 'sample-001', 'weights.safetensors'),
      path.join('t1', 'sample-001', 'manifest.json'),
      path.join('t1', 'sample-001', 'weights.safetensors'),
    ]);
    expect(r.manifest).toMatchObject({
      accuracy: 0.8,
      classNames: ['c0', 'c5'],
      input: { raw: true, shape: ['n', 2] },
      features: { kind: 'pixels' },
    });
    const all = await exporter.exportWeights({ run, format: 'onnx', select: 'all', folder });
    expect(all.folder).toBe(path.join(folder, 'run_x-2'));
    expect(all.files.filter((f) => f.name.endsWith('model.onnx'))).toHaveLength(4);
  });

  it('previews the manifest without leaving files behind', async () => {
    const { run, exporter } = fixture();
    const p = await exporter.preview({ run, format: 'npy' });
    expect(p.manifest).toMatchObject({ exportFormat: 'npy', accuracy: 0.8 });
    expect(p.files.map((f) => f.name)).toContain(
      path.join('t0', 'sample-001', 'features.mean.npy'),
    );
    expect(fs.readdirSync(dir).sort()).toEqual(['t0.safetensors', 't1.safetensors']);
  });
});
