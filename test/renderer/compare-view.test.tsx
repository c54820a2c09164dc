// The comparison view: config diff against the baseline, the metrics table from the metric
// series, seed repeats folded into mean ± std, and the CSV and JSON exports read back.
import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { MetricSeries, NodeSpecInfo, RunDetail } from '../../src/shared/ipc.ts';
import { SpecsContext } from '../../src/renderer/src/lib/context.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';
import { ComparePanel, CompareView } from '../../src/renderer/src/features/compare/CompareView.tsx';
import { csvField, runDiff } from '../../src/renderer/src/features/compare/compare-data.ts';

/** A two-node pipeline: dataset → VAE, the VAE's config as given. */
function pipeline(vae: Record<string, unknown>, extra: Pipeline['nodes'] = []): Pipeline {
  return {
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'quickstart',
    nodes: [
      {
        id: 'data',
        type: 'dataset.source',
        version: 1,
        config: { name: 'toy', n: 100 },
        position: { x: 0, y: 0 },
      },
      {
        id: 'vae',
        type: 'model.vae',
        version: 1,
        title: 'Weight VAE',
        config: vae,
        position: { x: 300, y: 0 },
      },
      ...extra,
    ],
    edges: [{ id: 'e1', source: 'data', sourcePort: 'dataset', target: 'vae', targetPort: 'zoo' }],
  };
}

function run(
  id: string,
  seed: number,
  vae: Record<string, unknown>,
  over: Partial<RunDetail> = {},
): RunDetail {
  return {
    id,
    name: 'quickstart',
    tags: [],
    notes: '',
    status: 'done',
    seed,
    backend: 'wasm',
    startedAt: '2026-01-02T03:04:05.000Z',
    durationMs: 1000,
    pipeline: pipeline(vae),
    nodes: [],
    artifacts: [],
    ...over,
  };
}

const VAE = { epochs: 30, lr: 0.001, hidden: [64, 32], beta: { start: 0, end: 1 } };

/** Accuracy of one run: d2nwg and randinit on the seen split at epochs 0/1/5, with stds. */
function accuracy(runId: string, d2nwg: number[], randinit: number[]): MetricSeries[] {
  const s = (key: string, values: number[]): MetricSeries => ({
    runId,
    nodeId: 'cmp',
    key,
    steps: [0, 1, 5],
    values,
  });
  return [
    s('accuracy/seen/d2nwg', d2nwg),
    s('accuracy_std/seen/d2nwg', [0.06, 0.05, 0.03]),
    s('accuracy/seen/randinit', randinit),
    // A loss series is not an accuracy column.
    { runId, nodeId: 'vae', key: 'loss', steps: [1, 2], values: [1, 0.5] },
  ];
}

