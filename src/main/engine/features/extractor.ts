/**
 * Feature extractors turn samples into the vectors zoo models and the dataset encoder consume; in
 * the paper this is a frozen CLIP encoder. They are fitted without labels on the train pool only,
 * so unseen tasks get the same features, and they save to one safetensors file (matrices as
 * tensors, the rest as JSON in the header metadata) so a pipeline can reuse a fitted extractor.
 */
import {
  FeatureConfigSchema,
  FeatureStateSchema,
  type FeatureConfig,
  type FeatureConfigInput,
  type FeatureState,
  type PcaState,
  type PixelsState,
} from '../../../shared/schemas/features.ts';
import { formatIssues } from '../../../shared/issues.ts';
import { InputError, throwIfAborted } from '../errors.ts';
import { readSafetensors, writeSafetensors, type StTensor } from '../formats/safetensors.ts';
import type { RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { sampleSize, type LabelledData } from '../data/types.ts';
import { fitPca, pcaTransform } from './pca.ts';

/** A fitted, immutable sample → feature-vector map. Holds no tensors: nothing to dispose. */
export interface FeatureExtractor {
  /** 'pixels' | 'pca' (the config kind it was fitted from). */
  readonly kind: string;
  /** Shape of one input sample. */
  readonly inputShape: readonly number[];
  /** Length of one feature vector. */
  readonly dim: number;
  /** Map `n` row-major samples to n×dim features (asynchronous: PCA reads tensors back). */
  transform(x: Float32Array, n: number): Promise<Float32Array>;
  /** Everything needed to rebuild it (JSON-able). */
  state(): FeatureState;
}

/** Smallest std used when standardising, so constant pixels (image borders) do not blow up. */
const STD_FLOOR = 1e-6;

function checkInput(ex: FeatureExtractor, x: Float32Array, n: number): void {
  const d = ex.inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * d) {
    throw new InputError(
      `${ex.kind} features: expected ${n} samples × ${d} values (shape [${ex.inputShape.join(', ')}]), got ${x.length} values`,
      'features',
    );
  }
}

class PixelsExtractor implements FeatureExtractor {
  readonly kind = 'pixels';
  readonly dim: number;
  private readonly mean?: Float32Array;
  private readonly invStd?: Float32Array;
  constructor(private readonly st: PixelsState) {
    this.dim = st.inputShape.reduce((a, b) => a * b, 1);
    if (st.standardise) {
      if (!st.mean || !st.std || st.mean.length !== this.dim || st.std.length !== this.dim) {
        throw new InputError(
          `pixels state: standardise needs mean and std of length ${this.dim}`,
          'features',
        );
      }
      this.mean = Float32Array.from(st.mean);
      this.invStd = Float32Array.from(st.std, (s) => 1 / Math.max(s, STD_FLOOR));
    }
  }
  get inputShape(): readonly number[] {
    return this.st.inputShape;
  }
  async transform(x: Float32Array, n: number): Promise<Float32Array> {
    checkInput(this, x, n);
    const out = Float32Array.from(x);
    const { mean, invStd } = this;
    if (mean && invStd) {
      const d = this.dim;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) out[i * d + j] = (out[i * d + j] - mean[j]) * invStd[j];
      }
    }
    return out;
  }
  state(): PixelsState {
    return this.st;
  }
}

class PcaExtractor implements FeatureExtractor {
  readonly kind = 'pca';
  readonly dim: number;
  constructor(private readonly st: PcaState) {
    const d = st.inputShape.reduce((a, b) => a * b, 1);
    const k = st.components;
    const bad =
      st.mean.length !== d
        ? `mean has ${st.mean.length} values, expected ${d}`
        : st.basis.length !== d * k
          ? `basis has ${st.basis.length} values, expected ${d}×${k}`
          : st.eigenvalues.length !== k
            ? `eigenvalues has ${st.eigenvalues.length} values, expected ${k}`
            : st.explainedVarianceRatio.length !== k
              ? `explainedVarianceRatio has ${st.explainedVarianceRatio.length} values, expected ${k}`
              : null;
    if (bad) throw new InputError(`pca state: ${bad}`, 'features');
    this.dim = k;
  }
  get inputShape(): readonly number[] {
    return this.st.inputShape;
  }
  async transform(x: Float32Array, n: number): Promise<Float32Array> {
    checkInput(this, x, n);
    return pcaTransform(this.st, x, n);
  }
  state(): PcaState {
    return this.st;
  }
}

/** Parse a feature config (zod); a bad field is an InputError naming `features.<field>`. */
export function parseFeatureConfig(input: unknown): FeatureConfig {
  const r = FeatureConfigSchema.safeParse(input);
  if (!r.success) throw new InputError(formatIssues(r.error, ['features']).join('; '));
  return r.data;
}

/** Rows `fitIndex` of `data.x`, copied into one contiguous array. */
function gatherRows(data: LabelledData, fitIndex: Int32Array): Float32Array {
  const d = sampleSize(data);
  const n = data.labels.length;
  const out = new Float32Array(fitIndex.length * d);
  for (let i = 0; i < fitIndex.length; i++) {
    const s = fitIndex[i];
    if (!(s >= 0 && s < n)) {
      throw new InputError(`fit index ${s} is outside the ${n} samples`, data.source);
    }
    out.set(data.x.subarray(s * d, (s + 1) * d), i * d);
  }
  return out;
}

/**
 * Fit an extractor on the samples `fitIndex` of `data` (pass the train pool, never test samples).
 * Labels are not used. 'image-encoder' is refused until a local model runtime exists.
 */
