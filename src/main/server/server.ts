/**
 * Web mode: the built renderer and the same API over HTTP (POST /api/<channel>, JSON) and a
 * WebSocket (/ws, push channels), on 127.0.0.1 only. A random token guards everything: it comes
 * in the printed URL, is traded for an HttpOnly SameSite=Strict cookie on the first page load, and
 * is checked on every request, static files and the WebSocket upgrade included. Host and Origin
 * are checked too, so another site (or a DNS-rebinding name) cannot drive the API.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, relative, sep, isAbsolute } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { APP_CSP } from '../../shared/csp.ts';
import type { PushChannelName } from '../../shared/ipc.ts';
import { dispatch } from '../api/dispatch.ts';
import type { StudioApi } from '../api/studio.ts';

/** Cookie that carries the token after the first page load. */
export const TOKEN_COOKIE = 'd2nwg_token';
/** Request header that carries the token for API calls. */
export const TOKEN_HEADER = 'x-d2nwg-token';
/** Largest accepted request body; pipelines are small JSON. */
const MAX_BODY = 8 * 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

export interface StartServerOptions {
  /** The API to expose. */
  readonly api: StudioApi;
  /** Folder of the built renderer (out/renderer). */
  readonly rendererDir: string;
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port?: number;
  /** Fixed token (tests); default: 32 random bytes. */
  readonly token?: string;
}

/** A running web-mode server. */
export interface RunningServer {
  /** The URL to open, token included. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** Stops accepting, closes sockets. Does not dispose the API. */
  close(): Promise<void>;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function statusOf(kind: string): number {
  if (kind === 'ArgsError' || kind === 'InputError') return 400;
  if (kind === 'NotFound') return 404;
  return 500;
}

/** Start web mode on 127.0.0.1. */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const root = normalize(opts.rendererDir);
  let port = 0;

  const hostOk = (req: IncomingMessage) => {
    const host = req.headers.host ?? '';
    return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
  };
  const originOk = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    return (
      origin === undefined ||
      origin === `http://127.0.0.1:${port}` ||
      origin === `http://localhost:${port}`
    );
  };
  const authed = (req: IncomingMessage, url: URL) => {
    const given =
      (req.headers[TOKEN_HEADER] as string | undefined) ??
      url.searchParams.get('token') ??
      cookieToken(req);
    return given !== undefined && given !== null && safeEqual(given, token);
  };

  const serveStatic = async (res: ServerResponse, pathname: string, setCookie: boolean) => {
    const wanted = pathname === '/' ? '/index.html' : decodeURIComponent(pathname);
    const file = normalize(join(root, wanted));
    const rel = relative(root, file);
    if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
      send(res, 403, 'forbidden');
      return;
    }
    let size: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) throw new Error('not a file');
      size = s.size;
    } catch {
      send(res, 404, `not found: ${wanted}`);
      return;
    }
    const headers: Record<string, string | string[]> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': String(size),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': rel === 'index.html' ? 'no-store' : 'private, max-age=3600',
    };
    if (extname(file) === '.html') {
      headers['content-security-policy'] = APP_CSP;
      headers['x-frame-options'] = 'DENY';
    }
    if (setCookie) {
      headers['set-cookie'] =
        `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!hostOk(req) || !originOk(req)) {
      send(res, 403, 'forbidden: wrong Host or Origin');
      return;
    }
    if (!authed(req, url)) {
      send(res, 401, 'unauthorized: open the URL that `d2nwg serve` printed (it carries ?token=…)');
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      if (req.method !== 'POST') {
        send(res, 405, 'use POST with a JSON body');
        return;
      }
      let params: unknown;
      try {
        const text = await readBody(req);
        params = text.trim() === '' ? {} : (JSON.parse(text) as unknown);
      } catch (err) {
        const error = { kind: 'ArgsError', message: `bad request body: ${String(err)}` };
        send(res, 400, JSON.stringify({ ok: false, error }), 'application/json');
        return;
      }
      const reply = await dispatch(opts.api.handlers, url.pathname.slice(5), params);
      send(
        res,
        reply.ok ? 200 : statusOf(reply.error.kind),
        JSON.stringify(reply),
        'application/json',
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed');
      return;
    }
    const viaQuery = url.searchParams.get('token') !== null;
    await serveStatic(res, url.pathname, viaQuery);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `internal error: ${String(err)}`);
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const clients = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const refuse = (status: string) => {
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (url.pathname !== '/ws') return refuse('404 Not Found');
    if (!hostOk(req) || !originOk(req)) return refuse('403 Forbidden');
    if (!authed(req, url)) return refuse('401 Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => clients.delete(ws));
    });
  });
  const unsubscribe = opts.api.hub.subscribe((channel: PushChannelName, payload) => {
    const text = JSON.stringify({ channel, payload });
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    async close() {
      unsubscribe();
      for (const ws of clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
