/** Evaluate node: the paper's protocol for one initialisation method, accuracy at several fine-tuning epochs. */
import { z } from 'zod';
import { QualityEvalSchema } from '../schemas/quality.ts';
import { defineNode } from './spec.ts';

/**
 * Initialisations compared in the paper and its critique: from scratch, transfer from a model
 * trained on the whole source dataset (or from a checkpoint file of the user's own), S_KDE30, the memorisation baselines (noise around the
 * nearest zoo checkpoint — fixed small, or matched to the generated sample's distance to the zoo —
 * and the zoo weight average), D2NWG samples, and the zoo's own checkpoints of a seen task (the
 * accuracy a faithful generator should approach there).
 */
export const INIT_METHODS = [
  'randinit',
  'pretrained_source',
  'pretrained_probe',
  'pretrained_file',
  'kde30',
  'noise_nearest',
  'noise_matched',
  'noise_fn_matched',
  'weight_avg',
  'd2nwg',
  'zoo',
] as const;
export type InitMethod = (typeof INIT_METHODS)[number];

/** The task splits of bench/QUALITY.md. */
export const TASK_SPLITS = ['seen', 'unseen-combo', 'unseen-class', 'unseen-dataset'] as const;
/** The splits of one source's task draw (the Tasks node); 'unseen-dataset' needs a second source. */
export const SOURCE_SPLITS = [
  'seen',
  'unseen-combo',
  'unseen-class',
] as const satisfies readonly (typeof TASK_SPLITS)[number][];
export type TaskSplit = (typeof TASK_SPLITS)[number];

/**
 * What each split means, in one line: printed under the CLI's result table and shown under the
 * app's accuracy chart, so a number is never read without knowing whether the zoo trained on it.
 */
export const SPLIT_MEANING: Readonly<Record<TaskSplit, string>> = {
  seen: 'the class tuples the zoo was trained on (the generator saw checkpoints of these very tasks)',
  'unseen-combo':
    'known classes in a class set no zoo task used (new combination, no checkpoint to recall)',
  'unseen-class': 'tasks containing classes held out of the zoo entirely',
  'unseen-dataset':
    "tasks of another dataset (the Unseen-dataset tasks node), through the zoo's feature extractor",
};

/** The splits to evaluate: one or more, each once, in the order given. */
export const SplitsSchema = z
  .array(z.enum(TASK_SPLITS))
  .min(1)
  .refine((a) => new Set(a).size === a.length, { message: 'lists a split twice' });

/**
 * Migration of the nodes that took one `split` (v1) to a `splits` list (v2): `split: 'seen'`
 * becomes `splits: ['seen']`; a v1 config without it took the default, 'seen'.
 */
export function migrateSplitToSplits(config: unknown, fromVersion: number): unknown {
  if (fromVersion !== 1) throw new Error(`no migration from v${fromVersion}`);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return config;
  const { split, ...rest } = config as Record<string, unknown>;
  return { ...rest, splits: [split ?? 'seen'] };
}

export const EvalFinetuneConfig = QualityEvalSchema.pick({
  finetuneEpochs: true,
  lr: true,
  batchSize: true,
  noiseStd: true,
  kdeBandwidth: true,
  kdeTopFraction: true,
  ldaShrinkage: true,
}).extend({
  /** Where the initial weights come from. */
  init: z.enum(INIT_METHODS).default('d2nwg'),
  /**
   * init 'pretrained_file': the checkpoint of the zoo's architecture to start from — safetensors
   * with PyTorch names, a tfjs model.json (or its folder), or a PyTorch .pt/.pth state dict.
   */
  checkpoint: z.string().default(''),
  /** Label of this method in Compare tables (default: the init name). */
  label: z.string().default(''),
  /** Which task splits of the Tasks node are evaluated: one result row per split. */
  splits: SplitsSchema.default(['seen']),
  /** Evaluate at most this many tasks of each split (the first ones), to bound the cost. */
  maxTasks: z.number().int().min(1).max(100_000).default(5),
  /**
   * Which initialisations of a task count, where a method gives several (d2nwg: the Sampler's
   * samples; zoo: the task's checkpoints). 'first': the first one (the best-ranked sample; the
   * checkpoint best on the task's training samples). 'mean': accuracy averaged over all of them,
   * each fine-tuned alike — no labels are used to pick.
   */
  samples: z.enum(['first', 'mean']).default('first'),
  /**
   * How many inits the random-draw methods make per task: noise_nearest (noisy copies of the
   * nearest checkpoint) and kde30 (KDE draws). With samples 'mean' all of them count.
   */
  draws: z.number().int().min(1).max(1000).default(1),
  /**
   * With samples 'mean': fine-tune at most this many of a task's inits (the first ones) for the
   * epoch > 0 rows, to bound the cost; epoch 0 still averages all of them. 0 = all.
   */
  finetuneInits: z.number().int().min(0).max(1000).default(0),
  /**
   * init 'pretrained_probe': its LDA head is fitted on all of the task's training samples, or on
   * the support set of `perClass` per class the Sampler and the support-set references use.
   */
  probeFrom: z.enum(['train', 'support']).default('train'),
  /** Samples per class of the support set (the paper's n is 5). */
  perClass: z.number().int().min(1).max(100_000).default(5),
});
export type EvalFinetuneConfig = z.infer<typeof EvalFinetuneConfig>;

