// The SQLite adapter hands the latent maps stored in node summaries to runs.compare, validated.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStudioStore } from '../../../src/main/api/store-adapter.ts';
import { openStore } from '../../../src/main/store/index.ts';
import type { NodeSummary } from '../../../src/shared/events.ts';
import type { Pipeline } from '../../../src/shared/pipeline.ts';
import { LATENTS_FORMAT } from '../../../src/shared/schemas/latents.ts';

const dir = mkdtempSync(join(tmpdir(), 'd2nwg-adapter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pipeline: Pipeline = {
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'latents',
  nodes: ['vae', 'sampler', 'other'].map((id, i) => ({
    id,
    type: id === 'vae' ? 'model.vae' : 'sample.generate',
    version: 1,
    config: {},
    position: { x: i * 100, y: 0 },
  })),
  edges: [],
};

const projection = (samples: boolean) => ({
  format: LATENTS_FORMAT,
  version: 1 as const,
  method: 'pca' as const,
  latentDim: 4,
  explained: [0.7, 0.2] as [number, number],
  tasks: ['a', 'b'],
  zoo: { x: [1, -1], y: [0.5, -0.5], task: [0, 1] },
  ...(samples ? { samples: { x: [0], y: [0.1], task: [1] } } : {}),
  dropped: 0,
  thinned: 0,
});

describe('SqliteStudioStore.latentsOf', () => {
  it('returns each node’s stored latent map and skips nodes without a valid one', () => {
    const store = new SqliteStudioStore(openStore(join(dir, 'studio.db'), { dataDir: dir }));
    try {
      const runId = store.createRun({ pipeline, seed: 1 });
      store.recordEvent(runId, {
        type: 'runStart',
        runId,
        pipeline: pipeline.name,
        nodeIds: ['vae', 'sampler', 'other'],
        seed: 1,
        backend: 'cpu',
      });
      const finish = (nodeId: string, summary: NodeSummary) => {
        store.recordEvent(runId, { type: 'nodeStart', runId, nodeId });
        store.recordEvent(runId, {
          type: 'nodeFinish',
          runId,
          nodeId,
          durationS: 0.1,
          summary,
        });
      };
      finish('vae', { latents: projection(false), metrics: { loss: 1 } });
      finish('sampler', { latents: projection(true) });
      // A malformed map (task index out of range) is not passed on.
      finish('other', { latents: { ...projection(false), tasks: ['a'] } });
      store.recordEvent(runId, { type: 'runDone', runId, status: 'done', durationS: 1 });

      const got = store.latentsOf(runId);
      expect(got.map((l) => l.nodeId)).toEqual(['vae', 'sampler']);
      expect(got[0]).toEqual({ runId, nodeId: 'vae', projection: projection(false) });
      expect(got[1].projection.samples).toEqual({ x: [0], y: [0.1], task: [1] });
      expect(store.latentsOf('no-such-run')).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe('SqliteStudioStore.metricsOf', () => {
  it('adds the std over tasks from evaluation summaries as accuracy_std/<method> series', () => {
    const store = new SqliteStudioStore(openStore(join(dir, 'std.db'), { dataDir: dir }));
    try {
      const runId = store.createRun({ pipeline, seed: 1 });
      store.recordEvent(runId, {
        type: 'runStart',
        runId,
        pipeline: pipeline.name,
        nodeIds: ['vae', 'sampler', 'other'],
        seed: 1,
        backend: 'cpu',
      });
      const finish = (nodeId: string, summary: NodeSummary) => {
        store.recordEvent(runId, { type: 'nodeStart', runId, nodeId });
        store.recordEvent(runId, { type: 'nodeFinish', runId, nodeId, durationS: 0.1, summary });
      };
      // An older Evaluate summary (one row, no split), a table whose rows carry their split
      // (keyed accuracy_std/<split>/<method>), and a node with no evaluation.
      finish('vae', {
        method: 'd2nwg',
        epochs: [0, 5],
        mean: [0.7, 0.9],
        std: [0.05, 0.02],
        tasks: 4,
        metrics: { 'accuracy/d2nwg@0': 0.7, 'accuracy/d2nwg@5': 0.9 },
      });
      finish('sampler', {
        table: [{ method: 'lda', split: 'seen', epochs: [0], mean: [0.6], std: [0.1], tasks: 4 }],
      });
      finish('other', { metrics: { loss: 1 } });
      const got = store.metricsOf(runId).filter((s) => s.key.startsWith('accuracy_std/'));
      expect(got).toEqual([
        { runId, nodeId: 'vae', key: 'accuracy_std/d2nwg', steps: [0, 5], values: [0.05, 0.02] },
        { runId, nodeId: 'sampler', key: 'accuracy_std/seen/lda', steps: [0], values: [0.1] },
      ]);
      expect(store.metricsOf(runId).map((s) => s.key)).toContain('accuracy/d2nwg');
    } finally {
      store.close();
    }
  });
});
