import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '../../../src/main/api/dispatch.ts';
import { makeTestApi, pipelineNamed, type TestApi } from './fixtures/make-api.ts';

let t: TestApi | undefined;
afterEach(async () => {
  await t?.api.dispose();
  t = undefined;
});

async function call(channel: string, params: unknown) {
  if (!t) throw new Error('no api');
  return dispatch(t.api.handlers, channel, params);
}

describe('studio API over the engine host', () => {
  it('runs a pipeline in a worker and streams its events to the hub and the store', async () => {
    t = makeTestApi();
    const r = await call('runs.start', { pipeline: pipelineNamed('ok', 2), seed: 3 });
    expect(r.ok).toBe(true);
    const { runId } = (r as { value: { runId: string } }).value;
    const end = await t.done(runId);
    expect(end).toMatchObject({ type: 'runDone', status: 'done' });
    const types = t.runEvents.filter((m) => m.runId === runId).map((m) => m.event.type);
    expect(types[0]).toBe('runStart');
    expect(types.filter((x) => x === 'nodeFinish')).toHaveLength(2);
    expect(types.at(-1)).toBe('runDone');
    expect(t.store.events.get(runId)?.length).toBe(types.length);
    const list = await call('runs.list', {});
    expect(list).toMatchObject({
      ok: true,
      value: [{ id: runId, status: 'done', seed: 3, backend: 'fake' }],
    });
  });

  it('marks a run failed when the engine crashes, and stays usable', async () => {
    t = makeTestApi();
    const crash = await call('runs.start', { pipeline: pipelineNamed('crash') });
    const crashId = (crash as { value: { runId: string } }).value.runId;
    expect(await t.done(crashId)).toMatchObject({ status: 'failed' });
    expect(
      t.logs.some((l) => l.level === 'error' && l.message.includes('boom in the engine')),
    ).toBe(true);
    expect(t.store.getRun(crashId)?.status).toBe('failed');

    const exit = await call('runs.start', { pipeline: pipelineNamed('exit') });
    const exitId = (exit as { value: { runId: string } }).value.runId;
    expect(await t.done(exitId)).toMatchObject({ status: 'failed' });
    expect(t.logs.some((l) => l.message.includes('exited with code 7'))).toBe(true);

    const ok = await call('runs.start', { pipeline: pipelineNamed('fine') });
    expect(await t.done((ok as { value: { runId: string } }).value.runId)).toMatchObject({
      status: 'done',
    });
  });

  it('cancels a running run and a queued one', async () => {
    t = makeTestApi();
    const slow = await call('runs.start', { pipeline: pipelineNamed('slow') });
    const queued = await call('runs.start', { pipeline: pipelineNamed('ok') });
    const slowId = (slow as { value: { runId: string } }).value.runId;
    const queuedId = (queued as { value: { runId: string } }).value.runId;
    // Wait until the slow run computes, then cancel both.
    await new Promise<void>((resolve) => {
      const tick = () =>
        t?.runEvents.some((m) => m.runId === slowId && m.event.type === 'nodeProgress')
          ? resolve()
          : setTimeout(tick, 10);
      tick();
    });
    expect(await call('runs.cancel', { runId: queuedId })).toEqual({
      ok: true,
      value: { cancelled: true },
    });
    expect(await call('runs.cancel', { runId: slowId })).toEqual({
      ok: true,
      value: { cancelled: true },
    });
    expect(await t.done(slowId)).toMatchObject({ status: 'cancelled' });
    expect(await t.done(queuedId)).toMatchObject({ status: 'cancelled' });
    expect(t.runEvents.filter((m) => m.runId === queuedId).map((m) => m.event.type)).toEqual([
      'runCancelled',
      'runDone',
    ]);
    expect(await call('runs.cancel', { runId: 'nope' })).toEqual({
      ok: true,
      value: { cancelled: false },
    });
  });

  it('refuses bad arguments with a message naming the channel and the field', async () => {
    t = makeTestApi();
    const r = await call('runs.start', { pipeline: { format: 'nope' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe('ArgsError');
    expect(r.error.message).toMatch(/invalid arguments for 'runs\.start': pipeline\.format/);
    const extra = await call('runs.list', { surprise: 1 });
    expect(extra).toMatchObject({ ok: false, error: { kind: 'ArgsError' } });
    expect(await call('runs.explode', {})).toMatchObject({
      ok: false,
      error: { message: "unknown channel 'runs.explode'" },
    });
    expect(await call('runs.get', { runId: 'missing' })).toMatchObject({
      ok: false,
      error: { kind: 'NotFound', message: "no run 'missing'" },
    });
  });

  it('lists node specs with a JSON Schema and defaults for each config', async () => {
    t = makeTestApi();
    const r = await call('specs.list', {});
    if (!r.ok) throw new Error(r.error.message);
    const specs = r.value as { type: string; configSchema: { type?: string }; defaults: unknown }[];
    expect(specs.length).toBeGreaterThan(5);
    const exp = specs.find((s) => s.type === 'export.weights');
    expect(exp?.configSchema.type).toBe('object');
    expect(exp?.defaults).toMatchObject({ format: 'safetensors' });
  });

  it('confines export folders to the data directory (PathDenied)', async () => {
    t = makeTestApi('web');
    const run = await call('runs.start', { pipeline: pipelineNamed('ok') });
    const runId = (run as { value: { runId: string } }).value.runId;
    await t.done(runId);
    expect(
      await call('export.weights', { runId, format: 'npy', folder: '../outside' }),
    ).toMatchObject({
      ok: false,
      error: { kind: 'PathDenied' },
    });
    expect(await call('export.weights', { runId, format: 'npy', folder: '/etc' })).toMatchObject({
      ok: false,
      error: { kind: 'PathDenied' },
    });
    const ok = await call('export.weights', { runId, format: 'npy', folder: 'exports/a' });
    expect(ok).toMatchObject({ ok: true, value: { folder: `${t.dataDir}/exports/a` } });
  });
});
