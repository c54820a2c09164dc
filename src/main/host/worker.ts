/**
 * Body of the engine host worker thread. It owns tfjs and the executor's output cache, runs one
 * pipeline at a time and stays alive between runs, so an edit-and-rerun reuses everything upstream
 * of the edit. A crash (or a cancel that does not stop in time) costs only this worker: the host
 * starts a fresh one for the next run.
 *
 * The thread runs at a lower CPU priority than the thread that started it (thread-priority.mjs):
 * its start-up (module loading, the tensor backend's compilation) and its training would otherwise
 * compete as equals with the server's event loop, whose API requests then stall on a busy machine.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, HostWorkerData, RunInHost, ToWorker } from './protocol.ts';
import { lowerThreadPriority } from './thread-priority.mjs';
import { errorMessage } from '../../shared/errors.ts';

lowerThreadPriority();

const port = parentPort;
if (!port) throw new Error('engine host worker started outside a worker thread');
const data = (workerData ?? {}) as HostWorkerData;
let controller: AbortController | null = null;

function send(msg: FromWorker): void {
  port?.postMessage(msg);
}

async function loadEntry(): Promise<RunInHost> {
  if (data.entry) {
    const mod = (await import(/* @vite-ignore */ data.entry)) as { runInHost: RunInHost };
    return mod.runInHost;
  }
  const mod = await import('./engine-entry.ts');
  return mod.runInHost;
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'cancel') {
    controller?.abort();
    return;
  }
  const own = new AbortController();
  controller = own;
  void (async () => {
    try {
      const runInHost = await loadEntry();
      await runInHost(msg.request, (event) => send({ type: 'event', event }), own.signal);
      send({ type: 'finished' });
    } catch (err) {
      send({ type: 'failed', message: errorMessage(err) });
    } finally {
      if (controller === own) controller = null;
    }
  })();
});
