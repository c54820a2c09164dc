import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LATENTS_SUMMARY_KEY } from '../../../src/shared/schemas/latents.ts';
import { decodeWeightsArtifact } from '../../../src/main/engine/export/artifact.ts';
import { run } from '../../../src/main/nodes/sample-generate.ts';
import { run as drawTasks } from '../../../src/main/nodes/tasks-generate.ts';
import {
  expectInputError,
  metric,
  nodeContext,
  output,
  TinyChain,
  TINY,
  wire,
} from '../../helpers/nodes.ts';

const chain = new TinyChain();
const runId = `node-test-${process.pid}`;
afterAll(async () => {
  await chain.dispose();
  fs.rmSync(path.join(os.tmpdir(), 'd2nwg-artifacts', runId), { recursive: true, force: true });
});

async function inputs() {
  return {
    ...(await chain.trained()),
    encoder: await chain.encoder(),
    diffusion: await chain.diffusion(),
  };
}

describe('sample.generate', () => {
  it('samples ranked weight vectors per target task and writes one weights artifact per task', async () => {
    const ins = await inputs();
    const config = { ...TINY.sampler, splits: ['seen', 'unseen-class'], samplesPerTask: 3 };
    const { ctx, recorded } = nodeContext({ runId, nodeId: 'sampler', config });
    const res = await run(ctx, wire(ins));
    const w = output(res, 'weights', 'weights');
    const size = ins.zoo.zoo.manifest.layout.size;
    const t = ins.tasks.tasks;
    expect(w.method).toBe('d2nwg');
    expect(w.layout.size).toBe(size);
    expect(w.producedBy).toEqual({ runId, nodeId: 'sampler' });
    expect(w.classNames).toEqual(ins.tasks.classNames);
    expect(w.perTask.map((p) => p.task.id)).toEqual([t.seen[0].id, t.unseenClass[0].id]);
    for (const p of w.perTask) {
      expect(p.vectors).toHaveLength(3);
      for (const v of p.vectors) {
        expect(v).toHaveLength(size);
        expect(v.every(Number.isFinite)).toBe(true);
      }
      // Ranked by accuracy on the task's training samples, best first.
      const acc = p.supportAccuracy ?? [];
      expect(acc).toHaveLength(3);
      expect([...acc].sort((a, b) => b - a)).toEqual(acc);
      expect(p.testAccuracy).toHaveLength(3);
      for (const a of [...acc, ...(p.testAccuracy ?? [])]) expect(a).toBeGreaterThanOrEqual(0);
    }
    expect(metric(res, 'tasks')).toBe(2);
    expect(metric(res, 'samples')).toBe(6);
    expect(metric(res, 'bestTrainAccuracy/seen')).toBe(w.perTask[0].supportAccuracy?.[0]);
    expect(res.summary?.splits).toEqual(['seen', 'unseen-class']);
    expect(res.summary?.[LATENTS_SUMMARY_KEY]).toBeTypeOf('object');
    // The artifacts hold exactly the ranked vectors.
    expect(recorded.artifacts.map((a) => a.kind)).toEqual(['weights', 'weights']);
    for (const [i, a] of recorded.artifacts.entries()) {
      const bytes = fs.readFileSync(a.path);
      expect(a.bytes).toBe(bytes.length);
      expect(a.shape).toEqual([3, size]);
      const decoded = decodeWeightsArtifact(new Uint8Array(bytes), a.meta, a.path);
      expect(decoded.vectors).toEqual(w.perTask[i].vectors);
    }
  });

  it('gives the same samples for the same seed', async () => {
    const ins = await inputs();
    const once = async () => {
      const { ctx } = nodeContext({ runId, nodeId: 'again', config: TINY.sampler });
      return output(await run(ctx, wire(ins)), 'weights', 'weights').perTask[0].vectors;
    };
    expect(await once()).toEqual(await once());
  });

  it('refuses a split its Tasks input drew no task of, naming the node', async () => {
    const { ctx: tctx } = nodeContext({ config: { ...TINY.tasks, numUnseenCombo: 0 } });
    const tasks = output(
      await drawTasks(tctx, wire({ dataset: await chain.dataset() })),
      'tasks',
      'tasks',
    );
    const { ctx } = nodeContext({
      runId,
      nodeId: 'sampler',
      config: { ...TINY.sampler, splits: ['unseen-combo'] },
    });
    await expectInputError(
      run(ctx, wire({ ...(await inputs()), tasks })),
      /^sampler: the Tasks node drew no 'unseen-combo' tasks/,
    );
  });

  it("head 'class': the output rows are generated from the support set, body untouched", async () => {
    const ins = await inputs();
    const run1 = async (head: string, nodeId: string) => {
      const config = {
        ...TINY.sampler,
        splits: ['unseen-class'],
        samplesPerTask: 2,
        rank: false,
        head,
        classHead: { steps: 10, batchMembers: 2, queryPerClass: 2 },
      };
      const { ctx } = nodeContext({ runId, nodeId, config });
      return output(await run(ctx, wire(ins)), 'weights', 'weights').perTask[0].vectors;
    };
    const generated = await run1('generated', 'plain');
    const classed = await run1('class', 'classed');
    const layout = ins.zoo.zoo.manifest.layout;
    const headStart = layout.params[layout.params.length - 2].offset;
    expect(classed).toHaveLength(2);
    classed.forEach((v, i) => {
      expect(Array.from(v.subarray(0, headStart))).toEqual(
        Array.from(generated[i].subarray(0, headStart)),
      );
      expect(Array.from(v.subarray(headStart))).not.toEqual(
        Array.from(generated[i].subarray(headStart)),
      );
      expect(v.every(Number.isFinite)).toBe(true);
    });
    const { ctx } = nodeContext({
      runId,
      nodeId: 'sampler',
      config: { ...TINY.sampler, head: 'class', headFrom: 'train' },
    });
    await expectInputError(run(ctx, wire(ins)), /perClass to tasks\.nTrain/);
  });
});
