// The inspector: what it shows for the selected node, and how its generated form edits the config.
import { act, fireEvent, render, screen } from '@testing-library/react';
import { useState, type ReactNode } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { Inspector } from '../../src/renderer/src/inspector/Inspector.tsx';
import {
  ActiveRunContext,
  InheritedContext,
  ProblemsContext,
  SpecsContext,
  runStore,
} from '../../src/renderer/src/lib/context.ts';
import {
  fromPipeline,
  makeNode,
  validate,
  type StudioNode,
} from '../../src/renderer/src/lib/graph.ts';
import type { InheritedInput } from '../../src/shared/nodes/inherit.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';
import quickstartJson from '../../resources/pipelines/quickstart.json';
import { SPECS, specOf } from '../helpers/specs.ts';

// Monaco needs web workers and layout measurement that happy-dom does not have; the browser e2e
// test drives the real editor. Here a plain text area stands in for it, with the same props.
vi.mock('../../src/renderer/src/inspector/MonacoJson.tsx', () => ({
  default: (p: { value: unknown; onSyntaxError: (m: string | null) => void }) => (
    <textarea
      aria-label="config JSON"
      readOnly
      value={JSON.stringify(p.value)}
      onBlur={() => p.onSyntaxError(null)}
    />
  ),
}));

const specMap = new Map(SPECS.map((s) => [s.type, s]));
const tasksNode = (): StudioNode => makeNode(specOf('tasks.generate'), { x: 0, y: 0 }, []);

function Providers(props: {
  children: ReactNode;
  problems?: ReadonlyMap<string, readonly string[]>;
  inherited?: ReadonlyMap<string, ReadonlyMap<string, InheritedInput>>;
  runId?: string | null;
}) {
  return (
    <SpecsContext.Provider value={specMap}>
      <ProblemsContext.Provider value={props.problems ?? new Map()}>
        <InheritedContext.Provider value={props.inherited ?? new Map()}>
          <ActiveRunContext.Provider value={props.runId ?? null}>
            {props.children}
          </ActiveRunContext.Provider>
        </InheritedContext.Provider>
      </ProblemsContext.Provider>
    </SpecsContext.Provider>
  );
}

/** The inspector over one node whose config follows every edit, as the document store does. */
function Editable({ onConfig }: { onConfig: (id: string, config: unknown) => void }) {
  const [node, setNode] = useState(tasksNode);
  return (
    <Inspector
      node={node}
      onConfig={(id, config) => {
        onConfig(id, config);
        setNode((n) => ({ ...n, data: { ...n.data, config } }));
      }}
      syntaxError={null}
      onSyntaxError={vi.fn()}
    />
  );
}

const field = (label: string) => screen.getByLabelText<HTMLInputElement>(label);
const type = (label: string, value: string) =>
  fireEvent.change(field(label), { target: { value } });

