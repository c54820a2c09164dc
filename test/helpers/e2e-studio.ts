/**
 * The set-up every browser end-to-end test shares: the built renderer, an in-process `serve`
 * (real API, SQLite store and engine host worker, with an engine fixture so runs are quick and
 * deterministic) over a fresh data dir holding one example pipeline, and a page in Debian's
 * Chromium driven by playwright-core. A new e2e test starts with `startE2eStudio` in its
 * `beforeAll` and `close()` in its `afterAll`, and skips when `hasChromium` is false.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { createDefaultApi } from '../../src/main/api/create.ts';
import type { StudioApi } from '../../src/main/api/studio.ts';
import { CHROMIUM_PATH, launchChromium } from '../../src/main/server/chromium.ts';
import { startServer, type RunningServer } from '../../src/main/server/server.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';
import { ensureBuilt, RENDERER, SHOTS } from './e2e-build.ts';

/** Whether the browser tests can run here (apt-get install chromium). */
export const hasChromium = existsSync(CHROMIUM_PATH);
if (!hasChromium) {
  console.warn(`e2e: skipped, ${CHROMIUM_PATH} is absent (apt-get install chromium)`);
}

/** expect.poll with a timeout that fits a worker start and a Monaco load. */
export const poll = <T>(fn: () => T | Promise<T>, opts: { timeout?: number } = {}) =>
  expect.poll(fn, { timeout: opts.timeout ?? 15_000 });

/** The example the first-run screen offers (`example-toy`): the dataset feeding the tasks. */
export const TOY_EXAMPLE: Pipeline = {
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'Toy example',
  description: 'Dataset and tasks, for the first-run screen.',
  nodes: [
    { id: 'data', type: 'dataset.source', version: 1, config: {}, position: { x: 0, y: 0 } },
    { id: 'tasks', type: 'tasks.generate', version: 1, config: {}, position: { x: 300, y: 0 } },
  ],
  edges: [
    { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
  ],
};

export interface E2eStudioOptions {
  /** Names the temporary data dir (`d2nwg-e2e-<label>-…`). */
  readonly label: string;
  /** Module exporting `runInHost`, run by the engine host instead of the real executor. */
  readonly engine: URL;
}

/** A running studio and the browser page that drives it. */
export interface E2eStudio {
  readonly api: StudioApi;
  readonly server: RunningServer;
  readonly browser: Browser;
  /** 1440×900, 15 s default timeout; dialogs are accepted. */
  readonly page: Page;
  /** The data dir (store, artifacts, exports); removed by close(). */
  readonly dataDir: string;
  /** Closes the browser, the server and the API, and removes the data dir. */
  close(): Promise<void>;
}

/** Build the renderer if needed, start the studio and open a page; see the module comment. */
export async function startE2eStudio(opts: E2eStudioOptions): Promise<E2eStudio> {
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), `d2nwg-e2e-${opts.label}-`));
  const examples = join(dataDir, 'examples');
  mkdirSync(examples);
  writeFileSync(join(examples, 'toy.json'), JSON.stringify(TOY_EXAMPLE));
  const api = createDefaultApi({
    mode: 'web',
    version: '0.0.0-e2e',
    examplesDir: examples,
    dbFile: join(dataDir, 'studio.db'),
    dataDir,
    engineEntry: opts.engine.href,
  });
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
    await api.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    server = await startServer({ api, rendererDir: RENDERER, port: 0 });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on('dialog', (d) => void d.accept());
    return { api, server, browser, page, dataDir, close };
  } catch (err) {
    await close();
    throw err;
  }
}
