/**
 * How the renderer reaches the API: the Electron preload's `window.api` when it exists, otherwise
 * web mode over HTTP + WebSocket with the token from the page URL. Both give the same ContractApi,
 * so no component knows which one it talks to.
 */
import {
  buildApi,
  type ContractApi,
  type Envelope,
  type PushChannelName,
  type Transport,
} from '../../../shared/ipc.ts';

const TOKEN_HEADER = 'x-d2nwg-token';

/** Web mode: POST /api/<channel>, pushes on /ws; reconnects the socket when it drops. */
export function webTransport(token: string | null, base = window.location.origin): Transport {
  const listeners = new Map<PushChannelName, Set<(payload: unknown) => void>>();
  let socket: WebSocket | null = null;
  let retry = 500;

  const connect = () => {
    const url = new URL('/ws', base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('token', token);
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      retry = 500;
    };
    ws.onmessage = (ev: MessageEvent<string>) => {
      let msg: { channel: PushChannelName; payload: unknown };
      try {
        msg = JSON.parse(ev.data) as typeof msg;
      } catch {
        return;
      }
      for (const l of listeners.get(msg.channel) ?? []) l(msg.payload);
    };
    ws.onclose = () => {
      socket = null;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10_000);
    };
  };

  return {
    async request(channel, params) {
      const res = await fetch(new URL(`/api/${channel}`, base), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { [TOKEN_HEADER]: token } : {}),
        },
        body: JSON.stringify(params),
        credentials: 'same-origin',
      });
      const type = res.headers.get('content-type') ?? '';
      if (!type.includes('application/json')) {
        return {
          ok: false,
          error: { kind: `HTTP ${res.status}`, message: (await res.text()) || res.statusText },
        };
      }
      return (await res.json()) as Envelope<unknown>;
    },
    subscribe(channel, listener) {
      if (!socket) connect();
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
      }
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}

/**
 * Take the token out of the address bar (so it is not bookmarked or shared by accident) and keep
 * it in memory only; after a reload the HttpOnly cookie the server set authenticates instead.
 */
function takeToken(): string | null {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token) {
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url);
  }
  return token;
}

/** The API for this page, created once. */
export const api: ContractApi = window.api ?? buildApi(webTransport(takeToken()));
/** Which front door serves the page. */
export const mode: 'electron' | 'web' = window.api ? 'electron' : 'web';
