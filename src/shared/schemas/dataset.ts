/**
 * Where labelled data comes from and how classification tasks are drawn from it. Shared so that
 * the canvas forms, the CLI and the engine validate the same JSON the same way.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';

const filePath = z.string().min(1);

/** The data sources the engine can read; each kind names exactly the files it needs. */
export const DatasetSourceSchema = z.discriminatedUnion('kind', [
  strictObject({
    kind: z.literal('fashion-mnist'),
    /** 'embedded': the t10k set shipped with the app; 'full': train + t10k (70,000 images). */
    variant: z.enum(['embedded', 'full']).default('embedded'),
    /** Folder with the four `*-ubyte.gz` files for 'full' (default: Debian's dataset package). */
    path: filePath.optional(),
  }),
  strictObject({
    kind: z.literal('idx'),
    /** IDX images file (`*-images-idx3-ubyte`, raw or gzipped). */
    images: filePath,
    /** IDX labels file (`*-labels-idx1-ubyte`, raw or gzipped). */
    labels: filePath,
    /** Names for labels 0..C-1 (default: the label numbers). */
    classNames: z.array(z.string().min(1)).min(1).optional(),
  }),
  strictObject({
    kind: z.literal('imagefolder'),
    /** Root folder with one sub-folder of PNG/JPEG images per class. */
    root: filePath,
    /** Resize every image to [height, width] (default: the size of the first image). */
    size: z
      .tuple([z.number().int().min(1).max(4096), z.number().int().min(1).max(4096)])
      .optional(),
    /** 1 = grey, 3 = RGB (default: 1 if the first image is grey, else 3). */
    channels: z.union([z.literal(1), z.literal(3)]).optional(),
    /** Resampling used when resizing. */
    resize: z.enum(['nearest', 'bilinear']).default('bilinear'),
  }),
  strictObject({
    kind: z.literal('csv'),
    /** CSV file (raw or gzipped): numeric feature columns plus a label column. */
    path: filePath,
    /** Label column: header name, or 0-based index (negative counts from the end). Default: 'label' if present, else the last column. */
    labelColumn: z.union([z.string().min(1), z.number().int()]).optional(),
    /** Whether the first row is a header row. */
    header: z.boolean().default(true),
  }),
  strictObject({
    kind: z.literal('npy'),
    /** `.npy` samples: [n, d] features, or [n, h, w] / [n, h, w, c] images. */
    x: filePath,
    /** `.npy` integer labels, shape [n]. */
    y: filePath,
  }),
]);
export type DatasetSource = z.infer<typeof DatasetSourceSchema>;
export type DatasetSourceInput = z.input<typeof DatasetSourceSchema>;

/** Held-out classes: how many to draw with the seed, or exactly which class indices. */
export const HeldOutSchema = z.union([z.number().int().min(0), z.array(z.number().int().min(0))]);

/** How tasks are drawn from a labelled source (bench/QUALITY.md, "Tasks"). */
export const TaskGenConfigSchema = strictObject({
  /** K: classes per task (outputs of every model). */
  k: z.number().int().min(2).max(1000).default(5),
  /** Training samples per class in each task. */
  nTrain: z.number().int().min(1).max(1_000_000).default(50),
  /** Test samples per class in each task. */
  nTest: z.number().int().min(1).max(1_000_000).default(100),
  /** Classes that appear in no seen task: a count drawn with the seed, or explicit indices. */
  heldOutClasses: HeldOutSchema.default(2),
  /** Number of seen tasks (the zoo trains on them). */
  numSeen: z.number().int().min(0).max(100_000).default(20),
  /** Number of unseen-combo tasks (known classes, a class set no seen task has). */
  numUnseenCombo: z.number().int().min(0).max(100_000).default(10),
  /** Number of unseen-class tasks (at least one held-out class). */
  numUnseenClass: z.number().int().min(0).max(100_000).default(10),
  /** Fraction of each class's samples that goes to the train pool; the rest is the test pool. */
  trainFraction: z.number().gt(0).lt(1).default(0.8),
  /** Seed of the split and of the draw. */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
});
export type TaskGenConfig = z.infer<typeof TaskGenConfigSchema>;
export type TaskGenConfigInput = z.input<typeof TaskGenConfigSchema>;
