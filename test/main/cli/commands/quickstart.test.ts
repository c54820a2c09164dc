// The quickstart end to end (about a minute on 2 cores): only with D2NWG_SLOW=1 (npm run test:slow).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quickstartPipelinePath } from '../../../../src/main/cli/commands/quickstart.ts';
import { printPipeline } from '../../../helpers/cli.ts';
import { SOURCE_SPLITS, SPLIT_MEANING } from '../../../../src/shared/nodes/eval-finetune.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-quickstart-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(process.env.D2NWG_SLOW !== '1')('d2nwg quickstart (slow)', () => {
  it('prints seen, unseen-combo and unseen-class side by side, with the zoo on seen and NCM/LDA everywhere', async () => {
    const { code, text } = await printPipeline(quickstartPipelinePath(), tmp);
    expect(code).toBe(0);
    const row = /^(seen|unseen-combo|unseen-class)\s+(.+?)\s+(\d+)\s+([\d.]+) ± ([\d.]+)(?:\s|$)/gm;
    const rows = [...text.matchAll(row)].map((m) => ({
      split: m[1],
      method: m[2],
      tasks: Number(m[3]),
      mean: Number(m[4]),
      std: Number(m[5]),
    }));
    const methods = (split: string) => rows.filter((r) => r.split === split).map((r) => r.method);
    expect(methods('seen')).toEqual([
      'zoo (own checkpoints, mean)',
      'RandInit',
      'Pretrained (source)',
      'D2NWG + class head, best of 6 (train acc)',
      'D2NWG + class head, mean of 6',
      'NCM (no training)',
      'LDA (no training)',
    ]);
    for (const split of ['unseen-combo', 'unseen-class']) {
      expect(methods(split)).toEqual(methods('seen').slice(1));
    }
    for (const r of rows) {
      expect(r.tasks).toBe(4);
      // Four tasks per split: the std over tasks is a real spread.
      expect(r.std).toBeGreaterThan(0);
    }
    for (const sp of SOURCE_SPLITS) expect(text).toContain(SPLIT_MEANING[sp]);
  }, 600_000);
});
