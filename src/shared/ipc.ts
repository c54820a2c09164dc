/**
 * The ONE contract between the UI and the engine side (DESIGN.md convention 8). Every request
 * channel names the zod schema of its single argument and the type it resolves to; every push
 * channel names the payload it carries. Electron IPC (preload ↔ src/main/ipc) and web mode
 * (HTTP/WebSocket ↔ src/main/server) both implement exactly this map, and `buildApi` turns any
 * transport into the same typed object, so the renderer never sees a channel string.
 */
import { z } from 'zod';
import { strictObject } from './issues.ts';
import { pipelineSchema, type Pipeline } from './pipeline.ts';
import type { PortSpec, NodeCategory } from './nodes/spec.ts';
import type { RunEvent } from './events.ts';
import {
  hasAnnotation,
  runAnnotationShape,
  type NodeState,
  type RunStatus,
  type StoredArtifact,
} from './runs.ts';
import type { JsonValue } from './events.ts';
import type { LatentProjection } from './schemas/latents.ts';
import { SweepSpecSchema, type SweepStatus, type SweepValue } from './sweeps.ts';
import { AppSettingsSchema, type AppSettings } from './settings.ts';

/** A request channel: zod schema of its argument plus a phantom of what it resolves to. */
export interface InvokeChannel<P extends z.ZodType, R> {
  readonly kind: 'invoke';
  /** Validates the argument on the receiving side (strict: unknown keys are refused). */
  readonly params: P;
  /** Type-only marker of the result; never set at runtime. */
  readonly result?: R;
}

/** A push channel: engine side → UI, fire and forget. */
export interface PushChannel<T> {
  readonly kind: 'push';
  /** Type-only marker of the payload; never set at runtime. */
  readonly payload?: T;
}

/** Curried so the result type is explicit while the params schema is inferred. */
function invoke<R>() {
  return <P extends z.ZodType>(params: P): InvokeChannel<P, R> => ({ kind: 'invoke', params });
}

function push<T>(): PushChannel<T> {
  return { kind: 'push' };
}

const runId = z.string().min(1, 'runId must be a non-empty string');
const empty = strictObject({});

