/**
 * The API, implemented once: every request channel of src/shared/ipc.ts as a function of
 * validated params. Electron IPC (src/main/ipc) and web mode (src/main/server) only transport
 * requests to `dispatch(api.handlers, …)` and forward `api.hub` pushes; neither knows a channel.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunEvent } from '../../shared/events.ts';
import type { CompareResult, ExampleInfo, LogLine, SystemInfo } from '../../shared/ipc.ts';
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import {
  parsePipeline,
  pipelineFileName,
  pipelineFileText,
  type Pipeline,
} from '../../shared/pipeline.ts';
import { errorMessage } from '../../shared/errors.ts';
import { InputError } from '../engine/errors.ts';
import { parseJsonText, readJson } from '../engine/formats/json-file.ts';
import type { PathPolicy } from '../paths/policy.ts';
import { ArgsError, NotFoundError, type ApiHandlers } from './dispatch.ts';
import { PushHub } from './hub.ts';
import { importPipelineText } from './pipeline-files.ts';
import type {
  StudioExporter,
  StudioHost,
  StudioStore,
  StudioSweepStore,
  StudioValidator,
} from './ports.ts';
import { createSweepApi } from './sweeps.ts';
import { sweepExecutorSetting, type SettingsFile } from './settings.ts';
import type { ExecutorSetting } from '../engine/zoo/executor.ts';
import { defaultsByType, runsTable } from './run-table.ts';
import { specInfo } from './specs.ts';

export interface StudioApiDeps {
  /** Persistence. */
  readonly store: StudioStore;
  /** Sweeps (the SQLite store); without it the sweeps channels answer an error. */
  readonly sweeps?: StudioSweepStore;
  /** Runs pipelines off the main thread. */
  readonly host: StudioHost;
  /** Node types, for the palette. */
  readonly registry: NodeRegistry;
  /** Pipeline validation against the registry. */
  readonly validate: StudioValidator;
  /** Weight export. */
  readonly exporter: StudioExporter;
  /** resources/pipelines: the examples the first-run screen offers. */
  readonly examplesDir: string;
  /** Where runs, artifacts and (in web mode) exports live. */
  readonly dataDir: string;
  /** Which front door. */
  readonly mode: 'electron' | 'web';
  /**
   * What files requests may read and write (export folders here; dataset, zoo and export paths
   * of a pipeline in the engine host, at run time). Confined for web mode and the app.
   */
  readonly paths: PathPolicy;
  /**
   * Desktop app: shows a native folder picker and returns the folder (null: cancelled). Absent
   * in web mode, where export.chooseFolder answers an error.
   */
  readonly chooseFolder?: () => Promise<string | null>;
  /**
   * Desktop app: shows a native save dialog proposing `fileName`, writes `text` to the file
   * chosen and returns its path (null: cancelled). Absent in web mode, which downloads instead.
   */
  readonly saveFile?: (fileName: string, text: string) => Promise<string | null>;
  /** App version. */
  readonly version: string;
  /** The app's settings file; absent: system.getSettings answers none and system.setSettings an error. */
  readonly settings?: SettingsFile;
  /** Where sweeps run when the settings do not say (`d2nwg serve --queue`, D2NWG_QUEUE). */
  readonly startupExecutor?: ExecutorSetting;
}

/** The API: handlers for requests, a hub for pushes, and a way to stop cleanly. */
export interface StudioApi {
  readonly handlers: ApiHandlers;
  readonly hub: PushHub;
  /** Cancels runs and closes the store. */
  dispose(): Promise<void>;
}

/** Example pipelines are the `<name>.json` files of resources/pipelines. */
const EXAMPLE_SUFFIX = '.json';

