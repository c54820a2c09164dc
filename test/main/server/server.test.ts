import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  DEFAULT_MAX_BODY_BYTES,
  MAX_BODY_JSON_DEPTH,
  startServer,
  type RunningServer,
} from '../../../src/main/server/server.ts';
import { MAX_PIPELINE_NODES } from '../../../src/shared/pipeline.ts';
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
    expect(cookie).toMatch(/^d2nwg_token_\d+_[0-9a-f]+=.+; HttpOnly; SameSite=Strict; Path=\//);
    expect(cookie.startsWith(`${server.cookieName}=`)).toBe(true);
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
    const cookie = `${server.cookieName}=${server.token}`;
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

  it('answers 400, not 500, to a malformed %-escape in the path or the cookie', async () => {
    const host = `127.0.0.1:${server.port}`;
    const cookie = `${server.cookieName}=${server.token}`;
    expect(await rawGet('/%E0%A4%A', { cookie, host })).toBe(400);
    expect(await rawGet('/assets/%ZZ.js', { cookie, host })).toBe(400);
    expect(await rawGet(`/%E0%A4%A?token=${server.token}`, { host })).toBe(400);
    // A malformed cookie is no token at all: 401, not a crash.
    expect(await rawGet('/', { cookie: `${server.cookieName}=%E0%A4%A`, host })).toBe(401);
    // The server still answers afterwards.
    expect(await rawGet('/', { cookie, host })).toBe(200);
  });

  it('answers 413 with a JSON error to a 50 MB body, and keeps serving', async () => {
    const r = await fetch(`${base}/api/runs.start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-d2nwg-token': server.token },
      body: Buffer.alloc(50 * 1024 * 1024, 0x20),
    });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({
      ok: false,
      error: { kind: 'PayloadTooLarge', message: expect.stringMatching(/16777216-byte limit/) },
    });
    expect((await post('system.info', {}, server.token)).status).toBe(200);
    expect(DEFAULT_MAX_BODY_BYTES).toBe(16 * 1024 * 1024);
  });

  it('refuses JSON nested deeper than the limit with 400, before parsing it', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = await fetch(`${base}/api/pipelines.validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-d2nwg-token': server.token },
      body: `{"pipeline":${deep}}`,
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({
      ok: false,
      error: {
        kind: 'ArgsError',
        message: `bad request body: JSON nests deeper than ${MAX_BODY_JSON_DEPTH} levels`,
      },
    });
    const bad = await fetch(`${base}/api/system.info`, {
      method: 'POST',
      headers: { 'x-d2nwg-token': server.token },
      body: '{"a": PASSWORD=hunter2}',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toContain('hunter2');
  });

  it(`refuses a pipeline of more than ${MAX_PIPELINE_NODES} nodes, or a config nested too deep`, async () => {
    const big = pipelineNamed('huge', 10_000);
    for (const channel of ['runs.start', 'pipelines.save']) {
      const r = await post(channel, { pipeline: big }, server.token);
      expect(r.status).toBe(400);
      const body = (await r.json()) as { ok: boolean; error: { kind: string; message: string } };
      expect(body.ok).toBe(false);
      expect(body.error.kind).toBe('ArgsError');
      expect(body.error.message).toContain(`at most ${MAX_PIPELINE_NODES} nodes`);
    }
    const deep = pipelineNamed('deep');
    let config: unknown = 1;
    for (let i = 0; i < 40; i++) config = { c: config };
    const node = { ...deep.nodes[0], config };
    const r = await post('runs.start', { pipeline: { ...deep, nodes: [node] } }, server.token);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({
      error: { message: expect.stringMatching(/config nests deeper than 32 levels/) },
    });
    // At the limit the pipeline is accepted.
    const atLimit = pipelineNamed('at-limit', MAX_PIPELINE_NODES);
    expect((await post('pipelines.save', { pipeline: atLimit }, server.token)).status).toBe(200);
  });
});

describe('d2nwg serve body limit (configurable)', () => {
  let small: RunningServer;
  beforeAll(async () => {
    small = await startServer({
      api: t.api,
      rendererDir: mkdtempSync(join(tmpdir(), 'd2nwg-renderer-')),
      port: 0,
      maxBodyBytes: 4096,
    });
  });
  afterAll(async () => {
    await small.close();
  });

  /** POST `chunks` with chunked transfer encoding (no Content-Length); resolves status + body. */
  function chunkedPost(chunks: string[]): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: small.port,
          path: '/api/system.info',
          method: 'POST',
          headers: { 'x-d2nwg-token': small.token, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  it('accepts a body under the limit and answers 413 to a chunked body over it', async () => {
    expect((await chunkedPost(['{', ' '.repeat(3000), '}'])).status).toBe(200);
    const over = await chunkedPost(['{', ...Array<string>(100).fill(' '.repeat(1000)), '}']);
    expect(over.status).toBe(413);
    expect(JSON.parse(over.body)).toMatchObject({
      ok: false,
      error: {
        kind: 'PayloadTooLarge',
        message: 'request body is larger than the 4096-byte limit',
      },
    });
  });

  it('answers 413 by Content-Length before reading the body', async () => {
    const r = await fetch(`http://127.0.0.1:${small.port}/api/system.info`, {
      method: 'POST',
      headers: { 'x-d2nwg-token': small.token },
      body: ' '.repeat(5000),
    });
    expect(r.status).toBe(413);
  });
});