describe('inspector', () => {
  it('asks for a selection when no node is selected', () => {
    render(
      <Providers>
        <Inspector node={null} onConfig={vi.fn()} syntaxError={null} onSyntaxError={vi.fn()} />
      </Providers>,
    );
    expect(screen.getByText('Select a node to edit its settings.')).toBeTruthy();
    expect(screen.queryByTestId('config-form')).toBeNull();
  });

  it("shows the node's title, id, help and a form holding its defaults", async () => {
    const spec = specOf('tasks.generate');
    render(
      <Providers>
        <Inspector
          node={tasksNode()}
          onConfig={vi.fn()}
          syntaxError={null}
          onSyntaxError={vi.fn()}
        />
      </Providers>,
    );
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Tasks');
    expect(screen.getByText(`generate-1 · tasks.generate v${spec.version}`)).toBeTruthy();
    expect(screen.getByText(spec.help)).toBeTruthy();
    expect(field('K').value).toBe('5');
    expect(field('N Train').value).toBe('50');
    expect(field('Train Fraction').value).toBe('0.8');
    // The JSON editor shows the same config once its chunk has loaded.
    const json = await screen.findByLabelText<HTMLTextAreaElement>('config JSON');
    expect(JSON.parse(json.value)).toEqual(spec.defaults);
  });

  it('sends each edit as the whole new config, numbers as numbers', () => {
    const onConfig = vi.fn();
    render(
      <Providers>
        <Editable onConfig={onConfig} />
      </Providers>,
    );
    type('K', '7');
    expect(onConfig).toHaveBeenLastCalledWith(
      'generate-1',
      expect.objectContaining({ k: 7, nTrain: 50, trainFraction: 0.8 }),
    );
    type('N Train', '12');
    expect(onConfig).toHaveBeenLastCalledWith(
      'generate-1',
      expect.objectContaining({ k: 7, nTrain: 12 }),
    );
    expect(field('K').value).toBe('7');
    expect(screen.queryByText(/Too small/i)).toBeNull();
  });

  it('edits a keyword-or-number field (shards: "auto" or a count) in one text box', () => {
    const onConfig = vi.fn();
    function VaeEditable() {
      const [node, setNode] = useState(() => makeNode(specOf('model.vae'), { x: 0, y: 0 }, []));
      return (
        <Inspector
          node={node}
          onConfig={(id, config) => {
            onConfig(id, config);
            setNode((n) => ({ ...n, data: { ...n.data, config } }));
          }}
          syntaxError={null}
          onSyntaxError={vi.fn()}
        />
      );
    }
    render(
      <Providers>
        <VaeEditable />
      </Providers>,
    );
    expect(field('Shards').value).toBe('auto');
    expect(field('Shards').title).toBe('auto or a number');
    type('Shards', '2');
    expect(onConfig).toHaveBeenLastCalledWith(
      expect.any(String),
      expect.objectContaining({ shards: 2 }),
    );
    type('Shards', 'auto');
    expect(onConfig).toHaveBeenLastCalledWith(
      expect.any(String),
      expect.objectContaining({ shards: 'auto' }),
    );
  });

  it('keeps an out-of-range or unparsable value as typed and marks the field', () => {
    const onConfig = vi.fn();
    render(
      <Providers>
        <Editable onConfig={onConfig} />
      </Providers>,
    );
    type('K', '1');
    expect(onConfig).toHaveBeenLastCalledWith('generate-1', expect.objectContaining({ k: 1 }));
    expect(field('K').className).toBe('invalid');
    expect(field('K').closest('[data-field="k"]')?.querySelector('.issue')?.textContent).toMatch(
      /2/,
    );

    type('N Train', '4x');
    expect(onConfig).toHaveBeenLastCalledWith(
      'generate-1',
      expect.objectContaining({ nTrain: '4x' }),
    );
    expect(field('N Train').value).toBe('4x');
    expect(field('N Train').className).toBe('invalid');

    type('K', '3');
    expect(field('K').className).toBe('');
  });

  it("lists the node's validation problems and its run error", () => {
    const node = tasksNode();
    act(() => {
      runStore.setRun('run-x', new Map([[node.id, { status: 'error', message: 'out of memory' }]]));
    });
    render(
      <Providers
        problems={new Map([[node.id, ['input “dataset” is not connected']]])}
        runId="run-x"
      >
        <Inspector
          node={node}
          onConfig={vi.fn()}
          syntaxError="Unexpected token"
          onSyntaxError={vi.fn()}
        />
      </Providers>,
    );
    expect(screen.getByRole('alert').textContent).toBe('out of memory');
    expect(screen.getByTestId('node-problems').textContent).toBe(
      'input “dataset” is not connected',
    );
    expect(screen.getByTestId('json-error').textContent).toBe('JSON: Unexpected token');
  });

  it('lists the inputs a node takes from what its main input carries, as satisfied', () => {
    const quickstart = quickstartJson as Pipeline;
    const v = validate(quickstart);
    const encoder = fromPipeline(quickstart).nodes.find((n) => n.id === 'encoder') ?? null;
    render(
      <Providers problems={v.byNode} inherited={v.inherited}>
        <Inspector node={encoder} onConfig={vi.fn()} syntaxError={null} onSyntaxError={vi.fn()} />
      </Providers>,
    );
    expect(v.byNode.get('encoder')).toBeUndefined();
    expect(screen.queryByTestId('node-problems')).toBeNull();
    const items = screen.getByTestId('carried-inputs').querySelectorAll('li');
    expect([...items].map((li) => li.textContent)).toEqual([
      'Zoo: from zoo.zoo, carried by VAE',
      'Features: from features.features, carried by Zoo',
      'Tasks: from tasks.tasks, carried by Features',
    ]);
  });
});
