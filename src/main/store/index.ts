/**
 * The experiment store: SQLite (better-sqlite3, WAL, foreign keys) for pipelines, runs, node runs,
 * metrics and artifact records; a content-addressed folder for artifact payloads.
 *
 * ## Files
 * open.ts (refuse foreign files, migrate) → store.ts (the facade below) over connection.ts (the
 * connection, statement cache, transactions, zod-parsed reads) and one repository per table
 * family: pipelines.ts, runs.ts, node-runs.ts, metrics.ts, artifacts.ts (+ blobs.ts), with
 * liveness.ts for dead-owner detection. Row schemas (snake_case → camelCase) are in schemas.ts;
 * the status vocabulary is src/shared/runs.ts.
 *
 * ## API (for the executor, `d2nwg run`, IPC handlers)
 * ```ts
 * const store = openStore(dbFile, { dataDir? });   // refuses non-SQLite / newer-schema files
 * store.interruptedAtOpen                          // runs found `running` with a dead owner
 * const run = store.createRun({ id?, pipelineId?, name, config, seed?, backend?, versions? });
 * store.startRun(run.id);                          // status 'running', owner = this pid
 * store.upsertNodeRun({ runId, nodeId, type, status: 'running', started: Date.now() });
 * store.addMetrics(runId, nodeId, [{ key: 'loss', step: 3, value: 0.41 }]);
 * store.putArtifact({ runId, nodeId, kind: 'weights', bytes | sourceFilePath, shape?, meta? });
 * store.upsertNodeRun({ runId, nodeId, type, status: 'done', finished: Date.now(), summary });
 * store.finishRun(run.id, { status: 'done' | 'failed' | 'cancelled', error? });
 * store.listRuns({ status?, pipelineId?, search?, limit?, offset? })  // { runs, total }
 * store.getRun(id)                       // run + nodes, or null
 * store.metricsFor([idA, idB], key?)     // rows aligned on (node, key, step), one column per run
 * store.artifactsOf(runId, { nodeId?, kind? }); store.readArtifact(a) // sha256-verified bytes
 * store.deleteRun(id)                    // rows + blob files nobody else references
 * store.savePipeline({ id?, name, pipeline }); listPipelines(); getPipeline(id); pipelineHistory(id)
 * store.close();
 * ```
 * Or let `RunRecorder` (store/recorder.ts) write node_runs/metrics/status from the executor's run
 * events. Every mutating call is one transaction; every row read is validated with zod.
 * The store is synchronous (better-sqlite3): call it from the process that owns the run.
 *
 * ## Metric conventions
 * - `step` is an integer: the epoch for training curves, the fine-tuning epoch (0 = no
 *   fine-tuning) for evaluations. `d2nwg runs compare` prints one table per key with steps as
 *   columns, so an evaluation node should write `accuracy/<method>` (e.g. `accuracy/d2nwg`,
 *   `accuracy/randinit`) with step = fine-tuning epoch to get a method × epoch table.
 * - Through RunRecorder: a node summary's `metrics` key `name@N` is stored as key `name` at step
 *   N (`{ 'accuracy/d2nwg@0': 0.71, 'accuracy/d2nwg@1': 0.8 }`), a plain key at step 0; progress
 *   metrics at step = round(progress value), prefixed `<label>:` when the progress has a label.
 * - NaN is stored as NULL and read back as NaN.
 *
 * ## Artifact conventions (kind → payload, meta)
 * - `weights`: generated or trained model weights. Payload: a safetensors file holding an F32
 *   tensor named `params`, shape `[size]` (one model) or `[n, size]` (n models, e.g. n diffusion
 *   samples; row i = sample i), plus, when the inputs are extracted features, the feature
 *   pipeline as `features.mean` / `features.basis` / `features.scale` (engine/export/features.ts).
 *   The artifact's `shape` column repeats the `params` shape. `meta` =
 *   `{ arch, layout, dataset?, metrics?, sampleMetrics?, task?, accuracyOn?, features? }`: `arch`
 *   the resolved engine/nn Architecture, `layout` as `layoutOf(arch)` gives it (the vector order),
 *   `dataset` one line describing the conditioning dataset, `metrics` for the artifact,
 *   `sampleMetrics[i]` per row (`testAccuracy` measured on `accuracyOn`), `task` the conditioning
 *   task with class names in output order, `features` the pipeline's kind, raw sample shape and
 *   input scale. Build all of it with
 *   `encodeWeightsArtifact(layout, vectors, { dataset, metrics, sampleMetrics, … })` from
 *   engine/export/artifact.ts and pass them on:
 *   `store.putArtifact({ runId, nodeId, kind: 'weights', bytes, shape, meta })`.
 *   `d2nwg runs export RUN --node NODE` reads exactly this (`decodeWeightsArtifact`).
 * - Other kinds are free-form (`zoo`, `vae`, `encoder`, `diffusion`, `features`, `report`…); use
 *   the node's output port type as the kind and put what a reader needs into `meta`.
 */
export { openStore, defaultDbPath, StoreOpenError } from './open.ts';
export type { OpenStoreOptions, StoreRefusal } from './open.ts';
export { SCHEMA_VERSION } from './migrations.ts';
export { Store } from './store.ts';
export type { DeleteRunResult } from './store.ts';
export { newId } from './ids.ts';
export { processAlive } from './liveness.ts';
export type { When } from './connection.ts';
export type { SavePipelineArgs } from './pipelines.ts';
export type {
  CreateRunArgs,
  FinishRunArgs,
  ListRunsQuery,
  ListRunsResult,
  RunDetail,
} from './runs.ts';
export type { NodeRunArgs } from './node-runs.ts';
export type { CreateSweepArgs } from './sweeps.ts';
export type { MetricInput, MetricsTable } from './metrics.ts';
export type { ArtifactFilter, PutArtifactArgs } from './artifacts.ts';
export type {
  ArtifactRecord,
  MetricPoint,
  NodeRunRecord,
  PipelineRecord,
  PipelineSummary,
  PipelineVersion,
  RunRecord,
  SweepRecord,
  SweepRunRecord,
  NodeTimingRecord,
} from './schemas.ts';
export { RUN_STATUSES, NODE_RUN_STATUSES } from '../../shared/runs.ts';
export type { RunStatus, NodeRunStatus } from '../../shared/runs.ts';
