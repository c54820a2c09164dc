/**
 * The quality benchmark as a pipeline: a resolved QualityConfig becomes the same document the
 * canvas saves (validated by the same schema and node specs), wired as a chain dataset → tasks →
 * features → zoo → VAE → encoder → diffusion → Samplers → one Evaluate node per init → Reference
 * nodes, each node taking the dataset, tasks and features its main input carries (inherit.ts), and
 * another dataset's target tasks wired in explicitly. `bench
 * quality` runs it with the executor (runner.ts), so it measures exactly what a user's pipeline
 * runs; the report reads the nodes' outputs.
 */
import type { InitMethod, TaskSplit } from '../../shared/nodes/eval-finetune.ts';
import {
  pipelineSchema,
  PIPELINE_FORMAT,
  PIPELINE_VERSION,
  type Pipeline,
} from '../../shared/pipeline.ts';
import { registry, type NodeType } from '../../shared/nodes/registry.ts';
import type { QualityConfig } from '../../shared/schemas/quality.ts';

/** Node ids of one evaluation target (the dataset's own tasks, or the unseen-dataset's). */
export interface QualityTargetNodes {
  /** The splits this target's nodes evaluate. */
  readonly splits: readonly TaskSplit[];
  /** Sampler in the generator's order (unranked): d2nwg_mean, the noise copies, the extras. */
  readonly sample: string;
  /** Sampler ranked on the training samples: d2nwg_best, the soups. */
  readonly sampleRanked: string;
  /** Sampler ranked by the accuracy predictor g (eval.predictorRank): d2nwg_predicted_best. */
  readonly samplePredicted?: string;
  /** The Tasks and Features nodes (and their output ports) these nodes read. */
  readonly tasks: { readonly node: string; readonly port: string };
  readonly features: { readonly node: string; readonly port: string };
  /** Evaluate and Reference nodes, in report order. */
  readonly evals: readonly string[];
}

/** The pipeline and where its parts are. */
export interface QualityPipeline {
  readonly pipeline: Pipeline;
  readonly nodes: {
    readonly dataset: string;
    readonly tasks: string;
    readonly features: string;
    readonly zoo: string;
    readonly vae: string;
    readonly encoder: string;
    readonly diffusion: string;
    /** Unseen-dataset tasks node (config.unseenDataset), whose outputs are 'tasks' and 'features'. */
    readonly unseenTasks?: string;
    /** Nodes that prepare data (their time is the report's 'features'). */
    readonly data: readonly string[];
  };
  /** The dataset's own tasks, then the unseen-dataset's. */
  readonly targets: readonly QualityTargetNodes[];
}

/** The report's methods evaluated by an Evaluate node: label → init and how many inits count. */
interface EvalMethod {
  readonly label: string;
  readonly init: InitMethod;
  readonly samples: 'first' | 'mean';
  /** Which Sampler feeds it, when it needs one. */
  readonly weights?: 'sample' | 'sampleRanked' | 'samplePredicted';
  readonly vae?: boolean;
  /** Seen tasks only (the zoo's own checkpoints). */
  readonly seenOnly?: boolean;
  /** Not on another dataset's tasks (pretrained_source would train on them: the node refuses). */
  readonly ownDatasetOnly?: boolean;
  /** Draws / fine-tuned inits: N samples, finetuneSamples of them trained; otherwise all. */
  readonly sampled?: boolean;
  /** pretrained_probe's head from the generator's support set (encoder.perClass per class). */
  readonly fromSupport?: boolean;
}

/** The Evaluate nodes, in the benchmark's row order. pretrained_file is added when configured. */
function evalMethods(cfg: QualityConfig): EvalMethod[] {
  return [
    ...(cfg.eval.pretrainedFile
      ? [{ label: 'pretrained_file', init: 'pretrained_file', samples: 'first' } as const]
      : []),
    { label: 'randinit', init: 'randinit', samples: 'first' },
    {
      label: 'pretrained_source',
      init: 'pretrained_source',
      samples: 'first',
      ownDatasetOnly: true,
    },
    // A linear probe on the pretrained body: its LDA head on all of the task's training samples,
    // and on the support set the generator is conditioned on (equal data).
    ...(cfg.eval.discriminant
      ? [
          {
            label: 'pretrained_probe',
            init: 'pretrained_probe',
            samples: 'first',
            ownDatasetOnly: true,
          } as const,
          {
            label: 'pretrained_probe_support',
            init: 'pretrained_probe',
            samples: 'first',
            ownDatasetOnly: true,
            fromSupport: true,
          } as const,
        ]
      : []),
    { label: 'zoo', init: 'zoo', samples: 'mean', seenOnly: true },
    { label: 'noise_nearest', init: 'noise_nearest', samples: 'mean', sampled: true },
    { label: 'weight_avg', init: 'weight_avg', samples: 'first' },
    { label: 'kde30', init: 'kde30', samples: 'mean', vae: true, sampled: true },
    {
      label: 'noise_matched',
      init: 'noise_matched',
      samples: 'mean',
      weights: 'sample',
      sampled: true,
    },
    {
      label: 'noise_fn_matched',
      init: 'noise_fn_matched',
      samples: 'mean',
      weights: 'sample',
      sampled: true,
    },
    { label: 'd2nwg_mean', init: 'd2nwg', samples: 'mean', weights: 'sample', sampled: true },
    { label: 'd2nwg_best', init: 'd2nwg', samples: 'first', weights: 'sampleRanked' },
    ...(cfg.eval.predictorRank
      ? [
          {
            label: 'd2nwg_predicted_best',
            init: 'd2nwg',
            samples: 'first',
            weights: 'samplePredicted',
          } as const,
        ]
      : []),
  ];
}

