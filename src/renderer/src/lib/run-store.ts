/**
 * Live run state outside React: per-node status and progress, live loss curves, latent maps from
 * finished nodes, and the log. Pushed events are queued and folded in once per animation frame,
 * and components subscribe to the slice they draw (one node's state, one run's curves), so a
 * burst of progress events costs one pass and re-renders only the nodes whose state changed,
 * not the whole studio.
 */
import type { NodeProgressEvent, RunEvent } from '../../../shared/events.ts';
import type { LogLine, RunEventMessage, RunLatents } from '../../../shared/ipc.ts';
import type { NodeState } from '../../../shared/runs.ts';
import { latentsOfSummary } from '../../../shared/schemas/latents.ts';

/** Runtime state of a node on the canvas: a run's node state, or `idle` outside any run. */
export type NodeStatus = 'idle' | NodeState;

/** Live state of one node in a run. */
export interface NodeRunState {
  readonly status: NodeStatus;
  /** Progress of a running node. */
  readonly progress?: { readonly value: number; readonly max: number; readonly label?: string };
  /** Error message of a failed node, or the reason it was skipped. */
  readonly message?: string;
}

/** One live loss curve of a run. */
export interface LiveCurve {
  readonly nodeId: string;
  /** Metric key as the store records it: `<stage>:<metric>` or `<metric>`. */
  readonly key: string;
  /** What x counts, from the progress events ('epoch', 'step'…). */
  readonly unit?: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
}

/** A run's live loss curves by `${nodeId}\0${key}`. */
export type LiveSeries = ReadonlyMap<string, LiveCurve>;

/** Points kept per live curve. */
export const MAX_LIVE_POINTS = 2000;
/** Log lines kept. */
export const MAX_LOG = 500;

const EMPTY_STATES: ReadonlyMap<string, NodeRunState> = new Map();
const EMPTY_LIVE: LiveSeries = new Map();
const EMPTY_LATENTS: readonly RunLatents[] = [];

/** Fold one event into a run's per-node state (a draft the caller owns). */
export function applyRunEvent(state: Map<string, NodeRunState>, e: RunEvent): void {
  switch (e.type) {
    case 'runStart':
      for (const id of e.nodeIds) state.set(id, { status: 'queued' });
      break;
    case 'nodeStart':
      state.set(e.nodeId, { status: 'running' });
      break;
    case 'nodeProgress':
      state.set(e.nodeId, {
        status: 'running',
        progress: { value: e.value, max: e.max, ...(e.label ? { label: e.label } : {}) },
      });
      break;
    case 'nodeCached':
      state.set(e.nodeId, { status: 'cached' });
      break;
    case 'nodeFinish':
      state.set(e.nodeId, { status: 'done' });
      break;
    case 'nodeError':
      state.set(e.nodeId, { status: 'error', message: e.message });
      break;
    case 'nodeSkipped':
      state.set(e.nodeId, { status: 'skipped', message: e.reason });
      break;
    case 'runDone':
      for (const [id, s] of state) {
        if (s.status === 'queued' || s.status === 'running') {
          state.set(id, {
            status: e.status === 'cancelled' ? 'idle' : 'skipped',
            message: e.status,
          });
        }
      }
      break;
    default:
      break;
  }
}

/**
 * The loss points of a progress event, keyed `<stage>:<metric>` like the store keys progress
 * metrics (`<label>:<metric>`), so a live curve and the same curve read back from the store match.
 * A trailing `i/n` counter is dropped from the label, so a per-item stage stays one curve.
 */
export function lossPoints(
  e: NodeProgressEvent,
): { readonly id: string; readonly key: string; readonly y: number }[] {
  const out: { id: string; key: string; y: number }[] = [];
  const stage = e.label ? e.label.replace(/\s*\d+\/\d+$/, '') : '';
  for (const [k, v] of Object.entries(e.metrics ?? {})) {
    if (!/loss/i.test(k) || !Number.isFinite(v)) continue;
    const key = stage ? `${stage}:${k}` : k;
    out.push({ id: `${e.nodeId}\u0000${key}`, key, y: v });
  }
  return out;
}

type Listener = () => void;

/** See the module comment. One instance per page. */
export class RunStore {
  private states = new Map<string, ReadonlyMap<string, NodeRunState>>();
  private live = new Map<string, LiveSeries>();
  private latents = new Map<string, readonly RunLatents[]>();
  private logLines: readonly LogLine[] = [];
  private queue: RunEventMessage[] = [];
  private logQueue: LogLine[] = [];
  private scheduled = false;
  private readonly listeners = new Set<Listener>();