/** RFC 4180 CSV → rows of fields (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

const noop = () => undefined;

describe('config diff', () => {
  it('lists the swept field and the seed, not the fields that stayed the same', () => {
    const base = run('run-aaaaaa', 1, VAE);
    const swept = run('run-bbbbbb', 2, { ...VAE, epochs: 60, beta: { start: 0, end: 2 } });
    render(<CompareView runs={[base, swept]} series={[]} baselineId={null} onBaseline={noop} />);
    const rows = screen.getAllByTestId('compare-diff-row');
    expect(rows.map((r) => r.getAttribute('data-field'))).toEqual([
      'vae.beta.end',
      'vae.epochs',
      'seed',
    ]);
    const epochs = within(rows[1])
      .getAllByRole('cell')
      .map((c) => c.textContent);
    expect(epochs).toEqual(['Weight VAE vae', 'epochs', '30', '60']);
    // Unchanged fields (lr, hidden, beta.start, the dataset node) do not appear.
    const diff = screen.getByTestId('compare-diff').textContent ?? '';
    for (const same of ['lr', 'hidden', 'beta.start', 'dataset.source']) {
      expect(diff).not.toContain(same);
    }
  });

  it('counts a config key a run leaves out at its spec default', () => {
    const base = run('run-a', 1, {});
    const other = run('run-b', 1, { epochs: 60 });
    const spec = { type: 'model.vae', defaults: VAE } as unknown as NodeSpecInfo;
    render(
      <SpecsContext.Provider value={new Map([['model.vae', spec]])}>
        <CompareView runs={[base, other]} series={[]} baselineId={null} onBaseline={noop} />
      </SpecsContext.Provider>,
    );
    const rows = screen.getAllByTestId('compare-diff-row');
    expect(
      rows.map((r) =>
        within(r)
          .getAllByRole('cell')
          .map((c) => c.textContent),
      ),
    ).toEqual([['Weight VAE vae', 'epochs', '30', '60']]);
  });

  it('names nodes added and removed, and a changed backend', () => {
    const base = run('run-a', 1, VAE);
    const other: RunDetail = {
      ...run('run-b', 1, VAE, { backend: 'webgpu' }),
      pipeline: pipeline(VAE, [
        { id: 'eval', type: 'eval.finetune', version: 1, config: {}, position: { x: 0, y: 0 } },
      ]),
    };
    other.pipeline.nodes.splice(0, 1);
    expect(runDiff(base, other)).toEqual([
      { nodeId: 'data', node: 'dataset.source', path: '', kind: 'removed', base: 'dataset.source' },
      { nodeId: 'eval', node: 'eval.finetune', path: '', kind: 'added', value: 'eval.finetune' },
      {
        nodeId: '',
        node: 'run',
        path: 'backend',
        kind: 'changed',
        base: 'wasm',
        value: 'webgpu',
      },
    ]);
  });

  it('diffs against the pinned baseline, and offers every run as baseline', () => {
    const a = run('run-a', 1, VAE);
    const b = run('run-b', 1, { ...VAE, lr: 0.01 });
    const picked: string[] = [];
    render(
      <CompareView
        runs={[a, b]}
        series={[]}
        baselineId="run-b"
        onBaseline={(id) => picked.push(id)}
      />,
    );
    const row = screen.getByTestId('compare-diff-row');
    expect(
      within(row)
        .getAllByRole('cell')
        .map((c) => c.textContent),
    ).toEqual(['Weight VAE vae', 'lr', '0.01', '0.001']);
    fireEvent.change(screen.getByTestId('compare-baseline'), { target: { value: 'run-a' } });
    expect(picked).toEqual(['run-a']);
  });
});

describe('metrics table', () => {
  const runs = [run('run-aaaaaa', 1, VAE), run('run-bbbbbb', 1, { ...VAE, epochs: 60 })];
  const series = [
    ...accuracy('run-aaaaaa', [0.7, 0.8, 0.86], [0.1, 0.55, 0.78]),
    ...accuracy('run-bbbbbb', [0.72, 0.81, 0.9], [0.1, 0.5, 0.7]),
  ];

  it('has a row per run with mean ± std over tasks at the last epoch, and the swept field', () => {
    render(<CompareView runs={runs} series={series} baselineId={null} onBaseline={noop} />);
    const table = screen.getByTestId('compare-metrics');
    expect(
      within(table)
        .getAllByRole('columnheader')
        .map((c) => c.textContent),
    ).toEqual(['Run', 'Seed', 'vae.epochs', 'seen/d2nwg', 'seen/randinit']);
    const rows = screen.getAllByTestId('compare-metrics-row');
    expect(
      rows.map((r) =>
        within(r)
          .getAllByRole('cell')
          .map((c) => c.textContent),
      ),
    ).toEqual([
      ['quickstart (aaaaaa) baseline', '1', '30', '86.0 ± 3.0', '78.0'],
      ['quickstart (bbbbbb)', '1', '60', '90.0 ± 3.0', '70.0'],
    ]);
    expect(screen.queryByTestId('compare-aggregate-row')).toBeNull();
  });

  it('shows another fine-tuning epoch and hides unticked metric columns', () => {
    render(<CompareView runs={runs} series={series} baselineId={null} onBaseline={noop} />);
    fireEvent.change(screen.getByTestId('compare-epoch'), { target: { value: '0' } });
    fireEvent.click(screen.getByRole('checkbox', { name: 'seen/randinit' }));
    const rows = screen.getAllByTestId('compare-metrics-row');
    expect(
      rows.map((r) =>
        within(r)
          .getAllByRole('cell')
          .map((c) => c.textContent),
      ),
    ).toEqual([
      ['quickstart (aaaaaa) baseline', '1', '30', '70.0 ± 6.0'],
      ['quickstart (bbbbbb)', '1', '60', '72.0 ± 6.0'],
    ]);
  });
});

describe('parallel coordinates', () => {
  it('draws an axis per differing field and metric, a line per run, and brushes', () => {
    const runs = [run('run-a', 1, VAE), run('run-b', 1, { ...VAE, epochs: 60 })];
    const series = [
      ...accuracy('run-a', [0.7, 0.8, 0.86], [0.1, 0.55, 0.78]),
      ...accuracy('run-b', [0.72, 0.81, 0.9], [0.1, 0.5, 0.7]),
    ];
    render(<CompareView runs={runs} series={series} baselineId={null} onBaseline={noop} />);
    const plot = screen.getByTestId('compare-parcoords');
    expect(Array.from(plot.querySelectorAll('.pc-label'), (t) => t.textContent)).toEqual([
      'vae.epochs',
      'seen/d2nwg @5 (%)',
      'seen/randinit @5 (%)',
    ]);
    expect(plot.querySelectorAll('polyline')).toHaveLength(2);
    // happy-dom lays nothing out: give the SVG its viewBox size on screen (1000 × 300 px).
    const svg = plot.querySelector('svg');
    if (!svg) throw new Error('no svg');
    svg.getBoundingClientRect = () => new DOMRect(0, 0, 1000, 300);
    // A drag on the epochs axis from its top to y = 100: epochs ≈ 53.5 and up, so 60 not 30.
    const grip = screen.getByTestId('compare-parcoords-axis-0');
    fireEvent.pointerDown(grip, { clientY: 40, pointerId: 1 });
    fireEvent.pointerMove(grip, { clientY: 100, pointerId: 1 });
    fireEvent.pointerUp(grip, { pointerId: 1 });
    expect(screen.getByTestId('compare-parcoords-count').textContent).toBe(
      '1 of 2 runs in the brush · click an axis to clear',
    );
    expect(
      Array.from(plot.querySelectorAll('polyline:not(.pc-out)'), (l) => l.getAttribute('data-run')),
    ).toEqual(['run-b']);
    // A click without a drag clears the brush.
    fireEvent.pointerDown(grip, { clientY: 200, pointerId: 1 });
    fireEvent.pointerUp(grip, { pointerId: 1 });
    expect(plot.querySelectorAll('.pc-out')).toHaveLength(0);
  });
});

describe('seed repeats', () => {
  it('fold into one mean ± std row across the runs that share a config', () => {
    // Two seeds of one config (positions and names differ, which is not config), one other.
    const a = run('run-s1', 1, VAE);
    const b = run('run-s2', 2, VAE, { name: 'renamed' });
    b.pipeline.nodes[0].position = { x: 50, y: 50 };
    const c = run('run-other', 1, { ...VAE, epochs: 5 });
    const series = [
      ...accuracy('run-s1', [0.6, 0.7, 0.8], [0.1, 0.2, 0.3]),
      ...accuracy('run-s2', [0.6, 0.7, 0.9], [0.1, 0.2, 0.5]),
      ...accuracy('run-other', [0.5, 0.5, 0.5], [0.1, 0.1, 0.1]),
    ];
    render(<CompareView runs={[a, b, c]} series={series} baselineId={null} onBaseline={noop} />);
    const agg = screen.getAllByTestId('compare-aggregate-row');
    expect(agg).toHaveLength(1);
    expect(agg[0].getAttribute('data-run')).toBe('run-s1 run-s2');
    // d2nwg at epoch 5: 0.8 and 0.9 → 85.0 ± 5.0; randinit 0.3 and 0.5 → 40.0 ± 10.0.
    expect(
      within(agg[0])
        .getAllByRole('cell')
        .map((cell) => cell.textContent),
    ).toEqual(['quickstart: mean of 2 seeds', '1, 2', '30', '85.0 ± 5.0', '40.0 ± 10.0']);
    // It follows the last of its runs; the other config stays a run row.
    const order = Array.from(
      screen.getByTestId('compare-metrics').querySelectorAll('tbody tr'),
      (r) => r.getAttribute('data-run'),
    );
    expect(order).toEqual(['run-s1', 'run-s2', 'run-s1 run-s2', 'run-other']);
  });
});

describe('export', () => {
  it('writes the table as quoted CSV and as JSON that parse back to the shown values', () => {
    const a = run('run-aaaaaa', 1, VAE, { name: 'quick, "start"' });
    const b = run('run-bbbbbb', 2, { ...VAE, hidden: [128, 64] }, { name: 'quick, "start"' });
    const series = [
      ...accuracy('run-aaaaaa', [0.7, 0.8, 0.86], [0.1, 0.55, 0.78]),
      ...accuracy('run-bbbbbb', [0.72, 0.81, 0.9], [0.1, 0.5, 0.7]),
    ];
    const saved: { text: string; file: string; type: string }[] = [];
    render(
      <CompareView
        runs={[a, b]}
        series={series}
        baselineId={null}
        onBaseline={noop}
        save={(text, file, type) => saved.push({ text, file, type })}
      />,
    );
    fireEvent.click(screen.getByTestId('compare-csv'));
    fireEvent.click(screen.getByTestId('compare-json'));
    expect(saved.map((s) => [s.file, s.type])).toEqual([
      ['comparison-aaaaaa-epoch5.csv', 'text/csv'],
      ['comparison-aaaaaa-epoch5.json', 'application/json'],
    ]);
    const rows = parseCsv(saved[0].text);
    expect(rows).toEqual([
      [
        'row',
        'label',
        'runs',
        'seeds',
        'backend',
        'vae.hidden',
        'seen/d2nwg@5 mean',
        'seen/d2nwg@5 std',
        'seen/randinit@5 mean',
        'seen/randinit@5 std',
      ],
      [
        'run',
        'quick, "start" (aaaaaa)',
        'run-aaaaaa',
        '1',
        'wasm',
        '[64,32]',
        '0.86',
        '0.03',
        '0.78',
        '',
      ],
      [
        'run',
        'quick, "start" (bbbbbb)',
        'run-bbbbbb',
        '2',
        'wasm',
        '[128,64]',
        '0.9',
        '0.03',
        '0.7',
        '',
      ],
    ]);
    const json = JSON.parse(saved[1].text) as {
      epoch: number;
      rows: { label: string; config: Record<string, unknown>; metrics: Record<string, unknown> }[];
    };
    expect(json.epoch).toBe(5);
    expect(json.rows[1]).toMatchObject({
      label: 'quick, "start" (bbbbbb)',
      config: { 'vae.hidden': [128, 64] },
      seeds: [2],
      metrics: {
        'seen/d2nwg': { mean: 0.9, std: 0.03 },
        'seen/randinit': { mean: 0.7, std: null },
      },
    });
  });

  it('quotes only the fields that need it', () => {
    expect(['plain', 'a,b', 'say "hi"', 'two\nlines'].map(csvField)).toEqual([
      'plain',
      '"a,b"',
      '"say ""hi"""',
      '"two\nlines"',
    ]);
  });
});

describe('comparison panel', () => {
  const compare = (ids: string[]) => ({
    runs: ids.map((id) => run(id, 1, VAE)),
    series: [],
    latents: [],
  });

  it('asks to compare first, then loads the compared runs and shows their diff', async () => {
    const asked: (readonly string[])[] = [];
    const details = (ids: readonly string[]) => {
      asked.push(ids);
      return Promise.resolve([run('run-a', 1, VAE), run('run-b', 1, { ...VAE, lr: 0.5 })]);
    };
    const { rerender } = render(
      <ComparePanel compare={null} baselineId={null} onBaseline={noop} details={details} />,
    );
    expect(screen.getByTestId('compare-empty')).toBeTruthy();
    rerender(
      <ComparePanel
        compare={compare(['run-a', 'run-b'])}
        baselineId={null}
        onBaseline={noop}
        details={details}
      />,
    );
    const row = await screen.findByTestId('compare-diff-row');
    expect(row.getAttribute('data-field')).toBe('vae.lr');
    expect(asked).toEqual([['run-a', 'run-b']]);
  });

  it('says which run could not be loaded', async () => {
    render(
      <ComparePanel
        compare={compare(['run-gone'])}
        baselineId={null}
        onBaseline={noop}
        details={() => Promise.reject(new Error("no run 'run-gone'"))}
      />,
    );
    expect((await screen.findByRole('alert')).textContent).toBe(
      "Could not load the runs: no run 'run-gone'",
    );
  });
});
