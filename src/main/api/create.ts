/**
 * Wires the real API: SQLite store, engine host worker running the executor, pipeline
 * validation against the registry, weight export. Electron main and `d2nwg serve` both call this,
 * so the desktop app and web mode are the same program behind different transports.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { registry } from '../../shared/nodes/registry.ts';
import { checkPipelineJson } from '../graph/load.ts';
import { EngineHost } from '../host/engine-host.ts';
import { confinedPolicy } from '../paths/policy.ts';
import { openStore, defaultDbPath } from '../store/index.ts';
import { createExporter } from './exporter.ts';
import { SqliteStudioStore } from './store-adapter.ts';
import { createStudioApi, type StudioApi } from './studio.ts';
import { settingsFile } from './settings.ts';
import { executorSetting, type ExecutorSetting } from '../engine/zoo/executor.ts';
import type { StudioValidator } from './ports.ts';

export interface DefaultApiOptions {
  /** Which front door. */
  readonly mode: 'electron' | 'web';
  /** App version for system.info and run provenance. */
  readonly version: string;
  /** Folder of example pipelines (resources/pipelines). */
  readonly examplesDir: string;
  /** SQLite file; default `defaultDbPath()` (XDG data dir). */
  readonly dbFile?: string;
  /** Data folder for blobs, caches and web-mode exports; default: the DB file's folder. */
  readonly dataDir?: string;
  /** Engine host worker script; default: next to the host module. */
  readonly workerUrl?: URL;
  /** Module URL exporting `runInHost` to use instead of the executor (end-to-end tests). */
  readonly engineEntry?: string;
  /** Folders requests may read besides the data dir (`d2nwg serve --allow-read DIR`). */
  readonly allowRead?: readonly string[];
  /** Desktop app: native folder picker; a picked folder may then be exported to. */
  readonly chooseFolder?: () => Promise<string | null>;
  /** Desktop app: native save dialog for pipeline files (see StudioApiDeps.saveFile). */
  readonly saveFile?: (fileName: string, text: string) => Promise<string | null>;
  /**
   * Where sweeps run when the settings file does not say (`d2nwg serve --queue`); default the
   * environment's (D2NWG_QUEUE), else in process.
   */
  readonly queue?: ExecutorSetting;
}

/** Validation as the API reports it: every problem, tied to its node. */
export const validateWithRegistry: StudioValidator = (pipeline) => {
  const check = checkPipelineJson(pipeline, registry);
  return {
    ok: check.pipeline !== null && check.problems.length === 0,
    issues: check.problems.map((p) => ({
      ...(p.nodeId ? { nodeId: p.nodeId } : {}),
      message: p.message,
    })),
  };
};

/** Open the store and start the API over it. */
export function createDefaultApi(opts: DefaultApiOptions): StudioApi {
  const dbFile = opts.dbFile ?? defaultDbPath();
  const dataDir = opts.dataDir ?? dirname(dbFile);
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(dirname(dbFile), { recursive: true });
  const store = openStore(dbFile, { dataDir });
  const studioStore = new SqliteStudioStore(store, { app: opts.version, mode: opts.mode });
  return createStudioApi({
    store: studioStore,
    sweeps: studioStore,
    host: new EngineHost({
      ...(opts.workerUrl ? { workerUrl: opts.workerUrl } : {}),
      ...(opts.engineEntry ? { workerData: { entry: opts.engineEntry } } : {}),
    }),
    registry,
    validate: validateWithRegistry,
    exporter: createExporter((id) => store.getArtifact(id)?.meta),
    examplesDir: opts.examplesDir,
    dataDir,
    paths: confinedPolicy({ dataDir, readRoots: opts.allowRead ?? [] }),
    mode: opts.mode,
    ...(opts.chooseFolder ? { chooseFolder: opts.chooseFolder } : {}),
    ...(opts.saveFile ? { saveFile: opts.saveFile } : {}),
    version: opts.version,
    settings: settingsFile(dataDir),
    startupExecutor: opts.queue ?? executorSetting(),
  });
}
