/**
 * Zoo configuration: the classifier architecture every zoo member shares, how members are trained,
 * and (ZooConfig) where the data, features and tasks come from. Input size and output count are not
 * part of the user config: they follow from the features and the task's K, and are filled in when
 * the architecture is resolved in the engine (engine/nn/architecture.ts).
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { DatasetSourceSchema, TaskGenConfigSchema } from './dataset.ts';
import { FeatureConfigSchema } from './features.ts';

/** Nonlinearity between layers; leaky_relu (slope 0.01) is the paper's KaggleZoo choice. */
export const ActivationSchema = z.enum(['leaky_relu', 'relu', 'tanh']);
export type Activation = z.infer<typeof ActivationSchema>;

/** An MLP on feature vectors: input → hidden… → K logits. */
export const MlpArchitectureSchema = strictObject({
  kind: z.literal('mlp'),
  /** Width of each hidden layer, in order; [] gives a linear (softmax-regression) model. */
  hidden: z.array(z.number().int().min(1).max(4096)).max(8).default([32]),
  /** Nonlinearity after each hidden layer. */
  activation: ActivationSchema.default('leaky_relu'),
});

/**
 * A small CNN on raw images: per block a kernelSize×kernelSize convolution with stride 2 ('same'
 * padding) + bias + activation, then global average pooling and one dense layer to K logits.
 * The default channels [8, 16, 8] give 2,498 parameters on 28×28×1 with 10 outputs, close to the
 * 2,464 of Schürholt et al.'s CNN-s zoos.
 */
export const CnnArchitectureSchema = strictObject({
  kind: z.literal('cnn'),
  /** Output channels of each convolution block, in order. */
  channels: z.array(z.number().int().min(1).max(512)).min(1).max(6).default([8, 16, 8]),
  /** Side of the square convolution kernels. */
  kernelSize: z.number().int().min(1).max(7).default(3),
  /** Nonlinearity after each convolution. */
  activation: ActivationSchema.default('leaky_relu'),
});

/** The user-facing architecture, without input size or output count. */
export const ArchitectureSchema = z.discriminatedUnion('kind', [
  MlpArchitectureSchema,
  CnnArchitectureSchema,
]);
export type ArchitectureConfig = z.infer<typeof ArchitectureSchema>;
export type ArchitectureConfigInput = z.input<typeof ArchitectureSchema>;

/** How each zoo member is trained (Adam + softmax cross-entropy, as in the paper's zoo). */
/**
 * Free augmentation of a built zoo: `outputPermutations` class-permuted copies of every seen task,
 * each checkpoint with its output units permuted to match (exactly the checkpoint of the permuted
 * class tuple). They teach the generator that output i follows the i-th class of the support set.
 * At most K! − 1 per task (checked when the zoo is built).
 */
export const ZooAugmentSchema = strictObject({
  outputPermutations: z.number().int().min(0).max(1000).default(0),
});
export type ZooAugmentConfig = z.infer<typeof ZooAugmentSchema>;

export const ZooTrainConfigSchema = strictObject({
  /** Training epochs per member; the paper's KaggleZoo uses 30. */
  epochs: z.number().int().min(1).max(10_000).default(30),
  /** Minibatch size. */
  batchSize: z.number().int().min(1).max(65_536).default(32),
  /** Adam learning rate. */
  lr: z.number().positive().max(10).default(1e-3),
  /** Checkpoints kept per run: the last `keepLast` epochs (clamped to `epochs`). */
  keepLast: z.number().int().min(1).max(1000).default(5),
  /**
   * Independent initialisation seeds per task; each is its own run. Each run is its own mode of
   * the task's weights: on a CNN zoo with two runs per task the diffusion model sampled between
   * them and seen tasks reached 97 % of the zoo, with one run per task (twice the tasks) 99.9 %
   * (README, CNN zoos). On the MLP presets two runs cost nothing measurable.
   */
  seeds: z.number().int().min(1).max(1000).default(2),
  /**
   * Epochs of training the architecture once on the train pool of every known (not held-out)
   * class before the runs: the Pretrained (source) model. Every run then starts from its body,
   * with its seed's own head, as zoos fine-tuned from one pretrained model are. 0: runs start
   * from random inits.
   */
  pretrainEpochs: z.number().int().min(0).max(10_000).default(0),
  /**
   * Most runs trained together as one model batch (default: what fits the backend's memory, and
   * at least one batch per worker). Runs get the same weights whatever this is.
   */
  modelsPerBatch: z.number().int().min(1).max(100_000).optional(),
});
export type ZooTrainConfig = z.infer<typeof ZooTrainConfigSchema>;
export type ZooTrainConfigInput = z.input<typeof ZooTrainConfigSchema>;

/**
 * Everything `d2nwg zoo build` needs: data, features, tasks, the shared architecture, training.
 * Same config + seed → the same zoo, bit for bit, whatever the worker count.
 */
