/**
 * The set-up every browser end-to-end test shares: the built renderer, an in-process `serve`
 * (real API, SQLite store and engine host worker, with an engine fixture so runs are quick and
 * deterministic) over a fresh data dir holding one example pipeline, and a page in Debian's
 * Chromium driven by playwright-core. A new e2e suite is a `describe.skipIf(!hasChromium)` that
 * calls `useStudio` once: it registers the `beforeAll` that starts the studio and the `afterAll`
 * that closes it, and returns the handles, read inside the tests.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Browser, Dialog, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
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
  /** Pipeline files copied into the examples dir beside `toy.json` (TOY_EXAMPLE). */
  readonly examples?: readonly string[];
  /** Answers the page's alert/confirm/prompt dialogs; by default each is accepted. */
  readonly onDialog?: (dialog: Dialog) => void;
}

/** A running studio and the browser page that drives it. */
export interface E2eStudio {
  readonly api: StudioApi;
  readonly server: RunningServer;
  readonly browser: Browser;
  /** 1440×900, 15 s default timeout, downloads accepted; dialogs go to `onDialog`. */
  readonly page: Page;
  /** The data dir (store, artifacts, exports); removed by close(). */
  readonly dataDir: string;
  /** Messages of the page's uncaught errors, in order. */
  readonly pageErrors: readonly string[];
  /**
   * The page's console errors (less "Failed to load resource", which carries no URL) and its
   * uncaught errors, in order. A suite may push its own findings (e.g. failed responses).
   */
  readonly consoleErrors: string[];
  /** A screenshot of the whole page to test/artifacts/<name>.png. */
  shot(name: string): Promise<Buffer>;
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
  for (const file of opts.examples ?? []) copyFileSync(file, join(examples, basename(file)));
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
    const page = await browser.newPage({
      viewport: { width: 1440, height: 900 },
      acceptDownloads: true,
    });
    page.setDefaultTimeout(15_000);
    page.on('dialog', opts.onDialog ?? ((d) => void d.accept()));
    const pageErrors: string[] = [];
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
        consoleErrors.push(m.text());
      }
    });
    page.on('pageerror', (e) => {
      pageErrors.push(e.message);
      consoleErrors.push(e.message);
    });
    const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });
    return { api, server, browser, page, dataDir, pageErrors, consoleErrors, shot, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The studio of a suite: the handles of E2eStudio, readable once its `beforeAll` has run. */
export type SuiteStudio = Omit<E2eStudio, 'browser' | 'close'>;

/**
 * Start a studio for the enclosing `describe` (a `beforeAll`, with room for a renderer build)
 * and close it after (an `afterAll`). `setUp` runs once the page is open, before the first test
 * (listeners of the suite's own). The handles throw when read before the studio is running.
 */
export function useStudio(
  opts: E2eStudioOptions & { readonly setUp?: (studio: E2eStudio) => void },
): SuiteStudio {
  let running: E2eStudio | undefined;
  beforeAll(async () => {
    running = await startE2eStudio(opts);
    opts.setUp?.(running);
  }, 240_000);
  afterAll(async () => {
    await running?.close();
  });
  const get = (): E2eStudio => {
    if (!running) {
      throw new Error(
        `useStudio(${opts.label}): the studio is not running; read its handles inside a test`,
      );
    }
    return running;
  };
  return {
    get api() {
      return get().api;
    },
    get server() {
      return get().server;
    },
    get page() {
      return get().page;
    },
    get dataDir() {
      return get().dataDir;
    },
    get pageErrors() {
      return get().pageErrors;
    },
    get consoleErrors() {
      return get().consoleErrors;
    },
    shot: (name) => get().shot(name),
  };
}