/** Weight export formats (DESIGN.md "Formats"). */
export const EXPORT_FORMATS = ['safetensors', 'tfjs', 'npy', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** Which samples an export writes: the best per task (by training-set accuracy) or all. */
export const EXPORT_SELECTS = ['best', 'all'] as const;
export type ExportSelect = (typeof EXPORT_SELECTS)[number];

/** A node spec as plain JSON: what the palette, ports and generated form need. */
export interface NodeSpecInfo {
  /** Registry type id. */
  readonly type: string;
  /** Current spec version; new nodes are created with it. */
  readonly version: number;
  /** Palette group. */
  readonly category: NodeCategory;
  /** Palette and header label. */
  readonly title: string;
  /** Help paragraph for the inspector. */
  readonly help: string;
  /** Typed input ports. */
  readonly inputs: readonly PortSpec[];
  /** Typed output ports. */
  readonly outputs: readonly PortSpec[];
  /** Whether the executor may reuse its outputs. */
  readonly cacheable: boolean;
  /** JSON Schema (draft 2020-12, from zod's toJSONSchema, input side) of the config. */
  readonly configSchema: Record<string, unknown>;
  /** `config.parse({})`: the config a new node starts with. */
  readonly defaults: unknown;
}

/** One problem found by validation, tied to a node when it is about one. */
export interface ValidationIssue {
  /** The node at fault, when there is one. */
  readonly nodeId?: string;
  /** Config field path inside the node, e.g. 'epochs'. */
  readonly path?: string;
  /** What is wrong, in words a user can act on. */
  readonly message: string;
}

/** Longest pipeline name the file list accepts. */
export const PIPELINE_NAME_MAX = 200;
/** Largest pipeline file `pipelines.import` reads (characters of JSON text). */
export const PIPELINE_FILE_MAX = 4_000_000;

/** Result of validating a pipeline without running it. */
export interface ValidationResult {
  /** True when the pipeline can run. */
  readonly ok: boolean;
  /** Every problem found. */
  readonly issues: readonly ValidationIssue[];
}

/** A saved pipeline in the list. */
export interface PipelineSummary {
  readonly id: string;
  readonly name: string;
  /** ISO time of the last save. */
  readonly updatedAt: string;
}

/** A saved pipeline with its graph. */
export interface PipelineDoc extends PipelineSummary {
  readonly pipeline: Pipeline;
}

/** An example pipeline shipped in resources/pipelines/. */
export interface ExampleInfo {
  /** File name without `.pipeline.json`; the key for `pipelines.openExample`. */
  readonly name: string;
  /** The pipeline's own name. */
  readonly title: string;
  /** Its description, if any. */
  readonly description?: string;
}

/** A run in the list. */
export interface RunSummary {
  readonly id: string;
  /** The run's name: the pipeline's name at the time of the run until the user renames it. */
  readonly name: string;
  /** The user's tags, in the order given. */
  readonly tags: readonly string[];
  /** The user's notes ('' when none). */
  readonly notes: string;
  readonly status: RunStatus;
  /** Seed used for every random draw of the run. */
  readonly seed: number;
  /** Tensor backend that ran it. */
  readonly backend: string;
  /** ISO start time. */
  readonly startedAt: string;
  /** Milliseconds from start to end; null while running. */
  readonly durationMs: number | null;
  /** Failure message, when it failed. */
  readonly error?: string;
  /** The sweep this run is a point of, if any. */
  readonly sweepId?: string;
  /** Its point's index in that sweep. */
  readonly sweepPoint?: number;
}

/** What a sweep would do: its points, the fields they vary and the time it should take. */
export interface SweepPreview {
  /** Number of runs. */
  readonly points: number;
  /** Swept fields (`node.field`), upstream nodes first. */
  readonly paths: readonly string[];
  /** Each point's values by path, in run order. */
  readonly values: readonly Readonly<Record<string, SweepValue>>[];
  /** Estimated seconds from recorded node timings; null when some node has none. */
  readonly seconds: number | null;
  /** "≈ N min", "< 1 min" or "unknown". */
  readonly estimate: string;
}

/** A sweep in the list: its status, progress and runs. */
export interface SweepSummary {
  readonly id: string;
  /** Pipeline name at the time of the sweep. */
  readonly name: string;
  readonly status: SweepStatus;
  /** Seed of every run. */
  readonly seed: number;
  /** Number of points. */
  readonly points: number;
  /** Points with a finished run. */
  readonly done: number;
  /** Points whose latest run failed. */
  readonly failed: number;
  /** Swept fields. */
  readonly paths: readonly string[];
  /** One run per point that has one (a finished run before a later failed one), point order. */
  readonly runIds: readonly string[];
  /** ISO creation time. */
  readonly created: string;
  /** Points are left and nothing runs it now: `sweeps.resume` continues it. */
  readonly resumable: boolean;
  /**
   * Where its latest pass in this process ran: 'in process' or "queue redis://… 'd2nwg'"
   * (absent: not run since the app started).
   */
  readonly executor?: string;
}

/** Per-node state of a run. */
export interface NodeRunInfo {
  readonly nodeId: string;
  readonly status: NodeState;
  /** Error message when status is 'error'. */
  readonly error?: string;
  readonly durationMs?: number;
}

/** A run with its snapshot, nodes and artifacts. */
export interface RunDetail extends RunSummary {
  /** The pipeline exactly as it ran. */
  readonly pipeline: Pipeline;
  readonly nodes: readonly NodeRunInfo[];
  readonly artifacts: readonly StoredArtifact[];
}

/** One scalar metric series: (run, node, key) over steps. */
export interface MetricSeries {
  readonly runId: string;
  readonly nodeId: string;
  readonly key: string;
  readonly steps: readonly number[];
  readonly values: readonly number[];
}

/** A node's 2-D latent map (VAE: the zoo; Sampler: the zoo and its samples), as stored. */
export interface RunLatents {
  readonly runId: string;
  readonly nodeId: string;
  readonly projection: LatentProjection;
}

/** Everything a chart needs to compare runs. */
export interface CompareResult {
  readonly runs: readonly RunSummary[];
  readonly series: readonly MetricSeries[];
  /** Latent maps recorded by the selected runs' nodes (empty when none has a VAE). */
  readonly latents: readonly RunLatents[];
}

/**
 * What the runs table shows besides each run's summary: the config fields a user may pick as
 * columns, the values of the picked ones, and the accuracy series the metric columns come from.
 */
export interface RunsTable {
  /**
   * Every config field of the listed runs as `<node id>.<field path>` (nested objects walked,
   * arrays whole; keys a stored config leaves out at their spec's default), sorted.
   */
  readonly fields: readonly string[];
  /** Per run id: the value of each requested field the run has. */
  readonly values: Readonly<Record<string, Readonly<Record<string, JsonValue>>>>;
  /** Accuracy mean and std-over-tasks series (`accuracy/…`, `accuracy_std/…`) of every run. */
  readonly series: readonly MetricSeries[];
}

/** A file an export wrote (or would write). */
export interface ExportFile {
  /** Path relative to the export folder. */
  readonly name: string;
  readonly bytes: number;
}

/** What an export writes: its manifest and files. */
export interface ExportPreview {
  /** The manifest JSON that goes next to the weights. */
  readonly manifest: Record<string, unknown>;
  /** The files, with sizes when known. */
  readonly files: readonly ExportFile[];
}

/** Result of an export. */
export interface ExportResult extends ExportPreview {
  /** Absolute folder the files were written to. */
  readonly folder: string;
}

/** What the backend is and where it keeps things. */
export interface SystemInfo {
  /** App version (package.json). */
  readonly version: string;
  /** Tensor backend of the engine host, once known. */
  readonly backend: string;
  /** Where runs, artifacts and the DB live. */
  readonly dataDir: string;
  /** Which front door serves this UI. */
  readonly mode: 'electron' | 'web';
  /** True when there are no runs and no saved pipelines yet (the first-run screen). */
  readonly firstRun: boolean;
}

/** A run event, tagged with its run. */
export interface RunEventMessage {
  readonly runId: string;
  readonly event: RunEvent;
}

/** One line for the log panel. */
export interface LogLine {
  /** ISO time. */
  readonly time: string;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  /** Run it belongs to, if any. */
  readonly runId?: string;
  /** Node it belongs to, if any. */
  readonly nodeId?: string;
}

/** Application-menu actions the renderer carries out (Electron only; web mode has a toolbar). */
export type MenuCommand =
  | { readonly command: 'new' | 'save' | 'saveAs' | 'export' | 'run' | 'cancel' }
  | {
      readonly command: 'open';
      /** The pipeline read from the chosen file, already parsed and migrated. */
      readonly pipeline: Pipeline;
    };

/**
 * The channel map. Names are `<area>.<method>`; the area groups IPC handler registration and the
 * nested `api.<area>.<method>` the renderer calls. Push channels live in the `events` area.
 */
export const contract = {
  'specs.list': invoke<NodeSpecInfo[]>()(empty),

  'pipelines.list': invoke<PipelineSummary[]>()(empty),
  'pipelines.get': invoke<PipelineDoc>()(strictObject({ id: z.string().min(1) })),
  'pipelines.save': invoke<PipelineSummary>()(
    strictObject({
      /** Omit to save as a new pipeline. */
      id: z.string().min(1).optional(),
      pipeline: pipelineSchema,
    }),
  ),
  /** Rename a saved pipeline (its file name and its `name`); saved as a new version. */
  'pipelines.rename': invoke<PipelineSummary>()(
    strictObject({
      id: z.string().min(1),
      name: z.string().trim().min(1, 'give the pipeline a name').max(PIPELINE_NAME_MAX),
    }),
  ),
  /** Delete a saved pipeline and its history; its runs stay (detached from it). */
  'pipelines.delete': invoke<{ deleted: boolean }>()(strictObject({ id: z.string().min(1) })),
  /**
   * Import a pipeline file's text: parsed, migrated and checked with the strict pipeline and
   * config schemas (an unknown key names the key meant), then saved as a new pipeline.
   */
  'pipelines.import': invoke<PipelineDoc>()(
    strictObject({
      /** The file's name, for messages and the default pipeline name. */
      fileName: z.string().min(1).max(255),
      text: z.string().max(PIPELINE_FILE_MAX, 'the file is larger than 4 MB'),
    }),
  ),
  /**
   * Desktop app only: a native save dialog, then the pipeline written there as JSON (null:
   * cancelled). Web mode downloads the file in the page instead and answers an error here.
   */
  'pipelines.exportFile': invoke<{ file: string | null }>()(
    strictObject({ pipeline: pipelineSchema }),
  ),
  'pipelines.validate': invoke<ValidationResult>()(strictObject({ pipeline: z.unknown() })),
  'pipelines.examples': invoke<ExampleInfo[]>()(empty),
  'pipelines.openExample': invoke<Pipeline>()(
    strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z0-9._-]+$/, 'example name may only hold letters, digits, . _ -'),
    }),
  ),

  'runs.start': invoke<{ runId: string }>()(
    strictObject({
      pipeline: pipelineSchema,
      /** Seed for the run; default 0. */
      seed: z.number().int().min(0).max(0xffffffff).optional(),
      /** Saved pipeline this run belongs to, if any. */
      pipelineId: z.string().min(1).optional(),
    }),
  ),
  'runs.cancel': invoke<{ cancelled: boolean }>()(strictObject({ runId })),
  'runs.list': invoke<RunSummary[]>()(empty),
  'runs.get': invoke<RunDetail>()(strictObject({ runId })),
  'runs.delete': invoke<{ deleted: boolean }>()(strictObject({ runId })),
  'runs.compare': invoke<CompareResult>()(strictObject({ runIds: z.array(runId).min(1).max(50) })),
  'runs.rerun': invoke<{ runId: string }>()(strictObject({ runId })),
  /** Rename, tag (the whole list) or annotate a run; fields left out keep their value. */
  'runs.update': invoke<RunSummary>()(
    strictObject({ runId, ...runAnnotationShape }).refine(...hasAnnotation),
  ),
  /** Config-field values and accuracy series for the runs table's chosen columns. */
  'runs.table': invoke<RunsTable>()(
    strictObject({
      /** Config fields to return values of, as `<node id>.<field path>`. */
      fields: z
        .array(z.string().min(1, 'a field is `<node id>.<field path>`').max(200))
        .max(50, 'at most 50 field columns')
        .optional(),
    }),
  ),

  /** Expand a sweep over a pipeline (every point validated) and estimate its time. */
  'sweeps.preview': invoke<SweepPreview>()(
    strictObject({ pipeline: pipelineSchema, spec: SweepSpecSchema }),
  ),
  /**
   * Start a sweep: its points run as a group of runs, one after another in process, or all at
   * once on the `d2nwg worker` processes of the queue the settings (or `--queue`) name.
   */
  'sweeps.start': invoke<{ sweepId: string; points: number }>()(
    strictObject({
      pipeline: pipelineSchema,
      spec: SweepSpecSchema,
      /** Seed of every run; default 0. */
      seed: z.number().int().min(0).max(0xffffffff).optional(),
      pipelineId: z.string().min(1).optional(),
    }),
  ),
  /** Cancel a running sweep: its current run is cancelled and no further point starts. */
  'sweeps.cancel': invoke<{ cancelled: boolean }>()(strictObject({ sweepId: z.string().min(1) })),
  /** Run the points of a sweep that have no finished run (after a cancel or a restart). */
  'sweeps.resume': invoke<{ sweepId: string; remaining: number }>()(
    strictObject({ sweepId: z.string().min(1) }),
  ),
  'sweeps.list': invoke<SweepSummary[]>()(empty),

  'export.preview': invoke<ExportPreview>()(
    strictObject({
      runId,
      /** Node whose weights to export; default: the run's last weights artifact. */
      nodeId: z.string().min(1).optional(),
      format: z.enum(EXPORT_FORMATS),
      /** Best sample per task (default) or every sample. */
      select: z.enum(EXPORT_SELECTS).optional(),
    }),
  ),
  'export.weights': invoke<ExportResult>()(
    strictObject({
      runId,
      nodeId: z.string().min(1).optional(),
      format: z.enum(EXPORT_FORMATS),
      select: z.enum(EXPORT_SELECTS).optional(),
      /**
       * Destination folder: relative ones land in the data dir; it must lie inside the data dir
       * or under a folder picked with export.chooseFolder (the API's path policy). The files go
       * to `<folder>/<run id>/` (`<run id>-2`… when that exists).
       */
      folder: z.string().min(1, 'choose a destination folder'),
    }),
  ),
  /**
   * Desktop app only: a native folder picker. The folder the user picks becomes a place exports
   * may be written to; null when the dialog was cancelled. Web mode answers an error.
   */
  'export.chooseFolder': invoke<{ folder: string | null }>()(empty),

  'system.info': invoke<SystemInfo>()(empty),
  /** The app's settings as saved (fields left out follow the start-up flags and environment). */
  'system.getSettings': invoke<AppSettings>()(empty),
  /** Replace the app's settings; answers them as saved. */
  'system.setSettings': invoke<AppSettings>()(AppSettingsSchema),

  'events.run': push<RunEventMessage>(),
  'events.log': push<LogLine>(),
  'events.menu': push<MenuCommand>(),
  /** A sweep started a pass over its points or ended one. */
  'events.sweep': push<{ readonly sweepId: string; readonly status: SweepStatus }>(),
} as const;

