/**
 * Export a run's stored weights (its `weights` artifacts, one per task) in one go: every sample or
 * the best of each task, into `<root>/<run id>/<task>/sample-NNN/`. The run folder is claimed
 * fresh (`<run id>-2`… when it exists), so a second export never overwrites the first. Used by
 * `d2nwg runs export` and the app's export dialog; the Export node does the same from port values.
 */
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.ts';
import type { DecodedWeightsArtifact } from './artifact.ts';
import { exportWeights, type ExportFormat, type ExportResult } from './index.ts';
import { reserveExportFolder, resolveOutDir } from './paths.ts';
import type { ExportFs } from './write.ts';
import type { ExportSelect } from '../../../shared/ipc.ts';

/** 'best': the best sample per task (by training-set or predicted accuracy, never test); 'all'. */
export { EXPORT_SELECTS, type ExportSelect } from '../../../shared/ipc.ts';

/** One decoded `weights` artifact and where it came from. */
export interface RunExportSource {
  readonly decoded: DecodedWeightsArtifact;
  /** Node that stored it. */
  readonly nodeId: string | null;
  /** Artifact id, used as the folder name when the artifact names no task. */
  readonly artifactId: string;
}

export interface RunExportArgs {
  readonly runId: string;
  readonly sources: readonly RunExportSource[];
  readonly select: ExportSelect;
  /** Export only this sample index of each artifact (overrides `select`). */
  readonly sample?: number;
  readonly format: ExportFormat;
  /** Folder that receives `<run id>/`; relative paths resolve against `baseDir` or the cwd. */
  readonly root: string;
  /** When given, `root` must resolve inside it. */
  readonly baseDir?: string;
  /** Metrics of the producing node, added to every manifest under the sample's own. */
  readonly nodeMetrics?: Readonly<Record<string, number>>;
  readonly io?: ExportFs;
}

export interface RunExportResult {
  /** The run's export folder (`<root>/<run id>` or a suffixed one). */
  readonly folder: string;
  /** One per exported sample, in order. */
  readonly exports: readonly ExportResult[];
}

/** Index of the best sample: highest supportAccuracy, else predictedAccuracy, else 0. */
export function bestSample(d: DecodedWeightsArtifact): number {
  const sm = d.meta.sampleMetrics ?? [];
  for (const key of ['supportAccuracy', 'predictedAccuracy']) {
    let best = -1;
    for (let i = 0; i < Math.min(sm.length, d.vectors.length); i++) {
      const v = sm[i][key];
      if (v !== undefined && (best < 0 || v > (sm[best][key] ?? -Infinity))) best = i;
    }
    if (best >= 0) return best;
  }
  return 0;
}

function safeName(s: string): string {
  return s.replace(/[^\w.-]+/g, '_');
}

/** Export the selected samples of `sources`; see the file comment. */
export async function exportRunWeights(args: RunExportArgs): Promise<RunExportResult> {
  if (args.sources.length === 0) throw new InputError('the run stored no weights to export');
  for (const s of args.sources) {
    if (
      args.sample !== undefined &&
      !(args.sample >= 0 && args.sample < s.decoded.vectors.length)
    ) {
      throw new InputError(
        `sample must be in 0..${s.decoded.vectors.length - 1}, got ${args.sample}`,
        `artifact ${s.artifactId}`,
      );
    }
  }
  const root = resolveOutDir(args.root, args.baseDir);
  const folder = await reserveExportFolder(root, safeName(args.runId));
  const exports: ExportResult[] = [];
  try {
    await exportAll(args, folder, exports);
  } catch (err) {
    // Nothing written: give the claimed folder back (rmdir only removes it when empty).
    if (exports.length === 0) await rmdir(folder).catch(() => undefined);
    throw err;
  }
  return { folder, exports };
}

async function exportAll(
  args: RunExportArgs,
  folder: string,
  exports: ExportResult[],
): Promise<void> {
  const names = new Set<string>();
  for (const s of args.sources) {
    const d = s.decoded;
    const picks =
      args.sample !== undefined
        ? [args.sample]
        : args.select === 'best'
          ? [bestSample(d)]
          : d.vectors.map((_, i) => i);
    let sub = safeName(d.meta.task?.id ?? s.artifactId);
    while (names.has(sub)) sub = `${sub}_`;
    names.add(sub);
    for (const i of picks) {
      const own = d.meta.sampleMetrics?.[i] ?? {};
      const test = own.testAccuracy;
      const metrics: Record<string, number> = {
        ...args.nodeMetrics,
        ...d.meta.metrics,
        ...own,
        ...(test !== undefined ? { accuracy: test } : {}),
      };
      const r = await exportWeights({
        layout: d.layout,
        params: d.vectors[i],
        format: args.format,
        outDir: path.join(folder, sub, `sample-${String(i).padStart(3, '0')}`),
        features: d.features,
        manifest: {
          sourceRunId: args.runId,
          sourceNodeId: s.nodeId,
          dataset: d.meta.dataset ?? null,
          head: d.meta.head ?? null,
          task: d.meta.task ?? null,
          accuracyOn: test !== undefined ? (d.meta.accuracyOn ?? null) : null,
          metrics,
        },
        ...(args.io ? { io: args.io } : {}),
      });
      exports.push(r);
    }
  }
}