export async function fitExtractor(
  cfgInput: FeatureConfig | FeatureConfigInput,
  data: LabelledData,
  fitIndex: Int32Array,
  rng: Rng,
  ctl: RunControl = {},
): Promise<FeatureExtractor> {
  const cfg = parseFeatureConfig(cfgInput);
  if (cfg.kind === 'image-encoder') {
    throw new InputError(
      "image-encoder features are not implemented yet; use 'pca' or 'pixels'",
      'features.kind',
    );
  }
  throwIfAborted(ctl.signal);
  if (fitIndex.length === 0) throw new InputError('no samples to fit the extractor on', 'features');
  const inputShape = [...data.sampleShape];
  const x = gatherRows(data, fitIndex);
  const n = fitIndex.length;
  if (cfg.kind === 'pixels') {
    if (!cfg.standardise) {
      return new PixelsExtractor({ kind: 'pixels', version: 1, inputShape, standardise: false });
    }
    const d = sampleSize(data);
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
    for (let j = 0; j < d; j++) mean[j] /= n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) sq[j] += (x[i * d + j] - mean[j]) ** 2;
    }
    const std = Array.from(sq, (s) => Math.max(Math.sqrt(s / Math.max(1, n - 1)), STD_FLOOR));
    if (!std.every(Number.isFinite)) {
      throw new InputError('fitting data contains NaN or Inf values', 'features');
    }
    return new PixelsExtractor({
      kind: 'pixels',
      version: 1,
      inputShape,
      standardise: true,
      mean: Array.from(mean),
      std,
    });
  }
  const st = await fitPca(
    x,
    n,
    { components: cfg.components, whiten: cfg.whiten, inputShape },
    rng.fork('pca'),
    ctl,
  );
  return new PcaExtractor(st);
}

/** Rebuild an extractor from its state (validated with zod). */
export function loadExtractor(state: unknown, where = 'features'): FeatureExtractor {
  const r = FeatureStateSchema.safeParse(state);
  if (!r.success) {
    throw new InputError(
      `invalid feature extractor state: ${formatIssues(r.error).join('; ')}`,
      where,
    );
  }
  return r.data.kind === 'pixels' ? new PixelsExtractor(r.data) : new PcaExtractor(r.data);
}

/** Rows per transform call in applyExtractor: bounds peak memory. */
const APPLY_CHUNK = 4096;

/** Transform every sample of `data`; the result has sampleShape [dim] and the same labels. */
export async function applyExtractor(
  ex: FeatureExtractor,
  data: LabelledData,
  ctl: RunControl = {},
): Promise<LabelledData> {
  if (data.sampleShape.join('x') !== ex.inputShape.join('x')) {
    throw new InputError(
      `the ${ex.kind} extractor was fitted on samples of shape [${ex.inputShape.join(', ')}] but this dataset has [${data.sampleShape.join(', ')}]`,
      data.source,
    );
  }
  const n = data.labels.length;
  const d = sampleSize(data);
  const out = new Float32Array(n * ex.dim);
  for (let s = 0; s < n; s += APPLY_CHUNK) {
    throwIfAborted(ctl.signal);
    const rows = Math.min(APPLY_CHUNK, n - s);
    out.set(await ex.transform(data.x.subarray(s * d, (s + rows) * d), rows), s * ex.dim);
    ctl.onProgress?.({ value: s + rows, max: n, unit: 'sample', label: 'features' });
  }
  return {
    x: out,
    sampleShape: [ex.dim],
    labels: data.labels,
    classNames: data.classNames,
    source: data.source,
  };
}

/** Metadata key holding the JSON part of the state in a saved extractor. */
const META_KEY = 'd2nwg.features';
/** State fields stored as tensors rather than JSON. */
const MATRIX_FIELDS = ['mean', 'std', 'basis', 'eigenvalues', 'explainedVarianceRatio'] as const;

/** Save an extractor as one safetensors file: matrices as F32/F64 tensors, the rest as JSON. */
export async function saveExtractor(path: string, ex: FeatureExtractor): Promise<void> {
  const st = ex.state() as Record<string, unknown>;
  const json: Record<string, unknown> = {};
  const tensors: Record<string, StTensor> = {};
  for (const [key, value] of Object.entries(st)) {
    if ((MATRIX_FIELDS as readonly string[]).includes(key) && Array.isArray(value)) {
      const arr = value as number[];
      // F64 keeps mean/variances exact; the basis is float32 anyway.
      tensors[key] =
        key === 'basis'
          ? { dtype: 'F32', shape: [arr.length], data: Float32Array.from(arr) }
          : { dtype: 'F64', shape: [arr.length], data: Float64Array.from(arr) };
    } else {
      json[key] = value;
    }
  }
  await writeSafetensors(path, tensors, { [META_KEY]: JSON.stringify(json) });
}

/** Read a saved extractor; a missing, corrupt or inconsistent file is an InputError naming it. */
export async function readExtractor(path: string): Promise<FeatureExtractor> {
  const { tensors, metadata } = await readSafetensors(path, { checkFinite: true });
  const raw = metadata[META_KEY];
  if (raw === undefined) {
    throw new InputError(`not a saved feature extractor: no '${META_KEY}' metadata`, path);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InputError(`'${META_KEY}' metadata is not JSON`, path);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(`'${META_KEY}' metadata is not a JSON object`, path);
  }
  const st: Record<string, unknown> = { ...json };
  for (const [name, t] of Object.entries(tensors)) {
    if (!(MATRIX_FIELDS as readonly string[]).includes(name)) {
      throw new InputError(`unexpected tensor '${name}' in a feature extractor file`, path);
    }
    if (t.dtype !== 'F32' && t.dtype !== 'F64') {
      throw new InputError(`tensor '${name}' must be F32 or F64, is ${t.dtype}`, path);
    }
    st[name] = Array.from(t.data as Float32Array | Float64Array);
  }
  return loadExtractor(st, path);
}
