/**
 * Port values: what flows along pipeline edges, one member per PortType (DESIGN.md convention 3).
 * The `type` tag is what the executor checks against the spec's declared port type.
 *
 * Ownership: a value is owned by whoever the executor hands it to (the cache, or the run when the
 * node is not cached) and disposed once by that owner. A node must never return a value that
 * shares tensors with one of its inputs (clone instead): the input's owner may dispose it first.
 * Plain typed arrays may be shared freely; they are never mutated after a node returns them.
 */
import type { LabelledData, TaskSpec } from '../engine/data/types.ts';
import type { GeneratedTasks } from '../engine/data/tasks.ts';
import type { DatasetEncoder } from '../engine/encoder/encoder.ts';
import { InputError } from '../engine/errors.ts';
import type { Layout } from '../engine/nn/architecture.ts';
import type { ExportFeatures } from '../engine/export/features.ts';
import type { ConditionalLatentSampler } from '../engine/sample/sample.ts';
import type { TaggedLatents } from '../engine/vae/latents.ts';
import type { WeightVae } from '../engine/vae/model.ts';
import type { Zoo } from '../engine/zoo/storage.ts';
import type { SourceModel } from '../engine/eval/pretrained.ts';
import type { FeatureConfig, FeatureState } from '../../shared/schemas/features.ts';
import type { DatasetSource } from '../../shared/schemas/dataset.ts';
import type { PortSpec, PortType } from '../../shared/nodes/spec.ts';
import type { NodeInputs } from '../graph/types.ts';

/** A labelled dataset (raw samples). */
export interface DatasetValue {
  readonly type: 'dataset';
  readonly data: LabelledData;
  /** The source it was loaded from, paths resolved (so later stages can name or reload it). */
  readonly sourceConfig: DatasetSource;
}

/** Tasks drawn from a dataset; sample indices refer to the dataset (and its features). */
export interface TasksValue {
  readonly type: 'tasks';
  readonly tasks: GeneratedTasks;
  /** The dataset's class names, for tables and manifests. */
  readonly classNames: readonly string[];
  /** One-line description of the source dataset. */
  readonly source: string;
  /** The dataset's source config (paths resolved). */
  readonly datasetSource: DatasetSource;
}

/** Feature vectors, one per sample of the dataset, in the same order (so task indices apply). */
export interface FeaturesValue {
  readonly type: 'features';
  readonly data: LabelledData;
  /** The fitted extractor, so new data can be mapped the same way. */
  readonly state: FeatureState;
  /** The extractor config it was fitted from. */
  readonly config: FeatureConfig;
  /** Seed of the fit (the run seed). */
  readonly seed: number;
}

/** A model zoo: member weight vectors with their layout and provenance. */
export interface ZooValue {
  readonly type: 'zoo';
  readonly zoo: Zoo;
  /** Where the zoo lives on disk, when it was saved or imported. */
  readonly dir?: string;
  /**
   * The model its runs were fine-tuned from, when built here with `train.pretrainEpochs`: the
   * Evaluate node's Pretrained (source) of this zoo, not trained a second time.
   */
  readonly pretrained?: SourceModel;
}

/** A trained weight VAE (owns tensors). */
export interface VaeValue {
  readonly type: 'vae';
  readonly vae: WeightVae;
  /**
   * Latent means of the zoo the VAE was trained on, with each member's task: the Sampler fits its
   * latent map on these, so its picture uses the same axes as the VAE node's.
   */
  readonly zooLatents?: TaggedLatents;
  dispose(): void;
}

/** A trained dataset encoder (owns tensors). */
export interface EncoderValue {
  readonly type: 'encoder';
  readonly encoder: DatasetEncoder;
  dispose(): void;
}

/** A trained conditional latent diffusion model (owns tensors). */
export interface DiffusionValue {
  readonly type: 'diffusion';
  readonly model: ConditionalLatentSampler;
  dispose(): void;
}

/** Generated (or otherwise produced) weight vectors for a set of tasks. */
export interface WeightsValue {
  readonly type: 'weights';
  /** Layout of every vector. */
  readonly layout: Layout;
  /** Per task: its vectors (best first when ranked) and optional per-vector metrics. */
  readonly perTask: readonly TaskWeights[];
  /** One-line description of the conditioning dataset. */
  readonly dataset: string;
  /** How they were produced ('d2nwg', 'randinit', …). */
  readonly method: string;
  /** The run and node that produced them, for export manifests. */
  readonly producedBy?: { readonly runId: string; readonly nodeId: string };
  /** The feature pipeline from raw samples to the vectors' inputs, so exports run on raw data. */
  readonly features?: ExportFeatures;
  /** The dataset's class names (index = source class), for the output order of each task. */
  readonly classNames?: readonly string[];
  /** How the output layer was made when not as generated (the Sampler's head, e.g. 'class (support)'). */
  readonly head?: string;
}

