import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { readJson, readJsonFile } from '../../../../src/main/engine/formats/json-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'd2nwg-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('readJson / readJsonFile', () => {
  it('reads and validates, naming the field that does not fit', async () => {
    const Schema = z.object({ epochs: z.number().int().min(1) });
    expect(await readJsonFile(file('ok.json', '{"epochs": 3}'), Schema)).toEqual({ epochs: 3 });
    await expect(readJsonFile(file('bad-field.json', '{"epochs": 0}'), Schema)).rejects.toThrow(
      /bad-field\.json: field epochs/,
    );
  });

  it('names the file for malformed JSON and keeps its content out of the message', async () => {
    const p = file('broken.json', 'password=hunter2');
    const err = await readJson(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/broken\.json: not valid JSON: /);
    expect(String(err)).not.toContain('hunter2');
    await expect(readJson(p, { invalid: 'invalid JSON' })).rejects.toThrow(
      /broken\.json: invalid JSON/,
    );
  });

  it('says what could not be read, with a custom message for a missing file', async () => {
    const missing = join(dir, 'missing.json');
    await expect(readJson(missing, { what: 'config' })).rejects.toThrow(
      /missing\.json: cannot read config: ENOENT/,
    );
    await expect(
      readJson(missing, { missing: 'not found: is this a zoo folder?' }),
    ).rejects.toThrow(/missing\.json: not found: is this a zoo folder\?/);
  });
});
