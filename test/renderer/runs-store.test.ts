// The runs store: whether a run is in flight (derived from what the page started and saw end),
// which run Export opens, and the row selection.
import { describe, expect, it } from 'vitest';
import {
  RunsStore,
  exportTarget,
  runActive,
} from '../../src/renderer/src/features/runs/runs-store.ts';
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
