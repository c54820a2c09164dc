/**
 * Weight export: one flat parameter vector + its layout → files other tools load directly.
 * Formats: safetensors in PyTorch naming (torch.ts), a tfjs LayersModel (tfjs.ts), .npy (one
 * file per tensor plus the flat vector) and ONNX (onnx.ts). With `features` (features.ts) every
 * format carries the feature pipeline and the model takes raw inputs. Every export also writes
 * manifest.json, so the files are never separated from what they mean: architecture, layout,
 * expected input, class names in output order, conditioning task, source run and node, and the
 * measured accuracy (with what it was measured on).
 *
 * Everything is validated and encoded in memory first; only then are files written, all or nothing
 * (write.ts). NaN/Inf parameters are refused before anything touches the disk.
 */
import { createHash } from 'node:crypto';
import { encodeSafetensors } from '../formats/safetensors.ts';
import { encodeNpy } from '../formats/npy.ts';
import { InputError } from '../errors.ts';
import {
  describeLayout,
  layoutOf,
  sameLayout,
  type Architecture,
  type Layout,
} from '../nn/architecture.ts';
import { checkLength } from '../nn/params.ts';
import { resolveOutDir } from './paths.ts';
import { toTorchStateDict, torchModuleSource } from './torch.ts';
import { tfjsModelFiles } from './tfjs.ts';
import { nodeExportFs, writeAllOrNothing, type ExportFs, type PlannedFile } from './write.ts';
import { checkFeatures, describeInput, featureTensors, type ExportFeatures } from './features.ts';
import { onnxModelBytes } from './onnx.ts';

export { resolveOutDir, reserveExportFolder } from './paths.ts';
export { ExportWriteError, type ExportFs } from './write.ts';
export { buildLayersModel } from './tfjs.ts';
export { toTorchStateDict } from './torch.ts';
export { exportFeaturesOf, applyFeatures, type ExportFeatures } from './features.ts';
export { onnxModelBytes } from './onnx.ts';

export const EXPORT_FORMATS = ['safetensors', 'tfjs', 'npy', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Provenance and quality facts that travel with the weights. */
export interface ExportProvenance {
  /** Run that produced the weights, if they came from the store. */
  readonly sourceRunId?: string | null;
  /** Node of that run. */
  readonly sourceNodeId?: string | null;
  /** One line describing the conditioning dataset (what the weights were generated for). */
  readonly dataset?: string | null;
  /** How the output layer was made when it is not the generated one, e.g. 'discriminant (train)'. */
  readonly head?: string | null;
  /** Measured metrics of these weights, e.g. `{ accuracy: 0.83 }`. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** The conditioning task: its id, split, source class indices and names in output order. */
  readonly task?: ExportTask | null;
  /** What `accuracy` was measured on, in words (e.g. 'test samples of task t0003 (n=500)'). */
  readonly accuracyOn?: string | null;
}

/** The task a model was generated for; `classNames[j]` is the class of output j. */
export interface ExportTask {
  readonly id: string;
  readonly split?: string;
  /** Source dataset class indices, in output order. */
  readonly classes: readonly number[];
  /** Class names, in output order. */
  readonly classNames: readonly string[];
}

export interface ExportWeightsArgs {
  /** Architecture + where each tensor sits in `params`. */
  readonly layout: Layout;
  /** The flat parameter vector, `layout.size` long, finite. */
  readonly params: Float32Array;
  readonly format: ExportFormat;
  /** Output folder; created if missing. Relative paths resolve against `baseDir` (or the cwd). */
  readonly outDir: string;
  /** When given, `outDir` must resolve inside it (no `..` or symlink escapes). */
  readonly baseDir?: string;
  /** What goes into manifest.json besides the layout. */
  readonly manifest: ExportProvenance;
  /**
   * The feature pipeline the model's inputs go through; when given, every format takes raw
   * inputs and computes the features itself (features.ts).
   */
  readonly features?: ExportFeatures | null;
  /** Timestamp written as `created`; default now. */
  readonly now?: Date;
  /** File operations; tests inject failures. Default node:fs. */
  readonly io?: ExportFs;
}

/** One written file as listed in the manifest. */
export interface ExportedFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
  /** What the file holds, in a few words. */
  readonly content: string;
}