export type Contract = typeof contract;
export type ChannelName = keyof Contract;

/** Request channels. */
export type InvokeChannelName = {
  [K in ChannelName]: Contract[K] extends { kind: 'invoke' } ? K : never;
}[ChannelName];

/** Push channels. */
export type PushChannelName = {
  [K in ChannelName]: Contract[K] extends { kind: 'push' } ? K : never;
}[ChannelName];

/** What a caller passes (defaults not yet applied). */
export type ParamsIn<C extends InvokeChannelName> = z.input<Contract[C]['params']>;
/** What a handler receives after validation (defaults applied). */
export type ParamsOut<C extends InvokeChannelName> = z.output<Contract[C]['params']>;
/** What the channel resolves to. */
export type ResultOf<C extends InvokeChannelName> =
  Contract[C] extends InvokeChannel<z.ZodType, infer R> ? R : never;
/** What a push channel carries. */
export type PayloadOf<C extends PushChannelName> =
  Contract[C] extends PushChannel<infer T> ? T : never;

export const INVOKE_CHANNELS = (Object.keys(contract) as ChannelName[]).filter(
  (k): k is InvokeChannelName => contract[k].kind === 'invoke',
);
export const PUSH_CHANNELS = (Object.keys(contract) as ChannelName[]).filter(
  (k): k is PushChannelName => contract[k].kind === 'push',
);

