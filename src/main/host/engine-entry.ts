/**
 * The real engine behind the host worker: initialises the tensor backend once per worker and runs
 * pipelines with the graph executor, the node registry and run functions, keeping a per-worker output
 * cache between runs (MemoryNodeCache keeps only what the latest run used).
 */
import type { RunEvent } from '../../shared/events.ts';
import { registry } from '../../shared/nodes/registry.ts';
import { initBackend } from '../engine/backend.ts';
import { MemoryNodeCache } from '../graph/cache.ts';
import { runPipeline } from '../graph/executor.ts';
import { runners, type PortValue } from '../nodes/index.ts';
import { policyFromSpec } from '../paths/policy.ts';
import type { RunInHost } from './protocol.ts';
import { errorMessage } from '../../shared/errors.ts';

const cache = new MemoryNodeCache<PortValue>();

export const runInHost: RunInHost = async (request, onEvent, signal) => {
  const backend = await initBackend({ quiet: true });
  let sawDone = false;
  const emit = (e: RunEvent) => {
    if (e.type === 'runDone') sawDone = true;
    onEvent(e);
  };
  try {
    await runPipeline<PortValue>({
      pipeline: request.pipeline,
      registry,
      runners,
      seed: request.seed,
      signal,
      onEvent: emit,
      cache,
      runId: request.runId,
      dataDir: request.dataDir,
      paths: policyFromSpec(request.paths),
      backend: backend.name,
    });
  } catch (err) {
    // Validation failures (or executor bugs) happen before runStart: report them as a failed run.
    if (sawDone) throw err;
    const message = errorMessage(err);
    onEvent({ type: 'log', runId: request.runId, level: 'error', message });
    onEvent({ type: 'runDone', runId: request.runId, status: 'failed', durationS: 0 });
  }
};
