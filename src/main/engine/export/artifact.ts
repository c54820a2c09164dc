/**
 * The `weights` artifact convention (documented at the top of src/main/store/index.ts): a
 * safetensors payload with one F32 tensor `params` of shape [size] or [n, size], plus a JSON meta
 * holding the architecture and layout. Producers (trainer, sampler nodes) encode with
 * `encodeWeightsArtifact`; `d2nwg runs export` and the app decode with `decodeWeightsArtifact`,
 * which trusts neither the bytes nor the meta: the layout is recomputed from the architecture and
 * must agree with what was stored.
 */
import { z } from 'zod';
import { formatIssues } from '../../../shared/issues.ts';
import { ResolvedArchitectureSchema } from '../../../shared/schemas/zoo.ts';
import { InputError } from '../errors.ts';
import { decodeSafetensors, encodeSafetensors, toF32 } from '../formats/safetensors.ts';
import { layoutOf, type Architecture, type Layout } from '../nn/architecture.ts';
import { featureTensors, type ExportFeatures } from './features.ts';
import type { ExportTask } from './index.ts';

const MetricsSchema = z.record(z.string(), z.number());

/** meta of a `weights` artifact. */
export const WeightsArtifactMetaSchema = z.looseObject({
  /** The architecture the vectors are for. */
  arch: ResolvedArchitectureSchema,
  /** layoutOf(arch) as stored by the producer; checked against the recomputed one. */
  layout: z
    .looseObject({
      size: z.number().int(),
      params: z.array(
        z.looseObject({ name: z.string(), offset: z.number().int(), size: z.number().int() }),
      ),
    })
    .optional(),
  /** One line describing the conditioning dataset. */
  dataset: z.string().optional(),
  /** How the output layer was made when not as generated, e.g. 'discriminant (train)'. */
  head: z.string().optional(),
  /** Metrics of the whole artifact (e.g. mean accuracy of the samples). */
  metrics: MetricsSchema.optional(),
  /** Metrics per row of an [n, size] artifact. */
  sampleMetrics: z.array(MetricsSchema).optional(),
  /** What the `testAccuracy` sample metric was measured on, in words. */
  accuracyOn: z.string().optional(),
  /** The conditioning task; classNames[j] is the class of output j. */
  task: z
    .object({
      id: z.string(),
      split: z.string().optional(),
      classes: z.array(z.number().int().min(0)),
      classNames: z.array(z.string()),
    })
    .optional(),
  /** The feature pipeline; its arrays are the payload's `features.*` tensors. */
  features: z
    .object({
      kind: z.string(),
      inputShape: z.array(z.number().int().min(1)).min(1),
      inputScale: z.number().positive(),
    })
    .optional(),
});
export type WeightsArtifactMeta = z.output<typeof WeightsArtifactMetaSchema>;

/** Name of the single tensor in a weights payload. */
export const WEIGHTS_TENSOR = 'params';

export interface EncodedWeightsArtifact {
  /** safetensors bytes, for store.putArtifact({ kind: 'weights', bytes }). */
  readonly bytes: Uint8Array;
  /** [size] or [n, size], for the artifact's shape column. */
  readonly shape: number[];
  /** For the artifact's meta column. */
  readonly meta: WeightsArtifactMeta;
}

/** Extra facts stored with the weights. */
export interface WeightsArtifactExtras {
  /** One line describing the conditioning dataset. */
  readonly dataset?: string;
  /** How the output layer was made when not as generated. */
  readonly head?: string;
  /** Metrics of the whole artifact. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Metrics per vector, same order as `vectors`. */
  readonly sampleMetrics?: readonly Readonly<Record<string, number>>[];
  /** What `testAccuracy` in sampleMetrics was measured on. */
  readonly accuracyOn?: string;
  /** The conditioning task. */
  readonly task?: ExportTask;
  /** The feature pipeline the vectors' inputs go through. */
  readonly features?: ExportFeatures | null;
}

/**
 * Encode one vector (shape [size]) or several (shape [n, size]) for the store. All vectors must
 * have the layout's length.
 */
