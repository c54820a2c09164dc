// The first screen leads with the quickstart; an empty canvas offers it too.
import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { EmptyCanvas, FirstRun } from '../../src/renderer/src/panels/FirstRun.tsx';
import type { ExampleInfo } from '../../src/shared/ipc.ts';

const EXAMPLES: readonly ExampleInfo[] = [
  { name: 'in-distribution', title: 'in-distribution', description: 'Table 1.' },
  { name: 'quickstart', title: 'quickstart', description: 'The whole method, in a minute.' },
];

describe('first screen', () => {
  it('puts Open quickstart first and lists the other examples after it', () => {
    const opened: string[] = [];
    render(<FirstRun examples={EXAMPLES} onOpen={(n) => opened.push(n)} onBlank={() => {}} />);
    const buttons = screen.getAllByRole('button').map((b) => b.textContent);
    expect(buttons[0]).toBe('Open quickstart');
    expect(screen.getByLabelText('Quickstart').textContent).toContain(
      'The whole method, in a minute.',
    );
    // The quickstart is not repeated among the other cards.
    expect(screen.queryByTestId('example-quickstart')).toBeNull();
    expect(screen.getByTestId('example-in-distribution')).toBeTruthy();
    fireEvent.click(screen.getByTestId('open-quickstart'));
    fireEvent.click(screen.getByTestId('example-in-distribution'));
    expect(opened).toEqual(['quickstart', 'in-distribution']);
  });

  it('falls back to the example cards when there is no quickstart', () => {
    render(<FirstRun examples={EXAMPLES.slice(0, 1)} onOpen={() => {}} onBlank={() => {}} />);
    expect(screen.queryByTestId('open-quickstart')).toBeNull();
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Start from');
    expect(screen.getByTestId('example-in-distribution')).toBeTruthy();
  });

  it('offers the quickstart over an empty canvas', () => {
    const opened: string[] = [];
    const { unmount } = render(<EmptyCanvas examples={EXAMPLES} onOpen={(n) => opened.push(n)} />);
    fireEvent.click(screen.getByTestId('empty-open-quickstart'));
    expect(opened).toEqual(['quickstart']);
    unmount();
    render(<EmptyCanvas examples={[]} onOpen={() => {}} />);
    expect(screen.getByTestId('canvas-empty').textContent).toBe(
      'This pipeline is empty. Drag nodes here from the palette.',
    );
  });
});
