/**
 * Weight export for the API: finds a run's `weights` artifact (store convention: a safetensors
 * file with one F32 tensor `params` of shape [size] or [n, size], `meta.arch` = the resolved
 * architecture), picks a sample, and hands it to E2's exportWeights. The preview computes the
 * same manifest in a scratch folder, so what the dialog shows is exactly what an export writes.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { ArtifactInfo, ExportPreview, ExportResult } from '../../shared/ipc.ts';
import { ResolvedArchitectureSchema } from '../../shared/schemas/zoo.ts';
import { InputError } from '../engine/errors.ts';
import { exportWeights } from '../engine/export/index.ts';
import { decodeSafetensors, toF32 } from '../engine/formats/safetensors.ts';
import { layoutOf } from '../engine/nn/architecture.ts';
import { NotFoundError } from './dispatch.ts';
import type { ExportArgs, StudioExporter } from './ports.ts';

const WeightsMetaSchema = z.object({
  arch: ResolvedArchitectureSchema,
  dataset: z.string().optional(),
  head: z.string().optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  sampleMetrics: z.array(z.record(z.string(), z.number())).optional(),
});

/** Reads artifact rows the API does not carry (meta), by artifact id. */
export type ArtifactMetaReader = (artifactId: string) => unknown;

function pickArtifact(artifacts: readonly ArtifactInfo[], nodeId?: string): ArtifactInfo {
  const weights = artifacts.filter((a) => a.kind === 'weights' && (!nodeId || a.nodeId === nodeId));
  const chosen = weights.at(-1);
  if (!chosen) {
    throw new NotFoundError(
      nodeId
        ? `node '${nodeId}' of this run stored no weights`
        : 'this run stored no weights (run a pipeline with a Sample or Export node first)',
    );
  }
  return chosen;
}

async function loadWeights(args: Omit<ExportArgs, 'folder'>, readMeta: ArtifactMetaReader) {
  const artifact = pickArtifact(args.run.artifacts, args.nodeId);
  const meta = WeightsMetaSchema.safeParse(readMeta(artifact.id));
  if (!meta.success) {
    throw new InputError(
      `weights artifact has no usable architecture: ${meta.error.issues[0]?.message ?? 'invalid meta'}`,
      `artifact ${artifact.id}`,
    );
  }
  const { tensors } = decodeSafetensors(await readFile(artifact.path), artifact.path);
  const t = tensors.params;
  if (!t) throw new InputError("no tensor named 'params'", artifact.path);
  const all = toF32(t);
  const layout = layoutOf(meta.data.arch);
  const rows = t.shape.length === 2 ? t.shape[0] : 1;
  // Best sample by accuracy when per-sample metrics exist, else the first.
  let best = 0;
  const sm = meta.data.sampleMetrics ?? [];
  for (let i = 0; i < Math.min(rows, sm.length); i++) {
    if ((sm[i].accuracy ?? -Infinity) > (sm[best]?.accuracy ?? -Infinity)) best = i;
  }
  const params = all.slice(best * layout.size, (best + 1) * layout.size);
  return {
    layout,
    params,
    manifest: {
      sourceRunId: args.run.id,
      sourceNodeId: artifact.nodeId,
      dataset: meta.data.dataset ?? null,
      head: meta.data.head ?? null,
      metrics: sm[best] ?? meta.data.metrics ?? {},
    },
  };
}

async function listFiles(paths: readonly string[]) {
  return Promise.all(paths.map(async (p) => ({ name: basename(p), bytes: (await stat(p)).size })));
}

/** The exporter the API uses; `readMeta` comes from the store. */
export function createExporter(readMeta: ArtifactMetaReader): StudioExporter {
  return {
    async preview(args): Promise<ExportPreview> {
      const w = await loadWeights(args, readMeta);
      const scratch = await mkdtemp(join(tmpdir(), 'd2nwg-export-preview-'));
      try {
        const r = await exportWeights({ ...w, format: args.format, outDir: scratch });
        return {
          manifest: r.manifest as unknown as Record<string, unknown>,
          files: await listFiles(r.files),
        };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    async exportWeights(args): Promise<ExportResult> {
      const w = await loadWeights(args, readMeta);
      const r = await exportWeights({ ...w, format: args.format, outDir: args.folder });
      return {
        folder: r.outDir,
        manifest: r.manifest as unknown as Record<string, unknown>,
        files: await listFiles(r.files),
      };
    },
  };
}
