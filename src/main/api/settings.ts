/**
 * The app's settings file, `<data dir>/settings.json` (src/shared/settings.ts), and the executor
 * setting it gives sweeps: the file's queue fields over the start-up setting (`d2nwg serve
 * --queue`, D2NWG_QUEUE).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppSettingsSchema, type AppSettings } from '../../shared/settings.ts';
import { InputError } from '../engine/errors.ts';
import type { ExecutorSetting } from '../engine/zoo/executor.ts';

export const SETTINGS_FILE = 'settings.json';

export interface SettingsFile {
  get(): AppSettings;
  set(next: AppSettings): AppSettings;
}

/** Settings kept in `dir`; a missing file is no settings, a broken one a clear error. */
export function settingsFile(dir: string): SettingsFile {
  const file = path.join(dir, SETTINGS_FILE);
  return {
    get() {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
        throw err;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new InputError('the settings file is not JSON; fix or delete it', file);
      }
      const parsed = AppSettingsSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InputError(
          `the settings file is not valid: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
          file,
        );
      }
      return parsed.data;
    },
    set(next) {
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
      fs.renameSync(tmp, file);
      return next;
    },
  };
}

/** Where sweeps run: the settings' queue fields over the start-up setting. */
export function sweepExecutorSetting(
  settings: AppSettings,
  startup: ExecutorSetting,
): ExecutorSetting {
  const queue = settings.sweepQueue ?? startup.queue;
  const queueName = settings.sweepQueueName ?? startup.queueName;
  return { ...(queue ? { queue } : {}), ...(queue && queueName ? { queueName } : {}) };
}
