// Property-style fuzzing of the file readers (the generators live in src/main/reliability/fuzz.ts,
// shared with `d2nwg bench reliability`): seeded mutations of valid files must either decode or
// fail with the readers' typed InputError naming the file, never another error, a hang or a huge
// allocation. D2NWG_FUZZ_CASES (default 500 per parser) and D2NWG_FUZZ_SEED (default 1) widen or
// vary a run; a failure names the parser, the seed and the case index, which reproduce it exactly.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_TARGETS, fuzzTarget } from '../../../../src/main/reliability/fuzz.ts';
import { tempDir } from '../../../fixtures/datagen.ts';

const CASES = Number(process.env.D2NWG_FUZZ_CASES ?? 500);
const SEED = Number(process.env.D2NWG_FUZZ_SEED ?? 1);
/** Readers whose seeds are strict enough that some mutations must be refused. */
const MUST_REFUSE = new Set(['safetensors', 'idx', 'image', 'pipeline-json', 'zoo-manifest']);

let dir = '';
beforeAll(() => {
  dir = tempDir('fuzz');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe(`reader fuzzing (${CASES} mutated inputs per parser, seed ${SEED})`, () => {
  it.each(FUZZ_TARGETS.map((t) => [t.name, t] as const))(
    '%s: decodes or refuses with an InputError naming the file',
    async (name, target) => {
      const r = await fuzzTarget(target, { cases: CASES, seed: SEED, dir });
      expect(
        r.failures.map((f) => `${name} case ${f.caseIndex} (D2NWG_FUZZ_SEED=${SEED}): ${f.error}`),
      ).toEqual([]);
      expect(r.ok + r.refused).toBe(CASES);
      if (MUST_REFUSE.has(name)) expect(r.refused).toBeGreaterThan(0);
    },
    120_000,
  );
});
