/**
 * Node output caching. A node's outputs depend only on (type, version, config, inputs, seed), so
 * a hash of those names them; re-running a pipeline after editing one node recomputes only that
 * node and what lies downstream. The interface is pluggable so the store can back it with files.
 */
import { createHash } from 'node:crypto';
import type { NodeSummary } from '../../shared/events.ts';
import type { PortValueBase } from './types.ts';
import { canonicalJson } from '../../shared/canonical-json.ts';

export { canonicalJson };

/** What the cache keeps per node run. */
export interface CacheEntry<V> {
  /** Output values by port id. */
  readonly outputs: Readonly<Record<string, V>>;
  /** The summary the node reported when it computed them. */
  readonly summary: NodeSummary;
}

/**
 * A node-output cache. After `set`, the cache owns the values (it disposes them when it drops
 * them); values it returns from `get` stay owned by it.
 */
export interface NodeCache<V> {
  get(key: string): CacheEntry<V> | undefined | Promise<CacheEntry<V> | undefined>;
  set(key: string, entry: CacheEntry<V>): void | Promise<void>;
  /** Called after each run with the keys it used; the cache may drop (and dispose) the rest. */
  endRun?(usedKeys: ReadonlySet<string>): void;
}

/** What goes into a node's cache key. */
export interface CacheKeyParts {
  readonly type: string;
  readonly version: number;
  /** Parsed config (defaults filled in, so leaving a default out changes nothing). */
  readonly config: unknown;
  /** Per input port id, the `${upstreamKey}/${sourcePort}` of each connected edge, in edge order. */
  readonly inputs: Readonly<Record<string, readonly string[]>>;
  readonly seed: number;
}

/** sha256 of the canonical form of the parts. */
export function cacheKey(parts: CacheKeyParts): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/** Dispose every disposable value of an output map, once each. */
export function disposeOutputs<V extends PortValueBase>(
  outputs: Readonly<Record<string, V>>,
): void {
  const seen = new Set<V>();
  for (const v of Object.values(outputs)) {
    if (seen.has(v)) continue;
    seen.add(v);
    v.dispose?.();
  }
}

/**
 * In-memory cache that keeps the outputs of the latest run only: after a run it disposes entries
 * that run did not use, so memory stays bounded by one pipeline's worth of values while an
 * edit-and-rerun loop still reuses everything upstream of the edit.
 */
export class MemoryNodeCache<V extends PortValueBase> implements NodeCache<V> {
  private readonly entries = new Map<string, CacheEntry<V>>();

  get(key: string): CacheEntry<V> | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: CacheEntry<V>): void {
    const old = this.entries.get(key);
    if (old && old !== entry) disposeOutputs(old.outputs);
    this.entries.set(key, entry);
  }

  endRun(usedKeys: ReadonlySet<string>): void {
    for (const [key, entry] of this.entries) {
      if (usedKeys.has(key)) continue;
      disposeOutputs(entry.outputs);
      this.entries.delete(key);
    }
  }

  /** Number of cached node results. */
  get size(): number {
    return this.entries.size;
  }

  /** Drop and dispose everything (e.g. when a pipeline is closed). */
  clear(): void {
    for (const entry of this.entries.values()) disposeOutputs(entry.outputs);
    this.entries.clear();
  }
}
