/**
 * Web mode: the built renderer and the same API over HTTP (POST /api/<channel>, JSON) and a
 * WebSocket (/ws, push channels), on 127.0.0.1 only. A random token guards everything: it comes
 * in the printed URL, is traded for an HttpOnly SameSite=Strict cookie on the first page load, and
 * is checked on every request, static files and the WebSocket upgrade included. Scripts may send
 * it as `Authorization: Bearer <token>`. Cookies are not scoped by port, so the cookie's name
 * carries the port and a random id of this server: another `d2nwg serve` on the same machine
 * neither receives a token it can use nor overwrites this one's. Host and Origin are checked too,
 * so another site (or a DNS-rebinding name) cannot drive the API; `publicUrls` adds the address a
 * tunnel or proxy forwards from.
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
import { jsonTextDepth } from '../../shared/json-depth.ts';
import { dispatch } from '../api/dispatch.ts';
import { InputError } from '../engine/errors.ts';
import type { StudioApi } from '../api/studio.ts';

/**
 * Cookies that carry the token after the first page load start with this; the full name adds the
 * port and a random id of the server instance (RunningServer.cookieName).
 */
export const TOKEN_COOKIE_PREFIX = 'd2nwg_token_';
/** Request header that carries the token for API calls. */
export const TOKEN_HEADER = 'x-d2nwg-token';
/**
 * Default largest accepted request body, in bytes. Pipelines are small JSON (a few KB); the
 * margin is for long descriptions and configs. A larger body is answered 413.
 */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Deepest array/object nesting accepted in a request body; real requests nest under 10. */
export const MAX_BODY_JSON_DEPTH = 64;
/**
 * After answering 413 the rest of the body is read and discarded, so the client (still
 * uploading) receives the answer instead of a connection reset; a body still arriving after
 * this long is cut off.
 */
const DRAIN_MS = 10_000;

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
  /** Largest request body in bytes (default DEFAULT_MAX_BODY_BYTES); larger ones get 413. */
  readonly maxBodyBytes?: number;
  /**
   * Addresses the browser uses when it does not reach 127.0.0.1:<port> directly (an SSH tunnel
   * `-L 9000:127.0.0.1:<port>` gives `http://localhost:9000`): their Host and Origin are accepted
   * besides the loopback ones. From `d2nwg serve --public-url URL`.
   */
  readonly publicUrls?: readonly string[];
}

/** A running web-mode server. */
export interface RunningServer {
  /** The URL to open, token included. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** Name of this server's token cookie: `d2nwg_token_<port>_<random id>`. */
  readonly cookieName: string;
  /** Stops accepting, closes sockets. Does not dispose the API. */
  close(): Promise<void>;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeOrNull(v.join('=')) ?? undefined;
  }
  return undefined;
}

/** The token of an `Authorization: Bearer <token>` header. */
function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** A header value as it may be quoted back in an error: printable ASCII, at most 200 chars. */
function quoted(value: string | undefined): string {
  if (value === undefined) return '(none)';
  const clean = value.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 200 ? `${clean.slice(0, 200)}…` : clean);
}

/** Parse `--public-url` values: http(s) URLs with a host, reduced to their origin. */
export function parsePublicUrls(urls: readonly string[]): URL[] {
  return urls.map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new InputError(`--public-url '${u}' is not a URL (e.g. http://localhost:9000)`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
      throw new InputError(`--public-url '${u}' must be an http:// or https:// URL with a host`);
    }
    return url;
  });
}

/** decodeURIComponent, with null for a malformed escape (`%E0%A4%A`) instead of a URIError. */
function decodeOrNull(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** A bad request from the client (malformed URL or body): answered 400, or `status`. */
class RequestError extends Error {
  override readonly name = 'ArgsError';
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
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

function sendJsonError(res: ServerResponse, status: number, kind: string, message: string): void {
  send(res, status, JSON.stringify({ ok: false, error: { kind, message } }), 'application/json');
}

/**
 * Read the body as UTF-8, refusing (RequestError 413) one over `limit` bytes, by its
 * Content-Length before reading anything or by counting as it arrives. Once over the limit the
 * rest is discarded, not buffered.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () =>
      new RequestError(`request body is larger than the ${limit}-byte limit`, 413);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Discard what is left of a refused request's body, so the answer already sent reaches a client
 * that is still uploading (closing a socket with unread data resets it, losing the answer).
 * A body that keeps coming past DRAIN_MS is cut off.
 */
function drain(req: IncomingMessage): void {
  if (req.complete) return;
  const timer = setTimeout(() => req.socket.destroy(), DRAIN_MS);
  timer.unref();
  const done = () => clearTimeout(timer);
  req.once('end', done);
  req.once('close', done);
  req.resume();
}

function statusOf(kind: string): number {
  if (kind === 'ArgsError' || kind === 'InputError') return 400;
  if (kind === 'NotFound') return 404;
  if (kind === 'PathDenied') return 403;
  return 500;
}

/** The request URL, or RequestError (400) when it does not parse. */
function parseUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://127.0.0.1');
  } catch {
    throw new RequestError('bad request: malformed URL');
  }
}

