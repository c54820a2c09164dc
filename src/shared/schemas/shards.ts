/**
 * Data-parallel shards of a training step, shared by the VAE and diffusion configs. A step's batch
 * is cut into `shards` row ranges whose gradients are summed in shard order, so the numbers depend
 * on the shard count alone, never on how many threads compute the shards (a 1-core machine runs
 * them one after the other and gets the same weights as a 2-core one running them side by side).
 */
import { z } from 'zod';

/** The most shards (and threads) one training step is cut into. */
export const MAX_SHARDS = 8;

/**
 * `auto`: 2 shards where they pay (a machine with 2 or more cores, a host-memory backend — wasm,
 * cpu — and a run large enough that a second thread's start-up is noise), 1 elsewhere; decided
 * from the config, the model size, the backend and the core count, never from the load, so the
 * same config on the same backend and kind of machine always means the same numbers. Set a
 * number to make the numbers independent of the machine.
 */
export const Shards = z
  .union([z.literal('auto'), z.number().int().min(1).max(MAX_SHARDS)])
  .default('auto');
export type Shards = z.infer<typeof Shards>;