/** manifest.json. */
export interface ExportManifest {
  readonly format: 'd2nwg-weights-export';
  /** 2: the files include the feature pipeline and take raw inputs (when `input.raw`). */
  readonly formatVersion: 2;
  readonly exportFormat: ExportFormat;
  readonly created: string;
  readonly architecture: Architecture;
  readonly description: string;
  readonly parameterCount: number;
  /** The flat vector's layout (tfjs order): dense kernels [in, out], conv kernels [kh, kw, cin, cout]. */
  readonly layout: readonly {
    readonly name: string;
    readonly shape: readonly number[];
    readonly offset: number;
    readonly size: number;
  }[];
  readonly source: { readonly runId: string | null; readonly nodeId: string | null };
  readonly conditioningDataset: string | null;
  /** Set when the output layer was refitted on the generated body (Sampler `head`). */
  readonly head?: string;
  readonly metrics: Readonly<Record<string, number>>;
  /** Accuracy measured on `accuracyOn` (fraction 0..1). */
  readonly accuracy: number | null;
  readonly accuracyOn: string | null;
  /** Class names of the outputs, index = output position (logit j is `classNames[j]`). */
  readonly classNames: readonly string[] | null;
  /** The conditioning task. */
  readonly task: ExportTask | null;
  /** What the model takes: raw inputs (with the feature pipeline inside) or feature vectors. */
  readonly input: Readonly<Record<string, unknown>>;
  /** The feature pipeline inside the files, when present. */
  readonly features: {
    readonly kind: string;
    readonly tensors: readonly { readonly name: string; readonly shape: readonly number[] }[];
    readonly steps: readonly string[];
  } | null;
  readonly files: readonly ExportedFile[];
  /** How the files map to the layout and how to load them. */
  readonly conventions: Readonly<Record<string, unknown>>;
}

export interface ExportResult {
  /** Absolute output folder. */
  readonly outDir: string;
  /** Absolute paths written, manifest.json last. */
  readonly files: readonly string[];
  readonly manifest: ExportManifest;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function checkLayout(layout: Layout): void {
  const expected = layoutOf(layout.arch);
  const same = sameLayout(expected, layout);
  if (!same) {
    throw new InputError(
      `the layout does not match its architecture (${describeLayout(expected)})`,
      'layout',
    );
  }
}

function checkFinite(params: Float32Array, layout: Layout): void {
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i])) {
      const p = layout.params.find((s) => i >= s.offset && i < s.offset + s.size);
      throw new InputError(
        `weight ${i}${p ? ` (${p.name}[${i - p.offset}])` : ''} is ${params[i]}; refusing to export non-finite weights`,
        'params',
      );
    }
  }
}

const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

async function planFiles(
  layout: Layout,
  params: Float32Array,
  format: ExportFormat,
  features: ExportFeatures | null,
): Promise<{
  files: { file: PlannedFile; content: string }[];
  conventions: Record<string, unknown>;
}> {
  if (format === 'safetensors') {
    const dict = toTorchStateDict(layout, params);
    const tensors = Object.fromEntries(
      [...(features ? featureTensors(features) : []), ...dict].map((t) => [
        t.name,
        { dtype: 'F32' as const, shape: t.shape, data: t.data },
      ]),
    );
    const data = encodeSafetensors(tensors, {
      format: 'pt',
      generator: 'D2NWG Studio',
      architecture: JSON.stringify(layout.arch),
    });
    return {
      files: [{ file: { name: 'weights.safetensors', data }, content: 'PyTorch state dict, F32' }],
      conventions: {
        naming: 'PyTorch state dict',
        tensors: dict.map((t) => ({
          name: t.name,
          shape: t.shape,
          from: t.from,
          transform: t.transform,
        })),
        pytorch: torchModuleSource(layout, features),
        load: 'net = Net(); net.load_state_dict(safetensors.torch.load_file("weights.safetensors")); logits = net(x)',
      },
    };
  }
  if (format === 'tfjs') {
    const { modelJson, weightsBin } = await tfjsModelFiles(layout, params, features);
    return {
      files: [
        {
          file: { name: 'model.json', data: new TextEncoder().encode(modelJson) },
          content: 'tfjs LayersModel topology + weights manifest',
        },
        {
          file: { name: 'weights.bin', data: weightsBin },
          content: 'tfjs weights, float32 little-endian',
        },
      ],
      conventions: {
        load: "await tf.loadLayersModel('file-or-url/model.json')",
        input: features
          ? `[n, ${features.inputShape.reduce((a, b) => a * b, 1)}] raw inputs as described in "input"; the first layer ('features') is the feature pipeline`
          : layout.arch.kind === 'mlp'
            ? `[n, ${layout.arch.inputDim}] feature vectors`
            : `[n, ${layout.arch.inputShape.join(', ')}] (NHWC)`,
        output: `[n, ${layout.arch.outputs}] logits`,
      },
    };
  }
  if (format === 'onnx') {
    return {
      files: [
        {
          file: { name: 'model.onnx', data: onnxModelBytes(layout, params, features) },
          content: 'ONNX model (opset 13): feature pipeline + classifier, float32',
        },
      ],
      conventions: {
        load: 'sess = onnxruntime.InferenceSession("model.onnx"); logits = sess.run(None, {"input": x})[0]',
        input: features ? 'input: raw inputs as described in "input"' : 'input: feature vectors',
        output: `logits [n, ${layout.arch.outputs}]`,
        initializers: 'named as the safetensors export (PyTorch state dict, features.*)',
      },
    };
  }
  const files: { file: PlannedFile; content: string }[] = [
    {
      file: { name: 'params.npy', data: encodeNpy(params.slice(), [params.length]) },
      content: 'flat parameter vector',
    },
  ];
  for (const t of features ? featureTensors(features) : []) {
    files.push({
      file: { name: `${t.name}.npy`, data: encodeNpy(t.data.slice(), t.shape) },
      content: `${t.name} [${t.shape.join(', ')}] (feature pipeline)`,
    });
  }
  for (const p of layout.params) {
    if (!SAFE_NAME.test(p.name) || p.name === 'params') {
      throw new InputError(`parameter name '${p.name}' cannot be used as a file name`, 'layout');
    }
    files.push({
      file: {
        name: `${p.name}.npy`,
        data: encodeNpy(params.slice(p.offset, p.offset + p.size), [...p.shape]),
      },
      content: `${p.name} [${p.shape.join(', ')}]`,
    });
  }
  return {
    files,
    conventions: {
      order: 'layout order (tfjs): dense kernels [in, out], conv kernels [kh, kw, cin, cout]',
      flat: 'params.npy == np.concatenate([np.load(f"{p["name"]}.npy").ravel() for p in manifest["layout"]])',
    },
  };
}

