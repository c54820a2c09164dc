// The bottom panel's height: dragged on its top edge or moved with the arrow keys, clamped to
// the window, remembered in localStorage.
import { act, fireEvent, render, screen } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  BOTTOM_KEY,
  clampBottom,
  compareHeight,
  DEFAULT_BOTTOM_PX,
  KEY_STEP_PX,
  MIN_ABOVE_PX,
  MIN_BOTTOM_PX,
  readBottom,
  useBottomSize,
} from '../../src/renderer/src/features/bottom-panel/panel-size.ts';
import { ResizeHandle } from '../../src/renderer/src/features/bottom-panel/ResizeHandle.tsx';

function Harness() {
  const { height, resize } = useBottomSize();
  return (
    <div data-testid="panel" style={{ height }}>
      <ResizeHandle height={height} onResize={resize} />
    </div>
  );
}

const shown = () => Number(screen.getByTestId('bottom-resize').getAttribute('aria-valuenow'));

describe('bottom panel size', () => {
  beforeEach(() => {
    window.localStorage.clear();
    window.innerHeight = 900;
  });

  it('clamps to a usable range and reads only sane stored values', () => {
    expect(clampBottom(10, 900)).toBe(MIN_BOTTOM_PX);
    expect(clampBottom(5000, 900)).toBe(900 - MIN_ABOVE_PX);
    expect(clampBottom(400.4, 900)).toBe(400);
    expect(readBottom(undefined)).toBe(DEFAULT_BOTTOM_PX);
    expect(readBottom({ getItem: () => 'garbage' })).toBe(DEFAULT_BOTTOM_PX);
    expect(readBottom({ getItem: () => '450' })).toBe(450);
  });

  it('gives the Comparison tab at least 60 % of the window, keeping a taller panel', () => {
    expect(compareHeight(320, 900)).toBe(540);
    expect(compareHeight(600, 900)).toBe(600);
    // A short window: never more than leaves room for the toolbar and canvas.
    expect(compareHeight(150, 400)).toBe(clampBottom(240, 400));
  });

  it('follows a drag of its top edge and remembers the height', () => {
    const { unmount } = render(<Harness />);
    expect(shown()).toBe(DEFAULT_BOTTOM_PX);
    const handle = screen.getByTestId('bottom-resize');
    fireEvent.pointerDown(handle, { clientY: 500, pointerId: 1 });
    fireEvent.pointerMove(handle, { clientY: 400, pointerId: 1 });
    expect(shown()).toBe(DEFAULT_BOTTOM_PX + 100);
    fireEvent.pointerMove(handle, { clientY: 0, pointerId: 1 });
    expect(shown()).toBe(900 - MIN_ABOVE_PX);
    fireEvent.pointerUp(handle, { clientY: 0, pointerId: 1 });
    // Moves after the release do nothing.
    fireEvent.pointerMove(handle, { clientY: 800, pointerId: 1 });
    expect(shown()).toBe(900 - MIN_ABOVE_PX);
    expect(window.localStorage.getItem(BOTTOM_KEY)).toBe(String(900 - MIN_ABOVE_PX));
    unmount();
    render(<Harness />);
    expect(shown()).toBe(900 - MIN_ABOVE_PX);
  });

  it('moves with the arrow keys and shrinks with the window', () => {
    render(<Harness />);
    const handle = screen.getByTestId('bottom-resize');
    fireEvent.keyDown(handle, { key: 'ArrowUp' });
    expect(shown()).toBe(DEFAULT_BOTTOM_PX + KEY_STEP_PX);
    fireEvent.keyDown(handle, { key: 'ArrowDown' });
    fireEvent.keyDown(handle, { key: 'ArrowDown' });
    expect(shown()).toBe(DEFAULT_BOTTOM_PX - KEY_STEP_PX);
    act(() => {
      window.innerHeight = 400;
      window.dispatchEvent(new Event('resize'));
    });
    expect(shown()).toBe(400 - MIN_ABOVE_PX);
  });
});
