// The engine runs at a lower CPU priority than the server's thread, so that its start-up (module
// loading, the tensor backend's compilation) and its training do not stall API requests on a busy
// machine. Thread priorities are per thread only on Linux; elsewhere nothing is changed.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/shared/events.ts';
import { EngineHost } from '../../../src/main/host/engine-host.ts';
import { ENGINE_NICE_OFFSET, threadNice } from '../../../src/main/host/thread-priority.mjs';
import { fakeEntry, pipelineNamed } from '../api/fixtures/make-api.ts';

const linux = process.platform === 'linux';
const helper = new URL('../../../src/main/host/thread-priority.mjs', import.meta.url).href;

let host: EngineHost | undefined;
afterEach(async () => {
  await host?.dispose();
  host = undefined;
});

/** Run `body` (module code, may use `lower`, `nice` and `post`) in a fresh worker thread. */
function inThread(body: string): Promise<unknown> {
  const code = [
    `import { parentPort, Worker } from 'node:worker_threads';`,
    `import { lowerThreadPriority as lower, threadNice as nice } from ${JSON.stringify(helper)};`,
    `const post = (v) => parentPort.postMessage(v);`,
    body,
  ].join('\n');
  const url = new URL(`data:text/javascript,${encodeURIComponent(code)}`);
  return new Promise((resolve, reject) => {
    const w = new Worker(url);
    w.once('message', (v: unknown) => {
      resolve(v);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('engine thread priority', () => {
  it.runIf(linux)(
    'the engine host runs pipelines below the priority of its own thread',
    async () => {
      const mine = threadNice();
      expect(mine).not.toBeNull();
      host = new EngineHost({ workerData: { entry: fakeEntry } });
      const events: RunEvent[] = [];
      const status = await host.submit(
        {
          runId: 'r1',
          pipeline: pipelineNamed('nice'),
          seed: 0,
          dataDir: '.',
          paths: { kind: 'unrestricted', dataDir: '.' },
        },
        (e) => events.push(e),
      );
      expect(status).toBe('done');
      const reported = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
      expect(reported).toEqual([`nice ${Math.min(19, (mine ?? 0) + ENGINE_NICE_OFFSET)}`]);
      // The thread that started the engine (here the test's, in web mode the server's) keeps its own.
      expect(threadNice()).toBe(mine);
    },
  );

  it.runIf(linux)('lowers a thread once, and threads it starts afterwards inherit it', async () => {
    const start = threadNice() ?? 0;
    const result = await inThread(
      [
        `const before = nice();`,
        `const first = lower();`,
        `const second = lower();`,
        `const child = new Worker('import { parentPort } from "node:worker_threads";' +`,
        `  'import { threadNice } from ' + JSON.stringify(${JSON.stringify(helper)}) + ';' +`,
        `  'parentPort.postMessage(threadNice());', { eval: true });`,
        `child.once('message', (inherited) => { post({ before, first, second, inherited }); void child.terminate(); });`,
      ].join('\n'),
    );
    const lowered = Math.min(19, start + ENGINE_NICE_OFFSET);
    expect(result).toEqual({ before: start, first: lowered, second: lowered, inherited: lowered });
  });

  it.runIf(!linux)('changes nothing where threads have no priority of their own', async () => {
    expect(await inThread(`post({ first: lower(), now: nice() });`)).toEqual({
      first: null,
      now: null,
    });
  });
});