/** The splits of the dataset's own task draw that have tasks. */
function sourceSplits(cfg: QualityConfig): TaskSplit[] {
  const t = cfg.tasks;
  return [
    ...(t.numSeen > 0 ? (['seen'] as const) : []),
    ...(t.numUnseenCombo > 0 ? (['unseen-combo'] as const) : []),
    ...(t.numUnseenClass > 0 ? (['unseen-class'] as const) : []),
  ];
}

/** Build the benchmark's pipeline for a resolved config (validated against the node specs). */
export function qualityPipeline(cfg: QualityConfig): QualityPipeline {
  const nodes: Pipeline['nodes'] = [];
  const edges: Pipeline['edges'] = [];
  let column = 0;
  let row = 0;
  const add = (id: string, type: NodeType, config: Record<string, unknown>, col?: number) => {
    if (col !== undefined && col !== column) {
      column = col;
      row = 0;
    }
    const spec = registry.get(type);
    if (!spec) throw new Error(`no node type '${type}'`);
    nodes.push({
      id,
      type,
      version: spec.version,
      config,
      position: { x: 260 * column, y: 140 * row++ },
    });
    return id;
  };
  const wire = (source: string, sourcePort: string, target: string, targetPort: string) => {
    edges.push({ id: `e${edges.length + 1}`, source, sourcePort, target, targetPort });
  };
  const ev = cfg.eval;

  const dataset = add('dataset', 'dataset.source', { source: cfg.dataset }, 0);
  const tasks = add('tasks', 'tasks.generate', { ...cfg.tasks }, 1);
  wire(dataset, 'dataset', tasks, 'dataset');
  const features = add('features', 'features.extract', { extractor: cfg.features }, 2);
  wire(tasks, 'tasks', features, 'tasks');
  const data = [dataset, tasks, features];
  let unseenTasks: string | undefined;
  if (cfg.unseenDataset) {
    const ud = cfg.unseenDataset;
    const other = add('unseen_dataset', 'dataset.source', { source: ud.source }, 0);
    unseenTasks = add(
      'unseen_tasks',
      'tasks.unseen-dataset',
      { numTasks: ud.numTasks, seed: ud.seed ?? cfg.seed },
      3,
    );
    wire(other, 'dataset', unseenTasks, 'dataset');
    wire(features, 'features', unseenTasks, 'features');
    data.push(other, unseenTasks);
  }
  const zoo = add(
    'zoo',
    'zoo.build',
    {
      architecture: cfg.zoo.architecture,
      train: cfg.zoo.train,
      workers: cfg.zoo.workers,
      augment: cfg.zoo.augment,
    },
    3,
  );
  wire(features, 'features', zoo, 'features');
  const vae = add('vae', 'model.vae', { ...cfg.vae, predictor: cfg.predictor }, 4);
  wire(zoo, 'zoo', vae, 'zoo');
  const encoder = add('encoder', 'model.encoder', { ...cfg.encoder }, 5);
  const diffusion = add('diffusion', 'model.diffusion', { ...cfg.diffusion }, 6);
  wire(vae, 'vae', encoder, 'vae');
  wire(encoder, 'encoder', diffusion, 'encoder');

  const targets: QualityTargetNodes[] = [];
  const targetOf = (
    prefix: string,
    splits: readonly TaskSplit[],
    taskSrc: { node: string; port: string },
    featSrc: { node: string; port: string },
    ownDataset: boolean,
    col: number,
  ) => {
    const evals: string[] = [];
    /** The target's features, wired when they are not the ones the chain carries. */
    const targetFeatures = (id: string) => {
      if (!ownDataset) wire(featSrc.node, featSrc.port, id, 'features');
    };
    const common = { splits: [...splits], maxTasks: ev.maxTasksPerSplit };
    const sampler = (id: string, extra: Record<string, unknown>) => {
      const n = add(
        `${prefix}${id}`,
        'sample.generate',
        { ...cfg.sampler, samplesPerTask: ev.samplesPerTask, ...common, ...extra },
        col,
      );
      wire(diffusion, 'diffusion', n, 'diffusion');
      targetFeatures(n);
      return n;
    };
    const samplers = {
      sample: sampler('sample', { rank: false }),
      sampleRanked: sampler('sample_ranked', { rank: true, rankBy: 'support' }),
      ...(ev.predictorRank
        ? {
            samplePredicted: sampler('sample_predicted', {
              rank: true,
              rankBy: 'predictor',
              predictor: cfg.predictor,
            }),
          }
        : {}),
    };
    for (const m of evalMethods(cfg)) {
      if (m.ownDatasetOnly && !ownDataset) continue;
      const mSplits = m.seenOnly ? splits.filter((s) => s === 'seen') : splits;
      if (mSplits.length === 0) continue;
      const weightsNode = m.weights ? samplers[m.weights] : undefined;
      if (m.weights && weightsNode === undefined) continue;
      const id = add(
        `${prefix}eval_${m.label}`,
        'eval.finetune',
        {
          init: m.init,
          label: m.label,
          ...common,
          splits: [...mSplits],
          samples: m.samples,
          finetuneEpochs: ev.finetuneEpochs,
          lr: ev.lr,
          batchSize: ev.batchSize,
          noiseStd: ev.noiseStd,
          kdeBandwidth: ev.kdeBandwidth,
          kdeTopFraction: ev.kdeTopFraction,
          ldaShrinkage: ev.ldaShrinkage,
          ...(m.sampled ? { draws: ev.samplesPerTask, finetuneInits: ev.finetuneSamples } : {}),
          ...(m.init === 'pretrained_file' ? { checkpoint: ev.pretrainedFile } : {}),
          ...(m.fromSupport ? { probeFrom: 'support', perClass: cfg.encoder.perClass } : {}),
        },
        col + 1,
      );
      targetFeatures(id);
      wire(zoo, 'zoo', id, 'zoo');
      if (weightsNode) wire(weightsNode, 'weights', id, 'weights');
      if (m.vae) wire(vae, 'vae', id, 'vae');
      evals.push(id);
    }
    const reference = (label: string, config: Record<string, unknown>) => {
      const id = add(`${prefix}ref_${label}`, 'eval.reference', { ...common, ...config }, col + 1);
      wire(featSrc.node, featSrc.port, id, 'features');
      evals.push(id);
    };
    reference('ncm', { method: 'ncm', samples: 'train' });
    reference('ncm_support', {
      method: 'ncm',
      samples: 'support',
      perClass: cfg.encoder.perClass,
    });
    if (ev.discriminant) {
      reference('lda', { method: 'lda', samples: 'train', shrinkage: ev.ldaShrinkage });
      // LDA from the same support set the generator is conditioned on: the fair zero-training
      // reference at equal data, beside ncm_support.
      reference('lda_support', {
        method: 'lda',
        samples: 'support',
        perClass: cfg.encoder.perClass,
        shrinkage: ev.ldaShrinkage,
      });
    }
    targets.push({ splits, tasks: taskSrc, features: featSrc, evals, ...samplers });
  };
  targetOf(
    '',
    sourceSplits(cfg),
    { node: tasks, port: 'tasks' },
    { node: features, port: 'features' },
    true,
    7,
  );
  if (unseenTasks) {
    targetOf(
      'unseen_',
      ['unseen-dataset'],
      { node: unseenTasks, port: 'tasks' },
      { node: unseenTasks, port: 'features' },
      false,
      9,
    );
  }
  // A user's checkpoint is read (or refused) as soon as the zoo fixes the layout it must fit,
  // before the generator trains: the executor takes ready nodes in file order.
  const early = nodes.filter((n) => n.id.endsWith('eval_pretrained_file'));
  const rest = nodes.filter((n) => !early.includes(n));
  const at = rest.findIndex((n) => n.id === zoo) + 1;
  const ordered = [...rest.slice(0, at), ...early, ...rest.slice(at)];
  const pipeline = pipelineSchema.parse({
    format: PIPELINE_FORMAT,
    version: PIPELINE_VERSION,
    name: `quality-${cfg.preset}`,
    description: `d2nwg bench quality --preset ${cfg.preset} (seed ${cfg.seed}), as a pipeline`,
    nodes: ordered,
    edges,
  });
  return {
    pipeline,
    nodes: { dataset, tasks, features, zoo, vae, encoder, diffusion, unseenTasks, data },
    targets,
  };
}
