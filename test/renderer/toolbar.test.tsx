// The toolbar over real stores and actions, with the API answered in memory through the same
// contract the preload and web transport use: what Run, Cancel, Save as and the fields change.
import { act, fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { createDocumentActions } from '../../src/renderer/src/features/document/document-actions.ts';
import { DocumentStore } from '../../src/renderer/src/features/document/document-store.ts';
import {
  DocumentContext,
  useValidation,
} from '../../src/renderer/src/features/document/use-document.ts';
import { createRunActions } from '../../src/renderer/src/features/runs/run-actions.ts';
import { RunsStore } from '../../src/renderer/src/features/runs/runs-store.ts';
import { RunsContext } from '../../src/renderer/src/features/runs/use-runs.ts';
import { Toolbar } from '../../src/renderer/src/features/toolbar/Toolbar.tsx';
import { RunStore } from '../../src/renderer/src/lib/run-store.ts';
import {
  buildApi,
  contract,
  type ExampleInfo,
  type InvokeChannelName,
  type LogLine,
} from '../../src/shared/ipc.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';

const TOY: Pipeline = {
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'Toy',
  nodes: [
    { id: 'data', type: 'dataset.source', version: 1, config: {}, position: { x: 0, y: 0 } },
    { id: 'tasks', type: 'tasks.generate', version: 1, config: {}, position: { x: 300, y: 0 } },
  ],
  edges: [
    { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
  ],
};
const EXAMPLES: readonly ExampleInfo[] = [];

/** The studio's stores and actions over an in-memory API that records every request. */
function studio(names: (string | null)[] = []) {
  const requests: { channel: InvokeChannelName; params: unknown }[] = [];
  const replies: Partial<Record<InvokeChannelName, (params: unknown) => unknown>> = {
    'runs.start': () => ({ runId: 'run-1' }),
    'runs.list': () => [],
    'runs.table': () => ({ fields: [], values: {}, series: [] }),
    'runs.cancel': () => ({ cancelled: true }),
    'pipelines.save': () => ({ id: 'p-9', name: 'saved', updatedAt: '2026-01-01T00:00:00Z' }),
  };
  const api = buildApi({
    async request(channel, params) {
      // What the engine's handler would refuse, the test refuses too.
      const parsed: unknown = contract[channel].params.parse(params);
      requests.push({ channel, params: parsed });
      const reply = replies[channel];
      return reply
        ? { ok: true, value: reply(parsed) }
        : { ok: false, error: { kind: 'Error', message: `no ${channel}` } };
    },
    subscribe: () => () => undefined,
  });
  const doc = new DocumentStore();
  const runs = new RunsStore();
  const live = new RunStore((flush) => flush());
  const logs: string[] = [];
  const log = (level: LogLine['level'], message: string) => logs.push(`${level}: ${message}`);
  const toasts: string[] = [];
  const flash = (m: string) => toasts.push(m);
  const docActions = createDocumentActions({
    api,
    doc,
    log,
    flash,
    ask: () => names.shift() ?? null,
  });
  const runActions = createRunActions({ api, runs, doc, live, log, flash, confirm: () => true });

  function Bar() {
    const { validation, runnable } = useValidation();
    return (
      <Toolbar
        examples={EXAMPLES}
        doc={docActions}
        runs={runActions}
        runnable={runnable}
        problems={validation.problems}
        onFiles={() => toasts.push('files')}
      />
    );
  }
  const view = () =>
    render(
      <DocumentContext.Provider value={doc}>
        <RunsContext.Provider value={runs}>
          <Bar />
        </RunsContext.Provider>
      </DocumentContext.Provider>,
    );
  return { requests, doc, runs, runActions, logs, view };
}

const button = (name: string | RegExp) => screen.getByRole<HTMLButtonElement>('button', { name });
const saveState = () => screen.getByTestId('save-state').textContent;
/** Let the in-memory API's promises settle. */
const settle = () => act(async () => {});

describe('toolbar', () => {
  it('disables Run on an empty document and says why', () => {
    const s = studio();
    s.view();
    expect(button(/Run/).disabled).toBe(true);
    expect(button(/Run/).title).toBe('Add nodes to run');
    expect(button(/Cancel/).disabled).toBe(true);
  });

  it('runs the document with the chosen seed, then allows Cancel until the run ends', async () => {
    const s = studio();
    s.view();
    act(() => s.doc.load(TOY, 'p-1'));
    expect(button(/Run/).disabled).toBe(false);
    fireEvent.change(screen.getByRole('spinbutton'), { target: { value: '12.7' } });
    expect(s.runs.get().seed).toBe(12);

    fireEvent.click(button(/Run/));
    await settle();
    const start = s.requests.find((r) => r.channel === 'runs.start');
    expect(start?.params).toMatchObject({ pipeline: TOY, seed: 12, pipelineId: 'p-1' });
    expect(button(/Run/).disabled).toBe(true);
    expect(button(/Cancel/).disabled).toBe(false);

    fireEvent.click(button(/Cancel/));
    await settle();
    expect(s.requests.at(-1)).toEqual({ channel: 'runs.cancel', params: { runId: 'run-1' } });
    expect(s.logs).toContain('info: cancelling run-1…');

    act(() =>
      s.runActions.onEvent({
        runId: 'run-1',
        event: { type: 'runDone', runId: 'run-1', status: 'cancelled', durationS: 0.005 },
      }),
    );
    expect(button(/Cancel/).disabled).toBe(true);
    expect(button(/Run/).disabled).toBe(false);
  });

  it('keeps Run disabled while the document does not validate, naming the problem', () => {
    const s = studio();
    s.view();
    act(() => s.doc.load({ ...TOY, edges: [] }, 'p-1'));
    expect(button(/Run/).disabled).toBe(true);
    expect(button(/Run/).title).toMatch(/dataset/i);
  });

  it('marks a renamed document unsaved, and saves it as a new pipeline under the name given', async () => {
    const s = studio(['Toy v2']);
    s.view();
    act(() => s.doc.load(TOY, 'p-1'));
    expect(saveState()).toBe('saved');
    fireEvent.change(screen.getByLabelText('Pipeline name'), { target: { value: 'Toy!' } });
    expect(saveState()).toBe('unsaved');

    fireEvent.click(button('Save as…'));
    expect(saveState()).toBe('saving…');
    await settle();
    const save = s.requests.find((r) => r.channel === 'pipelines.save');
    // Save as never overwrites: no id, the new name.
    expect(save?.params).toEqual({ pipeline: { ...TOY, name: 'Toy v2' } });
    expect(saveState()).toBe('saved');
    expect(screen.getByLabelText<HTMLInputElement>('Pipeline name').value).toBe('Toy v2');
    expect(s.doc.get().pipelineId).toBe('p-9');
  });

  it('saves nothing when "save as" is cancelled', async () => {
    const s = studio([null]);
    s.view();
    act(() => s.doc.load(TOY, 'p-1'));
    fireEvent.click(button('Save as…'));
    await settle();
    expect(s.requests.filter((r) => r.channel === 'pipelines.save')).toEqual([]);
    expect(saveState()).toBe('saved');
  });
});
