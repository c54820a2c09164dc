// The pipeline files dialog over the real document store and file actions, with the API answered
// in memory through the contract (its params parsed as the engine would): list, open, rename,
// delete with a confirmation, import (a refusal shown with its message) and export.
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { DocumentStore } from '../../src/renderer/src/features/document/document-store.ts';
import { DocumentContext } from '../../src/renderer/src/features/document/use-document.ts';
import { createFileActions } from '../../src/renderer/src/features/files/file-actions.ts';
import { FilesDialog } from '../../src/renderer/src/features/files/FilesDialog.tsx';
import {
  ApiError,
  buildApi,
  contract,
  type InvokeChannelName,
  type PipelineDoc,
} from '../../src/shared/ipc.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';

const TOY: Pipeline = {
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'Toy',
  nodes: [{ id: 'data', type: 'dataset.source', version: 1, config: {}, position: { x: 0, y: 0 } }],
  edges: [],
};

interface Options {
  readonly mode?: 'electron' | 'web';
  readonly names?: (string | null)[];
  readonly confirms?: boolean[];
}

/** A saved-pipelines API in memory, the dialog over it, and what it asked, logged and downloaded. */
function setup({ mode = 'web', names = [], confirms = [] }: Options = {}) {
  const docs = new Map<string, PipelineDoc>([
    ['p-1', { id: 'p-1', name: 'Toy', updatedAt: '2026-01-02T10:00:00Z', pipeline: TOY }],
    [
      'p-2',
      {
        id: 'p-2',
        name: 'Other',
        updatedAt: '2026-01-01T10:00:00Z',
        pipeline: { ...TOY, name: 'Other' },
      },
    ],
  ]);
  const requests: { channel: InvokeChannelName; params: unknown }[] = [];
  const summary = ({ pipeline: _p, ...s }: PipelineDoc) => s;
  const handlers: Partial<Record<InvokeChannelName, (p: never) => unknown>> = {
    'pipelines.list': () => [...docs.values()].map(summary),
    'pipelines.get': ({ id }: { id: string }) => docs.get(id),
    'pipelines.rename': ({ id, name }: { id: string; name: string }) => {
      const d = docs.get(id);
      if (!d) throw new Error('gone');
      docs.set(id, { ...d, name, pipeline: { ...d.pipeline, name } });
      return summary({ ...d, name });
    },
    'pipelines.delete': ({ id }: { id: string }) => ({ deleted: docs.delete(id) }),
    'pipelines.import': ({ fileName, text }: { fileName: string; text: string }) => {
      if (text.includes('epoch"')) {
        throw new ApiError(
          'InputError',
          `${fileName}: not a pipeline this studio can open: node 'vae': config: \`epoch\`: unknown key; did you mean \`epochs\`?`,
        );
      }
      const doc = { id: 'p-3', name: 'Imported', updatedAt: '2026-01-03T00:00:00Z' };
      const full = { ...doc, pipeline: { ...(JSON.parse(text) as Pipeline), name: 'Imported' } };
      docs.set('p-3', full);
      return full;
    },
    'pipelines.exportFile': () => ({ file: '/home/me/Toy.json' }),
  };
  const api = buildApi({
    async request(channel, params) {
      const parsed: unknown = contract[channel].params.parse(params);
      requests.push({ channel, params: parsed });
      const h = handlers[channel];
      if (!h) return { ok: false, error: { kind: 'Error', message: `no ${channel}` } };
      try {
        return { ok: true, value: h(parsed as never) };
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError('Error', String(e));
        return { ok: false, error: { kind: err.kind, message: err.message } };
      }
    },
    subscribe: () => () => undefined,
  });
  const doc = new DocumentStore();
  const logs: string[] = [];
  const toasts: string[] = [];
  const downloads: { text: string; file: string }[] = [];
  const asked: string[] = [];
  const actions = createFileActions({
    api,
    doc,
    log: (level, message) => logs.push(`${level}: ${message}`),
    flash: (m) => toasts.push(m),
    ask: () => names.shift() ?? null,
    confirm: (q) => {
      asked.push(q);
      return confirms.shift() ?? false;
    },
    download: (text, file) => downloads.push({ text, file }),
    mode,
  });
  let closed = 0;
  render(
    <DocumentContext.Provider value={doc}>
      <FilesDialog
        actions={actions}
        log={(l, m) => logs.push(`${l}: ${m}`)}
        onClose={() => closed++}
      />
    </DocumentContext.Provider>,
  );
  const row = (id: string) => screen.getByTestId(`file-${id}`);
  const inRow = (id: string, testId: string) => {
    const el = row(id).querySelector(`[data-testid="${testId}"]`);
    if (!(el instanceof HTMLElement)) throw new Error(`no ${testId} in ${id}`);
    return el;
  };
  return {
    doc,
    docs,
    requests,
    logs,
    toasts,
    downloads,
    asked,
    row,
    inRow,
    closed: () => closed,
    channels: () => requests.map((r) => r.channel),
  };
}

