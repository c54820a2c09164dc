// `d2nwg bench reliability` writes the report, and a part run alone keeps the others' figures.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { benchCommand } from '../../../src/main/cli/commands/bench.ts';
import { tempDir } from '../../fixtures/datagen.ts';

const dir = tempDir('bench-reliability');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Report {
  fuzz: {
    casesPerParser: number;
    failures: number;
    parsers: { parser: string; cases: number; ok: number; refused: number; failed: number }[];
  };
  kill?: { scenarios: number; survived: number; outcomes: { scenario: string }[] };
}

it('writes fuzz counts per parser, then adds a kill scenario without losing them', async () => {
  const out = path.join(dir, 'reliability.json');
  const fuzzArgs = ['--only', 'fuzz', '--cases', '30', '--parsers', 'idx,npy', '--out', out];
  expect(await benchCommand.run(['reliability', ...fuzzArgs])).toBe(0);
  const first = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
  expect(first.fuzz.casesPerParser).toBe(30);
  expect(first.fuzz.failures).toBe(0);
  expect(first.fuzz.parsers.map((p) => [p.parser, p.cases, p.ok + p.refused, p.failed])).toEqual([
    ['npy', 30, 30, 0],
    ['idx', 30, 30, 0],
  ]);
  expect(first.kill).toBeUndefined();

  const killArgs = ['--only', 'kill', '--scenarios', 'migration', '--out', out];
  expect(await benchCommand.run(['reliability', ...killArgs])).toBe(0);
  const second = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
  expect(second.fuzz).toEqual(first.fuzz);
  expect(second.kill?.outcomes.map((o) => o.scenario)).toEqual(['migration']);
  expect([second.kill?.scenarios, second.kill?.survived]).toEqual([1, 1]);
}, 60_000);

it('refuses an unknown part by name', async () => {
  await expect(benchCommand.run(['reliability', '--only', 'fuz'])).rejects.toThrow(
    /--only: unknown name 'fuz'; known: fuzz, soak, kill/,
  );
});
