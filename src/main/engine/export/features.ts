/**
 * The feature pipeline that travels with exported weights, so an export runs on raw inputs: the
 * generated classifiers take the feature extractor's output (e.g. 32 PCA components), which a user
 * outside the app cannot compute without the extractor's fitted state.
 *
 * Every extractor the app fits is one affine map of the raw sample, written here as three steps
 * applied in this order (each tensor is named as in the safetensors export):
 *
 *   x = raw * features.input_scale          (pixel scaling, e.g. 1/255 for uint8 images)
 *   x = x - features.mean                   [D]      (absent: no centring)
 *   x = x @ features.basis                  [D, k]   (PCA axes; absent: identity)
 *   x = x * features.scale                  [k or D] (whitening or 1/std; absent: 1)
 *
 * The resulting vector is what the first layer of the generated model consumes.
 */
import type { FeatureState } from '../../../shared/schemas/features.ts';
import { InputError } from '../errors.ts';

/** Extractor state as the export needs it; all arrays float32, shapes in the doc comment above. */
export interface ExportFeatures {
  /** Extractor kind it came from ('pca' | 'pixels'). */
  readonly kind: string;
  /** Shape of one raw sample ([h, w, c] for images); it is fed flattened in that order. */
  readonly inputShape: readonly number[];
  /** Multiplier from raw values to the values the extractor was fitted on (1/255 for u8 pixels). */
  readonly inputScale: number;
  /** [D] or null. */
  readonly mean: Float32Array | null;
  /** Row-major [D, k] or null. */
  readonly basis: Float32Array | null;
  /** [k] (or [D] without basis) or null. */
  readonly scale: Float32Array | null;
}

/** Length of one raw sample. */
export function rawDim(f: ExportFeatures): number {
  return f.inputShape.reduce((a, b) => a * b, 1);
}

/** Length of the feature vector the model consumes. */
export function featureDim(f: ExportFeatures): number {
  const d = rawDim(f);
  return f.basis ? f.basis.length / d : d;
}

/**
 * The export form of a fitted extractor. `inputScale` says how the dataset loader scaled raw
 * values (1/255 for u8 pixels); the scales match engine/features exactly (same std floor and
 * whitening floor), so the export computes the features the model was generated for.
 */
export function exportFeaturesOf(state: FeatureState, inputScale: number): ExportFeatures {
  const inputShape = [...state.inputShape];
  if (state.kind === 'pixels') {
    if (!state.standardise || !state.mean || !state.std) {
      return { kind: 'pixels', inputShape, inputScale, mean: null, basis: null, scale: null };
    }
    return {
      kind: 'pixels',
      inputShape,
      inputScale,
      mean: Float32Array.from(state.mean),
      basis: null,
      scale: Float32Array.from(state.std, (s) => 1 / Math.max(s, 1e-6)),
    };
  }
  const floor = 1e-6 * Math.max(state.eigenvalues[0] ?? 0, 1e-30);
  return {
    kind: 'pca',
    inputShape,
    inputScale,
    mean: Float32Array.from(state.mean),
    basis: Float32Array.from(state.basis),
    scale: state.whiten
      ? Float32Array.from(state.eigenvalues, (v) => 1 / Math.sqrt(Math.max(v, floor)))
      : null,
  };
}

/** Check shapes and finiteness; `modelInputs` is what the first layer expects. */
export function checkFeatures(f: ExportFeatures, modelInputs: number): void {
  const d = rawDim(f);
  const k = featureDim(f);
  const bad = !(Number.isFinite(f.inputScale) && f.inputScale > 0)
    ? `input scale ${f.inputScale} is not a positive number`
    : f.mean && f.mean.length !== d
      ? `mean has ${f.mean.length} values, expected ${d}`
      : f.basis && !Number.isInteger(k)
        ? `basis has ${f.basis.length} values, not a multiple of ${d}`
        : f.scale && f.scale.length !== k
          ? `scale has ${f.scale.length} values, expected ${k}`
          : k !== modelInputs
            ? `the features have ${k} values but the model takes ${modelInputs}`
            : null;
  if (bad) throw new InputError(`feature pipeline: ${bad}`, 'features');
  for (const [name, a] of [
    ['mean', f.mean],
    ['basis', f.basis],
    ['scale', f.scale],
  ] as const) {
    if (a && !a.every(Number.isFinite)) {
      throw new InputError(`feature pipeline: ${name} has non-finite values`, 'features');
    }
  }
}

