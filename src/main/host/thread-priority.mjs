// Plain JavaScript on purpose: the engine worker's bootstrap (bootstrap.mjs) calls it before tsx is
// registered, so that the threads and processes the worker starts afterwards (tsx's module-hooks
// thread, its esbuild service, the zoo's worker pool) inherit the lower priority. Types:
// thread-priority.d.mts.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * How much lower than the thread that starts it the engine runs (nice steps, 0–19). At +10 a
 * CPU-bound thread weighs about a tenth of a nice-0 one in Linux's scheduler, so on a busy
 * machine the server's event loop gets the CPU it needs to answer requests while a run computes.
 */
export const ENGINE_NICE_OFFSET = 10;

/** Nice values stop at 19. */
const LOWEST = 19;

/**
 * Set on a thread's global object once its priority was lowered: the sources' bootstrap and the
 * worker body both ask, and the second call must not lower it again.
 */
const LOWERED = Symbol.for('d2nwg.threadPriorityLowered');

/**
 * The calling thread's kernel id, from /proc/thread-self (Linux). Null elsewhere: there
 * setPriority would change the whole process, server included, so nothing is changed.
 * @returns {number | null}
 */
function threadId() {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/**
 * The calling thread's nice value (Linux), or null where threads cannot be told apart.
 * @returns {number | null}
 */
export function threadNice() {
  const tid = threadId();
  return tid === null ? null : getPriority(tid);
}

/**
 * Lower the calling thread's CPU priority by `offset` nice steps (at most to 19), once per thread:
 * later calls on the same thread change nothing. Threads and processes it creates afterwards
 * inherit it. Linux only; elsewhere, or when the system refuses, nothing changes. Returns the
 * thread's nice value afterwards, or null where it cannot be read.
 * @param {number} [offset]
 * @returns {number | null}
 */
export function lowerThreadPriority(offset = ENGINE_NICE_OFFSET) {
  const tid = threadId();
  if (tid === null) return null;
  try {
    const current = getPriority(tid);
    const marks = /** @type {Record<symbol, boolean>} */ (/** @type {unknown} */ (globalThis));
    if (marks[LOWERED]) return current;
    marks[LOWERED] = true;
    const target = Math.min(LOWEST, current + offset);
    if (target > current) setPriority(tid, target);
    return getPriority(tid);
  } catch {
    return null;
  }
}
