import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/main/engine/errors.ts';
import {
  confinedPolicy,
  isWithin,
  PathDeniedError,
  noFilesPolicy,
  policyFromSpec,
  unrestrictedPolicy,
} from '../../../src/main/paths/policy.ts';

function layout() {
  const base = mkdtempSync(join(tmpdir(), 'd2nwg-paths-'));
  const data = join(base, 'data');
  const outside = join(base, 'outside');
  const allowed = join(base, 'allowed');
  mkdirSync(data);
  mkdirSync(outside);
  mkdirSync(allowed);
  writeFileSync(join(outside, 'secret.txt'), 'top secret');
  writeFileSync(join(allowed, 'train.csv'), '1,0');
  symlinkSync(outside, join(data, 'evil-link'));
  symlinkSync(join(allowed, 'train.csv'), join(data, 'ok-link.csv'));
  return { base, data, outside, allowed };
}

const denied = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PathDeniedError);
  return (err as Error).message;
};

describe('path policy', () => {
  it('compares by path segments, not text: `..hidden` inside a root is inside', () => {
    expect(isWithin('/d', '/d/..hidden')).toBe(true);
    expect(isWithin('/d', '/d/../x')).toBe(false);
    expect(isWithin('/d', '/dx')).toBe(false);
    expect(isWithin('/d', '/d')).toBe(true);
    expect(isWithin('/d', '/d', true)).toBe(false);
  });

  it('writes only strictly inside the data dir, symlinks followed', async () => {
    const { data, outside } = layout();
    const p = confinedPolicy({ dataDir: data });
    await denied(p.checkWrite(outside, 'export folder'));
    await denied(p.checkWrite('../escaped', 'export folder'));
    await denied(p.checkWrite('evil-link/pwned', 'export folder'));
    expect(await denied(p.checkWrite('.', 'export folder'))).toContain('data dir itself');
    expect(await p.checkWrite('..hidden-but-inside', 'export folder')).toBe(
      join(data, '..hidden-but-inside'),
    );
    expect(await p.checkWrite('exports/a/b', 'export folder')).toBe(join(data, 'exports/a/b'));
  });

  it('reads under the data dir and --allow-read roots; errors name the path and the rule only', async () => {
    const { data, outside, allowed } = layout();
    const p = confinedPolicy({ dataDir: data, readRoots: [allowed] });
    const existing = await denied(p.checkRead('/etc/passwd', 'dataset file'));
    expect(existing).toBe(
      `dataset file \`/etc/passwd\` is outside the allowed folders (data dir ${data}, --allow-read ${allowed}); symlinks are followed`,
    );
    // Same error for an outside path that does not exist: nothing tells the two apart.
    const missing = await denied(p.checkRead('/etc/no-such-d2nwg-file', 'dataset file'));
    expect(missing.replace('/etc/no-such-d2nwg-file', '/etc/passwd')).toBe(existing);
    const secret = await denied(p.checkRead(join(outside, 'secret.txt'), 'dataset file'));
    expect(secret).not.toContain('top secret');
    await denied(p.checkRead('evil-link/secret.txt', 'dataset file'));
    expect(await p.checkRead(join(allowed, 'train.csv'), 'dataset file')).toBe(
      join(allowed, 'train.csv'),
    );
    expect(await p.checkRead('ok-link.csv', 'dataset file')).toBe(join(allowed, 'train.csv'));
    expect(await p.checkRead('mine.csv', 'dataset file')).toBe(join(data, 'mine.csv'));
    // --allow-read is not a write root.
    await denied(p.checkWrite(join(allowed, 'out'), 'export folder'));
  });

  it('crosses to a worker as data, and the CLI policy allows anything', async () => {
    const { data, allowed } = layout();
    const p = confinedPolicy({ dataDir: data, readRoots: [allowed] });
    const again = policyFromSpec(structuredClone(p.spec));
    await denied(again.checkRead('/etc/passwd', 'dataset file'));
    expect(await again.checkRead(join(allowed, 'train.csv'), 'x')).toBe(join(allowed, 'train.csv'));
    const cli = unrestrictedPolicy(data);
    expect(await cli.checkRead('/etc/passwd', 'dataset file')).toBe('/etc/passwd');
    expect(await cli.checkWrite('out', 'export folder')).toBe(join(data, 'out'));
    p.allow(join(allowed), 'write');
    expect(await p.checkWrite(join(allowed, 'out'), 'export folder')).toBe(join(allowed, 'out'));
  });

  it('refuses every path with its reason where no file can be had, also after crossing as data', async () => {
    const p = policyFromSpec(structuredClone(noFilesPolicy('/tmp', 'no files here').spec));
    await expect(p.checkRead('train.csv', 'dataset file')).rejects.toThrow(
      new InputError('dataset file `train.csv`: no files here'),
    );
    await expect(p.checkWrite('/tmp/out', 'export folder')).rejects.toBeInstanceOf(InputError);
  });
});
