// Keyboard shortcuts: which key press means which command, and which are left to a text field.
import { render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import {
  shortcutOf,
  useShortcuts,
  type KeyPress,
} from '../../src/renderer/src/features/shortcuts/shortcuts.ts';

const press = (key: string, over: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrlKey: true,
  metaKey: false,
  shiftKey: false,
  typing: false,
  ...over,
});

describe('shortcuts', () => {
  it('maps Ctrl (or Cmd) combinations to commands', () => {
    expect(shortcutOf(press('s'))).toBe('save');
    expect(shortcutOf(press('S', { shiftKey: true }))).toBe('saveAs');
    expect(shortcutOf(press('Enter'))).toBe('run');
    expect(shortcutOf(press('z'))).toBe('undo');
    expect(shortcutOf(press('Z', { shiftKey: true }))).toBe('redo');
    expect(shortcutOf(press('y'))).toBe('redo');
    expect(shortcutOf(press('c', { ctrlKey: false, metaKey: true }))).toBe('copy');
    expect(shortcutOf(press('v'))).toBe('paste');
  });

  it('ignores keys without a modifier and unbound combinations', () => {
    expect(shortcutOf(press('s', { ctrlKey: false }))).toBeNull();
    expect(shortcutOf(press('z', { ctrlKey: false }))).toBeNull();
    expect(shortcutOf(press('k'))).toBeNull();
  });

  it('leaves undo, redo, copy and paste to the field being typed in, but saves and runs', () => {
    for (const key of ['z', 'y', 'c', 'v'])
      expect(shortcutOf(press(key, { typing: true }))).toBeNull();
    expect(shortcutOf(press('s', { typing: true }))).toBe('save');
    expect(shortcutOf(press('Enter', { typing: true }))).toBe('run');
  });
});

describe('shortcut listener', () => {
  const handlers = () => ({
    save: vi.fn(),
    saveAs: vi.fn(),
    run: vi.fn(),
    undo: vi.fn(),
    redo: vi.fn(),
    copy: vi.fn(),
    paste: vi.fn(),
  });
  function Keys(props: { handlers: Parameters<typeof useShortcuts>[0] }) {
    useShortcuts(props.handlers);
    return <input aria-label="name" />;
  }
  const key = (target: Element | Window, key: string, init: KeyboardEventInit = {}) => {
    const e = new KeyboardEvent('keydown', {
      key,
      ctrlKey: true,
      bubbles: true,
      cancelable: true,
      ...init,
    });
    target.dispatchEvent(e);
    return e;
  };

  it('calls the handler of a shortcut and keeps the browser default only for copy and paste', () => {
    const h = handlers();
    render(<Keys handlers={h} />);
    expect(key(window, 's').defaultPrevented).toBe(true);
    expect(key(window, 'z', { shiftKey: true }).defaultPrevented).toBe(true);
    expect(key(window, 'c').defaultPrevented).toBe(false);
    expect(h.save).toHaveBeenCalledTimes(1);
    expect(h.redo).toHaveBeenCalledTimes(1);
    expect(h.copy).toHaveBeenCalledTimes(1);
    expect(h.undo).not.toHaveBeenCalled();
  });

  it('leaves undo to a text field, and calls the latest handlers after a re-render', () => {
    const first = handlers();
    const { rerender } = render(<Keys handlers={first} />);
    const input = screen.getByLabelText('name');
    expect(key(input, 'z').defaultPrevented).toBe(false);
    expect(first.undo).not.toHaveBeenCalled();

    const second = handlers();
    rerender(<Keys handlers={second} />);
    key(input, 'Enter');
    expect(second.run).toHaveBeenCalledTimes(1);
    expect(first.run).not.toHaveBeenCalled();
  });

  it('stops listening when unmounted', () => {
    const h = handlers();
    const { unmount } = render(<Keys handlers={h} />);
    unmount();
    key(window, 's');
    expect(h.save).not.toHaveBeenCalled();
  });
});
