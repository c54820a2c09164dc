import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineHost } from '../../../src/main/host/engine-host.ts';
import { fakeEntry, pipelineNamed } from '../api/fixtures/make-api.ts';

let host: EngineHost | undefined;
afterEach(async () => {
  await host?.dispose();
  host = undefined;
});

/** The idle workers the host keeps between runs (private; read here to count listeners). */
const idleOf = (h: EngineHost) => (h as unknown as { idle: Worker[] }).idle;

/** A run's promise settles on runDone; the worker is back in the idle list a moment later. */
async function settled(h: EngineHost): Promise<Worker> {
  for (let i = 0; i < 200 && idleOf(h).length === 0; i++)
    await new Promise((r) => setTimeout(r, 5));
  const [w] = idleOf(h);
  if (!w) throw new Error('worker never went idle');
  return w;
}

describe('engine host listeners', () => {
  it('adds no listener per run to a reused worker (20 runs, no MaxListenersExceededWarning)', async () => {
    host = new EngineHost({ workerData: { entry: fakeEntry } });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const run = (i: number) =>
        host?.submit(
          {
            runId: `r${i}`,
            pipeline: pipelineNamed('ok'),
            seed: i,
            dataDir: '.',
            paths: { kind: 'unrestricted', dataDir: '.' },
          },
          () => {},
        );
      expect(await run(0)).toBe('done');
      const worker = await settled(host);
      const before = {
        exit: worker.listenerCount('exit'),
        message: worker.listenerCount('message'),
        error: worker.listenerCount('error'),
      };
      for (let i = 1; i <= 20; i++) {
        expect(await run(i)).toBe('done');
        expect(await settled(host)).toBe(worker);
      }
      expect(idleOf(host)).toEqual([worker]);
      expect({
        exit: worker.listenerCount('exit'),
        message: worker.listenerCount('message'),
        error: worker.listenerCount('error'),
      }).toEqual(before);
      await new Promise((r) => setTimeout(r, 20));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
