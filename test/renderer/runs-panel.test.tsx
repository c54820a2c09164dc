// The runs table: what each row shows; ticking, the toolbar buttons and double-click; renaming,
// tagging and annotating in place; filters by status, tag, text and metric range; sorting by any
// column, picked config fields and metrics as columns; pinning the baseline.
import { fireEvent, render, screen, within } from '@testing-library/react';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { MetricSeries, RunSummary, RunsTable } from '../../src/shared/ipc.ts';
import type { RunAnnotation } from '../../src/shared/runs.ts';
import { RunsPanel, type RunsPanelProps } from '../../src/renderer/src/features/runs/RunsPanel.tsx';
import { DEFAULT_VIEW, type RunsView } from '../../src/renderer/src/features/runs/runs-table.ts';

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
  run('run-a', { name: 'alpha', tags: ['vae'], startedAt: '2026-01-02T03:00:00.000Z' }),
  run('run-b', {
    name: 'Beta',
    status: 'failed',
    durationMs: 420,
    error: 'zoo: out of memory',
    backend: '',
    notes: 'ran out of memory',
    startedAt: '2026-01-02T04:00:00.000Z',
  }),
  run('run-c', {
    name: 'gamma',
    status: 'running',
    durationMs: null,
    seed: 3,
    tags: ['vae', 'small'],
    startedAt: '2026-01-02T05:00:00.000Z',
  }),
];

const acc = (runId: string, key: string, values: number[]): MetricSeries => ({
  runId,
  nodeId: 'eval',
  key,
  steps: [0, 5],
  values,
});

/** tasks.k per run and seen/d2nwg accuracy (std over tasks 0.06) for runs a and c. */
const TABLE: RunsTable = {
  fields: ['data.name', 'tasks.k', 'vae.epochs'],
  values: {
    'run-a': { 'tasks.k': 5, 'vae.epochs': 30 },
    'run-b': { 'tasks.k': 10, 'vae.epochs': 30 },
    'run-c': { 'tasks.k': 7, 'vae.epochs': 4 },
  },
  series: [
    acc('run-a', 'accuracy/seen/d2nwg', [0.5, 0.83]),
    acc('run-a', 'accuracy_std/seen/d2nwg', [0.1, 0.06]),
    acc('run-c', 'accuracy/seen/d2nwg', [0.4, 0.61]),
    acc('run-c', 'accuracy_std/seen/d2nwg', [0.1, 0.06]),
  ],
};

type HarnessProps = Partial<RunsPanelProps> & {
  readonly initial?: readonly string[];
  readonly initialView?: Partial<RunsView>;
};

/** The panel with runs, selection, view and baseline held in state, as the studio holds them. */
function Harness(props: HarnessProps) {
  const [runs, setRuns] = useState<readonly RunSummary[]>(props.runs ?? RUNS);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set(props.initial));
  const [view, setView] = useState<RunsView>({ ...DEFAULT_VIEW, ...props.initialView });
  const [baseline, setBaseline] = useState<string | null>(null);
  const annotate = (id: string, change: RunAnnotation) => {
    props.onAnnotate?.(id, change);
    setRuns((rs) => rs.map((r) => (r.id === id ? { ...r, ...change } : r)));
  };
  return (
    <RunsPanel
      runs={runs}
      table={props.table === undefined ? TABLE : props.table}
      view={view}
      onView={(patch) => setView((v) => ({ ...v, ...patch }))}
      selected={selected}
      baseline={baseline}
      onBaseline={(id) => {
        props.onBaseline?.(id);
        setBaseline(id);
      }}
      onToggle={(id) =>
        setSelected((s) => {
          const n = new Set(s);
          if (n.has(id)) n.delete(id);
          else n.add(id);
          return n;
        })
      }
      onAnnotate={annotate}
      onCompare={props.onCompare ?? vi.fn()}
      onDelete={props.onDelete ?? vi.fn()}
      onRerun={props.onRerun ?? vi.fn()}
      onExport={props.onExport ?? vi.fn()}
      onOpen={props.onOpen ?? vi.fn()}
    />
  );
}

const button = (name: string) => screen.getByRole('button', { name });
/** Row ids in table order. */
const order = () =>
  screen
    .getAllByTestId(/^run-run-/)
    .map((tr) => tr.getAttribute('data-testid')?.slice('run-'.length));
const cellOf = (runId: string, col: string) => {
  const td = screen.getByTestId(`run-${runId}`).querySelector(`td[data-col="${col}"]`);
  if (!td) throw new Error(`no ${col} cell in ${runId}`);
  return td;
};

