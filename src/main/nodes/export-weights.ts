/**
 * Runs export.weights: one export folder per task and sample, through the engine's exporter, all
 * under `<folder>/<run id>/` (or `<run id>-2`… if that exists: an export never overwrites another).
 */
import * as path from 'node:path';
import { exportWeightsSpec } from '../../shared/nodes/export-weights.ts';
import { exportWeights, reserveExportFolder } from '../engine/export/index.ts';
import { throwIfAborted } from '../engine/errors.ts';
import { nodeRunner } from './define.ts';
import { safeName } from './file-names.ts';
import { taskOf, testAccuracyOn } from '../engine/export/task.ts';

export const run = nodeRunner(exportWeightsSpec, async (ctx, inputs) => {
  const weights = inputs.weights;
  // Checked here, at run time, not only by the export dialog: a pipeline file can name any folder.
  const base = await ctx.paths.checkWrite(ctx.config.folder, 'export folder');
  const jobs = weights.perTask.flatMap((t) =>
    (ctx.config.select === 'best' ? t.vectors.slice(0, 1) : t.vectors).map((params, i) => ({
      task: t,
      params,
      i,
    })),
  );
  const root = await reserveExportFolder(base, safeName(ctx.runId));
  const folders: string[] = [];
  let files = 0;
  for (const [j, job] of jobs.entries()) {
    throwIfAborted(ctx.signal);
    const outDir = path.join(
      root,
      safeName(job.task.task.id),
      `sample-${String(job.i).padStart(3, '0')}`,
    );
    const acc = job.task.supportAccuracy?.[job.i];
    const predicted = job.task.predictedAccuracy?.[job.i];
    const test = job.task.testAccuracy?.[job.i];
    const res = await exportWeights({
      layout: weights.layout,
      params: job.params,
      format: ctx.config.format,
      outDir,
      features: weights.features ?? null,
      manifest: {
        sourceRunId: weights.producedBy?.runId ?? ctx.runId,
        sourceNodeId: weights.producedBy?.nodeId ?? ctx.nodeId,
        dataset: `${weights.dataset} task ${job.task.task.id} (classes ${job.task.task.classes.join(', ')})`,
        head: weights.head ?? null,
        task: weights.classNames ? taskOf(job.task.task, weights.classNames) : null,
        accuracyOn: testAccuracyOn(job.task.task),
        metrics: {
          ...(test !== undefined ? { accuracy: test, testAccuracy: test } : {}),
          ...(acc !== undefined ? { supportAccuracy: acc } : {}),
          ...(predicted !== undefined ? { predictedAccuracy: predicted } : {}),
        },
      },
    });
    folders.push(res.outDir);
    for (const f of res.manifest.files) {
      ctx.artifact({
        kind: `export-${ctx.config.format}`,
        path: path.join(res.outDir, f.name),
        bytes: f.bytes,
        sha256: f.sha256,
        meta: { task: job.task.task.id, sample: job.i, method: weights.method },
      });
      files++;
    }
    ctx.artifact({
      kind: 'export-manifest',
      path: path.join(res.outDir, 'manifest.json'),
      meta: { task: job.task.task.id, sample: job.i },
    });
    ctx.progress({ value: j + 1, max: jobs.length, unit: 'model' });
  }
  return {
    outputs: {},
    summary: { folder: root, format: ctx.config.format, metrics: { models: jobs.length, files } },
  };
});
