/**
 * Weight export for the API: finds a node's `weights` artifacts (store convention, see
 * engine/export/artifact.ts: one per task, every sample ranked, with the feature pipeline and the
 * task), and exports the best sample per task or all of them through exportRunWeights, into
 * `<folder>/<run id>/` (suffixed when it exists). The preview runs the same export in a scratch
 * folder, so what the dialog shows is exactly what an export writes.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { ExportPreview, ExportResult } from '../../shared/ipc.ts';
import type { StoredArtifact } from '../../shared/runs.ts';
import { decodeWeightsArtifact } from '../engine/export/artifact.ts';
import { exportRunWeights, type RunExportResult } from '../engine/export/run.ts';
import { NotFoundError } from './dispatch.ts';
import type { ExportArgs, StudioExporter } from './ports.ts';

/** Reads artifact rows the API does not carry (meta), by artifact id. */
export type ArtifactMetaReader = (artifactId: string) => unknown;

/** The weights artifacts of `nodeId`, or of the node that stored the run's last one. */
function pickArtifacts(artifacts: readonly StoredArtifact[], nodeId?: string): StoredArtifact[] {
  const weights = artifacts.filter((a) => a.kind === 'weights' && (!nodeId || a.nodeId === nodeId));
  const last = weights.at(-1);
  if (!last) {
    throw new NotFoundError(
      nodeId
        ? `node '${nodeId}' of this run stored no weights`
        : 'this run stored no weights (run a pipeline with a Sample or Export node first)',
    );
  }
  return weights.filter((a) => a.nodeId === last.nodeId);
}

async function exportRun(
  args: Omit<ExportArgs, 'folder'>,
  folder: string,
  readMeta: ArtifactMetaReader,
): Promise<RunExportResult> {
  const picked = pickArtifacts(args.run.artifacts, args.nodeId);
  const sources = await Promise.all(
    picked.map(async (a) => ({
      decoded: decodeWeightsArtifact(
        new Uint8Array(await readFile(a.path)),
        readMeta(a.id),
        `artifact ${a.id}`,
      ),
      nodeId: a.nodeId,
      artifactId: a.id,
    })),
  );
  return exportRunWeights({
    runId: args.run.id,
    sources,
    select: args.select ?? 'best',
    format: args.format,
    root: folder,
  });
}

async function listFiles(r: RunExportResult) {
  const paths = r.exports.flatMap((e) => e.files);
  return Promise.all(
    paths.map(async (p) => ({ name: relative(r.folder, p), bytes: (await stat(p)).size })),
  );
}

/** The exporter the API uses; `readMeta` comes from the store. */
export function createExporter(readMeta: ArtifactMetaReader): StudioExporter {
  return {
    async preview(args): Promise<ExportPreview> {
      const scratch = await mkdtemp(join(tmpdir(), 'd2nwg-export-preview-'));
      try {
        const r = await exportRun(args, scratch, readMeta);
        return {
          manifest: r.exports[0].manifest as unknown as Record<string, unknown>,
          files: await listFiles(r),
        };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    async exportWeights(args): Promise<ExportResult> {
      const r = await exportRun(args, args.folder, readMeta);
      return {
        folder: r.folder,
        manifest: r.exports[0].manifest as unknown as Record<string, unknown>,
        files: await listFiles(r),
      };
    },
  };
}
