/**
 * Worker-thread entry of the evaluation pool (threads.ts): evaluates a chunk of checkpoints, or
 * fine-tunes a chunk of inits, with the same functions the calling thread would use.
 */
import { Rng } from '../rng.ts';
import { evaluateMany } from '../nn/train.ts';
import { serveJobs } from '../workers/serve.ts';
import { finetuneCurvesHere } from './finetune.ts';
import type { EvalJob, FinetuneProgressMessage } from './threads.ts';

serveJobs(async (payload, ctx) => {
  const job = payload as EvalJob;
  if (job.kind === 'evaluate') {
    return { result: await evaluateMany(job.layout, job.rows, job.x, job.y) };
  }
  const curves = await finetuneCurvesHere({
    layout: job.layout,
    jobs: job.members.map((m) => ({
      init: m.init,
      task: { xTrain: m.xTrain, yTrain: m.yTrain, xTest: m.xTest, yTest: m.yTest },
      rng: Rng.fromState(m.rng),
    })),
    maxEpoch: job.maxEpoch,
    lr: job.lr,
    batchSize: job.batchSize,
    control: {
      onProgress: (p) => {
        const m: FinetuneProgressMessage = {
          epoch: p.value,
          ...(p.metrics?.testAcc !== undefined ? { testAcc: p.metrics.testAcc } : {}),
        };
        ctx.post(m);
      },
    },
  });
  return { result: curves };
});
