import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../src/main/server/server.ts';
import { makeTestApi, pipelineNamed, type TestApi } from '../api/fixtures/make-api.ts';

let t: TestApi;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  t = makeTestApi('web');
  const dir = mkdtempSync(join(tmpdir(), 'd2nwg-renderer-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>studio</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  server = await startServer({ api: t.api, rendererDir: dir, port: 0 });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.close();
  await t.api.dispose();
});

const post = (channel: string, body: unknown, token?: string) =>
  fetch(`${base}/api/${channel}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-d2nwg-token': token } : {}) },
    body: JSON.stringify(body),
  });

/** A raw GET with a chosen Host / Origin header (fetch will not let us forge Host). */
function rawGet(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('d2nwg serve (web mode)', () => {
  it('listens on the loopback interface only, with a token in the URL', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('answers 401 without the token and 200 with it, for pages, assets and the API', async () => {
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/?token=wrong`)).status).toBe(401);
    expect((await fetch(`${base}/assets/app.js`)).status).toBe(401);
    expect((await post('system.info', {})).status).toBe(401);
    expect((await post('system.info', {}, 'wrong')).status).toBe(401);

    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>studio</title>');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const cookie = page.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^d2nwg_token=.+; HttpOnly; SameSite=Strict; Path=\//);
    const asset = await fetch(`${base}/assets/app.js`, {
      headers: { cookie: cookie.split(';')[0] },
    });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toContain('text/javascript');

    const info = await post('system.info', {}, server.token);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({
      ok: true,
      value: { mode: 'web', version: '0.0.0-test' },
    });
  });

  it('refuses forged Host and foreign Origin headers, and path traversal', async () => {
    const cookie = `d2nwg_token=${server.token}`;
    expect(await rawGet('/', { cookie, host: `127.0.0.1:${server.port}` })).toBe(200);
    expect(await rawGet('/', { cookie, host: `evil.example:${server.port}` })).toBe(403);
    expect(
      await rawGet('/', {
        cookie,
        host: `127.0.0.1:${server.port}`,
        origin: 'http://evil.example',
      }),
    ).toBe(403);
    expect(
      await rawGet('/..%2f..%2f..%2fetc%2fpasswd', { cookie, host: `127.0.0.1:${server.port}` }),
    ).toBe(403);
  });

  it('maps bad arguments to 400 with the envelope message', async () => {
    const r = await post('runs.get', { runId: 5 }, server.token);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ ok: false, error: { kind: 'ArgsError' } });
    const nf = await post('runs.get', { runId: 'missing' }, server.token);
    expect(nf.status).toBe(404);
  });

  it('refuses a WebSocket upgrade without the token', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
  });

  it('runs a pipeline over HTTP and streams its events over the WebSocket', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    const messages: { channel: string; payload: { runId?: string; event?: { type: string } } }[] =
      [];
    const finished = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as (typeof messages)[number];
        messages.push(m);
        if (m.channel === 'events.run' && m.payload.event?.type === 'runDone') resolve();
      });
    });
    const r = await post(
      'runs.start',
      { pipeline: pipelineNamed('over-http'), seed: 1 },
      server.token,
    );
    expect(r.status).toBe(200);
    const { value } = (await r.json()) as { value: { runId: string } };
    await finished;
    ws.close();
    const runEvents = messages.filter((m) => m.channel === 'events.run');
    expect(runEvents.every((m) => m.payload.runId === value.runId)).toBe(true);
    expect(runEvents.map((m) => m.payload.event?.type)).toContain('nodeProgress');
    expect(messages.some((m) => m.channel === 'events.log')).toBe(true);
    const got = await post('runs.get', { runId: value.runId }, server.token);
    expect(await got.json()).toMatchObject({ ok: true, value: { status: 'done' } });
  });
});
