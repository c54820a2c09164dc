/**
 * The executor's public surface, for the CLI, the engine host and the app: one import for
 * validation, loading, running and caching.
 */
export { validatePipeline, formatProblem, topoOrder } from '../../shared/nodes/validate.ts';
export type { PipelineProblem, PipelineValidation } from '../../shared/nodes/validate.ts';
export {
  checkPipelineFile,
  checkPipelineJson,
  loadPipelineFile,
  type PipelineCheck,
} from './load.ts';
export {
  runPipeline,
  PipelineInvalidError,
  PROGRESS_INTERVAL_MS,
  type RunPipelineArgs,
  type RunResult,
  type NodeRunRecord,
} from './executor.ts';
export type { NodeResultStatus } from '../../shared/runs.ts';
export {
  MemoryNodeCache,
  cacheKey,
  canonicalJson,
  disposeOutputs,
  type NodeCache,
  type CacheEntry,
} from './cache.ts';
export * from './types.ts';
