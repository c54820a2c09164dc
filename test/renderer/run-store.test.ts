// The renderer's live run store: events are folded in per frame, and what did not change keeps
// its identity (so only the nodes whose state changed re-render).
import { describe, expect, it } from 'vitest';
import type { RunEventMessage } from '../../src/shared/ipc.ts';
import { LATENTS_FORMAT } from '../../src/shared/schemas/latents.ts';
import { MAX_LIVE_POINTS, RunStore, lossPoints } from '../../src/renderer/src/lib/run-store.ts';

function store() {
  const pending: (() => void)[] = [];
  const s = new RunStore((f) => pending.push(f));
  let notified = 0;
  s.subscribe(() => notified++);
  return {
    s,
    frame: () => pending.splice(0).forEach((f) => f()),
    pending: () => pending.length,
    notified: () => notified,
  };
}

const msg = (event: RunEventMessage['event']): RunEventMessage => ({ runId: 'r', event });
/** The runStart message of run 'r' over these nodes. */
const runStart = (nodeIds: string[]): RunEventMessage =>
  msg({ type: 'runStart', runId: 'r', pipeline: 'p', nodeIds, seed: 0, backend: 'cpu' });

describe('RunStore', () => {
  it('folds a burst of events in one flush and notifies once', () => {
    const { s, frame, pending, notified } = store();
    s.push(runStart(['a', 'b']));
    s.push(msg({ type: 'nodeStart', runId: 'r', nodeId: 'a' }));
    for (let i = 1; i <= 5; i++) {
      s.push(
        msg({
          type: 'nodeProgress',
          runId: 'r',
          nodeId: 'a',
          value: i,
          max: 5,
          unit: 'epoch',
          label: 'vae',
          metrics: { loss: 1 / i, kl: 3 },
        }),
      );
    }
    expect(pending()).toBe(1);
    expect(s.nodeState('r', 'a')).toBeUndefined();
    frame();
    expect(notified()).toBe(1);
    expect(s.nodeState('r', 'a')).toEqual({
      status: 'running',
      progress: { value: 5, max: 5, label: 'vae' },
    });
    expect(s.nodeState('r', 'b')).toEqual({ status: 'queued' });
    const live = s.liveOf('r');
    expect([...live.keys()]).toEqual(['a\u0000vae:loss']);
    expect(live.get('a\u0000vae:loss')).toMatchObject({
      nodeId: 'a',
      key: 'vae:loss',
      x: [1, 2, 3, 4, 5],
    });
  });

  it('keeps the state object of a node no event touched', () => {
    const { s, frame } = store();
    s.push(runStart(['a', 'b']));
    frame();
    const b = s.nodeState('r', 'b');
    const liveBefore = s.liveOf('r');
    s.push(msg({ type: 'nodeStart', runId: 'r', nodeId: 'a' }));
    frame();
    expect(s.nodeState('r', 'b')).toBe(b);
    expect(s.nodeState('r', 'a')).toEqual({ status: 'running' });
    expect(s.liveOf('r')).toBe(liveBefore);
    expect(s.statesOf('other')).toBe(s.statesOf(null));
  });

  it('ends unfinished nodes with the run and records latent maps of finished nodes', () => {
    const { s, frame } = store();
    const latents = {
      format: LATENTS_FORMAT,
      version: 1 as const,
      method: 'pca' as const,
      latentDim: 2,
      explained: [0.9, 0.1] as [number, number],
      tasks: ['t'],
      zoo: { x: [0], y: [0], task: [0] },
      dropped: 0,
      thinned: 0,
    };
    s.push(runStart(['vae', 'b', 'c']));
    s.push(
      msg({ type: 'nodeFinish', runId: 'r', nodeId: 'vae', durationS: 1, summary: { latents } }),
    );
    s.push(msg({ type: 'nodeStart', runId: 'r', nodeId: 'b' }));
    s.push(msg({ type: 'runDone', runId: 'r', status: 'failed', durationS: 2 }));
    frame();
    expect(s.latentsOf('r')).toEqual([{ runId: 'r', nodeId: 'vae', projection: latents }]);
    expect(s.nodeState('r', 'vae')?.status).toBe('done');
    expect(s.nodeState('r', 'b')).toEqual({ status: 'skipped', message: 'failed' });
    expect(s.nodeState('r', 'c')).toEqual({ status: 'skipped', message: 'failed' });
  });

  it('caps live curves and the log', () => {
    const { s, frame } = store();
    for (let i = 0; i < MAX_LIVE_POINTS + 10; i++) {
      s.push(
        msg({
          type: 'nodeProgress',
          runId: 'r',
          nodeId: 'a',
          value: i,
          max: 1e6,
          unit: 'step',
          metrics: { loss: 1 },
        }),
      );
    }
    s.log({ time: '2025-01-01T00:00:00Z', level: 'error', message: 'boom' });
    frame();
    const c = s.liveOf('r').get('a\u0000loss');
    expect(c?.x).toHaveLength(MAX_LIVE_POINTS);
    expect(c?.x[0]).toBe(10);
    expect(s.logs().map((l) => l.message)).toEqual(['boom']);
  });

  it('keys loss points by stage (label without its counter) and keeps only finite losses', () => {
    expect(
      lossPoints({
        type: 'nodeProgress',
        runId: 'r',
        nodeId: 'zoo',
        value: 3,
        max: 9,
        unit: 'member',
        label: 'member 3/9',
        metrics: { loss: 0.5, acc: 0.9, 'val-loss': Number.NaN },
      }),
    ).toEqual([{ id: 'zoo\u0000member:loss', key: 'member:loss', y: 0.5 }]);
  });
});
