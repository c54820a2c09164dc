import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../src/main/server/server.ts';
import { makeTestApi, type TestApi } from '../api/fixtures/make-api.ts';

let t: TestApi;
let rendererDir: string;
const servers: RunningServer[] = [];

beforeAll(() => {
  t = makeTestApi('web');
  rendererDir = mkdtempSync(join(tmpdir(), 'd2nwg-renderer-'));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>studio</title>');
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await t.api.dispose();
});

async function start(publicUrls?: string[]): Promise<RunningServer> {
  const s = await startServer({ api: t.api, rendererDir, port: 0, publicUrls });
  servers.push(s);
  return s;
}

/** A raw request with chosen headers (fetch will not let us set Host); status and body. */
function raw(
  s: RunningServer,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.port, path, headers, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

/** A browser's cookie jar for 127.0.0.1: cookies are shared by every port on the host. */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(setCookie: string | null): void {
    const [pair] = (setCookie ?? '').split(';');
    const eq = pair.indexOf('=');
    if (eq > 0) this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

describe('web mode: one token per server instance', () => {
  it('keeps two servers on two ports working in one cookie jar, and refuses the other server’s cookie', async () => {
    const a = await start();
    const b = await start();
    expect(a.cookieName).not.toBe(b.cookieName);
    expect(a.cookieName).toContain(String(a.port));
    const jar = new Jar();
    // The user opens A, then B: B's cookie must not overwrite A's.
    const pageA = await fetch(a.url);
    expect(pageA.status).toBe(200);
    jar.take(pageA.headers.get('set-cookie'));
    const pageB = await fetch(b.url);
    expect(pageB.status).toBe(200);
    jar.take(pageB.headers.get('set-cookie'));
    for (const s of [a, b]) {
      const host = `127.0.0.1:${s.port}`;
      expect((await raw(s, '/', { host, cookie: jar.header() })).status).toBe(200);
      expect(
        (await raw(s, '/api/system.info', { host, cookie: jar.header() }, 'POST')).status,
      ).toBe(200);
    }
    // A request carrying only the other server's cookie gets 401, even under this server's name.
    const onlyB = `${b.cookieName}=${b.token}`;
    expect((await raw(a, '/', { host: `127.0.0.1:${a.port}`, cookie: onlyB })).status).toBe(401);
    const bUnderA = `${a.cookieName}=${b.token}`;
    expect((await raw(a, '/', { host: `127.0.0.1:${a.port}`, cookie: bUnderA })).status).toBe(401);
    // The old shared name is no longer honoured.
    const legacy = `d2nwg_token=${a.token}`;
    expect((await raw(a, '/', { host: `127.0.0.1:${a.port}`, cookie: legacy })).status).toBe(401);
  });

  it('accepts Authorization: Bearer <token> for scripts', async () => {
    const a = await start();
    const ok = await fetch(`http://127.0.0.1:${a.port}/api/system.info`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.token}` },
      body: '{}',
    });
    expect(ok.status).toBe(200);
    const bad = await fetch(`http://127.0.0.1:${a.port}/api/system.info`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
      body: '{}',
    });
    expect(bad.status).toBe(401);
  });
});

describe('web mode behind a tunnel', () => {
  it('answers 403 naming the Host and Origin it got, the ones it expects and the flag', async () => {
    const s = await start();
    const r = await raw(s, '/', {
      host: 'localhost:9000',
      origin: 'http://localhost:9000',
      cookie: `${s.cookieName}=${s.token}`,
    });
    expect(r.status).toBe(403);
    expect(r.body).toContain('"localhost:9000"');
    expect(r.body).toContain('"http://localhost:9000"');
    expect(r.body).toContain(`127.0.0.1:${s.port}`);
    expect(r.body).toContain('--public-url');
    const ws = await new Promise<string>((resolve) => {
      const sock = new WebSocket(`ws://127.0.0.1:${s.port}/ws?token=${s.token}`, {
        headers: { host: 'localhost:9000' },
      });
      sock.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      });
      sock.on('open', () => resolve('101'));
      sock.on('error', () => undefined);
    });
    expect(ws).toMatch(/^403 .*--public-url/);
  });

  it('serves the Host and Origin given with --public-url (pages, API, WebSocket)', async () => {
    const s = await start(['http://localhost:9000/']);
    const headers = {
      host: 'localhost:9000',
      origin: 'http://localhost:9000',
      cookie: `${s.cookieName}=${s.token}`,
    };
    expect((await raw(s, '/', headers)).status).toBe(200);
    expect((await raw(s, '/api/system.info', headers, 'POST')).status).toBe(200);
    expect((await raw(s, '/', { ...headers, host: 'localhost:9001' })).status).toBe(403);
    const status = await new Promise<number>((resolve) => {
      const sock = new WebSocket(`ws://127.0.0.1:${s.port}/ws?token=${s.token}`, {
        headers: { host: 'localhost:9000', origin: 'http://localhost:9000' },
      });
      sock.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      sock.on('open', () => {
        sock.close();
        resolve(101);
      });
      sock.on('error', () => undefined);
    });
    expect(status).toBe(101);
  });

  it('refuses a --public-url that is not an http(s) URL', async () => {
    await expect(start(['localhost:9000'])).rejects.toThrow(/--public-url/);
    await expect(start(['ftp://x'])).rejects.toThrow(/--public-url/);
  });
});
