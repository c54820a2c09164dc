/**
 * The in-memory forms of data that every engine stage exchanges. Plain typed arrays, not tensors:
 * they cross worker_threads and process boundaries cheaply and have no owner to dispose.
 */

/** A labelled set of samples, e.g. all of Fashion-MNIST t10k, or a user's image folder. */
export interface LabelledData {
  /** Row-major samples, `n * prod(sampleShape)` values. Pixels are scaled to [0, 1]. */
  readonly x: Float32Array;
  /** Shape of one sample: `[h, w, c]` for images, `[d]` for feature vectors. */
  readonly sampleShape: readonly number[];
  /** Class index per sample, in `0..classNames.length-1`. */
  readonly labels: Int32Array;
  /** Human-readable class names, index = label. */
  readonly classNames: readonly string[];
  /** Where it came from (path or 'embedded:fashion-mnist'), for manifests and error messages. */
  readonly source: string;
}

/** Number of samples in a LabelledData. */
export function sampleCount(d: LabelledData): number {
  return d.labels.length;
}

/** Values per sample (product of sampleShape). */
export function sampleSize(d: Pick<LabelledData, 'sampleShape'>): number {
  return d.sampleShape.reduce((a, b) => a * b, 1);
}

/**
 * One classification task drawn from a source: an ordered tuple of K source classes.
 * Output unit i of a model for this task means source class `classes[i]`.
 */
export interface TaskSpec {
  /** Stable id, e.g. 't0007' or '3-1-8-0-5'. */
  readonly id: string;
  /** Source class indices, in output order. Length K. */
  readonly classes: readonly number[];
  /** Indices into the source of the training samples (n per class). */
  readonly trainIndex: Int32Array;
  /** Indices into the source of the test samples (m per class), disjoint from trainIndex. */
  readonly testIndex: Int32Array;
  /**
   * 'seen' | 'unseen-combo' | 'unseen-class', as in bench/QUALITY.md; 'unseen-dataset' for tasks
   * of another source (drawTargetTasks), whose indices point into that source.
   */
  readonly split: 'seen' | 'unseen-combo' | 'unseen-class' | 'unseen-dataset';
}

/** A task made concrete: inputs (raw or features) and labels remapped to 0..K-1. */
export interface TaskData {
  readonly task: TaskSpec;
  readonly xTrain: Float32Array;
  readonly yTrain: Int32Array;
  readonly xTest: Float32Array;
  readonly yTest: Int32Array;
  /** Shape of one input sample (features: `[d]`; images: `[h, w, c]`). */
  readonly sampleShape: readonly number[];
  /** K, the number of outputs. */
  readonly numClasses: number;
}
