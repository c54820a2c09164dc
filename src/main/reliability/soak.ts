/**
 * A bounded soak of web mode on loopback: the real server in-process, `clients` WebSocket clients
 * and `rps` API requests per second (open loop: requests start on schedule whatever the previous
 * ones are doing) for `seconds`, while a pipeline runs. Every push message the hub emits must
 * reach every client; the report gives requests, errors, latency percentiles and lost events.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { StudioApi } from '../api/studio.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import { startServer, TOKEN_HEADER } from '../server/server.ts';

/** What the soak measured. */
export interface SoakReport {
  readonly seconds: number;
  readonly clients: number;
  readonly targetRps: number;
  readonly requests: number;
  /** Requests that did not answer 200 (or failed to connect). */
  readonly requestErrors: number;
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  /**
   * p99 of the requests sent in the first 5 s after the run started, while its engine starts
   * (module loading, the tensor backend's compilation, the dataset's decoding), and of those sent
   * from 5 s on. A start-of-run stall shows as the first far above the second.
   */
  readonly p99First5sMs: number;
  readonly p99After5sMs: number;
  /** p99 latency per API channel (a mix of runs.list, runs.get and system.info). */
  readonly p99ByChannelMs: Readonly<Record<string, number>>;
  /**
   * Event-loop delay of the server's thread over the soak: high when the loop was blocked (or
   * the machine starved of CPU), which is what API latency then shows.
   */
  readonly eventLoopDelayMs: { readonly p99: number; readonly max: number };
  /** Load average over the last minute at the end, against the core count, for context. */
  readonly loadAverage: number;
  /** Push messages the hub emitted while the clients listened. */
  readonly eventsEmitted: number;
  /** Messages received, summed over clients (clients × emitted when none is lost). */
  readonly eventsDelivered: number;
  /** Messages missing, summed over clients: Σ max(0, emitted − received by that client). */
  readonly eventsLost: number;
  /** Fewest and most messages one client received (both = emitted when none is lost). */
  readonly perClient: { readonly min: number; readonly max: number };
  /** Whether the pipeline was still running when the soak ended (it should be, to mean much). */
  readonly runStillRunning: boolean;
  readonly rssMb: { readonly before: number; readonly peak: number; readonly after: number };
}

export interface SoakOptions {
  /** The API to serve; the caller creates and disposes it. */
  readonly api: StudioApi;
  /** Pipeline run during the soak; cancelled at the end if still running. */
  readonly pipeline: Pipeline;
  readonly seconds: number;
  readonly clients: number;
  readonly rps: number;
}

/** Nearest-rank percentile of sorted values (a real sample, not an interpolation). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Requests of each channel sent before the run starts, not counted. */
const WARM_UP_REQUESTS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

