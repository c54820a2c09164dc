import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunEvent } from '../../../src/shared/events.ts';
import { NodeRegistry, defineNode } from '../../../src/shared/nodes/spec.ts';
import { PIPELINE_FORMAT, PIPELINE_VERSION, type Pipeline } from '../../../src/shared/pipeline.ts';
import { InputError } from '../../../src/main/engine/errors.ts';
import { defineRunner, runPipeline, type NodeRunner } from '../../../src/main/graph/index.ts';
import { openStore, type Store } from '../../../src/main/store/index.ts';
import { RunRecorder, summaryMetrics } from '../../../src/main/store/recorder.ts';

let dir: string;
let store: Store;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-rec-'));
  store = openStore(path.join(dir, 'studio.db'));
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const pipeline = {
  nodes: [
    { id: 'data', type: 'dataset.source' },
    { id: 'zoo', type: 'zoo.train' },
    { id: 'eval', type: 'evaluate' },
    { id: 'out', type: 'export' },
  ],
};

it('records a run from its events: nodes, metrics, artifacts, final status', () => {
  const errors: Error[] = [];
  const rec = new RunRecorder({
    store,
    config: pipeline,
    versions: { app: 'test' },
    onError: (e) => errors.push(e),
  });
  const file = path.join(dir, 'w.safetensors');
  fs.writeFileSync(file, 'payload');
  const runId = 'run-1';
  const events: RunEvent[] = [
    {
      type: 'runStart',
      runId,
      pipeline: 'demo',
      nodeIds: ['data', 'zoo', 'eval', 'out'],
      seed: 3,
      backend: 'wasm',
    },
    { type: 'nodeCached', runId, nodeId: 'data', summary: { rows: 100 } },
    { type: 'nodeStart', runId, nodeId: 'zoo' },
    {
      type: 'nodeProgress',
      runId,
      nodeId: 'zoo',
      value: 1,
      max: 2,
      unit: 'epoch',
      metrics: { loss: 0.9 },
    },
    {
      type: 'nodeProgress',
      runId,
      nodeId: 'zoo',
      value: 2,
      max: 2,
      unit: 'epoch',
      label: 'm1',
      metrics: { loss: 0.5 },
    },
    { type: 'nodeProgress', runId, nodeId: 'zoo', value: 2, max: 2, unit: 'epoch' },
    { type: 'artifact', runId, nodeId: 'zoo', kind: 'zoo', path: file, shape: [7] },
    { type: 'artifact', runId, nodeId: 'zoo', kind: 'folder', path: dir },
    {
      type: 'nodeFinish',
      runId,
      nodeId: 'zoo',
      durationS: 1,
      summary: { metrics: { accuracy: 0.8 } },
    },
    { type: 'nodeStart', runId, nodeId: 'eval' },
    { type: 'nodeError', runId, nodeId: 'eval', message: 'NaN at step 3', kind: 'numeric' },
    { type: 'nodeSkipped', runId, nodeId: 'out', reason: "upstream node 'eval' failed" },
    { type: 'log', runId, level: 'info', message: 'hi' },
    { type: 'runDone', runId, status: 'failed', durationS: 2 },
  ];
  for (const e of events) rec.listener(e);
  expect(errors).toEqual([]);
  expect(rec.runId).toBe(runId);

  const run = store.getRun(runId);
  expect(run).toMatchObject({
    name: 'demo',
    status: 'failed',
    seed: 3,
    backend: 'wasm',
    config: pipeline,
    versions: { app: 'test' },
    error: "node 'eval' failed: NaN at step 3",
  });
  expect(run?.nodes.map((n) => [n.nodeId, n.type, n.status, n.cached])).toEqual([
    ['data', 'dataset.source', 'done', true],
    ['zoo', 'zoo.train', 'done', false],
    ['eval', 'evaluate', 'failed', false],
    ['out', 'export', 'skipped', false],
  ]);
  expect(run?.nodes[2].error).toBe('numeric: NaN at step 3');
  expect(run?.nodes[0].summary).toEqual({ rows: 100 });
  expect(store.metricsOf(runId).map((m) => [m.nodeId, m.key, m.step, m.value])).toEqual([
    ['zoo', 'accuracy', 0, 0.8],
    ['zoo', 'loss', 1, 0.9],
    ['zoo', 'm1:loss', 2, 0.5],
  ]);
  const arts = store.artifactsOf(runId);
  expect(arts.map((a) => [a.kind, a.bytes, a.shape, a.meta])).toEqual([
    ['zoo', 7, [7], { sourcePath: file }],
  ]);
});

it('reuses a run created beforehand and reports store failures without throwing', () => {
  const pre = store.createRun({ id: 'pre', name: 'queued one', config: {} });
  const errors: string[] = [];
  const rec = new RunRecorder({ store, config: {}, onError: (e) => errors.push(e.message) });
  rec.listener({
    type: 'runStart',
    runId: pre.id,
    pipeline: 'x',
    nodeIds: ['a'],
    seed: 1,
    backend: 'cpu',
  });
  expect(store.getRun(pre.id)?.status).toBe('running');
  expect(store.getRun(pre.id)?.nodes[0].type).toBe('?');
  // an event for a run that does not exist: the store refuses, the recorder does not throw
  rec.listener({ type: 'runDone', runId: 'ghost', status: 'done', durationS: 0 });
  expect(errors).toEqual(["unknown run 'ghost'"]);
  rec.listener({ type: 'runDone', runId: pre.id, status: 'cancelled', durationS: 0 });
  expect(store.getRun(pre.id)?.status).toBe('cancelled');
  expect(store.getRun(pre.id)?.nodes[0].status).toBe('cancelled');
});

