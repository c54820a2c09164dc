import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { executeSweep, sweepCommand } from '../../../../src/main/cli/commands/sweep.ts';
import { openStore } from '../../../../src/main/store/index.ts';
import { writeSweepPipeline } from '../../../helpers/sweeps.ts';
import { textSink } from '../../../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-sweep-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SET = 'features.extractor.components=2,4,6';

describe('d2nwg sweep', () => {
  it('runs a 3-point grid as a group, reusing upstream nodes, and prints the table and id', async () => {
    const db = path.join(tmp, 'grid.db');
    const out = textSink();
    const err = textSink();
    const outcome = await executeSweep({
      target: { file: writeSweepPipeline(tmp), set: [SET], runSeed: 4 },
      dbPath: db,
      dataDir: tmp,
      out,
      err,
    });
    expect(outcome.code).toBe(0);
    expect(outcome.status).toBe('done');
    const text = out.text();
    // Nothing recorded yet in this store: the estimate is unknown.
    expect(text).toContain(
      `sweep ${outcome.sweepId}: 3 runs over features.extractor.components; estimate unknown`,
    );
    expect(text).toContain(`sweep id: ${outcome.sweepId}`);
    const lines = text.split('\n');
    const head = lines.findIndex((l) => l.startsWith('point'));
    expect(lines[head]).toMatch(/^point\s+features\.extractor\.components\s+status\s+run\s+\S/);
    const rows = lines.slice(head + 2, head + 5).map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual([
      ['0', '2', 'done'],
      ['1', '4', 'done'],
      ['2', '6', 'done'],
    ]);
    // A key metric per point: a number, different across points (the features differ).
    expect(rows.every((r) => Number.isFinite(Number(r[4])))).toBe(true);
    expect(new Set(rows.map((r) => r[4])).size).toBeGreaterThan(1);
    expect(err.text()).toContain('point 3/3: features.extractor.components=6');

    const store = openStore(db);
    try {
      const sweep = store.sweeps.get(outcome.sweepId ?? '');
      expect(sweep?.status).toBe('done');
      expect(sweep?.points).toBe(3);
      const runs = store.sweeps.runs(outcome.sweepId ?? '');
      expect(runs.map((r) => [r.sweepPoint, r.status])).toEqual([
        [0, 'done'],
        [1, 'done'],
        [2, 'done'],
      ]);
      for (const [i, r] of runs.entries()) {
        const detail = store.getRun(r.id);
        expect(detail?.seed).toBe(4);
        expect(detail?.name).toBe(`sweepy · features.extractor.components=${2 * i + 2}`);
        const cached = Object.fromEntries(detail?.nodes.map((n) => [n.nodeId, n.cached]) ?? []);
        // The first point computes everything; later ones reuse data and tasks from the cache.
        expect(cached).toEqual({
          data: i > 0,
          tasks: i > 0,
          features: false,
          ncm: false,
          compare: false,
        });
      }
    } finally {
      store.close();
    }

    // A second sweep in the same store has timings to estimate from.
    const again = textSink();
    await executeSweep({
      target: { file: writeSweepPipeline(tmp), set: ['features.extractor.components=2,4'] },
      dbPath: db,
      dataDir: tmp,
      out: again,
      err: textSink(),
    });
    expect(again.text()).toMatch(
      /2 runs over features\.extractor\.components; estimate (< 1|≈ \d+) min/,
    );
  });

  it('resumes after a cancel: finished points are not run again', async () => {
    const db = path.join(tmp, 'resume.db');
    const ac = new AbortController();
    const first = await executeSweep({
      target: { file: writeSweepPipeline(tmp), set: [SET] },
      dbPath: db,
      dataDir: tmp,
      out: textSink(),
      err: textSink(),
      signal: ac.signal,
      onPoint: () => ac.abort(),
    });
    expect(first.code).toBe(1);
    expect(first.status).toBe('cancelled');
    const id = first.sweepId ?? '';
    let before: string[];
    {
      const store = openStore(db);
      before = store.sweeps.runs(id).map((r) => `${r.sweepPoint}:${r.status}:${r.id}`);
      expect(store.sweeps.get(id)?.status).toBe('cancelled');
      store.close();
    }
    expect(before).toHaveLength(1);
    expect(before[0]).toMatch(/^0:done:/);

    // Through the command, by a prefix of the id.
    const code = await sweepCommand.run([
      '--resume',
      id.slice(0, -2),
      '--db',
      db,
      '--data-dir',
      tmp,
    ]);
    expect(code).toBe(0);
    const store = openStore(db);
    try {
      expect(store.sweeps.get(id)?.status).toBe('done');
      const runs = store.sweeps.runs(id);
      expect(runs.map((r) => [r.sweepPoint, r.status])).toEqual([
        [0, 'done'],
        [1, 'done'],
        [2, 'done'],
      ]);
      // Point 0 kept its one run.
      expect(`${runs[0].sweepPoint}:${runs[0].status}:${runs[0].id}`).toBe(before[0]);
    } finally {
      store.close();
    }

    const noop = textSink();
    const again = await executeSweep({
      target: { resume: id },
      dbPath: db,
      dataDir: tmp,
      out: noop,
      err: textSink(),
    });
    expect(again.code).toBe(0);
    expect(noop.text()).toContain('every point is done; nothing to resume');
  });

  it('an interrupted sweep (its process gone) is marked so at the next open', () => {
    const db = path.join(tmp, 'dead.db');
    const store = openStore(db);
    const s = store.sweeps.create({
      name: 'x',
      spec: { mode: 'grid', params: [{ path: 'tasks.k', values: [3] }] },
      pipeline: {},
      seed: 0,
      points: 1,
    });
    store.sweeps.claim(s.id);
    store.close();
    const reopened = openStore(db, { isProcessAlive: () => false });
    try {
      expect(reopened.interruptedSweepsAtOpen).toEqual([s.id]);
      expect(reopened.sweeps.get(s.id)?.status).toBe('interrupted');
    } finally {
      reopened.close();
    }
  });

  it('refuses an unknown field before running, suggesting the key meant (exit 2)', async () => {
    await expect(
      executeSweep({
        target: { file: writeSweepPipeline(tmp), set: ['tasks.nTrian=5,6'] },
        dbPath: path.join(tmp, 'bad.db'),
        dataDir: tmp,
        out: textSink(),
        err: textSink(),
      }),
    ).rejects.toThrow('the sweep cannot run: tasks: `nTrian`: unknown key; did you mean `nTrain`?');
  });
});