/** Start web mode on 127.0.0.1. */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const root = normalize(opts.rendererDir);
  const publicUrls = parsePublicUrls(opts.publicUrls ?? []);
  const instanceId = randomBytes(6).toString('hex');
  let port = 0;
  let cookieName = '';

  const hosts = () => [`127.0.0.1:${port}`, `localhost:${port}`, ...publicUrls.map((u) => u.host)];
  const origins = () => [
    `http://127.0.0.1:${port}`,
    `http://localhost:${port}`,
    ...publicUrls.map((u) => u.origin),
  ];
  const hostOk = (req: IncomingMessage) => hosts().includes(req.headers.host ?? '');
  const originOk = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    return origin === undefined || origins().includes(origin);
  };
  /** Why a request's Host/Origin was refused, what was expected, and how to allow it. */
  const wrongHostMessage = (req: IncomingMessage) => {
    const got = `got Host ${quoted(req.headers.host)} and Origin ${quoted(req.headers.origin)}`;
    const expected = `expected Host ${hosts().join(' or ')} and Origin ${origins().join(' or ')} (or none)`;
    const hint =
      'through an SSH tunnel or a proxy, restart with `d2nwg serve --public-url URL` giving the ' +
      'address you open in the browser (e.g. --public-url http://localhost:9000)';
    return `forbidden: wrong Host or Origin: ${got}; ${expected}; ${hint}`;
  };
  const authed = (req: IncomingMessage, url: URL) => {
    const given =
      (req.headers[TOKEN_HEADER] as string | undefined) ??
      bearerToken(req) ??
      url.searchParams.get('token') ??
      cookieToken(req, cookieName);
    return given !== undefined && given !== null && safeEqual(given, token);
  };

  const serveStatic = async (res: ServerResponse, pathname: string, setCookie: boolean) => {
    const decoded = decodeOrNull(pathname);
    if (decoded === null) throw new RequestError('bad request: malformed %-escape in the path');
    const wanted = pathname === '/' ? '/index.html' : decoded;
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
        `${cookieName}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = parseUrl(req);
    if (!hostOk(req) || !originOk(req)) {
      send(res, 403, wrongHostMessage(req));
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
      const text = await readBody(req, maxBody);
      if (jsonTextDepth(text, MAX_BODY_JSON_DEPTH) > MAX_BODY_JSON_DEPTH) {
        throw new RequestError(
          `bad request body: JSON nests deeper than ${MAX_BODY_JSON_DEPTH} levels`,
        );
      }
      let params: unknown;
      try {
        params = text.trim() === '' ? {} : (JSON.parse(text) as unknown);
      } catch {
        throw new RequestError('bad request body: not valid JSON');
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
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof RequestError) {
        sendJsonError(
          res,
          err.status,
          err.status === 413 ? 'PayloadTooLarge' : err.name,
          err.message,
        );
        drain(req);
        return;
      }
      send(res, 500, `internal error: ${String(err)}`);
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const clients = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const refuse = (status: string, body = '') => {
      const bytes = Buffer.from(body, 'utf8');
      socket.write(
        `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
          `Content-Length: ${bytes.length}\r\n\r\n`,
      );
      socket.write(bytes);
      socket.destroy();
    };
    let url: URL;
    try {
      url = parseUrl(req);
    } catch {
      return refuse('400 Bad Request');
    }
    if (url.pathname !== '/ws') return refuse('404 Not Found');
    if (!hostOk(req) || !originOk(req)) return refuse('403 Forbidden', wrongHostMessage(req));
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
  cookieName = `${TOKEN_COOKIE_PREFIX}${port}_${instanceId}`;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    cookieName,
    async close() {
      unsubscribe();
      for (const ws of clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
