import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ArchitectureSchema } from '../../../../src/shared/schemas/zoo.ts';
import {
  forwardMacs,
  resolveArchitecture,
  type Layout,
} from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { evaluateMany } from '../../../../src/main/engine/nn/train.ts';
import { finetuneCurves, type FinetuneJob } from '../../../../src/main/engine/eval/finetune.ts';
import {
  chunkRanges,
  closeEvalPool,
  EVAL_THREADS_ENV,
  evalThreads,
  evaluateRowsThreaded,
  MIN_THREADED_MACS,
} from '../../../../src/main/engine/eval/threads.ts';
import { CancelledError, InputError, NumericError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import type { Progress } from '../../../../src/main/engine/progress.ts';
import { taskSamples, tinyLayouts } from '../fixtures/task-samples.ts';

const { mlp, cnn } = tinyLayouts(6);

/** Three tasks × three inits, each job with its task's own shuffling stream. */
function jobsFor(layout: Layout): FinetuneJob[] {
  return [1, 2, 3].flatMap((t) => {
    const train = taskSamples(layout, t, 0, 48);
    const test = taskSamples(layout, t, 1, 30);
    return [5, 6, 7].map((s) => ({
      init: initParams(layout, new Rng(s)),
      task: { xTrain: train.x, yTrain: train.y, xTest: test.x, yTest: test.y },
      rng: new Rng(100 + t),
    }));
  });
}

const saved = process.env[EVAL_THREADS_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[EVAL_THREADS_ENV];
  else process.env[EVAL_THREADS_ENV] = saved;
});
afterAll(() => closeEvalPool());

describe('evaluation threads', () => {
  it('fine-tune the same curves in 3 threads as on this thread (MLP and CNN), progress to the end', async () => {
    for (const layout of [mlp, cnn]) {
      const args = { layout, maxEpoch: 3, lr: 1e-2, batchSize: 16 };
      process.env[EVAL_THREADS_ENV] = '1';
      const here = await finetuneCurves({ ...args, jobs: jobsFor(layout) });
      process.env[EVAL_THREADS_ENV] = '3';
      const seen: Progress[] = [];
      const jobs = jobsFor(layout);
      const threaded = await finetuneCurves({
        ...args,
        jobs,
        control: { onProgress: (p) => seen.push(p) },
      });
      expect(threaded).toHaveLength(9);
      threaded.forEach((c, i) => {
        expect(c.accuracy).toEqual(here[i].accuracy);
        c.loss.forEach((l, e) => expect(l).toBeCloseTo(here[i].loss[e], 5));
        c.trainLoss.slice(1).forEach((l, e) => expect(l).toBeCloseTo(here[i].trainLoss[e + 1], 5));
      });
      // Different inits learn differently: the chunks did not hand back one member's curve.
      expect(new Set(threaded.map((c) => c.loss[3])).size).toBe(9);
      expect(seen.map((p) => p.value)).toEqual([1, 2, 3]);
      expect(seen.every((p) => p.max === 3 && p.unit === 'epoch')).toBe(true);
      // The callers' streams are not advanced by the threaded route.
      expect(jobs[0].rng.state()).toEqual(new Rng(101).state());
    }
  }, 120_000);

  it('score checkpoints in threads exactly as on this thread, in row order', async () => {
    const s = taskSamples(cnn, 4, 0, 40);
    const rows = Array.from({ length: 7 }, (_, i) => initParams(cnn, new Rng(30 + i)));
    const here = await evaluateMany(cnn, rows, s.x, s.y);
    const threaded = await evaluateRowsThreaded(cnn, rows, s.x, s.y, 2);
    expect(threaded).toEqual(here);
  });

  it('name the member whose loss went NaN, from inside a thread', async () => {
    process.env[EVAL_THREADS_ENV] = '2';
    const jobs = jobsFor(mlp);
    const bad = Float32Array.from(jobs[7].init);
    bad[0] = Number.NaN;
    jobs[7] = { ...jobs[7], init: bad };
    const err = await finetuneCurves({ layout: mlp, jobs, maxEpoch: 2, lr: 1e-2, batchSize: 16 })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NumericError);
    expect((err as Error).message).toMatch(/not finite|NaN/);
  });

  it('stop every chunk when the run is cancelled', async () => {
    process.env[EVAL_THREADS_ENV] = '2';
    const ac = new AbortController();
    const run = finetuneCurves({
      layout: cnn,
      jobs: jobsFor(cnn),
      maxEpoch: 200,
      lr: 1e-2,
      batchSize: 16,
      control: { signal: ac.signal, onProgress: (p) => p.value >= 1 && ac.abort() },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
  });

  it('choose threads from the work, the backend and D2NWG_EVAL_THREADS', () => {
    expect(evalThreads(MIN_THREADED_MACS / 10, 50, {})).toBe(1);
    expect(evalThreads(1e12, 1, { [EVAL_THREADS_ENV]: '4' })).toBe(1);
    expect(evalThreads(1, 50, { [EVAL_THREADS_ENV]: '2' })).toBe(2);
    expect(evalThreads(1e12, 50, { [EVAL_THREADS_ENV]: '1' })).toBe(1);
    expect(() => evalThreads(1e12, 50, { [EVAL_THREADS_ENV]: 'two' })).toThrow(InputError);
    expect(() => evalThreads(1e12, 50, { [EVAL_THREADS_ENV]: '0' })).toThrow(/positive integer/);
    expect(chunkRanges(7, 3)).toEqual([
      [0, 2],
      [2, 4],
      [4, 7],
    ]);
    expect(chunkRanges(2, 3)).toEqual([
      [0, 1],
      [1, 2],
    ]);
    // The standard-cnn CNN: three stride-2 convolutions and the dense head.
    const std = resolveArchitecture(
      ArchitectureSchema.parse({ kind: 'cnn', channels: [8, 16, 8], kernelSize: 3 }),
      [28, 28, 1],
      5,
    );
    expect(forwardMacs(std)).toBe(14 * 14 * 9 * 8 + 7 * 7 * 9 * 8 * 16 + 4 * 4 * 9 * 16 * 8 + 40);
    expect(forwardMacs(mlp.arch)).toBe(12 * 8 + 8 * 3);
  });
});
