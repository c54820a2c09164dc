// The app's settings file and where it sends sweeps: the file's queue over the start-up setting,
// '' forcing in process; a missing file is no settings, a broken one a clear error.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  settingsFile,
  sweepExecutorSetting,
  SETTINGS_FILE,
} from '../../../src/main/api/settings.ts';
import { AppSettingsSchema } from '../../../src/shared/settings.ts';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-settings-'));

describe('settings file', () => {
  it('is empty until saved, then reads back what was saved', () => {
    const d = dir();
    const f = settingsFile(d);
    expect(f.get()).toEqual({});
    f.set({ sweepQueue: 'redis://10.0.0.2:6379', sweepQueueName: 'lab' });
    expect(settingsFile(d).get()).toEqual({
      sweepQueue: 'redis://10.0.0.2:6379',
      sweepQueueName: 'lab',
    });
  });

  it('names the file and the field when the file is broken', () => {
    const d = dir();
    const file = path.join(d, SETTINGS_FILE);
    fs.writeFileSync(file, '{"sweepQueue": 6379}');
    expect(() => settingsFile(d).get()).toThrow(
      `${file}: the settings file is not valid: sweepQueue:`,
    );
    fs.writeFileSync(file, '{nope');
    expect(() => settingsFile(d).get()).toThrow(`${file}: the settings file is not JSON`);
  });

  it('refuses a queue that is not a Redis URL and unknown keys', () => {
    expect(AppSettingsSchema.safeParse({ sweepQueue: 'localhost:6379' }).success).toBe(false);
    expect(AppSettingsSchema.safeParse({ queue: 'redis://h:1' }).success).toBe(false);
    expect(AppSettingsSchema.safeParse({ sweepQueue: 'rediss://h:6380/2' }).success).toBe(true);
  });
});

describe('where sweeps run', () => {
  const startup = { queue: 'redis://a:1', queueName: 'x' };
  it('follows the start-up setting when the settings say nothing', () => {
    expect(sweepExecutorSetting({}, startup)).toEqual(startup);
    expect(sweepExecutorSetting({}, {})).toEqual({});
  });
  it('takes the settings queue over the start-up one, and the empty queue as in process', () => {
    expect(sweepExecutorSetting({ sweepQueue: 'redis://b:2' }, startup)).toEqual({
      queue: 'redis://b:2',
      queueName: 'x',
    });
    expect(sweepExecutorSetting({ sweepQueue: '', sweepQueueName: 'y' }, startup)).toEqual({});
  });
});