/** The pipeline's tensors, safetensors names and shapes, in application order. */
export function featureTensors(
  f: ExportFeatures,
): { name: string; shape: number[]; data: Float32Array<ArrayBufferLike> }[] {
  const d = rawDim(f);
  const k = featureDim(f);
  const out: { name: string; shape: number[]; data: Float32Array<ArrayBufferLike> }[] = [
    { name: 'features.input_scale', shape: [1], data: Float32Array.of(f.inputScale) },
  ];
  if (f.mean) out.push({ name: 'features.mean', shape: [d], data: f.mean });
  if (f.basis) out.push({ name: 'features.basis', shape: [d, k], data: f.basis });
  if (f.scale) out.push({ name: 'features.scale', shape: [k], data: f.scale });
  return out;
}

/**
 * The whole pipeline folded into one affine map y = raw @ W + b (W [D, k], b [k]), for formats
 * whose first layer is a Dense layer (tfjs). Computed in float64, stored as float32.
 */
export function foldFeatures(f: ExportFeatures): { kernel: Float32Array; bias: Float32Array } {
  const d = rawDim(f);
  const k = featureDim(f);
  const kernel = new Float32Array(d * k);
  const bias = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    const s = f.scale ? f.scale[j] : 1;
    let b = 0;
    for (let i = 0; i < d; i++) {
      const w = f.basis ? f.basis[i * k + j] : i === j ? 1 : 0;
      kernel[i * k + j] = f.inputScale * w * s;
      if (f.mean) b -= f.mean[i] * w;
    }
    bias[j] = b * s;
  }
  return { kernel, bias };
}

/** Apply the pipeline to `n` raw rows in JS (float32 steps, as the exported graphs do). */
export function applyFeatures(f: ExportFeatures, raw: Float32Array, n: number): Float32Array {
  const d = rawDim(f);
  const k = featureDim(f);
  const out = new Float32Array(n * k);
  const row = new Float32Array(d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      row[i] = Math.fround(raw[r * d + i] * f.inputScale) - (f.mean ? f.mean[i] : 0);
    }
    for (let j = 0; j < k; j++) {
      let v = 0;
      if (f.basis) for (let i = 0; i < d; i++) v += row[i] * f.basis[i * k + j];
      else v = row[j];
      out[r * k + j] = v * (f.scale ? f.scale[j] : 1);
    }
  }
  return out;
}

/** PyTorch lines computing the features from `x` (raw, flattened), for the manifest's module. */
export function torchFeatureLines(f: ExportFeatures, indent: string): string[] {
  return [
    `${indent}x = x.flatten(1).float() * self.input_scale`,
    ...(f.mean ? [`${indent}x = x - self.mean`] : []),
    ...(f.basis ? [`${indent}x = x @ self.basis`] : []),
    ...(f.scale ? [`${indent}x = x * self.scale`] : []),
  ];
}

/** Manifest description of the expected input. */
export function describeInput(f: ExportFeatures): Record<string, unknown> {
  const d = rawDim(f);
  const u8 = Math.abs(f.inputScale * 255 - 1) < 1e-9;
  return {
    shape: ['n', d],
    sampleShape: [...f.inputShape],
    layout:
      f.inputShape.length === 3
        ? 'each image flattened in H, W, C order (row-major; for one channel simply the pixels row by row)'
        : 'each sample flattened row-major',
    dtype: 'float32',
    values: u8
      ? 'raw pixel values 0..255 (uint8 cast to float32); the model multiplies by features.input_scale = 1/255 itself'
      : `raw values; the model multiplies them by features.input_scale = ${f.inputScale}`,
    scale: f.inputScale,
  };
}

/**
 * The raw-value multiplier for a dataset source kind: image sources are read as u8 pixels and
 * scaled by 1/255 (engine/data); feature files (csv, npy) are used as they are.
 */
export function inputScaleOf(sourceKind: string): number {
  return sourceKind === 'fashion-mnist' || sourceKind === 'idx' || sourceKind === 'imagefolder'
    ? 1 / 255
    : 1;
}