/**
 * Export a weight vector. Throws InputError for bad input (non-finite weights, a length or layout
 * mismatch, an output folder escaping `baseDir`) before writing anything, and ExportWriteError
 * (nothing left behind) when the disk refuses.
 */
export async function exportWeights(args: ExportWeightsArgs): Promise<ExportResult> {
  const { layout, params, format } = args;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new InputError(
      `unknown export format '${String(format)}'; expected ${EXPORT_FORMATS.join(', ')}`,
      'format',
    );
  }
  const outDir = resolveOutDir(args.outDir, args.baseDir);
  checkLayout(layout);
  checkLength(layout, params);
  checkFinite(params, layout);
  const features = args.features ?? null;
  const a = layout.arch;
  if (features) {
    checkFeatures(
      features,
      a.kind === 'mlp' ? a.inputDim : a.inputShape.reduce((p, q) => p * q, 1),
    );
  }
  const task = args.manifest.task ?? null;
  if (task && task.classNames.length !== a.outputs) {
    throw new InputError(
      `task ${task.id} has ${task.classNames.length} classes, the model ${a.outputs} outputs`,
      'task',
    );
  }
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(args.manifest.metrics ?? {})) {
    if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
  }

  const { files, conventions } = await planFiles(layout, params, format, features);
  const listed: ExportedFile[] = files.map((f) => ({
    name: f.file.name,
    bytes: f.file.data.byteLength,
    sha256: sha256(f.file.data),
    content: f.content,
  }));
  const manifest: ExportManifest = {
    format: 'd2nwg-weights-export',
    formatVersion: 2,
    exportFormat: format,
    created: (args.now ?? new Date()).toISOString(),
    architecture: layout.arch,
    description: describeLayout(layout),
    parameterCount: layout.size,
    layout: layout.params.map((p) => ({
      name: p.name,
      shape: [...p.shape],
      offset: p.offset,
      size: p.size,
    })),
    source: {
      runId: args.manifest.sourceRunId ?? null,
      nodeId: args.manifest.sourceNodeId ?? null,
    },
    conditioningDataset: args.manifest.dataset ?? null,
    ...(args.manifest.head ? { head: args.manifest.head } : {}),
    metrics,
    accuracy: metrics.accuracy ?? null,
    accuracyOn: metrics.accuracy !== undefined ? (args.manifest.accuracyOn ?? null) : null,
    classNames: task ? [...task.classNames] : null,
    task,
    input: features
      ? { raw: true, ...describeInput(features) }
      : {
          raw: false,
          shape: a.kind === 'mlp' ? ['n', a.inputDim] : ['n', ...a.inputShape],
          values: 'feature vectors (no feature pipeline was exported with these weights)',
        },
    features: features
      ? {
          kind: features.kind,
          tensors: featureTensors(features).map((t) => ({ name: t.name, shape: t.shape })),
          steps: [
            'x = raw * features.input_scale',
            ...(features.mean ? ['x = x - features.mean'] : []),
            ...(features.basis ? ['x = x @ features.basis'] : []),
            ...(features.scale ? ['x = x * features.scale'] : []),
            ...(a.kind === 'cnn' ? [`x = x.reshape(n, ${a.inputShape.join(', ')})  # NHWC`] : []),
          ],
        }
      : null,
    files: listed,
    conventions,
  };
  const planned: PlannedFile[] = [
    ...files.map((f) => f.file),
    {
      name: 'manifest.json',
      data: new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
    },
  ];
  const written = await writeAllOrNothing(outDir, planned, args.io ?? nodeExportFs);
  return { outDir, files: written, manifest };
}
