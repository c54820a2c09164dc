/**
 * `d2nwg worker --queue redis://HOST:PORT`: serve a build's zoo batches from a Redis queue, on
 * this machine or any other that reaches the Redis. Runs until Ctrl-C or SIGTERM.
 */
import * as path from 'node:path';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { initBackend } from '../../engine/backend.ts';
import { InputError } from '../../engine/errors.ts';
import { DEFAULT_QUEUE_NAME } from '../../engine/zoo/executor.ts';
import { writeJsonReport } from '../../engine/formats/atomic.ts';
import { benchmarks } from './bench.ts';

/**
 * `d2nwg bench queue [--queue URL] [--rounds N] [--large-rounds N] [--jobs N] [--backend NAME]
 * [--out FILE]`.
 */
async function queueBenchmark(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'bench queue',
    argv,
    {
      out: { type: 'string' },
      queue: { type: 'string' },
      backend: { type: 'string' },
      rounds: { type: 'string' },
      jobs: { type: 'string' },
      'large-rounds': { type: 'string' },
    },
    false,
  );
  const out = values.out ?? path.join('bench', 'out', 'queue.json');
  const rounds = intFlag(values.rounds, 'rounds', 2);
  const jobs = intFlag(values.jobs, 'jobs', 2000);
  const largeRounds = intFlag(values['large-rounds'], 'large-rounds', 1);
  if (rounds < 1 || jobs < 1) throw new InputError('--rounds and --jobs must be at least 1');
  if (largeRounds < 0) throw new InputError('--large-rounds must be 0 (skip) or more');
  const url = values.queue ?? process.env.D2NWG_QUEUE;
  if (url) {
    const { parseQueueTarget } = await import('../../engine/queue/connection.ts');
    parseQueueTarget(url);
  }
  await initBackend({ backend: values.backend, quiet: true });
  const { runQueueBenchmark } = await import('../../engine/queue/bench.ts');
  const report = await runQueueBenchmark({
    url,
    rounds,
    largeRounds,
    jobs,
    log: (l) => console.log(l),
  });
  await writeJsonReport(out, report);
  console.log(`wrote ${out}`);
  return 0;
}

// The queue benchmark lives with the queue code; it joins `d2nwg bench` when the CLI loads.
benchmarks.queue = queueBenchmark;

const USAGE = `Usage:
  d2nwg worker --queue redis://HOST:PORT [--queue-name NAME] [--concurrency N] [--backend NAME]

Takes jobs from a BullMQ queue on Redis, runs them (each on its own thread, on the tensor backend
given) and stores their results in Redis for the process that queued them: zoo training batches,
and the points of sweeps (whole pipeline runs). Start any number of workers on any machines that
reach the Redis; a build or sweep started with
  d2nwg zoo build … --queue redis://HOST:PORT      (or D2NWG_QUEUE=redis://HOST:PORT)
  d2nwg sweep PIPELINE.json --set … --queue redis://HOST:PORT
spreads its jobs over them. A worker that dies mid-job loses its lock and the job goes to
another worker after D2NWG_QUEUE_LOCK_MS (default 30000) and the next stalled check
(D2NWG_QUEUE_STALLED_MS, default 15000).

  --queue URL         the Redis (default: D2NWG_QUEUE)
  --queue-name NAME   queue to serve (default: D2NWG_QUEUE_NAME, else '${DEFAULT_QUEUE_NAME}')
  --concurrency N     jobs trained at once (default 1)
  --backend NAME      tensor backend (default: D2NWG_BACKEND, else auto)

Stops on Ctrl-C or SIGTERM after the jobs in hand. Exit codes: 0 stopped, 1 failed, 2 bad input.`;

export const workerCommand: CliCommand = {
  name: 'worker',
  summary: 'run zoo training and sweep jobs from a Redis queue (scale-out over machines)',
  usage: USAGE,
  async run(argv) {
    const { values } = parseCliArgs(
      'worker',
      argv,
      {
        queue: { type: 'string' },
        'queue-name': { type: 'string' },
        concurrency: { type: 'string' },
        backend: { type: 'string' },
      },
      false,
    );
    const url = values.queue ?? process.env.D2NWG_QUEUE;
    if (!url) throw new InputError('--queue redis://HOST:PORT is required', 'd2nwg worker');
    // Loaded here, not at the top: the rest of the CLI does not need the Redis client.
    const { lockSettingsFromEnv, parseQueueTarget } =
      await import('../../engine/queue/connection.ts');
    const { startQueueWorker } = await import('../../engine/queue/worker.ts');
    const { sweepPointKind } = await import('../../sweeps/queue.ts');
    const { JOB_KINDS } = await import('../../engine/queue/jobs.ts');
    const target = parseQueueTarget(
      url,
      values['queue-name'] ?? (process.env.D2NWG_QUEUE_NAME || DEFAULT_QUEUE_NAME),
    );
    const concurrency = intFlag(values.concurrency, 'concurrency', 1);
    if (concurrency < 1 || concurrency > 64) {
      throw new InputError(`--concurrency must be in 1..64, got ${concurrency}`);
    }
    const lock = lockSettingsFromEnv();
    await initBackend({ backend: values.backend, quiet: true });
    const worker = await startQueueWorker({
      target,
      concurrency,
      lock,
      kinds: { [JOB_KINDS.sweepPoint]: sweepPointKind({ concurrency }) },
      log: (l) => console.log(l),
    });
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    console.log('stopping: finishing the jobs in hand');
    await worker.close();
    return 0;
  },
};
