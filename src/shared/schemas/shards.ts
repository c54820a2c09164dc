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
 * `auto` is 1 shard for now: on the standard shapes two shards on two threads were slower than
 * one (the exchange costs more than a half batch saves; see engine/common/data-parallel.ts).
 * A number cuts each step into that many shards; the numbers then depend on it alone.
 */
export const Shards = z
  .union([z.literal('auto'), z.number().int().min(1).max(MAX_SHARDS)])
  .default('auto');
export type Shards = z.infer<typeof Shards>;
