// Autosave: one save a quiet AUTOSAVE_MS after the last edit of a non-empty, dirty document.
import { act, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AUTOSAVE_MS, useAutosave } from '../../src/renderer/src/features/autosave/use-autosave.ts';
import { DocumentStore } from '../../src/renderer/src/features/document/document-store.ts';
import { DocumentContext } from '../../src/renderer/src/features/document/use-document.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';

const TOY: Pipeline = {
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'Toy',
  nodes: [
    { id: 'tasks', type: 'tasks.generate', version: 1, config: {}, position: { x: 0, y: 0 } },
  ],
  edges: [],
};

function Autosaver({ save }: { save: () => Promise<void> }) {
  useAutosave(save);
  return null;
}

/** A document with an autosave whose save marks it saved, like the real one. */
function setup() {
  const doc = new DocumentStore();
  const save = vi.fn(() => {
    doc.saved('p-1', doc.saving());
    return Promise.resolve();
  });
  render(
    <DocumentContext.Provider value={doc}>
      <Autosaver save={save} />
    </DocumentContext.Provider>,
  );
  return { doc, save };
}

const wait = (ms: number) =>
  act(() => {
    vi.advanceTimersByTime(ms);
  });

describe('autosave', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('saves once, a quiet moment after the last of several edits', () => {
    const { doc, save } = setup();
    act(() => doc.load(TOY, 'p-1'));
    act(() => doc.setConfig('tasks', { k: 3 }));
    wait(AUTOSAVE_MS - 100);
    act(() => doc.setConfig('tasks', { k: 4 }));
    wait(AUTOSAVE_MS - 100);
    expect(save).not.toHaveBeenCalled();
    wait(100);
    expect(save).toHaveBeenCalledTimes(1);
    expect(doc.get().saveState).toBe('saved');
    wait(AUTOSAVE_MS * 3);
    expect(save).toHaveBeenCalledTimes(1);
  });

  it('does not save a clean document, a selection, or an empty canvas', () => {
    const { doc, save } = setup();
    act(() => doc.load(TOY, 'p-1'));
    act(() => doc.select('tasks'));
    wait(AUTOSAVE_MS * 2);
    act(() => doc.reset());
    act(() => doc.setName('Nothing here'));
    wait(AUTOSAVE_MS * 2);
    expect(save).not.toHaveBeenCalled();
  });

  it('does not save an opened example until it is edited, then saves it once', () => {
    const { doc, save } = setup();
    act(() => doc.load(TOY));
    wait(AUTOSAVE_MS * 3);
    expect(save).not.toHaveBeenCalled();
    expect(doc.get().saveState).toBe('unsaved');
    act(() => doc.setConfig('tasks', { k: 3 }));
    wait(AUTOSAVE_MS);
    expect(save).toHaveBeenCalledTimes(1);
  });
});
