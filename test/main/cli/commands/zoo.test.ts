import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../../src/main/cli/main.ts';
import { benchmarks } from '../../../../src/main/cli/commands/bench.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-cli-zoo-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('d2nwg zoo', () => {
  it('exits 2 on a bad config, listing every issue with its path', async () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ train: { epochs: 0, lr: 'x' }, arch: { kind: 'rnn' } }),
    );
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const code = await main(['zoo', 'build', '--config', file, '--out', path.join(tmp, 'z')]);
      expect(code).toBe(2);
      const text = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(text).toContain(file);
      expect(text).toContain('train.epochs');
      expect(text).toContain('train.lr');
      expect(text).toContain('arch.kind');
    } finally {
      err.mockRestore();
    }
    expect(fs.existsSync(path.join(tmp, 'z'))).toBe(false);
  });

  it('exits 2 on a misspelt key, suggesting the key meant', async () => {
    const file = path.join(tmp, 'typo.json');
    fs.writeFileSync(file, JSON.stringify({ train: { epoch: 4 }, workres: 1 }));
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const code = await main(['zoo', 'build', '--config', file, '--out', path.join(tmp, 't')]);
      expect(code).toBe(2);
      const text = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(text).toContain('train: `epoch`: unknown key; did you mean `epochs`?');
      expect(text).toContain('(root): `workres`: unknown key; did you mean `workers`?');
    } finally {
      err.mockRestore();
    }
    expect(fs.existsSync(path.join(tmp, 't'))).toBe(false);
  });

  it('exits 2 on unreadable JSON, a missing zoo, and missing flags', async () => {
    const file = path.join(tmp, 'broken.json');
    fs.writeFileSync(file, '{ nope');
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['zoo', 'build', '--config', file, '--out', tmp])).toBe(2);
      expect(await main(['zoo', 'info', path.join(tmp, 'missing')])).toBe(2);
      expect(await main(['zoo', 'build', '--config', file])).toBe(2);
      expect(await main(['zoo', 'frobnicate'])).toBe(2);
      const text = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(text).toContain('not valid JSON');
      expect(text).toContain('manifest.json: not found');
    } finally {
      err.mockRestore();
    }
  });

  it("imports a PyTorch zoo (Schürholt's layout) with --format, and refuses an unknown format", async () => {
    const src = path.join(import.meta.dirname, '..', '..', '..', 'fixtures', 'torch', 'schurholt');
    const out = path.join(tmp, 'from-torch');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['zoo', 'import', src, '--out', out, '--format', 'schurholt'])).toBe(0);
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toContain(
        `imported 6 members from ${src}`,
      );
      expect(fs.existsSync(path.join(out, 'manifest.json'))).toBe(true);
      expect(await main(['zoo', 'import', src, '--out', out, '--format', 'keras'])).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join('\n')).toContain(
        "--format must be one of auto, d2nwg, schurholt, pdiff, not 'keras'",
      );
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });

  it('registers the zoo benchmark', () => {
    expect(typeof benchmarks.zoo).toBe('function');
  });
});
