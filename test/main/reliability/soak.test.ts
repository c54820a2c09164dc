// A short soak of web mode (the bench runs the 60 s one): 20 WebSocket clients and 50 API
// requests/s for 5 s while the quickstart pipeline runs in the real engine. Every push message
// reaches every client, no request fails. It takes ~11 s on 2 cores, so it runs with D2NWG_SLOW=1.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultApi } from '../../../src/main/api/create.ts';
import type { StudioApi } from '../../../src/main/api/studio.ts';
import { percentile, soakWebMode } from '../../../src/main/reliability/soak.ts';
import { tempDir } from '../../fixtures/datagen.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
let dir = '';
let api: StudioApi;

beforeAll(() => {
  dir = tempDir('soak');
  api = createDefaultApi({
    mode: 'web',
    version: '0.0.0-test',
    examplesDir: path.join(ROOT, 'resources', 'pipelines'),
    dbFile: path.join(dir, 'studio.db'),
    dataDir: dir,
  });
});
afterAll(async () => {
  await api.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('web mode soak', () => {
  it('percentile is nearest-rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(v, 0.5), percentile(v, 0.99), percentile(v, 1)]).toEqual([50, 99, 100]);
    expect(percentile([], 0.99)).toBe(0);
  });

  it.runIf(process.env.D2NWG_SLOW === '1')(
    '20 clients, 50 requests/s for 5 s during a run: no lost event, no failed request',
    async () => {
      const pipeline = await api.handlers['pipelines.openExample']({ name: 'quickstart' });
      const r = await soakWebMode({ api, pipeline, seconds: 5, clients: 20, rps: 50 });
      expect(r.requests).toBe(250);
      expect(r.requestErrors).toBe(0);
      expect(r.eventsEmitted).toBeGreaterThan(0);
      expect(r.eventsDelivered).toBe(20 * r.eventsEmitted);
      expect(r.eventsLost).toBe(0);
      expect(r.perClient).toEqual({ min: r.eventsEmitted, max: r.eventsEmitted });
      expect(r.runStillRunning).toBe(true);
      expect(r.latencyMs.p99).toBeGreaterThan(0);
      expect(r.p99First5sMs).toBeGreaterThan(0);
    },
    60_000,
  );
});
