/**
 * The zoo's tasks made concrete again. A manifest stores task ids and classes, not sample indices:
 * those follow from the dataset and the task generator's config and seed. Evaluation, fine-tuning
 * and the dataset encoder call this to get the exact train/test samples each member saw.
 */
import type { ZooManifest } from '../../../shared/schemas/zoo.ts';
import { loadDataset } from '../data/sources.ts';
import { generateTasks, type GeneratedTasks } from '../data/tasks.ts';
import type { LabelledData } from '../data/types.ts';
import { InputError } from '../errors.ts';
import { applyExtractor, type FeatureExtractor } from '../features/extractor.ts';
import type { RunControl } from '../progress.ts';
import type { Zoo } from './storage.ts';

/**
 * The inputs members see: extracted features, or for a CNN the images themselves (a 'pixels'
 * extractor keeps every value in place, so the image shape is restored).
 */
export async function memberInputs(
  archKind: 'mlp' | 'cnn',
  ex: FeatureExtractor,
  data: LabelledData,
  control: RunControl = {},
): Promise<LabelledData> {
  const feats = await applyExtractor(ex, data, { signal: control.signal });
  if (archKind === 'cnn' && ex.kind === 'pixels') {
    return { ...feats, sampleShape: [...data.sampleShape] };
  }
  return feats;
}

/** The zoo's dataset as members see it, and its regenerated tasks. */
export interface ZooTaskData {
  /** Raw source data. */
  readonly raw: LabelledData;
  /** Member inputs: features from the zoo's extractor (raw pixels in image shape for a CNN). */
  readonly inputs: LabelledData;
  /** Tasks as the build drew them (seen, unseen-combo, unseen-class, pools). */
  readonly tasks: GeneratedTasks;
}

/**
 * Reload the zoo's dataset, apply its extractor and redraw its tasks; checks that every task in
 * the manifest comes back with the same id, classes and sizes (else the data changed: InputError).
 */
export async function zooTaskData(zoo: Zoo, control: RunControl = {}): Promise<ZooTaskData> {
  const m: ZooManifest = zoo.manifest;
  if (!m.dataset.source || !m.tasks.config) {
    throw new InputError(
      'this zoo records no dataset source or task config (imported from elsewhere?), so its tasks cannot be rebuilt',
      'manifest.json',
    );
  }
  const raw = await loadDataset(m.dataset.source);
  const inputs = zoo.extractor ? await memberInputs(m.arch.kind, zoo.extractor, raw, control) : raw;
  const tasks = generateTasks(raw.labels, raw.classNames.length, m.tasks.config, raw.classNames);
  const drawn = new Map(
    [...tasks.seen, ...tasks.unseenCombo, ...tasks.unseenClass].map((t) => [t.id, t]),
  );
  for (const t of m.tasks.list) {
    const d = drawn.get(t.id);
    const same =
      d !== undefined &&
      d.split === t.split &&
      d.classes.length === t.classes.length &&
      d.classes.every((c, i) => c === t.classes[i]) &&
      d.trainIndex.length === t.trainCount &&
      d.testIndex.length === t.testCount;
    if (!same) {
      throw new InputError(
        `task '${t.id}' does not come back the same from ${m.dataset.id}: the dataset or the task generator changed since the zoo was built`,
        'manifest.json',
      );
    }
  }
  return { raw, inputs, tasks };
}