export function encodeWeightsArtifact(
  layout: Layout,
  vectors: Float32Array | readonly Float32Array[],
  extras: WeightsArtifactExtras = {},
): EncodedWeightsArtifact {
  const list = vectors instanceof Float32Array ? [vectors] : vectors;
  if (list.length === 0) throw new InputError('no weight vectors to store', 'weights artifact');
  const data = new Float32Array(list.length * layout.size);
  list.forEach((v, i) => {
    if (v.length !== layout.size) {
      throw new InputError(
        `vector ${i} has ${v.length} values, the layout needs ${layout.size}`,
        'weights artifact',
      );
    }
    data.set(v, i * layout.size);
  });
  const shape = vectors instanceof Float32Array ? [layout.size] : [list.length, layout.size];
  const a = layout.arch;
  const meta: WeightsArtifactMeta = {
    arch:
      a.kind === 'mlp'
        ? { ...a, hidden: [...a.hidden] }
        : {
            ...a,
            inputShape: [a.inputShape[0], a.inputShape[1], a.inputShape[2]],
            channels: [...a.channels],
          },
    layout: {
      size: layout.size,
      params: layout.params.map((p) => ({
        name: p.name,
        shape: [...p.shape],
        offset: p.offset,
        size: p.size,
      })),
    },
    ...(extras.dataset !== undefined ? { dataset: extras.dataset } : {}),
    ...(extras.head !== undefined ? { head: extras.head } : {}),
    ...(extras.metrics !== undefined ? { metrics: { ...extras.metrics } } : {}),
    ...(extras.sampleMetrics !== undefined
      ? { sampleMetrics: extras.sampleMetrics.map((m) => ({ ...m })) }
      : {}),
    ...(extras.accuracyOn !== undefined ? { accuracyOn: extras.accuracyOn } : {}),
    ...(extras.task
      ? {
          task: {
            id: extras.task.id,
            ...(extras.task.split !== undefined ? { split: extras.task.split } : {}),
            classes: [...extras.task.classes],
            classNames: [...extras.task.classNames],
          },
        }
      : {}),
    ...(extras.features
      ? {
          features: {
            kind: extras.features.kind,
            inputShape: [...extras.features.inputShape],
            inputScale: extras.features.inputScale,
          },
        }
      : {}),
  };
  const extra = extras.features
    ? Object.fromEntries(
        featureTensors(extras.features)
          .filter((t) => t.name !== 'features.input_scale')
          .map((t) => [t.name, { dtype: 'F32' as const, shape: t.shape, data: t.data }]),
      )
    : {};
  const bytes = encodeSafetensors(
    { [WEIGHTS_TENSOR]: { dtype: 'F32', shape, data }, ...extra },
    { d2nwg: 'weights', architecture: JSON.stringify(layout.arch) },
  );
  return { bytes, shape, meta };
}

/** A decoded weights artifact: the layout and each vector. */
export interface DecodedWeightsArtifact {
  readonly layout: Layout;
  readonly vectors: Float32Array[];
  readonly meta: WeightsArtifactMeta;
  /** The feature pipeline, when the artifact carries one. */
  readonly features: ExportFeatures | null;
}

/** Decode and cross-check a weights payload and its meta; `where` labels errors. */
export function decodeWeightsArtifact(
  bytes: Uint8Array,
  rawMeta: unknown,
  where: string,
): DecodedWeightsArtifact {
  const parsed = WeightsArtifactMetaSchema.safeParse(rawMeta);
  if (!parsed.success) {
    throw new InputError(
      `meta is not a weights description: ${formatIssues(parsed.error).join('; ')}`,
      where,
    );
  }
  const meta = parsed.data;
  const arch: Architecture = meta.arch;
  const layout = layoutOf(arch);
  if (meta.layout) {
    const stored = meta.layout;
    const same =
      stored.size === layout.size &&
      stored.params.length === layout.params.length &&
      stored.params.every(
        (p, i) =>
          p.name === layout.params[i].name &&
          p.offset === layout.params[i].offset &&
          p.size === layout.params[i].size,
      );
    if (!same)
      throw new InputError('stored layout does not match the layout of its architecture', where);
  }
  const { tensors } = decodeSafetensors(bytes, where, { checkFinite: false });
  const t = tensors[WEIGHTS_TENSOR];
  if (!t) {
    throw new InputError(
      `no '${WEIGHTS_TENSOR}' tensor (has: ${Object.keys(tensors).join(', ') || 'none'})`,
      where,
    );
  }
  const rows = t.shape.length === 1 ? 1 : t.shape.length === 2 ? t.shape[0] : -1;
  const cols = t.shape[t.shape.length - 1];
  if (rows < 0 || cols !== layout.size) {
    throw new InputError(
      `'${WEIGHTS_TENSOR}' has shape [${t.shape.join(', ')}], expected [${layout.size}] or [n, ${layout.size}]`,
      where,
    );
  }
  const flat = toF32(t);
  const vectors: Float32Array[] = [];
  for (let i = 0; i < rows; i++) vectors.push(flat.slice(i * cols, (i + 1) * cols));
  const f = meta.features;
  const opt = (name: string) => {
    const x = tensors[`features.${name}`];
    return x ? toF32(x) : null;
  };
  const features: ExportFeatures | null = f
    ? {
        kind: f.kind,
        inputShape: f.inputShape,
        inputScale: f.inputScale,
        mean: opt('mean'),
        basis: opt('basis'),
        scale: opt('scale'),
      }
    : null;
  return { layout, vectors, meta, features };
}
