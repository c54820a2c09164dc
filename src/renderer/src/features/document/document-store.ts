/**
 * The open pipeline outside React: nodes, edges, name, which node is selected, JSON syntax errors
 * typed in the inspector, the save state, the undo history and the clipboard. Like the run store,
 * it holds one immutable state object that every change replaces, and components read the slice
 * they draw through `useDocument(selector)` (useSyncExternalStore), so the canvas re-renders on a
 * graph change and the toolbar on a name or save-state change, not the whole studio.
 */
import {
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import type { NodeSpecInfo } from '../../../../shared/ipc.ts';
import type { Pipeline } from '../../../../shared/pipeline.ts';
import {
  edgeId,
  fromPipeline,
  makeNode,
  newNodeId,
  toPipeline,
  type StudioEdge,
  type StudioNode,
} from '../../lib/graph.ts';
import { History, type Snapshot } from '../../lib/history.ts';

/** Where the open pipeline stands against its saved copy. */
export type SaveState = 'saved' | 'saving' | 'unsaved' | 'error';

/** One version of the document; replaced, never mutated. */
export interface DocumentState {
  readonly name: string;
  readonly description: string | undefined;
  /** Id of the saved pipeline; undefined until the first save. */
  readonly pipelineId: string | undefined;
  readonly nodes: StudioNode[];
  readonly edges: StudioEdge[];
  readonly selectedId: string | null;
  /** JSON syntax errors typed in the inspector's editor, by node id. */
  readonly syntaxErrors: ReadonlyMap<string, string>;
  /** Edited since the last save (autosave waits for this). */
  readonly dirty: boolean;
  readonly saveState: SaveState;
  /** Counts edits; a save that started before the last edit leaves the document dirty. */
  readonly revision: number;
  /** The first-run screen shows until the user opens, adds or starts something. */
  readonly firstRun: boolean;
  /** Counts pipelines opened (load, new): the canvas takes a fresh first view for each. */
  readonly opened: number;
  readonly canUndo: boolean;
  readonly canRedo: boolean;
}

/** Offset of pasted nodes from their originals, so a paste never hides what it copied. */
export const PASTE_OFFSET = 40;

const INITIAL: DocumentState = {
  name: 'Untitled',
  description: undefined,
  pipelineId: undefined,
  nodes: [],
  edges: [],
  selectedId: null,
  syntaxErrors: new Map(),
  dirty: false,
  saveState: 'saved',
  revision: 0,
  firstRun: false,
  opened: 0,
  canUndo: false,
  canRedo: false,
};

type Listener = () => void;

/** See the module comment. One instance per page; tests make their own. */
export class DocumentStore {
  private state: DocumentState = INITIAL;
  private readonly history = new History();
  private clipboard: Snapshot | null = null;
  private readonly listeners = new Set<Listener>();

  /** Subscribe to changes (useSyncExternalStore's contract); returns the unsubscribe. */
  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The current state; the same object until something changes. */
  get = (): DocumentState => this.state;

  /** The document as a pipeline file. */
  pipeline(): Pipeline {
    const s = this.state;
    return toPipeline(s.name, s.description, s.nodes, s.edges);
  }

  // ------------------------------------------------------------ whole document

  /**
   * Open a pipeline; `id` when it is a saved one. One without an id (an example, a file) counts as
   * unsaved but not dirty: it is saved on its first edit (or an explicit save), so merely opening
   * an example never stores another copy of it.
   */
  load(p: Pipeline, id?: string): void {
    const g = fromPipeline(p);
    this.history.clear();
    this.set({
      ...INITIAL,
      name: p.name,
      description: p.description,
      pipelineId: id,
      nodes: g.nodes,
      edges: g.edges,
      dirty: false,
      saveState: id === undefined ? 'unsaved' : 'saved',
      revision: this.state.revision + 1,
      opened: this.state.opened + 1,
    });
  }

  /** A new, empty pipeline. */
  reset(): void {
    this.history.clear();
    this.set({
      ...INITIAL,
      saveState: 'unsaved',
      revision: this.state.revision + 1,
      opened: this.state.opened + 1,
    });
  }

  /** Show (or dismiss) the first-run screen. */
  setFirstRun(firstRun: boolean): void {
    this.set({ ...this.state, firstRun });
  }

  setName(name: string): void {
    this.edit({ name });
  }

  /** The open pipeline was renamed in the file list: the saved copy has the name already. */
  renamed(name: string): void {
    this.set({ ...this.state, name });
  }

  /**
   * The open pipeline's saved copy was deleted: the canvas keeps the graph, no longer tied to it,
   * so it is saved again only if the user edits or saves it.
   */
  detach(): void {
    this.set({ ...this.state, pipelineId: undefined, dirty: false, saveState: 'unsaved' });
  }

  select(nodeId: string | null): void {
    if (nodeId !== this.state.selectedId) this.set({ ...this.state, selectedId: nodeId });
  }

  setSyntaxError(nodeId: string, message: string | null): void {
    const m = this.state.syntaxErrors;
    if ((m.get(nodeId) ?? null) === message) return;
    const next = new Map(m);
    if (message === null) next.delete(nodeId);
    else next.set(nodeId, message);
    this.set({ ...this.state, syntaxErrors: next });
  }

  // ------------------------------------------------------------ graph edits

  /** Record the graph before a change, for undo (the canvas calls it before a drag or delete). */
  snapshot = (): void => {
    this.history.push({ nodes: this.state.nodes, edges: this.state.edges });
    this.set(this.state);
  };

  /** React Flow's node changes (drags, selection, removal). */
  applyNodeChanges(changes: NodeChange<StudioNode>[]): void {
    const nodes = applyNodeChanges(changes, this.state.nodes);
    const removed = changes.some((c) => c.type === 'remove');
    const moved = changes.some((c) => c.type === 'position' && c.dragging === false);
    const next = { ...this.state, nodes, ...(removed ? { selectedId: null } : {}) };
    if (removed || moved) this.edit(next);
    else this.set(next);
  }

  /** React Flow's edge changes (selection, removal). */
  applyEdgeChanges(changes: EdgeChange[]): void {
    const edges = applyEdgeChanges(changes, this.state.edges);
    if (changes.some((c) => c.type === 'remove')) this.edit({ edges });
    else this.set({ ...this.state, edges });
  }

  /** Add the edge of a (validated) connection; the same connection is never added twice. */
  connect(c: Connection): void {
    if (!c.sourceHandle || !c.targetHandle) return;
    this.snapshot();
    const id = edgeId(c.source, c.sourceHandle, c.target, c.targetHandle);
    const es = this.state.edges;
    const edge = {
      id,
      source: c.source,
      target: c.target,
      sourceHandle: c.sourceHandle,
      targetHandle: c.targetHandle,
    };
    this.edit({ edges: es.some((e) => e.id === id) ? es : [...es, edge] });
  }

  /** Add a node of `spec` (at `position`, else the next free grid cell) and select it alone. */
  addNode(spec: NodeSpecInfo, position?: { x: number; y: number }): StudioNode {
    this.snapshot();
    const ns = this.state.nodes;
    const pos = position ?? {
      x: 80 + (ns.length % 4) * 260,
      y: 80 + Math.floor(ns.length / 4) * 200,
    };
    const node = makeNode(
      spec,
      pos,
      ns.map((n) => n.id),
    );
    this.edit({
      nodes: [...ns.map((n) => ({ ...n, selected: false })), { ...node, selected: true }],
      selectedId: node.id,
      firstRun: false,
    });
    return node;
  }

  /** Replace a node's config; an unchanged config is not an edit. */
  setConfig(nodeId: string, config: unknown): void {
    const node = this.state.nodes.find((n) => n.id === nodeId);
    if (!node || JSON.stringify(node.data.config) === JSON.stringify(config)) return;
    this.snapshot();
    this.edit({
      nodes: this.state.nodes.map((n) =>
        n.id === nodeId ? { ...n, data: { ...n.data, config } } : n,
      ),
    });
  }

  undo = (): void => {
    const s = this.history.undo({ nodes: this.state.nodes, edges: this.state.edges });
    if (s) this.edit({ nodes: [...s.nodes], edges: [...s.edges] });
  };

  redo = (): void => {
    const s = this.history.redo({ nodes: this.state.nodes, edges: this.state.edges });
    if (s) this.edit({ nodes: [...s.nodes], edges: [...s.edges] });
  };

  // ------------------------------------------------------------ clipboard

  /** Copy the selected nodes and the edges between them; returns how many nodes were copied. */
  copy = (): number => {
    const sel = this.state.nodes.filter((n) => n.selected);
    if (sel.length === 0) return 0;
    const ids = new Set(sel.map((n) => n.id));
    this.clipboard = {
      nodes: structuredClone(sel),
      edges: this.state.edges.filter((e) => ids.has(e.source) && ids.has(e.target)),
    };
    return sel.length;
  };

  /**
   * Paste the clipboard under fresh ids, offset by PASTE_OFFSET, with its inner edges rewired to
   * the copies; the pasted nodes become the selection.
   */
  paste = (): void => {
    const clip = this.clipboard;
    if (!clip) return;
    this.snapshot();
    const taken = this.state.nodes.map((n) => n.id);
    const rename = new Map<string, string>();
    const pasted = clip.nodes.map((n) => {
      const id = newNodeId(n.data.type, [...taken, ...rename.values()]);
      rename.set(n.id, id);
      return {
        ...structuredClone(n),
        id,
        selected: true,
        position: { x: n.position.x + PASTE_OFFSET, y: n.position.y + PASTE_OFFSET },
      };
    });
    const pastedEdges = clip.edges.map((e) => {
      const source = rename.get(e.source) ?? e.source;
      const target = rename.get(e.target) ?? e.target;
      return {
        ...e,
        id: edgeId(source, e.sourceHandle ?? '', target, e.targetHandle ?? ''),
        source,
        target,
      };
    });
    this.edit({
      nodes: [...this.state.nodes.map((n) => ({ ...n, selected: false })), ...pasted],
      edges: [...this.state.edges, ...pastedEdges],
    });
  };

  // ------------------------------------------------------------ saving

  /**
   * A save started, under a new `name` for "save as" (a rename that is not itself an edit);
   * returns the revision it saves, for `saved`.
   */
  saving(name = this.state.name): number {
    this.set({ ...this.state, name, saveState: 'saving' });
    return this.state.revision;
  }

  /**
   * The save of `revision` succeeded as `pipelineId`. An edit made while it was in flight keeps
   * the document unsaved, so autosave writes it too.
   */
  saved(pipelineId: string, revision: number): void {
    const current = revision === this.state.revision;
    this.set({
      ...this.state,
      pipelineId,
      dirty: !current,
      saveState: current ? 'saved' : 'unsaved',
    });
  }

  /** The save failed; the document stays dirty. */
  saveFailed(): void {
    this.set({ ...this.state, saveState: 'error' });
  }

  // ------------------------------------------------------------ internals

  /** A user edit: the document becomes dirty and unsaved. */
  private edit(patch: Partial<DocumentState>): void {
    this.set({
      ...this.state,
      ...patch,
      dirty: true,
      saveState: 'unsaved',
      revision: this.state.revision + 1,
    });
  }

  private set(next: DocumentState): void {
    this.state = { ...next, canUndo: this.history.canUndo, canRedo: this.history.canRedo };
    for (const l of [...this.listeners]) l();
  }
}
