import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { benchCommand, benchmarks } from '../../../../src/main/cli/commands/bench.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { wasmKernelsInstalled } from '../../../../src/main/engine/kernels/wasm.ts';

afterEach(() => vi.restoreAllMocks());

describe('d2nwg bench', () => {
  it('runs matmul and writes its JSON report to --out', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-bench-'));
    const out = path.join(dir, 'sub', 'mm.json');
    expect(
      await benchCommand.run(['matmul', '--out', out, '--sizes', '16,32', '--reps', '1']),
    ).toBe(0);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as {
      backend: string;
      results: { size: number; plain: number; transposeA: number; transposeB: number }[];
    };
    expect(report.backend).toBe('wasm');
    expect(report.results.map((r) => r.size)).toEqual([16, 32]);
    expect(report.results.every((r) => r.plain > 0 && r.transposeA > 0 && r.transposeB > 0)).toBe(
      true,
    );
    expect(fs.readdirSync(path.dirname(out))).toEqual(['mm.json']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('times the stock wasm kernels too with --compare-stock, leaving ours installed', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-bench-'));
    const out = path.join(dir, 'mm.json');
    const args = ['matmul', '--out', out, '--sizes', '24', '--reps', '1', '--compare-stock'];
    expect(await benchCommand.run(args)).toBe(0);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as {
      results: { stock?: { plain: number; transposeA: number } }[];
    };
    expect(report.results[0]?.stock?.transposeA).toBeGreaterThan(0);
    expect(wasmKernelsInstalled()).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a quality --config with a misspelt key before running anything', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-bench-'));
    const config = path.join(dir, 'typo.json');
    const out = path.join(dir, 'quality.json');
    fs.writeFileSync(config, JSON.stringify({ vae: { latentDimm: 16 } }));
    const run = benchCommand.run(['quality', '--config', config, '--out', out, '--quiet']);
    await expect(run).rejects.toBeInstanceOf(InputError);
    await expect(run).rejects.toThrow(
      `${config}: vae: \`latentDimm\`: unknown key; did you mean \`latentDim\`?`,
    );
    expect(fs.existsSync(out)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists the known benchmarks when the name is unknown or missing', async () => {
    expect(Object.keys(benchmarks)).toContain('matmul');
    await expect(benchCommand.run(['nope'])).rejects.toThrow(/unknown benchmark 'nope'.*matmul/);
    await expect(benchCommand.run(['constructor'])).rejects.toBeInstanceOf(InputError);
    await expect(benchCommand.run([])).rejects.toBeInstanceOf(InputError);
  });
});
