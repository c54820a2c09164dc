import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { benchCommand } from '../../../../src/main/cli/commands/bench.ts';
import { measureMatmulShapes } from '../../../../src/main/engine/bench/matmul.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';

afterEach(() => vi.restoreAllMocks());

describe('bench matmul --shapes (gemm kernel vs the route it replaced)', () => {
  it('times every form of every shape on both routes and leaves the switch as it found it', () => {
    const before = process.env.D2NWG_WASM_GEMM;
    const results = measureMatmulShapes({
      shapes: [
        { m: 5, k: 9, n: 13 },
        { m: 8, k: 4, n: 2 },
      ],
      reps: 1,
      rounds: 2,
    });
    expect(process.env.D2NWG_WASM_GEMM).toBe(before);
    expect(results.map((r) => `${r.m}x${r.k}x${r.n} ${r.form}`)).toEqual([
      '5x9x13 A·B',
      '5x9x13 Aᵀ·B',
      '5x9x13 A·Bᵀ',
      '8x4x2 A·B',
      '8x4x2 Aᵀ·B',
      '8x4x2 A·Bᵀ',
    ]);
    for (const r of results) {
      expect(r.gemmMs).toBeGreaterThan(0);
      expect(r.previousMs).toBeGreaterThan(0);
      expect(r.speedup).toBeCloseTo(r.previousMs / r.gemmMs, 10);
      expect(r.gemmGflops).toBeCloseTo((2 * r.m * r.k * r.n) / r.gemmMs / 1e6, 6);
      expect(r.ours).toBe(true);
      expect(r.packed).toBe(false);
    }
    // A B past L2 runs packed in A·B and Aᵀ·B, as it is in A·Bᵀ.
    const wide = measureMatmulShapes({ shapes: [{ m: 8, k: 300, n: 440 }], reps: 1, rounds: 1 });
    expect(wide.map((r) => [r.form, r.ours, r.packed])).toEqual([
      ['A·B', true, true],
      ['Aᵀ·B', true, true],
      ['A·Bᵀ', true, false],
    ]);
    expect(() => measureMatmulShapes({ reps: 0 })).toThrow(/reps must be a positive integer/);
  });

  it('writes a report from the CLI and refuses malformed shapes', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-bench-'));
    const out = path.join(dir, 'mm.json');
    const args = ['matmul', '--out', out, '--shapes', '4x6x8', '--reps', '1', '--rounds', '1'];
    expect(await benchCommand.run(args)).toBe(0);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as {
      bench: string;
      results: { form: string; speedup: number }[];
    };
    expect(report.bench).toBe('matmul-shapes');
    expect(report.results.map((r) => r.form)).toEqual(['A·B', 'Aᵀ·B', 'A·Bᵀ']);
    fs.rmSync(dir, { recursive: true, force: true });
    for (const bad of ['5x6', '4x0x2', 'axbxc']) {
      await expect(benchCommand.run(['matmul', '--shapes', bad])).rejects.toThrow(InputError);
    }
  });
});
