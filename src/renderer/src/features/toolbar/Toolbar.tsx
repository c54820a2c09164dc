/**
 * The top bar: pipeline name and save state, new / examples / save / undo, the seed, and
 * Run, Cancel and Export. It reads the document and runs stores; every button calls an action.
 */
import type { ExampleInfo } from '../../../../shared/ipc.ts';
import type { DocumentActions } from '../document/document-actions.ts';
import type { SaveState } from '../document/document-store.ts';
import { useDocument, useDocumentStore } from '../document/use-document.ts';
import type { RunActions } from '../runs/run-actions.ts';
import { runActive } from '../runs/runs-store.ts';
import { useRuns, useRunsStore } from '../runs/use-runs.ts';
import { sweepsStore } from '../sweeps/sweeps-store.ts';

const SAVE_LABEL: Readonly<Record<SaveState, string>> = {
  saved: 'saved',
  saving: 'saving…',
  error: 'save failed',
  unsaved: 'unsaved',
};

export interface ToolbarProps {
  readonly examples: readonly ExampleInfo[];
  readonly doc: DocumentActions;
  readonly runs: RunActions;
  /** Whether the document can run (valid, with nodes, every JSON editor parsing). */
  readonly runnable: boolean;
  /** Why it cannot, shown on the Run button. */
  readonly problems: readonly { readonly message: string }[];
  /** Opens the pipeline files dialog (list, open, rename, delete, import, export). */
  readonly onFiles: () => void;
}

export function Toolbar({ examples, doc, runs, runnable, problems, onFiles }: ToolbarProps) {
  const store = useDocumentStore();
  const runsStore = useRunsStore();
  const name = useDocument((s) => s.name);
  const saveState = useDocument((s) => s.saveState);
  const seed = useRuns((s) => s.seed);
  const active = useRuns(runActive);
  const canRun = runnable && !active;
  return (
    <header className="topbar">
      <span className="brand">D2NWG Studio</span>
      <input
        className="pipeline-name"
        value={name}
        onChange={(e) => store.setName(e.target.value)}
        aria-label="Pipeline name"
      />
      <span className={`save-state ${saveState}`} data-testid="save-state">
        {SAVE_LABEL[saveState]}
      </span>
      <span className="spacer" />
      <button type="button" onClick={doc.newPipeline} title="New (Ctrl+N)">
        New
      </button>
      <button
        type="button"
        onClick={onFiles}
        data-testid="open-files"
        title="Saved pipelines, import and export"
      >
        Pipelines…
      </button>
      <select
        aria-label="Open example"
        value=""
        onChange={(e) => e.target.value && doc.openExample(e.target.value)}
        data-testid="open-example"
      >
        <option value="">Examples…</option>
        {examples.map((x) => (
          <option key={x.name} value={x.name}>
            {x.title}
          </option>
        ))}
      </select>
      <button type="button" onClick={() => void doc.save(false)} title="Save (Ctrl+S)">
        Save
      </button>
      <button type="button" onClick={() => void doc.save(true)}>
        Save as…
      </button>
      <button type="button" onClick={doc.undo} title="Undo (Ctrl+Z)" aria-label="Undo">
        ↶
      </button>
      <button type="button" onClick={doc.redo} title="Redo (Ctrl+Shift+Z)" aria-label="Redo">
        ↷
      </button>
      <label className="seed">
        seed
        <input
          type="number"
          min={0}
          value={seed}
          onChange={(e) => runsStore.setSeed(Number(e.target.value))}
        />
      </label>
      <button
        type="button"
        className="primary"
        disabled={!canRun}
        onClick={() => void runs.start()}
        data-testid="run"
        title={
          canRun
            ? 'Run (Ctrl+Enter)'
            : problems.map((p) => p.message).join('\n') || 'Add nodes to run'
        }
      >
        ▶ Run
      </button>
      <button
        type="button"
        disabled={!runnable}
        onClick={() => sweepsStore.open()}
        data-testid="sweep"
        title="Run the pipeline over several values of config fields, as a group"
      >
        Sweep…
      </button>
      <button
        type="button"
        className="danger"
        disabled={!active}
        onClick={() => void runs.cancel()}
        data-testid="cancel"
      >
        ■ Cancel
      </button>
      <button type="button" onClick={runs.exportLatest} data-testid="export">
        Export…
      </button>
    </header>
  );
}
