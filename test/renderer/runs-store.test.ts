// The runs store: whether a run is in flight (derived from what the page started and saw end),
// which run Export opens, the row selection, and the runs table's view kept across sessions.
import { describe, expect, it } from 'vitest';
import {
  RunsStore,
  exportTarget,
  runActive,
} from '../../src/renderer/src/features/runs/runs-store.ts';
import { DEFAULT_VIEW } from '../../src/renderer/src/features/runs/runs-table.ts';
import type { RunSummary } from '../../src/shared/ipc.ts';

const summary = (id: string, status: RunSummary['status']): RunSummary => ({
  id,
  name: 'toy',
  tags: [],
  notes: '',
  status,
  seed: 0,
  backend: 'wasm',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: null,
});

describe('runs store', () => {
  it('is active from a start until that run ends', () => {
    const runs = new RunsStore();
    expect(runActive(runs.get())).toBe(false);
    runs.started('r1');
    expect(runs.get().activeRunId).toBe('r1');
    expect(runActive(runs.get())).toBe(true);
    runs.ended('other');
    expect(runActive(runs.get())).toBe(true);
    runs.ended('r1');
    expect(runActive(runs.get())).toBe(false);
  });

  it('stays inactive when the end event arrives before the start reply', () => {
    const runs = new RunsStore();
    runs.ended('r1');
    runs.started('r1');
    expect(runs.get().activeRunId).toBe('r1');
    expect(runActive(runs.get())).toBe(false);
  });

  it('is not active while showing a past run, and active again on a re-run', () => {
    const runs = new RunsStore();
    runs.started('r1');
    runs.show('r0');
    expect(runActive(runs.get())).toBe(false);
    runs.started('r2');
    expect(runActive(runs.get())).toBe(true);
  });

  it('exports the one selected run, else the shown run, else the newest finished one', () => {
    const runs = new RunsStore();
    expect(exportTarget(runs.get())).toBeNull();
    runs.setRuns([summary('r3', 'failed'), summary('r2', 'done'), summary('r1', 'done')]);
    expect(exportTarget(runs.get())).toBe('r2');
    runs.show('r3');
    expect(exportTarget(runs.get())).toBe('r3');
    runs.toggle('r1');
    expect(exportTarget(runs.get())).toBe('r1');
    runs.toggle('r2');
    expect(exportTarget(runs.get())).toBe('r3');
  });

  it('toggles and clears the selection, and keeps seeds whole and non-negative', () => {
    const runs = new RunsStore();
    runs.toggle('a');
    runs.toggle('b');
    runs.toggle('a');
    expect([...runs.get().selected]).toEqual(['b']);
    runs.clearSelection();
    expect(runs.get().selected.size).toBe(0);
    runs.setSeed(12.7);
    expect(runs.get().seed).toBe(12);
    runs.setSeed(-3);
    expect(runs.get().seed).toBe(0);
    runs.setSeed(Number(''));
    expect(runs.get().seed).toBe(0);
    runs.setSeed(Number.NaN);
    expect(runs.get().seed).toBe(0);
  });
});

/** A Web Storage stand-in: a Map behind getItem/setItem, as localStorage behaves. */
class MapStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

describe('runs table view across sessions', () => {
  it('keeps the picked columns, epoch and sort, but not the filters', () => {
    const storage = new MapStorage();
    const first = new RunsStore(storage);
    expect(first.get().view).toEqual(DEFAULT_VIEW);
    first.setView({
      fields: ['tasks.k'],
      metrics: ['seen/d2nwg'],
      epoch: 5,
      sort: { column: 'metric:seen/d2nwg', dir: 'desc' },
      search: 'lr',
      tag: 'keep',
      status: 'done',
    });
    const next = new RunsStore(storage);
    expect(next.get().view).toEqual({
      ...DEFAULT_VIEW,
      fields: ['tasks.k'],
      metrics: ['seen/d2nwg'],
      epoch: 5,
      sort: { column: 'metric:seen/d2nwg', dir: 'desc' },
    });
  });

  it('falls back to the defaults on anything it did not write', () => {
    for (const text of ['not json', '{"sort":1}', JSON.stringify({ fields: 'x' }), '[]']) {
      const storage = new MapStorage();
      storage.setItem('d2nwg.runs.view', text);
      expect(new RunsStore(storage).get().view).toEqual(DEFAULT_VIEW);
    }
    // Unknown keys are refused too (another version's shape).
    const storage = new MapStorage();
    storage.setItem(
      'd2nwg.runs.view',
      JSON.stringify({
        sort: { column: 'name', dir: 'asc' },
        fields: [],
        metrics: [],
        epoch: null,
        extra: 1,
      }),
    );
    expect(new RunsStore(storage).get().view).toEqual(DEFAULT_VIEW);
  });

  it('goes on without a storage that throws', () => {
    const broken = {
      getItem: (): string | null => {
        throw new Error('denied');
      },
      setItem: (): void => {
        throw new Error('quota');
      },
    };
    const runs = new RunsStore(broken);
    runs.setView({ fields: ['a.b'] });
    expect(runs.get().view.fields).toEqual(['a.b']);
  });
});
