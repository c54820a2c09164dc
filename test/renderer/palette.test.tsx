// The palette: every registered node type grouped by category, search, click and drag to add.
import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { DRAG_MIME } from '../../src/renderer/src/canvas/Canvas.tsx';
import { Palette } from '../../src/renderer/src/panels/Palette.tsx';
import { NODE_CATEGORIES } from '../../src/shared/nodes/spec.ts';
import { SPECS } from '../helpers/specs.ts';

const headings = () => screen.queryAllByRole('heading').map((h) => h.textContent);
const search = (text: string) =>
  fireEvent.change(screen.getByLabelText('Search nodes'), { target: { value: text } });

describe('palette', () => {
  it('lists every node type under its category, in category order', () => {
    render(<Palette specs={SPECS} onAdd={vi.fn()} />);
    const used = NODE_CATEGORIES.filter((c) => SPECS.some((s) => s.category === c));
    expect(headings()).toEqual(used);
    for (const s of SPECS) {
      const item = screen.getByTestId(`palette-${s.type}`);
      expect(item.textContent).toBe(s.title);
      expect(item.getAttribute('title')).toBe(s.help);
      // One colour dot per port.
      expect(item.querySelectorAll('i')).toHaveLength(s.inputs.length + s.outputs.length);
    }
    const data = screen.getByRole('heading', { name: 'Data' }).parentElement;
    if (!data) throw new Error('no Data section');
    expect(
      within(data)
        .getAllByRole('button')
        .map((b) => b.dataset.testid),
    ).toEqual(['palette-dataset.source', 'palette-tasks.generate', 'palette-tasks.unseen-dataset']);
  });

  it('adds the clicked node type', () => {
    const onAdd = vi.fn();
    render(<Palette specs={SPECS} onAdd={onAdd} />);
    fireEvent.click(screen.getByTestId('palette-model.vae'));
    expect(onAdd).toHaveBeenCalledWith('model.vae');
  });

  it('filters by title, type, category or help text, ignoring case and spaces', () => {
    render(<Palette specs={SPECS} onAdd={vi.fn()} />);
    const shown = () =>
      screen
        .queryAllByRole('button')
        .map((b) => b.dataset.testid?.replace('palette-', ''))
        .sort();
    const expected = (q: string) =>
      SPECS.filter((s) => `${s.title} ${s.type} ${s.category} ${s.help}`.toLowerCase().includes(q))
        .map((s) => s.type)
        .sort();
    for (const q of ['vae', 'sampling', 'safetensors', 'model.']) {
      search(`  ${q.toUpperCase()} `);
      expect(shown()).toEqual(expected(q));
      expect(shown().length).toBeGreaterThan(0);
      expect(shown().length).toBeLessThan(SPECS.length);
    }
    search('model.vae');
    expect(shown()).toEqual(['model.vae']);
    expect(headings()).toEqual(['Model']);

    search('');
    expect(shown()).toHaveLength(SPECS.length);
  });

  it('says when nothing matches', () => {
    render(<Palette specs={SPECS} onAdd={vi.fn()} />);
    search('xyzzy');
    expect(headings()).toEqual([]);
    expect(screen.getByText('No node matches “xyzzy”.')).toBeTruthy();
  });

  it('carries the node type in a drag', () => {
    render(<Palette specs={SPECS} onAdd={vi.fn()} />);
    const data = new Map<string, string>();
    const dataTransfer = { setData: (k: string, v: string) => data.set(k, v) };
    fireEvent.dragStart(screen.getByTestId('palette-tasks.generate'), { dataTransfer });
    expect([...data]).toEqual([[DRAG_MIME, 'tasks.generate']]);
  });
});