/** Build the API over its dependencies. */
export function createStudioApi(deps: StudioApiDeps): StudioApi {
  const { store, host, hub } = { ...deps, hub: new PushHub() };
  // The engine host picks the backend; until a run reports it, say what it will be asked for.
  let backend = process.env.D2NWG_BACKEND ?? 'auto';
  const pending = new Set<Promise<unknown>>();

  const log = (line: Omit<LogLine, 'time'>) =>
    hub.emit('events.log', { time: new Date().toISOString(), ...line });

  const recordEvent = (runId: string, event: RunEvent, at?: number) => {
    try {
      store.recordEvent(runId, event, at);
    } catch (err) {
      log({
        level: 'error',
        runId,
        message: `store could not record ${event.type}: ${String(err)}`,
      });
    }
  };

  /** A run's event to the UI: events.run, and its errors and logs as events.log. */
  const publish = (runId: string, event: RunEvent) => {
    if (event.type === 'runStart') backend = event.backend;
    hub.emit('events.run', { runId, event });
    if (event.type === 'log') {
      const level = event.level === 'debug' ? 'info' : event.level;
      log({ level, runId, nodeId: event.nodeId, message: event.message });
    } else if (event.type === 'nodeError') {
      log({ level: 'error', runId, nodeId: event.nodeId, message: event.message });
    } else if (event.type === 'runDone') {
      log({
        level: event.status === 'failed' ? 'error' : 'info',
        runId,
        message: `run ${event.status} after ${event.durationS.toFixed(1)} s`,
      });
    }
  };

  const onEvent = (runId: string, event: RunEvent) => {
    recordEvent(runId, event);
    publish(runId, event);
  };

  /** Hand a created run to the engine host; resolves with its outcome. */
  const submitRun = (runId: string, pipeline: Pipeline, seed: number) => {
    const done = host.submit(
      { runId, pipeline, seed, dataDir: deps.dataDir, paths: deps.paths.spec },
      (e) => onEvent(runId, e),
    );
    pending.add(done);
    void done.finally(() => pending.delete(done));
    log({ level: 'info', runId, message: `run started: ${pipeline.name} (seed ${seed})` });
    return done;
  };

  const startRun = (pipeline: Pipeline, seed: number, pipelineId?: string) => {
    const check = deps.validate(pipeline);
    if (!check.ok) {
      const lines = check.issues.map((i) => (i.nodeId ? `${i.nodeId}: ${i.message}` : i.message));
      throw new InputError(`the pipeline cannot run: ${lines.join('; ')}`);
    }
    const runId = store.createRun({ pipeline, pipelineId, seed });
    void submitRun(runId, pipeline, seed);
    return { runId };
  };

  const sweeps = createSweepApi({
    store,
    ...(deps.sweeps ? { sweeps: deps.sweeps } : {}),
    registry: deps.registry,
    submit: submitRun,
    cancelRun: (runId) => void host.cancel(runId),
    executor: () => sweepExecutorSetting(deps.settings?.get() ?? {}, deps.startupExecutor ?? {}),
    record: recordEvent,
    publish,
    checkRead: (p, what) => deps.paths.checkRead(p, what),
    log: (level, message) => log({ level, message }),
    notify: (sweepId, status) => hub.emit('events.sweep', { sweepId, status }),
  });
  const defaultsOf = defaultsByType(deps.registry);

  const getRun = (runId: string) => {
    const run = store.getRun(runId);
    if (!run) throw new NotFoundError(`no run '${runId}'`);
    return run;
  };

  const handlers: ApiHandlers = {
    'specs.list': async () => deps.registry.list().map(specInfo),

    'pipelines.list': async () => store.listPipelines(),
    'pipelines.get': async ({ id }) => {
      const doc = store.getPipeline(id);
      if (!doc) throw new NotFoundError(`no pipeline '${id}'`);
      return doc;
    },
    'pipelines.save': async ({ id, pipeline }) => store.savePipeline(id, pipeline),
    'pipelines.rename': async ({ id, name }) => {
      const doc = store.getPipeline(id);
      if (!doc) throw new NotFoundError(`no pipeline '${id}'`);
      return store.savePipeline(id, { ...doc.pipeline, name });
    },
    'pipelines.delete': async ({ id }) => ({ deleted: store.deletePipeline(id) }),
    'pipelines.import': async ({ fileName, text }) => {
      const pipeline = importPipelineText(text, fileName, deps.registry);
      const saved = store.savePipeline(undefined, pipeline);
      log({ level: 'info', message: `imported ${fileName} as '${saved.name}'` });
      return { ...saved, pipeline };
    },
    'pipelines.exportFile': async ({ pipeline }) => {
      if (!deps.saveFile) {
        throw new ArgsError('there is no save dialog in web mode; the page downloads the file');
      }
      const file = await deps.saveFile(pipelineFileName(pipeline.name), pipelineFileText(pipeline));
      if (file !== null) log({ level: 'info', message: `pipeline exported to ${file}` });
      return { file };
    },
    'pipelines.validate': async ({ pipeline }) => deps.validate(pipeline),
    'pipelines.examples': async () => {
      let names: string[];
      try {
        names = (await readdir(deps.examplesDir)).filter((n) => n.endsWith(EXAMPLE_SUFFIX));
      } catch {
        return [];
      }
      const out: ExampleInfo[] = [];
      for (const file of names.sort()) {
        // One unreadable or malformed file must not hide the others: it is left out and logged.
        let json: unknown;
        try {
          json = await readJson(join(deps.examplesDir, file));
        } catch (err) {
          log({ level: 'warn', message: `example left out: ${errorMessage(err)}` });
          continue;
        }
        const parsed = parsePipeline(json);
        if (!parsed.ok) continue;
        out.push({
          name: file.slice(0, -EXAMPLE_SUFFIX.length),
          title: parsed.pipeline.name,
          description: parsed.pipeline.description,
        });
      }
      return out;
    },
    'pipelines.openExample': async ({ name }) => {
      const file = join(deps.examplesDir, `${name}${EXAMPLE_SUFFIX}`);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new NotFoundError(`no example '${name}' in ${deps.examplesDir}`);
      }
      const parsed = parsePipeline(parseJsonText(text, file));
      if (!parsed.ok) throw new InputError(parsed.problems.join('; '), file);
      return parsed.pipeline;
    },

    'runs.start': async ({ pipeline, seed, pipelineId }) =>
      startRun(pipeline, seed ?? 0, pipelineId),
    'runs.cancel': async ({ runId }) => ({
      cancelled: host.cancel(runId) || sweeps.cancelQueuedRun(runId),
    }),
    'runs.list': async () => store.listRuns(),
    'runs.get': async ({ runId }) => getRun(runId),
    'runs.delete': async ({ runId }) => {
      if (host.has(runId) || sweeps.hasQueuedRun(runId)) {
        throw new ArgsError(`run '${runId}' is still running; cancel it first`);
      }
      return { deleted: store.deleteRun(runId) };
    },
    'runs.compare': async ({ runIds }) => {
      const runs = runIds.map(getRun);
      const result: CompareResult = {
        runs: runs.map(({ pipeline: _p, nodes: _n, artifacts: _a, ...summary }) => summary),
        series: runIds.flatMap((id) => store.metricsOf(id)),
        latents: runIds.flatMap((id) => store.latentsOf(id)),
      };
      return result;
    },
    'runs.rerun': async ({ runId }) => {
      const run = getRun(runId);
      return startRun(run.pipeline, run.seed);
    },
    'runs.update': async ({ runId, ...change }) => {
      const run = store.annotateRun(runId, change);
      if (!run) throw new NotFoundError(`no run '${runId}'`);
      return run;
    },
    'runs.table': async ({ fields }) => runsTable(store.tableSources(), fields ?? [], defaultsOf),

    ...sweeps.handlers,

    'export.preview': async ({ runId, nodeId, format, select }) =>
      deps.exporter.preview({ run: getRun(runId), nodeId, format, select }),
    'export.weights': async ({ runId, nodeId, format, select, folder }) =>
      deps.exporter.exportWeights({
        run: getRun(runId),
        nodeId,
        format,
        select,
        folder: await deps.paths.checkWrite(folder, 'export folder'),
      }),

    'export.chooseFolder': async () => {
      if (!deps.chooseFolder) {
        throw new ArgsError(
          'there is no folder picker in web mode; type a folder inside the data directory',
        );
      }
      const folder = await deps.chooseFolder();
      if (folder !== null) deps.paths.allow(folder, 'write');
      return { folder };
    },

    'system.getSettings': async () => deps.settings?.get() ?? {},
    'system.setSettings': async (next) => {
      if (!deps.settings) throw new ArgsError('this API keeps no settings');
      const saved = deps.settings.set(next);
      log({ level: 'info', message: `settings saved: ${JSON.stringify(saved)}` });
      return saved;
    },

    'system.info': async (): Promise<SystemInfo> => ({
      version: deps.version,
      backend,
      dataDir: deps.dataDir,
      mode: deps.mode,
      firstRun: store.listRuns().length === 0 && store.listPipelines().length === 0,
    }),
  };

  return {
    handlers,
    hub,
    async dispose() {
      const sweepsStopped = sweeps.dispose();
      await host.dispose();
      await sweepsStopped;
      await Promise.allSettled([...pending]);
      store.close();
    },
  };
}