export const ZooConfigSchema = strictObject({
  /** Where the labelled data comes from. */
  dataset: DatasetSourceSchema.prefault({ kind: 'fashion-mnist' }),
  /** How samples become the members' inputs (fitted on the train pool only). */
  features: FeatureConfigSchema.prefault({ kind: 'pca' }),
  /** How classification tasks are drawn; only the seen tasks are trained. */
  tasks: TaskGenConfigSchema.prefault({}),
  /** The architecture every member shares. */
  arch: ArchitectureSchema.prefault({ kind: 'mlp' }),
  /** Member training settings. */
  train: ZooTrainConfigSchema.prefault({}),
  /** Worker threads training members in parallel (0 = in the calling thread). */
  workers: z.number().int().min(0).max(64).default(2),
  /** Seed of the initialisations, the shuffling and the feature fit. */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
});
export type ZooConfig = z.infer<typeof ZooConfigSchema>;
export type ZooConfigInput = z.input<typeof ZooConfigSchema>;

// ---- the stored zoo -----------------------------------------------------------------------

const posInt = z.number().int().min(1);
const nonNegInt = z.number().int().min(0);
const accuracy = z.number().min(0).max(1);

/** An architecture with input size and output count filled in (engine/nn Architecture). */
export const ResolvedArchitectureSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('mlp'),
    inputDim: posInt,
    hidden: z.array(posInt),
    outputs: z.number().int().min(2),
    activation: ActivationSchema,
  }),
  z.object({
    kind: z.literal('cnn'),
    inputShape: z.tuple([posInt, posInt, posInt]),
    channels: z.array(posInt).min(1),
    kernelSize: posInt,
    outputs: z.number().int().min(2),
    activation: ActivationSchema,
  }),
]);
export type ResolvedArchitecture = z.infer<typeof ResolvedArchitectureSchema>;

/** Where one parameter tensor lives in the flat weight vector. */
export const ParamSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(posInt),
  offset: nonNegInt,
  size: posInt,
  fanIn: posInt,
});

/** The flat layout of every member vector (names, shapes, offsets), for tools outside this app. */
export const LayoutManifestSchema = z.object({
  params: z.array(ParamSpecSchema).min(1),
  size: posInt,
});

/** One task of the zoo's task generator, as recorded in the manifest. */
export const ZooTaskSchema = z.object({
  id: z.string().min(1),
  /** Source class indices in output order. */
  classes: z.array(nonNegInt).min(2),
  split: z.enum(['seen', 'unseen-combo', 'unseen-class']),
  /** Number of training samples the task has. */
  trainCount: nonNegInt,
  /** Number of test samples the task has. */
  testCount: nonNegInt,
});
export type ZooTask = z.infer<typeof ZooTaskSchema>;

/** One stored checkpoint: a weight vector and where it came from. */
export const ZooMemberSchema = z.object({
  /** Row of the zoo's vector matrix. */
  index: nonNegInt,
  /** Task it was trained on (an id from tasks). */
  taskId: z.string().min(1),
  /** Source classes of its outputs, in order. */
  classes: z.array(nonNegInt).min(2),
  /** Init seed index (0..seeds-1); members with the same index share their initialisation. */
  seed: nonNegInt,
  /** 1-based training epoch of the checkpoint. */
  epoch: posInt,
  trainAcc: accuracy,
  testAcc: accuracy,
  /** Shard file name, relative to the zoo folder. */
  shard: z.string().regex(/^[\w.-]+\.safetensors$/),
  /** Name of its 1-D F32 tensor inside the shard. */
  tensorName: z.string().min(1),
});
export type ZooMember = z.infer<typeof ZooMemberSchema>;

/** Format tag of manifest.json; bumped on an incompatible change. */
export const ZOO_FORMAT = 'd2nwg-zoo/1';

/** manifest.json of a zoo folder: how every stored vector maps back to a model, and its origin. */
export const ZooManifestSchema = z.object({
  format: z.literal(ZOO_FORMAT),
  /** ISO time of the build. */
  created: z.string().min(1),
  /** The members' shared architecture, fully resolved. */
  arch: ResolvedArchitectureSchema,
  /** Flat layout of each member vector. */
  layout: LayoutManifestSchema,
  /** The data the members were trained on. */
  dataset: z.object({
    /** The source as configured (null for a zoo imported without one). */
    source: DatasetSourceSchema.nullable(),
    /** Short human id, e.g. 'embedded:fashion-mnist'. */
    id: z.string().min(1),
    /** Class names of the source, index = class. */
    classNames: z.array(z.string()),
  }),
  /** The fitted feature extractor saved next to the manifest, or null when inputs are raw. */
  features: z
    .object({
      /** Extractor kind, e.g. 'pca'. */
      kind: z.string().min(1),
      /** Feature dimension (or flattened input size). */
      dim: posInt,
      /** Saved extractor (safetensors, see engine/features), relative to the zoo folder. */
      file: z.string().regex(/^[\w.-]+\.safetensors$/),
    })
    .nullable(),
  /** The task generator's resolved config and every task it drew. */
  tasks: z.object({
    config: TaskGenConfigSchema.nullable(),
    /** Held-out class indices. */
    heldOut: z.array(nonNegInt),
    list: z.array(ZooTaskSchema),
  }),
  /** One entry per stored checkpoint, index = row of the vector matrix. */
  members: z.array(ZooMemberSchema),
  /** The resolved build config (null for an imported zoo built elsewhere). */
  config: ZooConfigSchema.nullable(),
  /** Tensor backend the zoo was trained on. */
  backend: z.string().optional(),
  /** Wall-clock seconds of the build stages. */
  timings: z.record(z.string(), z.number()).optional(),
});
export type ZooManifest = z.infer<typeof ZooManifestSchema>;
