/**
 * The app's settings (desktop app and web mode): what the Settings of the Sweeps panel edit and
 * `system.getSettings` / `system.setSettings` carry. Kept in `<data dir>/settings.json`. A field left out
 * falls back to how the process was started (`d2nwg serve --queue`, D2NWG_QUEUE).
 */
import { z } from 'zod';
import { strictObject } from './issues.ts';

/** A Redis URL BullMQ can connect to. */
export const QUEUE_URL_RE = /^rediss?:\/\/[^\s/]+(\/\d*)?$/;

export const AppSettingsSchema = strictObject({
  /**
   * Where sweeps run: the Redis of the `d2nwg worker` processes (`redis://HOST:PORT`), or the
   * empty string for in process whatever the process was started with. Absent: the start-up
   * setting (`--queue`, D2NWG_QUEUE), else in process.
   */
  sweepQueue: z
    .string()
    .max(500)
    .refine((s) => s === '' || QUEUE_URL_RE.test(s), {
      message: 'a queue is redis://HOST:PORT (or rediss://…), or empty for in process',
    })
    .optional(),
  /** Queue name on that Redis (default 'd2nwg'); workers must serve the same name. */
  sweepQueueName: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'a queue name is 1–100 letters, digits, . _ -')
    .optional(),
});
export type AppSettings = z.infer<typeof AppSettingsSchema>;
