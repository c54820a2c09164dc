import { afterAll, describe, expect, it } from 'vitest';
import { WorkerPool } from '../../../../src/main/engine/workers/pool.ts';
import { CancelledError, InputError, NumericError } from '../../../../src/main/engine/errors.ts';

const workerFile = new URL('./fixtures/test-worker.ts', import.meta.url);
const pool = new WorkerPool(workerFile, 2, { shared: { tag: 'hello' } });

afterAll(async () => {
  await pool.close();
});

describe('WorkerPool', () => {
  it('runs jobs in TypeScript workers on the parent backend, in parallel', async () => {
    const results = await Promise.all(
      [1, 2, 3].map((v) =>
        pool.run<unknown, { value: number; shared: unknown; backend: string }>({
          op: 'echo',
          value: v,
        }),
      ),
    );
    expect(results.map((r) => r.value)).toEqual([1, 2, 3]);
    expect(results[0].shared).toEqual({ tag: 'hello' });
    expect(results[0].backend).toBe('wasm');
    expect(pool.threads).toBe(2);
  });

  it('moves transferred buffers and returns typed arrays', async () => {
    const data = Float32Array.from([1, 2, 3.5]);
    const res = await pool.run<
      unknown,
      { total: number; doubled: Float32Array; byteLengthSeen: number }
    >({ op: 'sum', data }, { transfer: [data.buffer] });
    expect(data.byteLength).toBe(0); // moved, not copied
    expect(res.byteLengthSeen).toBe(12);
    expect(res.total).toBeCloseTo(6.5);
    expect(res.doubled).toBeInstanceOf(Float32Array);
    expect(Array.from(res.doubled)).toEqual([2, 4, 7]);
  });

  it('delivers worker messages to onMessage', async () => {
    const seen: unknown[] = [];
    await pool.run({ op: 'progress' }, { onMessage: (m) => seen.push(m) });
    expect(seen).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }]);
    const seen2: unknown[] = [];
    await pool.run({ op: 'progress' }, (m) => seen2.push(m));
    expect(seen2).toEqual(seen);
  });

  it('rejects with the worker error, keeping its class and message', async () => {
    const e1 = await pool.run({ op: 'input-error' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(InputError);
    expect((e1 as Error).message).toBe('zoo.json: bad thing in the config');
    const e2 = await pool.run({ op: 'numeric-error' }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(NumericError);
    expect((e2 as NumericError).step).toBe(17);
    expect((e2 as NumericError).stage).toBe('classifier');
    expect((e2 as Error).message).toContain('loss NaN');
    // The pool still works afterwards.
    await expect(pool.run({ op: 'echo', value: 'ok' })).resolves.toMatchObject({ value: 'ok' });
  });

  it('rejects a job whose worker dies and replaces the worker', async () => {
    await expect(pool.run({ op: 'exit' })).rejects.toThrow(/exited with code 3/);
    await expect(pool.run({ op: 'echo', value: 5 })).resolves.toMatchObject({ value: 5 });
  });

  it('cancels a running job by terminating its worker, and a queued one by dropping it', async () => {
    const ac = new AbortController();
    const running = [
      pool.run({ op: 'sleep', ms: 30_000 }, { signal: ac.signal }),
      pool.run({ op: 'sleep', ms: 30_000 }, { signal: ac.signal }),
    ];
    const queued = pool.run({ op: 'sleep', ms: 30_000 }, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    for (const p of [...running, queued]) await expect(p).rejects.toBeInstanceOf(CancelledError);
    await expect(pool.run({ op: 'echo', value: 6 })).resolves.toMatchObject({ value: 6 });
    // An already-aborted signal never reaches a worker.
    await expect(pool.run({ op: 'echo' }, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      CancelledError,
    );
  });

  it('starts its workers ahead of the first job when warmed, up to its size, and reuses them', async () => {
    const p3 = new WorkerPool(workerFile, 2);
    try {
      expect(p3.threads).toBe(0);
      p3.warm(5);
      expect(p3.threads).toBe(2);
      p3.warm();
      expect(p3.threads).toBe(2);
      const out = await Promise.all([
        p3.run({ op: 'echo', value: 1 }),
        p3.run({ op: 'echo', value: 2 }),
      ]);
      expect(out).toHaveLength(2);
      expect(p3.threads).toBe(2);
    } finally {
      await p3.close();
    }
    p3.warm();
    expect(p3.threads).toBe(0);
  });

  it('rejects pending jobs on close and refuses new ones', async () => {
    const p2 = new WorkerPool(workerFile, 1);
    const job = p2.run({ op: 'sleep', ms: 30_000 }).catch((e: unknown) => e);
    await p2.close();
    expect(await job).toBeInstanceOf(CancelledError);
    await expect(p2.run({ op: 'echo' })).rejects.toThrow(/closed/);
    expect(() => new WorkerPool(workerFile, 0)).toThrow(InputError);
  });
});