/** Weight vectors generated for one task. */
export interface TaskWeights {
  readonly task: TaskSpec;
  readonly vectors: readonly Float32Array[];
  /** Support-set (training) accuracy of each vector, when ranked. */
  readonly supportAccuracy?: readonly number[];
  /** Accuracy the accuracy predictor g gives each vector, when ranked by it. */
  readonly predictedAccuracy?: readonly number[];
  /** Accuracy of each vector on the task's test samples. */
  readonly testAccuracy?: readonly number[];
}

/** Accuracy of one method at several fine-tuning epochs, over a set of tasks. */
export interface MethodResult {
  /** Method label (the Evaluate node's label or init). */
  readonly method: string;
  /** Task split evaluated. */
  readonly split: string;
  /** Fine-tuning epochs, ascending (0 = the init as is). */
  readonly epochs: readonly number[];
  /** Mean test accuracy at each epoch. */
  readonly mean: readonly number[];
  /** Standard deviation over tasks at each epoch. */
  readonly std: readonly number[];
  /** Per task: id and accuracy at each epoch. */
  readonly perTask: readonly { readonly taskId: string; readonly accuracy: readonly number[] }[];
  /** How many inits each task's accuracy averages, at each epoch (Evaluate nodes). */
  readonly initsPerTask?: readonly number[];
  /** Every fine-tuning run's curve at every epoch 0..max, with its task (Evaluate nodes). */
  readonly curves?: readonly TaskCurve[];
}

/** One fine-tuning run's test accuracy, test loss and training loss after each epoch. */
export interface TaskCurve {
  readonly taskId: string;
  readonly accuracy: readonly number[];
  readonly loss: readonly number[];
  /** trainLoss[0] is NaN (no training yet). */
  readonly trainLoss: readonly number[];
}

/** Evaluation results: one row per method (one for Evaluate, several for Compare). */
export interface MetricsValue {
  readonly type: 'metrics';
  readonly results: readonly MethodResult[];
}

/** Every port value. */
export type PortValue =
  | DatasetValue
  | TasksValue
  | FeaturesValue
  | ZooValue
  | VaeValue
  | EncoderValue
  | DiffusionValue
  | WeightsValue
  | MetricsValue;

/** The value type carried by a port type. */
export type ValueOf<T extends PortType> = Extract<PortValue, { type: T }>;

function pick<T extends PortType>(
  inputs: NodeInputs<PortValue>,
  port: string,
  type: T,
): ValueOf<T>[] {
  const list = inputs[port] ?? [];
  return list.map((v) => {
    if (v.type !== type) {
      throw new Error(`input '${port}' carries a '${v.type}' value, expected '${type}'`);
    }
    return v as ValueOf<T>;
  });
}

type PortInput<P extends PortSpec> = P extends { readonly multiple: true }
  ? readonly ValueOf<P['type']>[]
  : P extends { readonly optional: true }
    ? ValueOf<P['type']> | undefined
    : ValueOf<P['type']>;

/**
 * A node's inputs by port id, typed from its spec: a required port holds its value, an optional
 * one its value or undefined, a `multiple` one the list of values in edge order.
 */
export type InputsOf<I extends readonly PortSpec[]> = {
  readonly [P in I[number] as P['id']]: PortInput<P>;
};

/**
 * Resolve a node's raw inputs against its input ports (see InputsOf), checking each value's port
 * type and that a required port has exactly one connection.
 */
export function inputsOf<I extends readonly PortSpec[]>(
  ports: I,
  inputs: NodeInputs<PortValue>,
): InputsOf<I> {
  const out: Record<string, unknown> = {};
  for (const p of ports) {
    out[p.id] = p.multiple
      ? many(inputs, p.id, p.type)
      : p.optional
        ? maybe(inputs, p.id, p.type)
        : one(inputs, p.id, p.type);
  }
  return out as InputsOf<I>;
}

/** The single value on a required input port. */
function one<T extends PortType>(inputs: NodeInputs<PortValue>, port: string, type: T): ValueOf<T> {
  const list = pick(inputs, port, type);
  if (list.length !== 1) {
    throw new InputError(`input '${port}' needs exactly one connection, has ${list.length}`);
  }
  return list[0];
}

/** The value on an optional input port, or undefined when unconnected. */
function maybe<T extends PortType>(
  inputs: NodeInputs<PortValue>,
  port: string,
  type: T,
): ValueOf<T> | undefined {
  return pick(inputs, port, type)[0];
}

/** All values on a `multiple` input port, in edge order. */
function many<T extends PortType>(
  inputs: NodeInputs<PortValue>,
  port: string,
  type: T,
): ValueOf<T>[] {
  return pick(inputs, port, type);
}
