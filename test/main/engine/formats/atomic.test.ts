import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  writeFileAtomic,
  writeFileAtomicSync,
} from '../../../../src/main/engine/formats/atomic.ts';

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-atomic-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes bytes and strings, replacing an existing file, leaving no temp file', async () => {
    const p = path.join(dir, 'a.bin');
    await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(p)]).toEqual([1, 2, 3]);
    await writeFileAtomic(p, 'hello');
    expect(fs.readFileSync(p, 'utf8')).toBe('hello');
    writeFileAtomicSync(p, 'sync');
    expect(fs.readFileSync(p, 'utf8')).toBe('sync');
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('names the path when the directory does not exist, and leaves no temp file', async () => {
    const p = path.join(dir, 'missing', 'x.json');
    await expect(writeFileAtomic(p, '{}')).rejects.toThrow(`cannot write ${p}`);
    expect(() => writeFileAtomicSync(p, '{}')).toThrow(/does not exist \(ENOENT\)/);
  });

  it('reports a rename failure (target is a directory) and removes the temp file', async () => {
    const target = path.join(dir, 'isdir');
    fs.mkdirSync(path.join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow(`cannot write ${target}`);
    expect(() => writeFileAtomicSync(target, 'x')).toThrow(`cannot write ${target}`);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)('names EACCES on a read-only directory', async () => {
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro);
    fs.chmodSync(ro, 0o500);
    await expect(writeFileAtomic(path.join(ro, 'f'), 'x')).rejects.toThrow(/permission denied/);
    fs.chmodSync(ro, 0o700);
  });
});
