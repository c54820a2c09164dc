/**
 * Worker-thread entry for zoo training: each job is one run (task × seed). Checkpoint buffers are
 * transferred back to the parent, not copied.
 */
import { serveJobs } from '../workers/serve.ts';
import { trainMember, type MemberJob } from './train-member.ts';

serveJobs(async (payload, ctx) => {
  const result = await trainMember(payload as MemberJob, (m) => ctx.post(m));
  const transfer = result.checkpoints.flatMap((c) =>
    c.params.buffer instanceof ArrayBuffer ? [c.params.buffer] : [],
  );
  return { result, transfer };
});
