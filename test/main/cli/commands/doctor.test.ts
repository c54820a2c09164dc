import { afterEach, describe, expect, it, vi } from 'vitest';
import { doctorCommand } from '../../../../src/main/cli/commands/doctor.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';

afterEach(() => vi.restoreAllMocks());

function captureLog(): string[] {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  return lines;
}

describe('d2nwg doctor', () => {
  it('reports backend, skipped candidates, versions and matmul speed as JSON', async () => {
    const out = captureLog();
    expect(
      await doctorCommand.run(['--backend', 'wasm', '--sizes', '32,48', '--reps', '1', '--json']),
    ).toBe(0);
    const report = JSON.parse(out.join('\n')) as Record<string, unknown>;
    expect(report.backend).toBe('wasm');
    expect(report.wasmTransposeKernel).toBe(true);
    expect(report.wasmThreads).toBe(1); // one thread under vitest
    expect(report.node).toBe(process.version);
    expect(report.tfjs).toBe('4.22.0');
    const matmul = report.matmul as { size: number; gflops: Record<string, number> }[];
    expect(matmul.map((m) => m.size)).toEqual([32, 48]);
    for (const m of matmul) {
      for (const key of ['plain', 'transposeA', 'transposeB']) {
        expect(m.gflops[key]).toBeGreaterThan(0);
      }
    }
  });

  it('prints the skipped candidates with reasons in text mode', async () => {
    const out = captureLog();
    expect(await doctorCommand.run(['--backend', 'cpu', '--no-bench'])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/backend\s+cpu/);
    expect(text).toMatch(/skipped\s+wasm: not tried \(forced 'cpu'\)/);
    expect(text).toMatch(/node\s+v\d+/);
    expect(text).not.toMatch(/matmul/);
    await doctorCommand.run(['--backend', 'wasm', '--no-bench']);
  });

  it('refuses bad flags with an InputError', async () => {
    await expect(doctorCommand.run(['--sizes', '0'])).rejects.toBeInstanceOf(InputError);
    await expect(doctorCommand.run(['--backend', 'nope', '--no-bench'])).rejects.toThrow(
      /D2NWG_BACKEND/,
    );
  });
});
