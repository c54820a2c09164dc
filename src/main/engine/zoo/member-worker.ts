/**
 * Worker-thread entry for zoo training: each job is a batch of runs (tasks × seeds) trained as one
 * model batch. Checkpoint buffers are transferred back to the parent, not copied.
 */
import { serveJobs } from '../workers/serve.ts';
import { trainMemberBatch, type MemberBatchJob } from './train-member.ts';

serveJobs(async (payload, ctx) => {
  const result = await trainMemberBatch(payload as MemberBatchJob, (m) => ctx.post(m));
  const transfer = result.flatMap((r) =>
    r.checkpoints.flatMap((c) => (c.params.buffer instanceof ArrayBuffer ? [c.params.buffer] : [])),
  );
  return { result, transfer };
});