describe('pipeline files dialog', () => {
  it('lists the saved pipelines and opens one on the canvas, saved and clean', async () => {
    const t = setup();
    await screen.findByTestId('file-p-1');
    expect(screen.getAllByTestId('file-open').map((b) => b.textContent)).toEqual(['Toy', 'Other']);
    await act(async () => fireEvent.click(t.inRow('p-2', 'file-open')));
    await waitFor(() => expect(t.closed()).toBe(1));
    expect(t.doc.get()).toMatchObject({
      name: 'Other',
      pipelineId: 'p-2',
      dirty: false,
      saveState: 'saved',
    });
  });

  it('renames; the open pipeline takes the new name without becoming unsaved', async () => {
    const t = setup({ names: ['Toy v2'] });
    act(() => t.doc.load(TOY, 'p-1'));
    await screen.findByTestId('file-p-1');
    await act(async () => fireEvent.click(t.inRow('p-1', 'file-rename')));
    await waitFor(() => expect(t.inRow('p-1', 'file-open').textContent).toBe('Toy v2'));
    expect(t.requests.find((r) => r.channel === 'pipelines.rename')?.params).toEqual({
      id: 'p-1',
      name: 'Toy v2',
    });
    expect(t.doc.get()).toMatchObject({ name: 'Toy v2', dirty: false, saveState: 'saved' });
  });

  it('deletes only after a confirmation; the canvas keeps the graph, detached', async () => {
    const t = setup({ confirms: [false, true] });
    act(() => t.doc.load(TOY, 'p-1'));
    await screen.findByTestId('file-p-1');
    await act(async () => fireEvent.click(t.inRow('p-1', 'file-delete')));
    expect(t.channels()).not.toContain('pipelines.delete');
    expect(t.asked[0]).toBe("Delete the pipeline 'Toy' and its saved versions? Its runs are kept.");
    await act(async () => fireEvent.click(t.inRow('p-1', 'file-delete')));
    await waitFor(() => expect(screen.queryByTestId('file-p-1')).toBeNull());
    expect(t.docs.has('p-1')).toBe(false);
    expect(t.doc.get()).toMatchObject({
      pipelineId: undefined,
      dirty: false,
      saveState: 'unsaved',
    });
    expect(t.doc.get().nodes.map((n) => n.id)).toEqual(['data']);
  });

  it('shows a refused import with the file and the key meant, and opens an accepted one', async () => {
    const t = setup();
    await screen.findByTestId('file-p-1');
    const input = screen.getByTestId('import-file');
    const pick = async (name: string, text: string) => {
      const file = new File([text], name, { type: 'application/json' });
      Object.defineProperty(input, 'files', { value: [file], configurable: true });
      await act(async () => fireEvent.change(input));
    };
    await pick('typo.json', '{"epoch": 4}');
    const error = await screen.findByTestId('files-error');
    expect(error.textContent).toBe(
      "typo.json: not a pipeline this studio can open: node 'vae': config: `epoch`: unknown key; did you mean `epochs`?",
    );
    expect(t.logs[0]).toMatch(/^error: import failed: typo\.json: /);
    expect(t.closed()).toBe(0);
    await pick('toy.json', JSON.stringify(TOY));
    await waitFor(() => expect(t.closed()).toBe(1));
    expect(t.requests.at(-1)?.params).toEqual({ fileName: 'toy.json', text: JSON.stringify(TOY) });
    expect(t.doc.get()).toMatchObject({ name: 'Imported', pipelineId: 'p-3', saveState: 'saved' });
  });

  it('exports as a download in web mode', async () => {
    const t = setup();
    act(() => t.doc.load({ ...TOY, name: 'My toy' }));
    await screen.findByTestId('file-p-1');
    await act(async () => fireEvent.click(screen.getByTestId('export-current')));
    await act(async () => fireEvent.click(t.inRow('p-2', 'file-export')));
    await waitFor(() => expect(t.downloads).toHaveLength(2));
    expect(t.downloads.map((d) => d.file)).toEqual(['My-toy.json', 'Other.json']);
    expect(JSON.parse(t.downloads[0].text)).toEqual({ ...TOY, name: 'My toy' });
    expect(t.channels()).not.toContain('pipelines.exportFile');
  });

  it('exports through the save dialog in the desktop app', async () => {
    const t = setup({ mode: 'electron' });
    act(() => t.doc.load(TOY, 'p-1'));
    await screen.findByTestId('file-p-1');
    await act(async () => fireEvent.click(screen.getByTestId('export-current')));
    await waitFor(() => expect(t.toasts).toEqual(['exported to /home/me/Toy.json']));
    expect(t.requests.find((r) => r.channel === 'pipelines.exportFile')?.params).toEqual({
      pipeline: TOY,
    });
    expect(t.downloads).toEqual([]);
  });
});