describe('runs table: rows and actions', () => {
  it('shows each run with its name, id, tags, status, duration, seed, backend and notes', () => {
    render(<Harness />);
    expect(screen.getByTestId('runs-count').textContent).toBe('3 runs · 0 selected');
    const a = within(screen.getByTestId('run-run-a'));
    expect(screen.getByTestId('name-run-a').textContent).toBe('alpha');
    expect(a.getByText('run-a')).toBeTruthy();
    expect(screen.getByTestId('tag-run-a-vae').textContent).toBe('vae');
    expect(a.getByText('done').className).toBe('badge badge-done');
    expect(a.getByText('1 m 23 s')).toBeTruthy();
    expect(cellOf('run-a', 'seed').textContent).toBe('7');
    expect(cellOf('run-a', 'backend').textContent).toBe('wasm');
    const b = screen.getByTestId('run-run-b');
    expect(within(b).getByText('failed').className).toBe('badge badge-error');
    expect(within(b).getByText('420 ms')).toBeTruthy();
    expect(cellOf('run-b', 'backend').textContent).toBe('—');
    expect(screen.getByTestId('notes-run-b').textContent).toBe('ran out of memory');
    // An empty note invites one.
    expect(screen.getByTestId('notes-run-a').textContent).toBe('add a note');
    expect(b.getAttribute('title')).toBe('zoo: out of memory');
    expect(screen.getByTestId('run-run-a').getAttribute('title')).toBe(
      'double-click: open its pipeline',
    );
    expect(cellOf('run-c', 'duration').textContent).toBe('—');
    // Newest first by default.
    expect(order()).toEqual(['run-c', 'run-b', 'run-a']);
  });

  it('says so when there are no runs, and when the filters hide them all', () => {
    const { unmount } = render(<Harness runs={[]} table={null} />);
    expect(screen.getByText('No runs yet.')).toBeTruthy();
    expect(screen.getByTestId('runs-count').textContent).toBe('0 runs · 0 selected');
    unmount();
    render(<Harness initialView={{ search: 'nothing like this' }} />);
    expect(screen.getByText('No run matches the filters.')).toBeTruthy();
    expect(screen.getByTestId('runs-count').textContent).toBe('0 of 3 runs · 0 selected');
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
    expect(screen.getByTestId('runs-count').textContent).toBe('3 runs · 1 selected');
    expect(screen.getByTestId('run-run-a').className).toBe('selected');
    expect(disabled()).toEqual([false, false, false, false]);
    fireEvent.click(screen.getByLabelText('select run run-c'));
    expect(disabled()).toEqual([false, true, true, false]);
    fireEvent.click(button('Compare'));
    expect(onCompare).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByLabelText('select run run-a'));
    expect(screen.getByTestId('run-run-a').className).toBe('');
    fireEvent.click(button('Re-run'));
    expect(onRerun).toHaveBeenCalledTimes(1);
  });

  it('opens a run on double-click, but not from inside an editor', () => {
    const onOpen = vi.fn();
    render(<Harness onOpen={onOpen} />);
    fireEvent.doubleClick(screen.getByTestId('run-run-b'));
    expect(onOpen).toHaveBeenCalledWith('run-b');
    fireEvent.click(screen.getByTestId('name-run-b'));
    fireEvent.doubleClick(screen.getByTestId('name-run-b-input'));
    fireEvent.doubleClick(screen.getByTestId('tag-run-a-vae'));
    expect(onOpen).toHaveBeenCalledTimes(1);
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

  it('pins one run as the baseline and unpins it', () => {
    const onBaseline = vi.fn();
    render(<Harness onBaseline={onBaseline} />);
    const pin = screen.getByTestId('pin-run-b');
    expect(pin.getAttribute('aria-pressed')).toBe('false');
    fireEvent.click(pin);
    expect(onBaseline).toHaveBeenLastCalledWith('run-b');
    expect(screen.getByTestId('pin-run-b').getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('pin-run-b').textContent).toBe('★');
    expect(screen.getByTestId('pin-run-a').textContent).toBe('☆');
    expect(button('Compare').getAttribute('title')).toMatch(/against the pinned baseline/);
    fireEvent.click(screen.getByTestId('pin-run-b'));
    expect(onBaseline).toHaveBeenLastCalledWith(null);
  });
});

describe('runs table: editing', () => {
  it('renames on Enter, keeps the name on Escape, and saves nothing unchanged', () => {
    const onAnnotate = vi.fn();
    render(<Harness onAnnotate={onAnnotate} />);
    fireEvent.click(screen.getByTestId('name-run-a'));
    const input = screen.getByTestId<HTMLInputElement>('name-run-a-input');
    expect(input.value).toBe('alpha');
    fireEvent.change(input, { target: { value: 'alpha lr 1e-3' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onAnnotate).toHaveBeenCalledWith('run-a', { name: 'alpha lr 1e-3' });
    expect(screen.getByTestId('name-run-a').textContent).toBe('alpha lr 1e-3');

    fireEvent.click(screen.getByTestId('name-run-a'));
    fireEvent.change(screen.getByTestId('name-run-a-input'), { target: { value: 'oops' } });
    fireEvent.keyDown(screen.getByTestId('name-run-a-input'), { key: 'Escape' });
    expect(screen.getByTestId('name-run-a').textContent).toBe('alpha lr 1e-3');
    // Leaving the field unchanged saves nothing.
    fireEvent.click(screen.getByTestId('name-run-a'));
    fireEvent.blur(screen.getByTestId('name-run-a-input'));
    expect(onAnnotate).toHaveBeenCalledTimes(1);
  });

  it('writes notes, saving when the field is left', () => {
    const onAnnotate = vi.fn();
    render(<Harness onAnnotate={onAnnotate} />);
    fireEvent.click(screen.getByTestId('notes-run-a'));
    fireEvent.change(screen.getByTestId('notes-run-a-input'), {
      target: { value: 'best so far' },
    });
    fireEvent.blur(screen.getByTestId('notes-run-a-input'));
    expect(onAnnotate).toHaveBeenCalledWith('run-a', { notes: 'best so far' });
    expect(screen.getByTestId('notes-run-a').textContent).toBe('best so far');
  });

  it('adds tags (commas or blanks between, no duplicates) and removes one', () => {
    const onAnnotate = vi.fn();
    render(<Harness onAnnotate={onAnnotate} />);
    fireEvent.click(screen.getByTestId('add-tag-run-a'));
    const input = screen.getByTestId('add-tag-run-a-input');
    fireEvent.change(input, { target: { value: 'lr:1e-3, vae  keep' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onAnnotate).toHaveBeenLastCalledWith('run-a', { tags: ['vae', 'lr:1e-3', 'keep'] });
    fireEvent.click(screen.getByLabelText('remove tag vae from run run-a'));
    expect(onAnnotate).toHaveBeenLastCalledWith('run-a', { tags: ['lr:1e-3', 'keep'] });
    expect(within(screen.getByTestId('run-run-a')).queryByText('vae')).toBeNull();
  });
});

describe('runs table: filters and search', () => {
  it('filters by status, tag (the select or a chip) and text; clears them in one go', () => {
    render(<Harness />);
    fireEvent.change(screen.getByTestId('runs-status'), { target: { value: 'failed' } });
    expect(order()).toEqual(['run-b']);
    fireEvent.change(screen.getByTestId('runs-status'), { target: { value: '' } });

    // The tag select lists tags by use: vae (2 runs), then small.
    const options = [...screen.getByTestId('runs-tag').querySelectorAll('option')].map(
      (o) => o.textContent,
    );
    expect(options).toEqual(['any tag', 'vae', 'small']);
    fireEvent.change(screen.getByTestId('runs-tag'), { target: { value: 'vae' } });
    expect(order()).toEqual(['run-c', 'run-a']);
    expect(screen.getByTestId('runs-count').textContent).toBe('2 of 3 runs · 0 selected');
    // A chip toggles the tag filter.
    fireEvent.click(screen.getByTestId('tag-run-c-small'));
    expect(order()).toEqual(['run-c']);
    fireEvent.click(screen.getByTestId('tag-run-c-small'));
    expect(order()).toEqual(['run-c', 'run-b', 'run-a']);

    // Text: every word must match the name, id, tags or notes (case-insensitive).
    fireEvent.change(screen.getByTestId('runs-search'), { target: { value: 'MEMORY' } });
    expect(order()).toEqual(['run-b']);
    fireEvent.change(screen.getByTestId('runs-search'), { target: { value: 'vae gam' } });
    expect(order()).toEqual(['run-c']);
    fireEvent.click(screen.getByTestId('runs-clear-filters'));
    expect(order()).toEqual(['run-c', 'run-b', 'run-a']);
    expect(screen.queryByTestId('runs-clear-filters')).toBeNull();
  });

  it('keeps runs whose accuracy lies in a range (percent, at the shown epoch)', () => {
    render(<Harness />);
    fireEvent.change(screen.getByTestId('runs-range-metric'), {
      target: { value: 'seen/d2nwg' },
    });
    // A run without the metric drops out as soon as a metric range is chosen.
    expect(order()).toEqual(['run-c', 'run-a']);
    fireEvent.change(screen.getByTestId('runs-range-min'), { target: { value: '70' } });
    expect(order()).toEqual(['run-a']);
    fireEvent.change(screen.getByTestId('runs-range-min'), { target: { value: '' } });
    fireEvent.change(screen.getByTestId('runs-range-max'), { target: { value: '61' } });
    expect(order()).toEqual(['run-c']);
  });
});

describe('runs table: columns and sorting', () => {
  it('sorts by a header, flipping on the second click', () => {
    render(<Harness />);
    fireEvent.click(screen.getByTestId('sort-name'));
    // Case-insensitive: alpha, Beta, gamma.
    expect(order()).toEqual(['run-a', 'run-b', 'run-c']);
    expect(screen.getByTestId('sort-name').closest('th')?.getAttribute('aria-sort')).toBe(
      'ascending',
    );
    fireEvent.click(screen.getByTestId('sort-name'));
    expect(order()).toEqual(['run-c', 'run-b', 'run-a']);
    fireEvent.click(screen.getByTestId('sort-seed'));
    expect(order()).toEqual(['run-c', 'run-a', 'run-b']);
    // Runs without a duration (still running) go last either way.
    fireEvent.click(screen.getByTestId('sort-duration'));
    expect(order()).toEqual(['run-b', 'run-a', 'run-c']);
    fireEvent.click(screen.getByTestId('sort-duration'));
    expect(order()).toEqual(['run-a', 'run-b', 'run-c']);
  });

  it('adds picked config fields and metrics as columns, sortable, at a chosen epoch', () => {
    render(<Harness />);
    fireEvent.click(screen.getByTestId('runs-columns'));
    const picker = within(screen.getByTestId('runs-picker'));
    expect(picker.getAllByRole('checkbox').map((c) => c.getAttribute('data-testid'))).toEqual([
      'pick-field-data.name',
      'pick-field-tasks.k',
      'pick-field-vae.epochs',
      'pick-metric-seen/d2nwg',
    ]);
    // The field filter narrows the list.
    fireEvent.change(picker.getByLabelText('filter config fields'), { target: { value: 'EPO' } });
    expect(picker.queryByTestId('pick-field-tasks.k')).toBeNull();
    fireEvent.click(picker.getByTestId('pick-field-vae.epochs'));
    fireEvent.change(picker.getByLabelText('filter config fields'), { target: { value: '' } });
    fireEvent.click(picker.getByTestId('pick-field-tasks.k'));
    fireEvent.click(picker.getByTestId('pick-metric-seen/d2nwg'));

    const heads = screen.getAllByRole('columnheader').map((th) => th.textContent);
    expect(heads.slice(-4)).toEqual(['vae.epochs', 'tasks.k', 'seen/d2nwg @5 (%)', 'Notes']);
    expect(cellOf('run-c', 'field:tasks.k').textContent).toBe('7');
    expect(cellOf('run-a', 'metric:seen/d2nwg').textContent).toBe('83.0 ± 6.0');
    expect(cellOf('run-b', 'metric:seen/d2nwg').textContent).toBe('—');

    fireEvent.click(screen.getByTestId('sort-field:tasks.k'));
    expect(order()).toEqual(['run-a', 'run-c', 'run-b']);
    // By accuracy, best first; the run without one last.
    fireEvent.click(screen.getByTestId('sort-metric:seen/d2nwg'));
    fireEvent.click(screen.getByTestId('sort-metric:seen/d2nwg'));
    expect(order()).toEqual(['run-a', 'run-c', 'run-b']);

    // Another epoch: the header and the cells follow.
    fireEvent.change(screen.getByTestId('pick-epoch'), { target: { value: '0' } });
    expect(screen.getByTestId('sort-metric:seen/d2nwg').textContent).toBe('seen/d2nwg @0 (%)▼');
    expect(cellOf('run-c', 'metric:seen/d2nwg').textContent).toBe('40.0 ± 10.0');

    // Unticking removes the column.
    fireEvent.click(screen.getByTestId('pick-field-vae.epochs'));
    expect(screen.queryByTestId('sort-field:vae.epochs')).toBeNull();
  });
});