  /** `schedule` runs the flush later: the page passes "next animation frame", tests a stub. */
  constructor(private readonly schedule: (flush: () => void) => void) {}

  /** Queue a run event; it shows at the next flush. */
  push(msg: RunEventMessage): void {
    this.queue.push(msg);
    this.request();
  }

  /** Queue a log line. */
  log(line: LogLine): void {
    this.logQueue.push(line);
    this.request();
  }

  /** Replace a run's node states (a run opened from the list); visible at once. */
  setRun(runId: string, states: ReadonlyMap<string, NodeRunState>): void {
    this.states.set(runId, states);
    this.emit();
  }

  /** Mark every node queued for a run the UI just started, unless its events came first. */
  startRun(runId: string, nodeIds: readonly string[]): void {
    if (this.states.has(runId)) return;
    this.setRun(runId, new Map(nodeIds.map((id) => [id, { status: 'queued' as const }])));
  }

  /** Fold every queued event and log line in, then notify subscribers once. */
  flush = (): void => {
    this.scheduled = false;
    const events = this.queue;
    const lines = this.logQueue;
    this.queue = [];
    this.logQueue = [];
    if (events.length === 0 && lines.length === 0) return;
    const drafts = new Map<string, Map<string, NodeRunState>>();
    const curves = new Map<
      string,
      Map<string, { nodeId: string; key: string; unit: string; x: number[]; y: number[] }>
    >();
    for (const { runId, event } of events) {
      let st = drafts.get(runId);
      if (!st) drafts.set(runId, (st = new Map(this.states.get(runId) ?? [])));
      applyRunEvent(st, event);
      if (event.type === 'nodeProgress' && event.metrics) {
        let c = curves.get(runId);
        if (!c) curves.set(runId, (c = new Map()));
        for (const p of lossPoints(event)) {
          let pts = c.get(p.id);
          if (!pts) {
            pts = { nodeId: event.nodeId, key: p.key, unit: event.unit, x: [], y: [] };
            c.set(p.id, pts);
          }
          pts.x.push(event.value);
          pts.y.push(p.y);
        }
      }
      if (event.type === 'nodeFinish' || event.type === 'nodeCached') {
        const projection = latentsOfSummary(event.summary);
        if (projection) {
          const prev = (this.latents.get(runId) ?? []).filter((l) => l.nodeId !== event.nodeId);
          this.latents.set(runId, [...prev, { runId, nodeId: event.nodeId, projection }]);
        }
      }
    }
    // Only nodes whose state object was replaced re-render: untouched entries keep identity.
    for (const [runId, st] of drafts) this.states.set(runId, st);
    for (const [runId, c] of curves) {
      const next = new Map(this.live.get(runId) ?? []);
      for (const [id, add] of c) {
        const old = next.get(id);
        next.set(id, {
          nodeId: add.nodeId,
          key: add.key,
          unit: add.unit,
          x: [...(old?.x ?? []), ...add.x].slice(-MAX_LIVE_POINTS),
          y: [...(old?.y ?? []), ...add.y].slice(-MAX_LIVE_POINTS),
        });
      }
      this.live.set(runId, next);
    }
    if (lines.length) this.logLines = [...this.logLines, ...lines].slice(-MAX_LOG);
    this.emit();
  };

  /** Subscribe to changes (useSyncExternalStore's contract); returns the unsubscribe. */
  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** A run's node states; the same object until one of them changes. */
  statesOf(runId: string | null): ReadonlyMap<string, NodeRunState> {
    return (runId !== null ? this.states.get(runId) : undefined) ?? EMPTY_STATES;
  }

  /** One node's state in a run; the same object until that node's state changes. */
  nodeState(runId: string | null, nodeId: string): NodeRunState | undefined {
    return this.statesOf(runId).get(nodeId);
  }

  /** A run's live loss curves. */
  liveOf(runId: string | null): LiveSeries {
    return (runId !== null ? this.live.get(runId) : undefined) ?? EMPTY_LIVE;
  }

  /** Latent maps the run's finished nodes reported. */
  latentsOf(runId: string | null): readonly RunLatents[] {
    return (runId !== null ? this.latents.get(runId) : undefined) ?? EMPTY_LATENTS;
  }

  /** The log, oldest first. */
  logs(): readonly LogLine[] {
    return this.logLines;
  }

  private request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(this.flush);
  }

  private emit(): void {
    for (const l of [...this.listeners]) l();
  }
}
