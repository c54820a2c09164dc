// The runs table's actions over real stores, with the API answered in memory through the same
// contract (and strict schemas) the transports use: annotating, reloading picked columns, and
// comparing against a pinned baseline.
import { act, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { DocumentStore } from '../../src/renderer/src/features/document/document-store.ts';
import { createRunActions } from '../../src/renderer/src/features/runs/run-actions.ts';
import { RunsStore } from '../../src/renderer/src/features/runs/runs-store.ts';
import { RunsTab } from '../../src/renderer/src/features/runs/RunsTab.tsx';
import { RunsContext } from '../../src/renderer/src/features/runs/use-runs.ts';
import { RunStore } from '../../src/renderer/src/lib/run-store.ts';
import {
  buildApi,
  contract,
  type InvokeChannelName,
  type RunSummary,
} from '../../src/shared/ipc.ts';

const summary = (id: string, over: Partial<RunSummary> = {}): RunSummary => ({
  id,
  name: 'toy',
  tags: [],
  notes: '',
  status: 'done',
  seed: 0,
  backend: 'wasm',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 10,
  ...over,
});

function setup() {
  const requests: { channel: InvokeChannelName; params: Record<string, unknown> }[] = [];
  const replies: Partial<Record<InvokeChannelName, (p: Record<string, unknown>) => unknown>> = {
    'runs.list': () => [summary('r1'), summary('r2'), summary('r3')],
    'runs.table': () => ({ fields: ['tasks.k'], values: { r1: { 'tasks.k': 9 } }, series: [] }),
    'runs.compare': (p) => ({
      runs: (p.runIds as string[]).map((id) => summary(id)),
      series: [],
      latents: [],
    }),
    'runs.update': (p) => {
      if (p.name === 'taken') throw new Error('name taken');
      return summary(String(p.runId), { name: String(p.name ?? 'toy'), tags: [] });
    },
  };
  const api = buildApi({
    async request(channel, params) {
      const parsed = contract[channel].params.safeParse(params);
      if (!parsed.success)
        return { ok: false, error: { kind: 'ArgsError', message: parsed.error.message } };
      const p = parsed.data as Record<string, unknown>;
      requests.push({ channel, params: p });
      const reply = replies[channel];
      if (!reply) return { ok: false, error: { kind: 'Error', message: `no ${channel}` } };
      try {
        return { ok: true, value: reply(p) };
      } catch (e) {
        return { ok: false, error: { kind: 'InputError', message: (e as Error).message } };
      }
    },
    subscribe: () => () => undefined,
  });
  const runs = new RunsStore();
  const logs: string[] = [];
  const toasts: string[] = [];
  const actions = createRunActions({
    api,
    runs,
    doc: new DocumentStore(),
    live: new RunStore((flush) => flush()),
    log: (level, message) => logs.push(`${level}: ${message}`),
    flash: (m) => toasts.push(m),
    confirm: () => true,
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { requests, runs, actions, logs, toasts, settle };
}

describe('run actions for the runs table', () => {
  it('loads the list and the picked columns; picking other fields reloads them', async () => {
    const t = setup();
    t.actions.refresh();
    await t.settle();
    expect(t.runs.get().runs.map((r) => r.id)).toEqual(['r1', 'r2', 'r3']);
    expect(t.runs.get().table?.fields).toEqual(['tasks.k']);
    expect(t.requests.filter((r) => r.channel === 'runs.table').at(-1)?.params).toEqual({
      fields: [],
    });
    t.actions.setView({ fields: ['tasks.k'] });
    await t.settle();
    expect(t.requests.filter((r) => r.channel === 'runs.table')).toHaveLength(2);
    expect(t.requests.at(-1)).toEqual({ channel: 'runs.table', params: { fields: ['tasks.k'] } });
    // A filter or sort change asks nothing of the API.
    t.actions.setView({ search: 'x', sort: { column: 'name', dir: 'asc' } });
    t.actions.setView({ fields: ['tasks.k'] });
    await t.settle();
    expect(t.requests.filter((r) => r.channel === 'runs.table')).toHaveLength(2);
    expect(t.runs.get().view.search).toBe('x');
  });

  it('stores a rename in the list; a refusal is logged, flashed and changes nothing', async () => {
    const t = setup();
    t.actions.refresh();
    await t.settle();
    expect(await t.actions.annotate('r2', { name: 'better' })).toBe(true);
    expect(t.runs.get().runs.map((r) => r.name)).toEqual(['toy', 'better', 'toy']);
    expect(await t.actions.annotate('r2', { name: 'taken' })).toBe(false);
    expect(t.toasts).toEqual(['name taken']);
    expect(t.logs).toEqual(['error: run r2: name taken']);
    expect(t.runs.get().runs.map((r) => r.name)).toEqual(['toy', 'better', 'toy']);
  });

  it('compares the ticked runs with the pinned baseline first', async () => {
    const t = setup();
    t.actions.refresh();
    await t.settle();
    t.runs.toggle('r3');
    t.runs.toggle('r1');
    expect(await t.actions.compare()).toBe(true);
    expect(t.requests.at(-1)?.params).toEqual({ runIds: ['r3', 'r1'] });
    t.runs.setBaseline('r2');
    expect(await t.actions.compare()).toBe(true);
    expect(t.requests.at(-1)?.params).toEqual({ runIds: ['r2', 'r3', 'r1'] });
    expect(t.runs.get().compare?.runs.map((r) => r.id)).toEqual(['r2', 'r3', 'r1']);
    // A pinned run that no longer exists is left out.
    t.runs.setBaseline('gone');
    await t.actions.compare();
    expect(t.requests.at(-1)?.params).toEqual({ runIds: ['r3', 'r1'] });
  });

  it('loads the picked columns when the Runs tab shows, as after a reload', async () => {
    const t = setup();
    t.runs.setRuns([summary('r1')]);
    t.runs.setView({ fields: ['tasks.k'] });
    render(
      <RunsContext.Provider value={t.runs}>
        <RunsTab actions={t.actions} onCompared={() => undefined} />
      </RunsContext.Provider>,
    );
    await act(t.settle);
    expect(t.requests).toEqual([{ channel: 'runs.table', params: { fields: ['tasks.k'] } }]);
    const k = screen.getByTestId('run-r1').querySelector('td[data-col="field:tasks.k"]');
    expect(k?.textContent).toBe('9');
  });
});