type AreaOf<K extends string> = K extends `${infer A}.${string}` ? A : never;
type Method<K extends string, A extends string> = K extends `${A}.${infer M}` ? M : never;

/** The typed API the renderer calls: `api.runs.start({…})`, `api.events.run(listener)`. */
export type ContractApi = {
  readonly [A in AreaOf<InvokeChannelName>]: {
    readonly [K in InvokeChannelName as Method<K, A>]: (
      params: ParamsIn<K>,
    ) => Promise<ResultOf<K>>;
  };
} & {
  readonly events: {
    readonly [K in PushChannelName as Method<K, 'events'>]: (
      listener: (payload: PayloadOf<K>) => void,
    ) => () => void;
  };
};

/** Wire format of every reply, over IPC and HTTP alike, so errors arrive with a clean message. */
export type Envelope<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly error: { readonly kind: string; readonly message: string } };

/** A way to reach the API: Electron IPC or HTTP + WebSocket. */
export interface Transport {
  /** Sends a request and resolves to the reply envelope. */
  request(channel: InvokeChannelName, params: unknown): Promise<Envelope<unknown>>;
  /** Listens to a push channel; returns the unsubscribe function. */
  subscribe(channel: PushChannelName, listener: (payload: unknown) => void): () => void;
}

/** Thrown on the calling side when the API answered with an error envelope. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** Error class on the engine side: 'InputError', 'ArgsError', 'NotFound', 'Error'… */
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Builds the nested typed API from any transport, walking the contract so that no channel can be
 * forgotten and none is spelled twice. The preload and the web transport both use it.
 */
export function buildApi(transport: Transport): ContractApi {
  const areas: Record<string, Record<string, unknown>> = {};
  for (const channel of INVOKE_CHANNELS) {
    const [area, method] = channel.split('.');
    areas[area] ??= {};
    areas[area][method] = async (params: unknown) => {
      const reply = await transport.request(channel, params ?? {});
      if (reply.ok) return reply.value;
      throw new ApiError(reply.error.kind, reply.error.message);
    };
  }
  for (const channel of PUSH_CHANNELS) {
    const [area, method] = channel.split('.');
    areas[area] ??= {};
    areas[area][method] = (listener: (payload: unknown) => void) =>
      transport.subscribe(channel, listener);
  }
  return areas as unknown as ContractApi;
}