export const evalFinetuneSpec = defineNode({
  type: 'eval.finetune',
  version: 2,
  category: 'Evaluation',
  title: 'Evaluate / fine-tune',
  help:
    'Initialises the architecture on each target task and reports test accuracy after each ' +
    'listed number of fine-tuning epochs (0 = the init as is). init: randinit (default init, ' +
    'trained from scratch), pretrained_source (the zoo architecture trained once, with the ' +
    "zoo's training settings, on the train pool of every known, non-held-out class — the " +
    "paper's ImageNet column — then re-headed for each task), " +
    'pretrained_file (your own checkpoint of the zoo architecture, e.g. trained on ImageNet ' +
    'features or another dataset; config checkpoint: a .safetensors file with PyTorch names ' +
    '(layers.{i}.weight [out, in] / .bias, as this app exports), a tfjs model.json or its ' +
    'folder, or a PyTorch .pt/.pth state dict, read without Python and with nothing in it run; ' +
    'layers are matched in name order; the body is kept and the head re-initialised when the ' +
    "checkpoint's class count differs; a tensor of another shape is refused, naming both shapes), " +
    'kde30 (Schürholt et al.: KDE on VAE latents of the top 30% of the zoo; needs ' +
    'the VAE), noise_nearest (the zoo checkpoint that fits the task best, plus Gaussian noise), ' +
    'noise_matched (the zoo checkpoint nearest in weight space to the D2NWG sample, plus ' +
    "Gaussian noise of norm equal to that sample's distance to it: as novel as the sample), " +
    'noise_fn_matched (the same checkpoint, with noise grown until it disagrees with it on the ' +
    "task's training samples as often as the D2NWG sample does: as novel in its predictions) " +
    'and weight_avg (mean of the checkpoints of that nearest zoo task) — the memorisation ' +
    'baselines —, d2nwg (the Sampler output) and zoo (the checkpoints the zoo trained on this ' +
    'very task: seen tasks only; what a generator that recalls them would reach). ' +
    "samples: 'first' takes the first sample (the best-ranked, e.g. by training accuracy) or the " +
    "best checkpoint; 'mean' averages over all samples or checkpoints (no labels used to pick; " +
    'noise_matched and noise_fn_matched make one copy per sample, noise_nearest and kde30 make ' +
    '`draws` inits; `finetuneInits` bounds how many of them are fine-tuned). ' +
    'splits: seen = ' +
    SPLIT_MEANING.seen +
    '; unseen-combo = ' +
    SPLIT_MEANING['unseen-combo'] +
    '; unseen-class = ' +
    SPLIT_MEANING['unseen-class'] +
    '. Each split gives its own result row, its std over the tasks of that split. ' +
    'Connect the zoo for every init except d2nwg (randinit takes its architecture from it, ' +
    'zoo its checkpoints; ' +
    'pretrained_source also its build config; pretrained_probe is its body with an LDA head ' +
    "fitted on the task's training samples, a linear probe, with ldaShrinkage), " +
    'Weights for d2nwg, noise_matched and noise_fn_matched, and the VAE for kde30. Every Evaluate node of a pipeline fine-tunes with ' +
    'the same shuffling per task, so differences come from the init alone.',
  config: EvalFinetuneConfig,
  inputs: [
    {
      id: 'features',
      label: 'Features',
      type: 'features',
      inheritFrom: ['weights', 'zoo', 'vae'],
      onConflict: 'override',
    },
    { id: 'tasks', label: 'Target tasks', type: 'tasks', inheritFrom: ['features'] },
    { id: 'zoo', label: 'Zoo', type: 'zoo', optional: true },
    { id: 'weights', label: 'Weights', type: 'weights', optional: true },
    { id: 'vae', label: 'VAE', type: 'vae', optional: true },
  ],
  outputs: [{ id: 'metrics', label: 'Results', type: 'metrics' }],
  cacheable: true,
  migrate: migrateSplitToSplits,
});
