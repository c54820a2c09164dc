// Where a sweep runs, in the page: the Sweeps list shows the executor of each sweep's latest pass,
// and the sweep dialog's "Run on queue" field saves the app's settings before starting (a refused
// setting is shown and nothing starts).
import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { SweepPreview, SweepSummary } from '../../src/shared/ipc.ts';
import type { AppSettings } from '../../src/shared/settings.ts';
import { SweepDialog } from '../../src/renderer/src/features/sweeps/SweepDialog.tsx';
import { SweepsList } from '../../src/renderer/src/features/sweeps/SweepsList.tsx';

const sweep = (id: string, executor?: string): SweepSummary => ({
  id,
  name: 'toy',
  status: 'done',
  seed: 0,
  points: 2,
  done: 2,
  failed: 0,
  paths: ['tasks.k'],
  runIds: ['r1', 'r2'],
  created: '2026-12-04T00:00:00.000Z',
  resumable: false,
  ...(executor ? { executor } : {}),
});

describe('SweepsList', () => {
  it('shows where each sweep ran, and nothing for one not run since the start', () => {
    const noop = () => undefined;
    render(
      <SweepsList
        sweeps={[sweep('s1', "queue redis://10.0.0.5:6379 'd2nwg'"), sweep('s2')]}
        onCompare={noop}
        onCancel={noop}
        onResume={noop}
      />,
    );
    expect(screen.getAllByTestId('sweep-executor').map((e) => e.textContent)).toEqual([
      "queue redis://10.0.0.5:6379 'd2nwg'",
    ]);
  });
});

const PREVIEW: SweepPreview = {
  points: 2,
  paths: ['tasks.k'],
  values: [{ 'tasks.k': 3 }, { 'tasks.k': 5 }],
  seconds: null,
  estimate: 'unknown',
};

function dialog(saveSettings: (s: AppSettings) => Promise<AppSettings>) {
  const calls: string[] = [];
  const actions = {
    preview: vi.fn(async () => PREVIEW),
    start: vi.fn(async () => {
      calls.push('start');
      return true;
    }),
    settings: vi.fn(async (): Promise<AppSettings> => ({ sweepQueueName: 'lab' })),
    saveSettings: vi.fn(async (s: AppSettings) => {
      calls.push('save');
      return saveSettings(s);
    }),
  };
  render(<SweepDialog field="tasks.k" actions={actions} onClose={() => undefined} />);
  return { actions, calls };
}

describe('the sweep dialog’s queue setting', () => {
  it('saves the queue, keeping the other settings, before it starts the sweep', async () => {
    const { actions, calls } = dialog(async (s) => s);
    fireEvent.change(screen.getByTestId('sweep-values'), { target: { value: '3,5' } });
    fireEvent.change(await screen.findByTestId('sweep-queue'), {
      target: { value: ' redis://10.0.0.5:6379 ' },
    });
    await screen.findByText('2 runs');
    fireEvent.click(screen.getByTestId('sweep-start'));
    await vi.waitFor(() => expect(actions.start).toHaveBeenCalled());
    expect(actions.saveSettings).toHaveBeenCalledWith({
      sweepQueueName: 'lab',
      sweepQueue: 'redis://10.0.0.5:6379',
    });
    expect(calls).toEqual(['save', 'start']);
  });

  it('shows a refused setting and starts nothing', async () => {
    const { actions } = dialog(async () => {
      throw new Error('sweepQueue: a queue is redis://HOST:PORT');
    });
    fireEvent.change(screen.getByTestId('sweep-values'), { target: { value: '3,5' } });
    fireEvent.change(await screen.findByTestId('sweep-queue'), { target: { value: 'nope' } });
    await screen.findByText('2 runs');
    fireEvent.click(screen.getByTestId('sweep-start'));
    expect((await screen.findByTestId('sweep-queue-error')).textContent).toMatch(/redis:\/\/HOST/);
    expect(actions.start).not.toHaveBeenCalled();
  });

  it('does not save when the queue is unchanged', async () => {
    const { actions } = dialog(async (s) => s);
    fireEvent.change(screen.getByTestId('sweep-values'), { target: { value: '3,5' } });
    await screen.findByTestId('sweep-queue');
    await screen.findByText('2 runs');
    fireEvent.click(screen.getByTestId('sweep-start'));
    await vi.waitFor(() => expect(actions.start).toHaveBeenCalled());
    expect(actions.saveSettings).not.toHaveBeenCalled();
  });
});
