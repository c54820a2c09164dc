/**
 * A 2-D picture of the weight VAE's latent space, as stored with a run: the zoo members' latent
 * means and (from the Sampler) the generated samples' latents, projected on the first two
 * principal axes of the zoo latents, each point tagged with its task. The VAE node records the zoo
 * alone; the Sampler records the zoo and its samples on the same axes. It travels in the node's
 * summary under `latents`, so the store keeps it with the run and the app can plot it.
 */
import { z } from 'zod';

/** Value of `format`, so a reader can tell this record from other summary fields. */
export const LATENTS_FORMAT = 'd2nwg-latents-2d';
/** Summary key the projection is stored under. */
export const LATENTS_SUMMARY_KEY = 'latents';
/** At most this many points per set (zoo, samples) are stored; larger sets are thinned evenly. */
export const LATENTS_MAX_POINTS = 5000;

/** Points in the projection plane; `task[i]` indexes the projection's `tasks`. */
export const LatentPoints = z
  .object({
    x: z.array(z.number()),
    y: z.array(z.number()),
    task: z.array(z.number().int().nonnegative()),
  })
  .refine((p) => p.x.length === p.y.length && p.y.length === p.task.length, {
    message: 'x, y and task must have the same length',
  });
export type LatentPoints = z.infer<typeof LatentPoints>;

/** The stored projection (see the module comment). */
export const LatentProjection = z
  .object({
    format: z.literal(LATENTS_FORMAT),
    version: z.literal(1),
    /** How the 2-D axes were found: PCA fitted on the zoo latents only. */
    method: z.literal('pca'),
    /** Size of the latent vectors that were projected. */
    latentDim: z.number().int().positive(),
    /** Fraction of the zoo latents' total variance along each axis (PC1 ≥ PC2). */
    explained: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]),
    /** Task ids; points refer to them by index. Zoo tasks first, then tasks only sampled for. */
    tasks: z.array(z.string()),
    /** Latent means of the zoo members (the checkpoints the VAE was trained on). */
    zoo: LatentPoints,
    /** Latents of generated samples, projected on the zoo's axes. */
    samples: LatentPoints.optional(),
    /** Points left out because their latents were not finite (a diverged model). */
    dropped: z.number().int().nonnegative(),
    /** Points left out to keep the record small (sets above LATENTS_MAX_POINTS are thinned). */
    thinned: z.number().int().nonnegative(),
  })
  .superRefine((p, ctx) => {
    for (const set of ['zoo', 'samples'] as const) {
      const pts = p[set];
      if (!pts) continue;
      const bad = pts.task.findIndex((t) => t >= p.tasks.length);
      if (bad >= 0) {
        ctx.addIssue({
          code: 'custom',
          path: [set, 'task', bad],
          message: `task index ${pts.task[bad]} is out of range (${p.tasks.length} tasks)`,
        });
      }
    }
  });
export type LatentProjection = z.infer<typeof LatentProjection>;

/** The projection in a node summary, or undefined when there is none or it does not parse. */
export function latentsOfSummary(summary: unknown): LatentProjection | undefined {
  if (typeof summary !== 'object' || summary === null) return undefined;
  const value = (summary as Record<string, unknown>)[LATENTS_SUMMARY_KEY];
  if (value === undefined) return undefined;
  const parsed = LatentProjection.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
