/**
 * The studio: toolbar, palette, canvas, inspector, and a bottom panel with runs, charts and the
 * log. All engine access goes through `api` (Electron IPC or web mode, same contract).
 */
import {
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type {
  CompareResult,
  ExampleInfo,
  LogLine,
  MenuCommand,
  NodeSpecInfo,
  RunSummary,
  SystemInfo,
} from '../../shared/ipc.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import { Canvas } from './canvas/Canvas.tsx';
import { Inspector } from './inspector/Inspector.tsx';
import {
  ActiveRunContext,
  ProblemsContext,
  SpecsContext,
  runStore,
  useLogHasError,
  type NodeRunState,
} from './lib/context.ts';
import {
  edgeId,
  fromPipeline,
  makeNode,
  newNodeId,
  toPipeline,
  validate,
  type StudioEdge,
  type StudioNode,
} from './lib/graph.ts';
import { History, type Snapshot } from './lib/history.ts';
import { PanelBoundary } from './lib/PanelBoundary.tsx';
import { api, mode } from './lib/transport.ts';
import { Charts } from './panels/Charts.tsx';
import { ExportDialog } from './panels/ExportDialog.tsx';
import { FirstRun } from './panels/FirstRun.tsx';
import { LogPanel } from './panels/LogPanel.tsx';
import { Palette } from './panels/Palette.tsx';
import { RunsPanel } from './panels/RunsPanel.tsx';

type Tab = 'runs' | 'charts' | 'log';
const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function App() {
  const [specs, setSpecs] = useState<NodeSpecInfo[]>([]);
  const [info, setInfo] = useState<SystemInfo | null>(null);
  const [examples, setExamples] = useState<ExampleInfo[]>([]);
  const [showFirstRun, setShowFirstRun] = useState(false);
  const [fatal, setFatal] = useState<string | null>(null);

  const [name, setName] = useState('Untitled');
  const [description, setDescription] = useState<string | undefined>(undefined);
  const [pipelineId, setPipelineId] = useState<string | undefined>(undefined);
  const [nodes, setNodes] = useState<StudioNode[]>([]);
  const [edges, setEdges] = useState<StudioEdge[]>([]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [syntaxErrors, setSyntaxErrors] = useState<ReadonlyMap<string, string>>(new Map());
  const [seed, setSeed] = useState(0);
  const [dirty, setDirty] = useState(false);
  const [saveState, setSaveState] = useState<'saved' | 'saving' | 'unsaved' | 'error'>('saved');

  const [activeRunId, setActiveRunId] = useState<string | null>(null);
  const [runActive, setRunActive] = useState(false);
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [selectedRuns, setSelectedRuns] = useState<ReadonlySet<string>>(new Set());
  const [compare, setCompare] = useState<CompareResult | null>(null);
  const logHasError = useLogHasError();
  const [tab, setTab] = useState<Tab>('runs');
  const [exportRunId, setExportRunId] = useState<string | null>(null);
  const [toast, setToast] = useState<string | null>(null);

  const history = useRef(new History());
  const clipboard = useRef<Snapshot | null>(null);
  const current = useRef<Snapshot>({ nodes, edges });
  useEffect(() => {
    current.current = { nodes, edges };
  }, [nodes, edges]);

  const log = useCallback((level: LogLine['level'], message: string) => {
    runStore.log({ time: new Date().toISOString(), level, message });
  }, []);
  const flash = useCallback((message: string) => {
    setToast(message);
    setTimeout(() => setToast((t) => (t === message ? null : t)), 3500);
  }, []);

  const specMap = useMemo(() => new Map(specs.map((s) => [s.type, s])), [specs]);
  const pipeline = useMemo(
    () => toPipeline(name, description, nodes, edges),
    [name, description, nodes, edges],
  );
  const validation = useMemo(() => validate(pipeline), [pipeline]);
  const problems = useMemo(() => {
    const m = new Map<string, readonly string[]>(validation.byNode);
    for (const [id, msg] of syntaxErrors) m.set(id, [`JSON: ${msg}`, ...(m.get(id) ?? [])]);
    return m;
  }, [validation, syntaxErrors]);
  const canRun = nodes.length > 0 && validation.ok && syntaxErrors.size === 0 && !runActive;

  const refreshRuns = useCallback(() => {
    api.runs.list({}).then(setRuns, (e: unknown) => log('error', `runs: ${errMsg(e)}`));
  }, [log]);

  // ---------------------------------------------------------------- loading
  const load = useCallback((p: Pipeline, id?: string) => {
    const g = fromPipeline(p);
    history.current.clear();
    setNodes(g.nodes);
    setEdges(g.edges);
    setName(p.name);
    setDescription(p.description);
    setPipelineId(id);
    setSelectedId(null);
    setSyntaxErrors(new Map());
    setDirty(id === undefined);
    setSaveState(id === undefined ? 'unsaved' : 'saved');
    setShowFirstRun(false);
  }, []);

  const openExample = useCallback(
    (exampleName: string) => {
      api.pipelines.openExample({ name: exampleName }).then(
        (p) => load(p),
        (e: unknown) => log('error', `example ${exampleName}: ${errMsg(e)}`),
      );
    },
    [load, log],
  );

  const newPipeline = useCallback(() => {
    history.current.clear();
    setNodes([]);
    setEdges([]);
    setName('Untitled');
    setDescription(undefined);
    setPipelineId(undefined);
    setSelectedId(null);
    setDirty(false);
    setSaveState('unsaved');
    setShowFirstRun(false);
  }, []);

  useEffect(() => {
    let alive = true;
    (async () => {
      const [s, i, ex, rs, saved] = await Promise.all([
        api.specs.list({}),
        api.system.info({}),
        api.pipelines.examples({}),
        api.runs.list({}),
        api.pipelines.list({}),
      ]);
      if (!alive) return;
      setSpecs(s);
      setInfo(i);
      setExamples(ex);
      setRuns(rs);
      const last = saved[0];
      if (last) {
        const doc = await api.pipelines.get({ id: last.id });
        if (alive) load(doc.pipeline, doc.id);
      } else {
        setShowFirstRun(true);
      }
    })().catch((e: unknown) => alive && setFatal(errMsg(e)));
    return () => {
      alive = false;
    };
  }, [load]);

  // ---------------------------------------------------------------- pushes
  // Events go to the run store, which folds them in once per frame; only the rare ones that change
  // what the App itself shows (a run starting or ending) are handled here.
  useEffect(() => {
    const offRun = api.events.run((msg) => {
      runStore.push(msg);
      const { runId, event } = msg;
      if (event.type === 'runDone') {
        refreshRuns();
        setActiveRunId((a) => {
          if (a === runId) setRunActive(false);
          return a;
        });
      }
      if (event.type === 'runStart') refreshRuns();
    });
    const offLog = api.events.log((line) => runStore.log(line));
    return () => {
      offRun();
      offLog();
    };
  }, [refreshRuns]);

  // ---------------------------------------------------------------- editing
  const snapshot = useCallback(() => history.current.push(current.current), []);
  const touch = useCallback(() => {
    setDirty(true);
    setSaveState('unsaved');
  }, []);

  const onNodesChange = useCallback(
    (changes: NodeChange<StudioNode>[]) => {
      setNodes((ns) => applyNodeChanges(changes, ns));
      if (
        changes.some((c) => c.type === 'remove' || (c.type === 'position' && c.dragging === false))
      )
        touch();
      if (changes.some((c) => c.type === 'remove')) setSelectedId(null);
    },
    [touch],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      setEdges((es) => applyEdgeChanges(changes, es));
      if (changes.some((c) => c.type === 'remove')) touch();
    },
    [touch],
  );
  const onConnect = useCallback(
    (c: Connection) => {
      if (!c.sourceHandle || !c.targetHandle) return;
      snapshot();
      const id = edgeId(c.source, c.sourceHandle, c.target, c.targetHandle);
      setEdges((es) =>
        es.some((e) => e.id === id)
          ? es
          : [
              ...es,
              {
                id,
                source: c.source,
                target: c.target,
                sourceHandle: c.sourceHandle,
                targetHandle: c.targetHandle,
              },
            ],
      );
      touch();
    },
    [snapshot, touch],
  );

  const addNode = useCallback(
    (type: string, position?: { x: number; y: number }) => {
      const spec = specMap.get(type);
      if (!spec) return;
      snapshot();
      setShowFirstRun(false);
      setNodes((ns) => {
        const pos = position ?? {
          x: 80 + (ns.length % 4) * 260,
          y: 80 + Math.floor(ns.length / 4) * 200,
        };
        const node = makeNode(
          spec,
          pos,
          ns.map((n) => n.id),
        );
        setSelectedId(node.id);
        return [...ns.map((n) => ({ ...n, selected: false })), { ...node, selected: true }];
      });
      touch();
    },
    [specMap, snapshot, touch],
  );

  const setConfig = useCallback(
    (nodeId: string, config: unknown) => {
      const node = current.current.nodes.find((n) => n.id === nodeId);
      if (!node || JSON.stringify(node.data.config) === JSON.stringify(config)) return;
      snapshot();
      setNodes((ns) =>
        ns.map((n) => (n.id === nodeId ? { ...n, data: { ...n.data, config } } : n)),
      );
      touch();
    },
    [snapshot, touch],
  );

  const setSyntaxError = useCallback((nodeId: string, message: string | null) => {
    setSyntaxErrors((m) => {
      if ((m.get(nodeId) ?? null) === message) return m;
      const next = new Map(m);
      if (message === null) next.delete(nodeId);
      else next.set(nodeId, message);
      return next;
    });
  }, []);

  const undo = useCallback(() => {
    const s = history.current.undo(current.current);
    if (!s) return;
    setNodes([...s.nodes]);
    setEdges([...s.edges]);
    touch();
  }, [touch]);
  const redo = useCallback(() => {
    const s = history.current.redo(current.current);
    if (!s) return;
    setNodes([...s.nodes]);
    setEdges([...s.edges]);
    touch();
  }, [touch]);

  const copy = useCallback(() => {
    const sel = current.current.nodes.filter((n) => n.selected);
    if (sel.length === 0) return;
    const ids = new Set(sel.map((n) => n.id));
    clipboard.current = {
      nodes: structuredClone(sel),
      edges: current.current.edges.filter((e) => ids.has(e.source) && ids.has(e.target)),
    };
    flash(`copied ${sel.length} node${sel.length > 1 ? 's' : ''}`);
  }, [flash]);
  const paste = useCallback(() => {
    const clip = clipboard.current;
    if (!clip) return;
    snapshot();
    const taken = current.current.nodes.map((n) => n.id);
    const rename = new Map<string, string>();
    const pasted = clip.nodes.map((n) => {
      const id = newNodeId(n.data.type, [...taken, ...rename.values()]);
      rename.set(n.id, id);
      return {
        ...structuredClone(n),
        id,
        selected: true,
        position: { x: n.position.x + 40, y: n.position.y + 40 },
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
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), ...pasted]);
    setEdges((es) => [...es, ...pastedEdges]);
    touch();
  }, [snapshot, touch]);

  const refused = useCallback(
    (m: string) => {
      flash(m);
      log('warn', `connection refused: ${m}`);
    },
    [flash, log],
  );

  // ---------------------------------------------------------------- saving
  const save = useCallback(
    async (asNew = false) => {
      let nm = name;
      if (asNew) {
        const answer = window.prompt('Save as: pipeline name', `${name} copy`);
        if (!answer) return;
        nm = answer;
        setName(answer);
      }
      setSaveState('saving');
      try {
        const saved = await api.pipelines.save({
          ...(pipelineId && !asNew ? { id: pipelineId } : {}),
          pipeline: toPipeline(nm, description, current.current.nodes, current.current.edges),
        });
        setPipelineId(saved.id);
        setDirty(false);
        setSaveState('saved');
      } catch (e) {
        setSaveState('error');
        log('error', `save failed: ${errMsg(e)}`);
      }
    },
    [name, description, pipelineId, log],
  );

  // Autosave: a quiet second after the last edit.
  useEffect(() => {
    if (!dirty || nodes.length === 0) return;
    const t = setTimeout(() => void save(false), 1200);
    return () => clearTimeout(t);
  }, [dirty, nodes, edges, name, save]);

  // ---------------------------------------------------------------- running
  const run = useCallback(async () => {
    if (!canRun) return;
    try {
      const { runId } = await api.runs.start({
        pipeline,
        seed,
        ...(pipelineId ? { pipelineId } : {}),
      });
      runStore.startRun(
        runId,
        nodes.map((n) => n.id),
      );
      setActiveRunId(runId);
      setRunActive(true);
      refreshRuns();
    } catch (e) {
      log('error', `run refused: ${errMsg(e)}`);
      flash(errMsg(e));
    }
  }, [canRun, pipeline, seed, pipelineId, nodes, refreshRuns, log, flash]);

  const cancel = useCallback(async () => {
    if (!activeRunId) return;
    try {
      await api.runs.cancel({ runId: activeRunId });
      log('info', `cancelling ${activeRunId}…`);
    } catch (e) {
      log('error', `cancel failed: ${errMsg(e)}`);
    }
  }, [activeRunId, log]);

  const doCompare = useCallback(async () => {
    try {
      setCompare(await api.runs.compare({ runIds: [...selectedRuns] }));
      setTab('charts');
    } catch (e) {
      log('error', `compare failed: ${errMsg(e)}`);
    }
  }, [selectedRuns, log]);

  const doDelete = useCallback(async () => {
    if (!window.confirm(`Delete ${selectedRuns.size} run(s) and their artifacts?`)) return;
    for (const runId of selectedRuns) {
      try {
        await api.runs.delete({ runId });
      } catch (e) {
        log('error', `delete ${runId}: ${errMsg(e)}`);
      }
    }
    setSelectedRuns(new Set());
    refreshRuns();
  }, [selectedRuns, refreshRuns, log]);

  const doRerun = useCallback(async () => {
    const [runId] = [...selectedRuns];
    if (!runId) return;
    try {
      const r = await api.runs.rerun({ runId });
      setActiveRunId(r.runId);
      setRunActive(true);
      refreshRuns();
    } catch (e) {
      log('error', `re-run failed: ${errMsg(e)}`);
    }
  }, [selectedRuns, refreshRuns, log]);

  const openRun = useCallback(
    async (runId: string) => {
      try {
        const detail = await api.runs.get({ runId });
        load(detail.pipeline);
        const st = new Map<string, NodeRunState>();
        for (const n of detail.nodes)
          st.set(n.nodeId, { status: n.status, ...(n.error ? { message: n.error } : {}) });
        runStore.setRun(runId, st);
        setActiveRunId(runId);
      } catch (e) {
        log('error', `open run: ${errMsg(e)}`);
      }
    },
    [load, log],
  );

  const exportLatest = useCallback(() => {
    const id =
      selectedRuns.size === 1
        ? [...selectedRuns][0]
        : (activeRunId ?? runs.find((r) => r.status === 'done')?.id);
    if (id) setExportRunId(id);
    else flash('Select a finished run to export its weights.');
  }, [selectedRuns, activeRunId, runs, flash]);

  // ---------------------------------------------------------------- menu + keys
  const menu = useRef<(c: MenuCommand) => void>(() => undefined);
  useEffect(() => {
    menu.current = (c) => {
      if (c.command === 'new') newPipeline();
      else if (c.command === 'open') load(c.pipeline);
      else if (c.command === 'save') void save(false);
      else if (c.command === 'saveAs') void save(true);
      else if (c.command === 'export') exportLatest();
      else if (c.command === 'run') void run();
      else if (c.command === 'cancel') void cancel();
    };
  });
  useEffect(() => api.events.menu((c) => menu.current(c)), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const typing = t && t.closest('input, textarea, select, .monaco') !== null;
      const mod = e.ctrlKey || e.metaKey;
      if (!mod) return;
      const k = e.key.toLowerCase();
      if (k === 's') {
        e.preventDefault();
        void save(e.shiftKey);
      } else if (k === 'enter') {
        e.preventDefault();
        void run();
      } else if (typing) {
        return;
      } else if (k === 'z' && !e.shiftKey) {
        e.preventDefault();
        undo();
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault();
        redo();
      } else if (k === 'c') copy();
      else if (k === 'v') paste();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [save, run, undo, redo, copy, paste]);

  const selected = nodes.find((n) => n.id === selectedId) ?? null;
  const runningNow = runs.find((r) => r.id === activeRunId);

  if (fatal) {
    return (
      <div className="fatal">
        <h1>D2NWG Studio cannot reach its engine</h1>
        <p>{fatal}</p>
        {mode === 'web' && (
          <p>
            Open the URL printed by <code>d2nwg serve</code> (it carries the access token).
          </p>
        )}
      </div>
    );
  }

  return (
    <SpecsContext.Provider value={specMap}>
      <ProblemsContext.Provider value={problems}>
        <ActiveRunContext.Provider value={activeRunId}>
          <div className="app">
            <header className="topbar">
              <span className="brand">D2NWG Studio</span>
              <input
                className="pipeline-name"
                value={name}
                onChange={(e) => {
                  setName(e.target.value);
                  touch();
                }}
                aria-label="Pipeline name"
              />
              <span className={`save-state ${saveState}`} data-testid="save-state">
                {saveState === 'saved'
                  ? 'saved'
                  : saveState === 'saving'
                    ? 'saving…'
                    : saveState === 'error'
                      ? 'save failed'
                      : 'unsaved'}
              </span>
              <span className="spacer" />
              <button type="button" onClick={newPipeline} title="New (Ctrl+N)">
                New
              </button>
              <select
                aria-label="Open example"
                value=""
                onChange={(e) => e.target.value && openExample(e.target.value)}
                data-testid="open-example"
              >
                <option value="">Examples…</option>
                {examples.map((x) => (
                  <option key={x.name} value={x.name}>
                    {x.title}
                  </option>
                ))}
              </select>
              <button type="button" onClick={() => void save(false)} title="Save (Ctrl+S)">
                Save
              </button>
              <button type="button" onClick={() => void save(true)}>
                Save as…
              </button>
              <button type="button" onClick={undo} title="Undo (Ctrl+Z)" aria-label="Undo">
                ↶
              </button>
              <button type="button" onClick={redo} title="Redo (Ctrl+Shift+Z)" aria-label="Redo">
                ↷
              </button>
              <label className="seed">
                seed
                <input
                  type="number"
                  min={0}
                  value={seed}
                  onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value) || 0)))}
                />
              </label>
              <button
                type="button"
                className="primary"
                disabled={!canRun}
                onClick={() => void run()}
                data-testid="run"
                title={
                  canRun
                    ? 'Run (Ctrl+Enter)'
                    : validation.problems.map((p) => p.message).join('\n') || 'Add nodes to run'
                }
              >
                ▶ Run
              </button>
              <button
                type="button"
                className="danger"
                disabled={!runActive}
                onClick={() => void cancel()}
                data-testid="cancel"
              >
                ■ Cancel
              </button>
              <button type="button" onClick={exportLatest} data-testid="export">
                Export…
              </button>
            </header>
            <PanelBoundary
              name="palette"
              label="Palette"
              frame={(m) => <aside className="palette">{m}</aside>}
            >
              <Palette specs={specs} onAdd={(t) => addNode(t)} />
            </PanelBoundary>
            <main className="center">
              <PanelBoundary name="canvas" label="Canvas">
                {showFirstRun && nodes.length === 0 ? (
                  <FirstRun
                    examples={examples}
                    onOpen={openExample}
                    onBlank={() => setShowFirstRun(false)}
                  />
                ) : (
                  <ReactFlowProvider>
                    <Canvas
                      nodes={nodes}
                      edges={edges}
                      onNodesChange={onNodesChange}
                      onEdgesChange={onEdgesChange}
                      onConnect={onConnect}
                      onDropType={addNode}
                      onSelect={setSelectedId}
                      onBeforeChange={snapshot}
                      onRefused={refused}
                    />
                  </ReactFlowProvider>
                )}
              </PanelBoundary>
              {toast && (
                <div className="toast" role="status" data-testid="toast">
                  {toast}
                </div>
              )}
              {!validation.ok && nodes.length > 0 && (
                <div className="problems-bar" data-testid="problems">
                  {validation.problems.length} problem{validation.problems.length > 1 ? 's' : ''}:{' '}
                  {validation.problems[0].message}
                </div>
              )}
            </main>
            <PanelBoundary
              name="inspector"
              label="Inspector"
              frame={(m) => <aside className="inspector">{m}</aside>}
            >
              <Inspector
                node={selected}
                onConfig={setConfig}
                syntaxError={selected ? (syntaxErrors.get(selected.id) ?? null) : null}
                onSyntaxError={setSyntaxError}
              />
            </PanelBoundary>
            <section className="bottom">
              <nav className="tabs">
                {(['runs', 'charts', 'log'] as const).map((t) => (
                  <button
                    type="button"
                    key={t}
                    className={tab === t ? 'active' : undefined}
                    onClick={() => setTab(t)}
                    data-testid={`tab-${t}`}
                  >
                    {t === 'runs'
                      ? 'Runs'
                      : t === 'charts'
                        ? 'Charts'
                        : `Log${logHasError ? ' •' : ''}`}
                  </button>
                ))}
                <span className="spacer" />
                {runningNow && (
                  <span className="muted small" data-testid="active-run">
                    {runningNow.id} ·{' '}
                    <span
                      className={`badge badge-${runningNow.status === 'failed' ? 'error' : runningNow.status}`}
                    >
                      {runningNow.status}
                    </span>
                  </span>
                )}
                <span className="muted small">
                  {info ? `${info.mode} · ${info.backend} · v${info.version}` : ''}
                </span>
              </nav>
              <div className="tab-body">
                {tab === 'runs' && (
                  <PanelBoundary name="runs" label="Runs">
                    <RunsPanel
                      runs={runs}
                      selected={selectedRuns}
                      onToggle={(id) =>
                        setSelectedRuns((s) => {
                          const n = new Set(s);
                          if (n.has(id)) n.delete(id);
                          else n.add(id);
                          return n;
                        })
                      }
                      onCompare={() => void doCompare()}
                      onDelete={() => void doDelete()}
                      onRerun={() => void doRerun()}
                      onExport={() => setExportRunId([...selectedRuns][0] ?? null)}
                      onOpen={(id) => void openRun(id)}
                    />
                  </PanelBoundary>
                )}
                {tab === 'charts' && (
                  <PanelBoundary name="charts" label="Charts">
                    <Charts compare={compare} activeRunId={activeRunId} />
                  </PanelBoundary>
                )}
                {tab === 'log' && (
                  <PanelBoundary name="log" label="Log">
                    <LogPanel />
                  </PanelBoundary>
                )}
              </div>
            </section>
            {exportRunId && info && (
              <PanelBoundary
                name="export"
                label="Export dialog"
                onClose={() => setExportRunId(null)}
                frame={(m) => (
                  <div className="modal-backdrop" role="dialog" aria-label="Export weights">
                    <div className="modal">{m}</div>
                  </div>
                )}
              >
                <ExportDialog
                  runId={exportRunId}
                  dataDir={info.dataDir}
                  onClose={() => setExportRunId(null)}
                  onLog={(level, m) => log(level, m)}
                />
              </PanelBoundary>
            )}
          </div>
        </ActiveRunContext.Provider>
      </ProblemsContext.Provider>
    </SpecsContext.Provider>
  );
}
