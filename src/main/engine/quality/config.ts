/**
 * Resolving a quality-benchmark config: preset, then the user's JSON file deep-merged over it,
 * then zod with defaults, then the cross-field checks that zod cannot express (a zoo needs at
 * least two seen tasks, a support set cannot ask for more samples than a task has…). Every refusal
 * is an InputError naming the field.
 */
import {
  QualityConfigSchema,
  mergeConfig,
  qualityPresetInput,
  type QualityConfig,
  type QualityPreset,
} from '../../../shared/schemas/quality.ts';
import { formatIssues } from '../../../shared/issues.ts';
import { InputError } from '../errors.ts';
import { readJson } from '../formats/json-file.ts';

/** Read a JSON config override file; unreadable or malformed JSON is an InputError naming it. */
export async function readConfigFile(file: string): Promise<unknown> {
  return readJson(file, { what: 'config', invalid: 'invalid JSON' });
}

/**
 * Preset + override → fully resolved config. `where` names the override's origin in errors.
 * The task draw's seed follows the master seed unless the override sets tasks.seed itself.
 */
export function resolveQualityConfig(
  preset: QualityPreset,
  override: unknown = {},
  where = 'config',
): QualityConfig {
  if (
    override !== undefined &&
    (typeof override !== 'object' || override === null || Array.isArray(override))
  ) {
    throw new InputError('the config must be a JSON object', where);
  }
  const merged = mergeConfig(qualityPresetInput(preset), override ?? {});
  const r = QualityConfigSchema.safeParse(merged);
  if (!r.success) throw new InputError(formatIssues(r.error).join('; '), where);
  const cfg = r.data;
  const overrideTasks =
    typeof override === 'object' && override !== null && 'tasks' in override
      ? (override as { tasks?: unknown }).tasks
      : undefined;
  const taskSeedGiven =
    typeof overrideTasks === 'object' && overrideTasks !== null && 'seed' in overrideTasks;
  const resolved: QualityConfig = taskSeedGiven
    ? cfg
    : { ...cfg, tasks: { ...cfg.tasks, seed: cfg.seed } };
  checkQualityConfig(resolved, where);
  return resolved;
}

/** Cross-field checks; throws InputError naming the field and the values at fault. */
export function checkQualityConfig(cfg: QualityConfig, where = 'config'): void {
  const t = cfg.tasks;
  const fail = (field: string, msg: string): never => {
    throw new InputError(msg, `${where}: ${field}`);
  };
  if (t.numSeen < 2) {
    fail(
      'tasks.numSeen',
      `the zoo needs at least 2 seen tasks (the dataset encoder learns by contrasting tasks), got ${t.numSeen}`,
    );
  }
  if (cfg.encoder.perClass > t.nTrain) {
    fail(
      'encoder.perClass',
      `support sets of ${cfg.encoder.perClass} samples per class cannot be drawn from ${t.nTrain} training samples per class (tasks.nTrain)`,
    );
  }
  if (cfg.encoder.dModel % cfg.encoder.heads !== 0) {
    fail(
      'encoder.heads',
      `dModel ${cfg.encoder.dModel} is not divisible by ${cfg.encoder.heads} heads`,
    );
  }
  if (cfg.eval.soupTopK > cfg.eval.samplesPerTask) {
    fail(
      'eval.soupTopK',
      `the soup averages ${cfg.eval.soupTopK} samples but only ${cfg.eval.samplesPerTask} are drawn per task`,
    );
  }
  if (cfg.zoo.train.keepLast > cfg.zoo.train.epochs) {
    fail(
      'zoo.train.keepLast',
      `keeps ${cfg.zoo.train.keepLast} checkpoints of runs that last ${cfg.zoo.train.epochs} epochs`,
    );
  }
  if (cfg.zoo.architecture.kind === 'cnn' && cfg.features.kind !== 'pixels') {
    fail(
      'features.kind',
      `a CNN zoo trains on raw images: set features.kind to 'pixels' (got '${cfg.features.kind}')`,
    );
  }
}
