// The runs list: what each row shows, and what ticking, the toolbar buttons and double-click do.
import { fireEvent, render, screen, within } from '@testing-library/react';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { RunSummary } from '../../src/shared/ipc.ts';
import { RunsPanel, type RunsPanelProps } from '../../src/renderer/src/features/runs/RunsPanel.tsx';

const run = (id: string, over: Partial<RunSummary> = {}): RunSummary => ({
  id,
  name: 'quickstart',
  tags: [],
  notes: '',
  status: 'done',
  seed: 7,
  backend: 'wasm',
  startedAt: '2026-01-02T03:04:05.000Z',
  durationMs: 83_400,
  ...over,
});

const RUNS = [
  run('run-a'),
  run('run-b', { status: 'failed', durationMs: 420, error: 'zoo: out of memory', backend: '' }),
  run('run-c', { status: 'running', durationMs: null, seed: 3 }),
];

/** The panel with its selection held in state, as the studio holds it. */
function Harness(props: Partial<RunsPanelProps> & { initial?: readonly string[] }) {
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set(props.initial));
  return (
    <RunsPanel
      runs={RUNS}
      selected={selected}
      onToggle={(id) =>
        setSelected((s) => {
          const n = new Set(s);
          if (n.has(id)) n.delete(id);
          else n.add(id);
          return n;
        })
      }
      onCompare={props.onCompare ?? vi.fn()}
      onDelete={props.onDelete ?? vi.fn()}
      onRerun={props.onRerun ?? vi.fn()}
      onExport={props.onExport ?? vi.fn()}
      onOpen={props.onOpen ?? vi.fn()}
    />
  );
}

const button = (name: string) => screen.getByRole('button', { name });

describe('runs list', () => {
  it('shows each run with its status, formatted duration, seed and backend', () => {
    render(<Harness />);
    expect(screen.getByText('3 runs · 0 selected')).toBeTruthy();
    const a = within(screen.getByTestId('run-run-a'));
    expect(a.getByText('done').className).toBe('badge badge-done');
    expect(a.getByText('1 m 23 s')).toBeTruthy();
    expect(a.getByText('7')).toBeTruthy();
    expect(a.getByText('wasm')).toBeTruthy();
    const b = screen.getByTestId('run-run-b');
    expect(within(b).getByText('failed').className).toBe('badge badge-error');
    expect(within(b).getByText('420 ms')).toBeTruthy();
    expect(within(b).getByText('—')).toBeTruthy();
    // A failed run explains itself on hover; the others say how to open them.
    expect(b.getAttribute('title')).toBe('zoo: out of memory');
    expect(screen.getByTestId('run-run-a').getAttribute('title')).toBe(
      'double-click: open its pipeline',
    );
    const c = within(screen.getByTestId('run-run-c'));
    expect(c.getByText('running').className).toBe('badge badge-running');
    expect(c.getAllByText('—')).toHaveLength(1);
  });

  it('says so when there are no runs', () => {
    render(
      <RunsPanel
        runs={[]}
        selected={new Set()}
        onToggle={vi.fn()}
        onCompare={vi.fn()}
        onDelete={vi.fn()}
        onRerun={vi.fn()}
        onExport={vi.fn()}
        onOpen={vi.fn()}
      />,
    );
    expect(screen.getByText('No runs yet.')).toBeTruthy();
    expect(screen.getByText('0 runs · 0 selected')).toBeTruthy();
  });

  it('enables compare and delete for any selection, re-run and export for exactly one', () => {
    const onCompare = vi.fn();
    const onRerun = vi.fn();
    render(<Harness onCompare={onCompare} onRerun={onRerun} />);
    const disabled = () =>
      ['Compare', 'Re-run', 'Export…', 'Delete'].map(
        (n) => (button(n) as HTMLButtonElement).disabled,
      );
    expect(disabled()).toEqual([true, true, true, true]);

    fireEvent.click(screen.getByLabelText('select run run-a'));
    expect(screen.getByText('3 runs · 1 selected')).toBeTruthy();
    expect(screen.getByTestId('run-run-a').className).toBe('selected');
    expect(disabled()).toEqual([false, false, false, false]);

    fireEvent.click(screen.getByLabelText('select run run-c'));
    expect(disabled()).toEqual([false, true, true, false]);
    fireEvent.click(button('Compare'));
    expect(onCompare).toHaveBeenCalledTimes(1);

    // Unticking goes back to one: re-run applies again.
    fireEvent.click(screen.getByLabelText('select run run-a'));
    expect(screen.getByTestId('run-run-a').className).toBe('');
    fireEvent.click(button('Re-run'));
    expect(onRerun).toHaveBeenCalledTimes(1);
  });

  it('opens a run on double-click and passes its id', () => {
    const onOpen = vi.fn();
    render(<Harness onOpen={onOpen} />);
    fireEvent.doubleClick(screen.getByTestId('run-run-b'));
    expect(onOpen).toHaveBeenCalledWith('run-b');
  });

  it('hands export and delete to the studio for the selected rows', () => {
    const onExport = vi.fn();
    const onDelete = vi.fn();
    render(<Harness initial={['run-b']} onExport={onExport} onDelete={onDelete} />);
    fireEvent.click(button('Export…'));
    fireEvent.click(button('Delete'));
    expect(onExport).toHaveBeenCalledTimes(1);
    expect(onDelete).toHaveBeenCalledTimes(1);
  });
});