export async function soakWebMode(opts: SoakOptions): Promise<SoakReport> {
  const { api } = opts;
  const rendererDir = mkdtempSync(join(tmpdir(), 'd2nwg-soak-ui-'));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>soak</title>');
  const server = await startServer({ api, rendererDir, port: 0 });
  const sockets: WebSocket[] = [];
  const received: number[] = new Array<number>(opts.clients).fill(0);
  let counting = false;
  let emitted = 0;
  const unsubscribe = api.hub.subscribe(() => {
    if (counting) emitted++;
  });
  const rss = { before: rssMb(), peak: rssMb(), after: 0 };
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let runId: string | null = null;
  try {
    for (let c = 0; c < opts.clients; c++) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.on('message', () => {
        if (counting) received[c]++;
      });
      sockets.push(ws);
    }
    const post = async (channel: string, body: unknown): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/${channel}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [TOKEN_HEADER]: server.token },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    };
    // Warm the request path first (the HTTP client's parser, the handlers, the store's
    // statements), so that the first seconds of the run measure the server under the run's
    // start, not the first requests this process ever made.
    for (let i = 0; i < WARM_UP_REQUESTS; i++) {
      await post('runs.list', {});
      await post('system.info', {});
      await post('runs.get', { runId: 'warm-up' });
    }
    // Count from a quiet moment: nothing is in flight before the run starts.
    await sleep(200);
    counting = true;
    loop.enable();
    runId = (await api.handlers['runs.start']({ pipeline: opts.pipeline })).runId;

    const channels = ['runs.list', 'runs.get', 'system.info'] as const;
    const bodies = { 'runs.list': {}, 'runs.get': { runId }, 'system.info': {} };
    const latencies: number[] = [];
    const byChannel = new Map<string, number[]>(channels.map((c) => [c, []]));
    const starting: number[] = [];
    const steady: number[] = [];
    let requestErrors = 0;
    const inFlight = new Set<Promise<void>>();
    const start = performance.now();
    const request = async (k: number) => {
      const channel = channels[k % channels.length];
      const t0 = performance.now();
      try {
        if ((await post(channel, bodies[channel])) !== 200) requestErrors++;
      } catch {
        requestErrors++;
      }
      const ms = performance.now() - t0;
      latencies.push(ms);
      (t0 - start >= 5000 ? steady : starting).push(ms);
      byChannel.get(channel)?.push(ms);
    };
    const total = Math.round(opts.seconds * opts.rps);
    for (let k = 0; k < total; k++) {
      const due = start + (k * 1000) / opts.rps;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const p = request(k).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (k % opts.rps === 0) rss.peak = Math.max(rss.peak, rssMb());
    }
    await Promise.all(inFlight);
    loop.disable();
    const status = (await api.handlers['runs.get']({ runId })).status;
    const runStillRunning = status === 'running' || status === 'queued';
    if (runStillRunning) await api.handlers['runs.cancel']({ runId });
    // Wait for the run to stop and the last messages to arrive: counts stable for a second.
    let last = -1;
    for (let waited = 0; waited < 60_000; waited += 1000) {
      const s = (await api.handlers['runs.get']({ runId })).status;
      const now = emitted + received.reduce((a, b) => a + b, 0);
      if (s !== 'running' && s !== 'queued' && now === last) break;
      last = now;
      await sleep(1000);
    }
    counting = false;
    rss.after = rssMb();
    const sorted = [...latencies].sort((a, b) => a - b);
    const round = (x: number) => Math.round(x * 10) / 10;
    const delivered = received.reduce((a, b) => a + b, 0);
    return {
      seconds: opts.seconds,
      clients: opts.clients,
      targetRps: opts.rps,
      requests: latencies.length,
      requestErrors,
      latencyMs: {
        p50: round(percentile(sorted, 0.5)),
        p90: round(percentile(sorted, 0.9)),
        p99: round(percentile(sorted, 0.99)),
        max: round(sorted[sorted.length - 1] ?? 0),
      },
      p99First5sMs: round(
        percentile(
          [...starting].sort((a, b) => a - b),
          0.99,
        ),
      ),
      p99After5sMs: round(
        percentile(
          [...steady].sort((a, b) => a - b),
          0.99,
        ),
      ),
      p99ByChannelMs: Object.fromEntries(
        [...byChannel].map(([c, v]) => [
          c,
          round(
            percentile(
              [...v].sort((a, b) => a - b),
              0.99,
            ),
          ),
        ]),
      ),
      eventLoopDelayMs: {
        p99: round(loop.percentile(99) / 1e6),
        max: round(loop.max / 1e6),
      },
      loadAverage: round(loadavg()[0]),
      eventsEmitted: emitted,
      eventsDelivered: delivered,
      eventsLost: received.reduce((a, r) => a + Math.max(0, emitted - r), 0),
      perClient: { min: Math.min(...received), max: Math.max(...received) },
      runStillRunning,
      rssMb: rss,
    };
  } finally {
    unsubscribe();
    for (const ws of sockets) ws.terminate();
    await server.close();
    rmSync(rendererDir, { recursive: true, force: true });
  }
}