it('reads name@step summary keys as (name, step)', () => {
  expect(
    summaryMetrics({ metrics: { 'accuracy/d2nwg@0': 0.7, 'accuracy/d2nwg@5': 0.9, loss: 0.1 } }),
  ).toEqual([
    { key: 'accuracy/d2nwg', step: 0, value: 0.7 },
    { key: 'accuracy/d2nwg', step: 5, value: 0.9 },
    { key: 'loss', step: 0, value: 0.1 },
  ]);
  expect(summaryMetrics(undefined)).toEqual([]);
});

it('records a real executor run (runPipeline → RunRecorder → store)', async () => {
  const src = defineNode({
    type: 'rec.source',
    version: 1,
    category: 'Data',
    title: 'Source',
    help: 'Emits a value and per-epoch accuracies.',
    config: z.object({}),
    inputs: [],
    outputs: [{ id: 'out', label: 'Out', type: 'dataset' }],
    cacheable: false,
  });
  const boom = defineNode({
    type: 'rec.boom',
    version: 1,
    category: 'Evaluation',
    title: 'Boom',
    help: 'Fails with an InputError.',
    config: z.object({}),
    inputs: [{ id: 'in', label: 'In', type: 'dataset' }],
    outputs: [{ id: 'out', label: 'Out', type: 'metrics' }],
    cacheable: false,
  });
  const after = defineNode({
    ...boom,
    type: 'rec.after',
    inputs: [{ id: 'in', label: 'In', type: 'metrics' }],
  });
  const registry = new NodeRegistry().register(src).register(boom).register(after);
  type V = { readonly type: 'dataset' | 'metrics' };
  const runners: Record<string, NodeRunner<V>> = {
    'rec.source': defineRunner<V, typeof src.config>(src, async (ctx) => {
      ctx.progress({ value: 1, max: 1, unit: 'epoch', metrics: { loss: 0.25 } });
      return {
        outputs: { out: { type: 'dataset' } },
        summary: { metrics: { 'accuracy/d2nwg@0': 0.6, 'accuracy/d2nwg@1': 0.7 } },
      };
    }),
    'rec.boom': defineRunner<V, typeof boom.config>(boom, async () => {
      throw new InputError('bad column');
    }),
    'rec.after': defineRunner<V, typeof after.config>(after, async () => ({
      outputs: { out: { type: 'metrics' } },
    })),
  };
  const pipelineJson: Pipeline = {
    format: PIPELINE_FORMAT,
    version: PIPELINE_VERSION,
    name: 'recorded',
    nodes: [
      { id: 's', type: 'rec.source', version: 1, config: {}, position: { x: 0, y: 0 } },
      { id: 'b', type: 'rec.boom', version: 1, config: {}, position: { x: 0, y: 0 } },
      { id: 'a', type: 'rec.after', version: 1, config: {}, position: { x: 0, y: 0 } },
    ],
    edges: [
      { id: 'e1', source: 's', sourcePort: 'out', target: 'b', targetPort: 'in' },
      { id: 'e2', source: 'b', sourcePort: 'out', target: 'a', targetPort: 'in' },
    ],
  };
  const rec = new RunRecorder({
    store,
    config: pipelineJson,
    onError: (e) => {
      throw e;
    },
  });
  const result = await runPipeline<V>({
    pipeline: pipelineJson,
    registry,
    runners,
    seed: 9,
    runId: 'exec-run',
    dataDir: dir,
    backend: 'cpu',
    onEvent: rec.listener,
  });
  expect(result.status).toBe('failed');
  const run = store.getRun('exec-run');
  expect(run).toMatchObject({ name: 'recorded', status: 'failed', seed: 9, backend: 'cpu' });
  expect(run?.error).toMatch(/node 'b' failed: .*bad column/);
  expect(run?.durationS).not.toBeNull();
  expect(run?.nodes.map((n) => [n.nodeId, n.type, n.status])).toEqual([
    ['s', 'rec.source', 'done'],
    ['b', 'rec.boom', 'failed'],
    ['a', 'rec.after', 'skipped'],
  ]);
  expect(
    store.metricsFor(['exec-run'], 'accuracy/d2nwg').rows.map((r) => [r.step, r.values[0]]),
  ).toEqual([
    [0, 0.6],
    [1, 0.7],
  ]);
  expect(store.metricsOf('exec-run', 'loss').map((m) => m.value)).toEqual([0.25]);
});

it('records a run computed elsewhere with the times it happened, and a run-level error as its error', () => {
  const rec = new RunRecorder({ store, config: pipeline });
  const runId = 'run-far';
  const t0 = Date.parse('2026-01-02T03:04:05.000Z');
  const events: [RunEvent, number][] = [
    [
      {
        type: 'runStart',
        runId,
        pipeline: 'demo',
        nodeIds: ['data'],
        seed: 1,
        backend: 'wasm',
      },
      t0,
    ],
    [{ type: 'nodeStart', runId, nodeId: 'data' }, t0 + 1000],
    [{ type: 'nodeFinish', runId, nodeId: 'data', durationS: 2.5, summary: {} }, t0 + 3500],
    [{ type: 'log', runId, level: 'error', message: 'the worker lost its engine' }, t0 + 3600],
    [{ type: 'runDone', runId, status: 'failed', durationS: 3.7 }, t0 + 3700],
  ];
  for (const [e, at] of events) rec.handle(e, at);
  const run = store.getRun(runId);
  expect(run?.started).toBe('2026-01-02T03:04:05.000Z');
  expect(run?.finished).toBe('2026-01-02T03:04:08.700Z');
  expect(run?.error).toBe('the worker lost its engine');
  const node = run?.nodes.find((n) => n.nodeId === 'data');
  expect([node?.started, node?.finished]).toEqual([
    '2026-01-02T03:04:06.000Z',
    '2026-01-02T03:04:08.500Z',
  ]);
});
