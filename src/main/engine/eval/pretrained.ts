/**
 * The "Pretrained (source)" baseline, the paper's "ImageNet" column: the zoo architecture trained
 * once on the full source dataset (the train pool of every known, non-held-out class), then
 * re-headed for each target task's classes. The quality benchmark and the Evaluate node both use
 * this one definition, so the baseline means the same thing wherever it is reported.
 */
import type { ArchitectureConfig } from '../../../shared/schemas/zoo.ts';
import { sampleSize, type LabelledData } from '../data/types.ts';
import { InputError } from '../errors.ts';
import { layoutOf, resolveArchitecture, type Layout } from '../nn/architecture.ts';
import { initParams } from '../nn/params.ts';
import { trainClassifier } from '../nn/train.ts';
import type { Rng } from '../rng.ts';

/** How the source model is trained (the zoo members' settings, so the comparison is fair). */
export interface SourceTrainConfig {
  /** Training epochs over the whole source train pool. */
  readonly epochs: number;
  /** Minibatch size. */
  readonly batchSize: number;
  /** Adam learning rate. */
  readonly lr: number;
}

export interface TrainSourceModelArgs {
  /** Every sample of the source, as the models see it (features, or images for a CNN). */
  readonly feat: LabelledData;
  /** Source indices the tasks' training samples come from; only these are trained on. */
  readonly trainPool: Int32Array;
  /** Held-out class indices; their samples are never seen by the source model. */
  readonly heldOut: readonly number[];
  /** The architecture the zoo members share; the output count becomes the known class count. */
  readonly architecture: ArchitectureConfig;
  /** Training settings (normally the zoo's). */
  readonly train: SourceTrainConfig;
  /** Forked as 'source-init' and 'source-train'; the same rng gives the same model. */
  readonly rng: Rng;
  /** Stops training between batches. */
  readonly signal?: AbortSignal;
}

/** A source model trained once, from which each task gets its own re-headed copy. */
export interface SourceModel {
  /** Training samples it saw. */
  readonly count: number;
  /** Classes it was trained to tell apart (the known, non-held-out classes). */
  readonly classes: number;
  /** Layout of the trained source model (its head has `classes` outputs). */
  readonly layout: Layout;
  /** Its trained weights, in `layout`. */
  readonly params: Float32Array;
  /**
   * Body of the source model + a freshly initialised head of `layout` (drawn from `rng`); throws
   * InputError when `layout`'s body differs from the source model's.
   */
  transfer(layout: Layout, rng: Rng): Float32Array;
}

/** Train the source model on the whole train pool of the known classes. */
export async function trainSourceModel(args: TrainSourceModelArgs): Promise<SourceModel> {
  const { feat, trainPool, heldOut, rng } = args;
  const d = sampleSize(feat);
  const known = feat.classNames.map((_, c) => c).filter((c) => !heldOut.includes(c));
  if (known.length < 2) {
    throw new InputError(
      `only ${known.length} classes are not held out; the source model needs 2`,
      'tasks.heldOutClasses',
    );
  }
  const remap = new Map(known.map((c, i) => [c, i]));
  const idx = Array.from(trainPool).filter((i) => remap.has(feat.labels[i]));
  if (idx.length === 0) {
    throw new InputError('the train pool has no sample of a known class', 'tasks');
  }
  const x = new Float32Array(idx.length * d);
  const y = new Int32Array(idx.length);
  idx.forEach((s, j) => {
    x.set(feat.x.subarray(s * d, (s + 1) * d), j * d);
    y[j] = remap.get(feat.labels[s]) ?? 0;
  });
  const srcLayout = layoutOf(
    resolveArchitecture(args.architecture, feat.sampleShape, known.length),
  );
  const { params } = await trainClassifier({
    layout: srcLayout,
    init: initParams(srcLayout, rng.fork('source-init')),
    xTrain: x,
    yTrain: y,
    epochs: args.train.epochs,
    batchSize: args.train.batchSize,
    lr: args.train.lr,
    rng: rng.fork('source-train'),
    control: { signal: args.signal },
    stage: 'pretrained source model',
  });
  const body = srcLayout.params.slice(0, -2);
  const bodySize = body.reduce((a, p) => a + p.size, 0);
  return {
    count: idx.length,
    classes: known.length,
    layout: srcLayout,
    params,
    transfer(layout: Layout, headRng: Rng): Float32Array {
      const target = layout.params.slice(0, -2);
      const same =
        target.length === body.length &&
        target.every(
          (p, i) =>
            p.offset === body[i].offset &&
            p.shape.length === body[i].shape.length &&
            p.shape.every((s, j) => s === body[i].shape[j]),
        );
      if (!same) {
        throw new InputError(
          'the source model and the task architecture differ below the head (different inputs or architecture)',
          'arch',
        );
      }
      const out = initParams(layout, headRng);
      out.set(params.subarray(0, bodySize), 0);
      return out;
    },
  };
}
