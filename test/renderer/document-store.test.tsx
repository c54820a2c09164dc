// The document store: edits, undo/redo, clipboard paste offsets, and the dirty/save state that
// autosave and the toolbar read.
import { describe, expect, it } from 'vitest';
import {
  DocumentStore,
  PASTE_OFFSET,
} from '../../src/renderer/src/features/document/document-store.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';
import { specOf } from '../helpers/specs.ts';

const PIPELINE: Pipeline = {
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'Toy',
  nodes: [
    { id: 'data', type: 'dataset.source', version: 1, config: {}, position: { x: 0, y: 0 } },
    { id: 'tasks', type: 'tasks.generate', version: 1, config: {}, position: { x: 300, y: 10 } },
    { id: 'feat', type: 'features.extract', version: 1, config: {}, position: { x: 600, y: 20 } },
  ],
  edges: [
    { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
    { id: 'e2', source: 'data', sourcePort: 'dataset', target: 'feat', targetPort: 'dataset' },
  ],
};

/** A store holding the toy pipeline as a saved document. */
function loaded(): DocumentStore {
  const doc = new DocumentStore();
  doc.load(PIPELINE, 'p-1');
  return doc;
}

/** Select exactly these nodes, as a click or a box selection on the canvas does. */
function selectOnly(doc: DocumentStore, ids: readonly string[]) {
  doc.applyNodeChanges(
    doc
      .get()
      .nodes.map((n) => ({ type: 'select' as const, id: n.id, selected: ids.includes(n.id) })),
  );
}

const ids = (doc: DocumentStore) => doc.get().nodes.map((n) => n.id);

describe('document store', () => {
  it('opens a saved pipeline clean and an unsaved one dirty', () => {
    const doc = loaded();
    expect(doc.get()).toMatchObject({
      name: 'Toy',
      pipelineId: 'p-1',
      dirty: false,
      saveState: 'saved',
      canUndo: false,
    });
    expect(ids(doc)).toEqual(['data', 'tasks', 'feat']);
    expect(doc.pipeline()).toEqual(PIPELINE);

    // An example or a file: not saved, and not saved until it is edited.
    doc.load(PIPELINE);
    expect(doc.get()).toMatchObject({ pipelineId: undefined, dirty: false, saveState: 'unsaved' });
    doc.setName('Edited');
    expect(doc.get()).toMatchObject({ dirty: true, saveState: 'unsaved' });
    // Each pipeline opened (or a new one) gets a fresh first view on the canvas.
    const opened = doc.get().opened;
    doc.reset();
    doc.load(PIPELINE, 'p-2');
    expect(doc.get().opened).toBe(opened + 2);
  });

  it('makes an edit dirty, but not a selection', () => {
    const doc = loaded();
    selectOnly(doc, ['tasks']);
    expect(doc.get().dirty).toBe(false);
    doc.setName('Renamed');
    expect(doc.get()).toMatchObject({ name: 'Renamed', dirty: true, saveState: 'unsaved' });
  });

  it('undoes and redoes config edits, connections and added nodes in order', () => {
    const doc = loaded();
    doc.setConfig('tasks', { k: 3 });
    doc.connect({ source: 'tasks', sourceHandle: 'tasks', target: 'feat', targetHandle: 'x' });
    const added = doc.addNode(specOf('model.vae'));
    expect(ids(doc)).toEqual(['data', 'tasks', 'feat', 'vae-1']);
    expect(added.position).toEqual({ x: 80 + 3 * 260, y: 80 });
    expect(doc.get().selectedId).toBe('vae-1');
    expect(doc.get().edges).toHaveLength(3);

    doc.undo();
    expect(ids(doc)).toEqual(['data', 'tasks', 'feat']);
    doc.undo();
    expect(doc.get().edges.map((e) => e.id)).toEqual(['e1', 'e2']);
    doc.undo();
    expect(doc.get().nodes[1].data.config).toEqual({});
    expect(doc.get().canUndo).toBe(false);
    // Nothing left: undo is a no-op.
    const before = doc.get().nodes;
    doc.undo();
    expect(doc.get().nodes).toBe(before);

    doc.redo();
    doc.redo();
    expect(doc.get().nodes[1].data.config).toEqual({ k: 3 });
    expect(doc.get().edges.map((e) => e.id)).toEqual(['e1', 'e2', 'tasks.tasks->feat.x']);
    expect(doc.get().canRedo).toBe(true);
    // A new edit drops what could be redone.
    doc.setName('x');
    doc.setConfig('data', { variant: 'full' });
    expect(doc.get().canRedo).toBe(false);
    doc.redo();
    expect(ids(doc)).toEqual(['data', 'tasks', 'feat']);
  });

  it('records nothing for an unchanged config or a connection already there', () => {
    const doc = loaded();
    doc.setConfig('tasks', {});
    expect(doc.get()).toMatchObject({ dirty: false, canUndo: false });
    doc.connect({ source: 'a', sourceHandle: 'o', target: 'b', targetHandle: 'i' });
    doc.connect({ source: 'a', sourceHandle: 'o', target: 'b', targetHandle: 'i' });
    expect(doc.get().edges.filter((e) => e.id === 'a.o->b.i')).toHaveLength(1);
  });

  it('forgets the history when another pipeline is opened', () => {
    const doc = loaded();
    doc.setConfig('tasks', { k: 3 });
    doc.load({ ...PIPELINE, name: 'One node', nodes: PIPELINE.nodes.slice(0, 1), edges: [] });
    expect(doc.get().canUndo).toBe(false);
    doc.undo();
    expect(ids(doc)).toEqual(['data']);
  });

  it(`pastes copies under fresh ids, ${PASTE_OFFSET} px down-right, with their inner edges`, () => {
    const doc = loaded();
    selectOnly(doc, ['data', 'tasks']);
    expect(doc.copy()).toBe(2);
    doc.paste();
    const s = doc.get();
    expect(ids(doc)).toEqual(['data', 'tasks', 'feat', 'source-1', 'generate-1']);
    const [src, gen] = s.nodes.slice(3);
    expect(src.position).toEqual({ x: PASTE_OFFSET, y: PASTE_OFFSET });
    expect(gen.position).toEqual({ x: 300 + PASTE_OFFSET, y: 10 + PASTE_OFFSET });
    expect(gen.data).toEqual(s.nodes[1].data);
    // The copies are the selection now; the edge to "feat" was not copied (feat was not).
    expect(s.nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(['source-1', 'generate-1']);
    expect(s.edges.slice(2)).toEqual([
      expect.objectContaining({
        id: 'source-1.dataset->generate-1.dataset',
        source: 'source-1',
        target: 'generate-1',
      }),
    ]);
    expect(s.dirty).toBe(true);

    // A second paste gets ids of its own; one undo takes it back out.
    doc.paste();
    expect(ids(doc).slice(5)).toEqual(['source-2', 'generate-2']);
    doc.undo();
    expect(ids(doc)).toHaveLength(5);
  });

  it('pastes what was copied, not what the nodes became after', () => {
    const doc = loaded();
    selectOnly(doc, ['tasks']);
    doc.copy();
    doc.setConfig('tasks', { k: 9 });
    doc.paste();
    expect(doc.get().nodes[3].data.config).toEqual({});
  });

  it('copies nothing without a selection, and pasting an empty clipboard changes nothing', () => {
    const doc = loaded();
    expect(doc.copy()).toBe(0);
    doc.paste();
    expect(doc.get()).toMatchObject({ dirty: false, canUndo: false });
    expect(ids(doc)).toEqual(['data', 'tasks', 'feat']);
  });

  it('is saved after a save of the latest edit, and stays unsaved after an edit made during it', () => {
    const doc = loaded();
    doc.setName('Edited');
    const rev = doc.saving();
    expect(doc.get().saveState).toBe('saving');
    doc.saved('p-1', rev);
    expect(doc.get()).toMatchObject({ dirty: false, saveState: 'saved' });

    doc.setConfig('tasks', { k: 4 });
    const inFlight = doc.saving();
    doc.setConfig('tasks', { k: 5 });
    doc.saved('p-1', inFlight);
    expect(doc.get()).toMatchObject({ dirty: true, saveState: 'unsaved' });
  });

  it('renames on "save as" without counting it as an edit, and keeps a failed save dirty', () => {
    const doc = loaded();
    doc.setConfig('tasks', { k: 4 });
    const rev = doc.saving('Toy copy');
    expect(doc.pipeline().name).toBe('Toy copy');
    doc.saved('p-2', rev);
    expect(doc.get()).toMatchObject({ name: 'Toy copy', pipelineId: 'p-2', saveState: 'saved' });

    doc.setName('Again');
    doc.saving();
    doc.saveFailed();
    expect(doc.get()).toMatchObject({ dirty: true, saveState: 'error' });
  });

  it('clears the selection when nodes are removed, and counts the removal as an edit', () => {
    const doc = loaded();
    doc.select('tasks');
    doc.applyNodeChanges([{ type: 'remove', id: 'tasks' }]);
    expect(doc.get()).toMatchObject({ selectedId: null, dirty: true });
    expect(ids(doc)).toEqual(['data', 'feat']);
  });

  it('tracks JSON syntax errors per node', () => {
    const doc = loaded();
    doc.setSyntaxError('tasks', 'Unexpected token');
    const errors = doc.get().syntaxErrors;
    doc.setSyntaxError('tasks', 'Unexpected token');
    expect(doc.get().syntaxErrors).toBe(errors);
    doc.setSyntaxError('tasks', null);
    expect([...doc.get().syntaxErrors]).toEqual([]);
  });

  it('notifies subscribers and keeps untouched slices identical', () => {
    const doc = loaded();
    let calls = 0;
    const off = doc.subscribe(() => calls++);
    const { nodes, edges } = doc.get();
    doc.setName('Renamed');
    expect(calls).toBe(1);
    expect(doc.get().nodes).toBe(nodes);
    expect(doc.get().edges).toBe(edges);
    off();
    doc.setName('Again');
    expect(calls).toBe(1);
  });

  it('starts a new pipeline empty and unsaved, with the first-run screen gone', () => {
    const doc = loaded();
    doc.setFirstRun(true);
    doc.reset();
    expect(doc.get()).toMatchObject({
      name: 'Untitled',
      nodes: [],
      pipelineId: undefined,
      dirty: false,
      saveState: 'unsaved',
      firstRun: false,
    });
  });
});
