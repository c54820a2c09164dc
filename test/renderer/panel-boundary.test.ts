// What a panel's error boundary writes to the log: the component stack's first lines, compact.
import { describe, expect, it } from 'vitest';
import { stackHead } from '../../src/renderer/src/lib/component-stack.ts';

describe('panel error boundary', () => {
  it('logs the first component-stack lines on one line, without source URLs', () => {
    const stack = [
      '',
      '    at CrashProbe (http://127.0.0.1:5173/assets/index.js:71:40157)',
      '    at PanelBody (http://127.0.0.1:5173/assets/index.js:72:1364)',
      '    at div (<anonymous>)',
      '    at Charts (file:///app/out/renderer/index.js:1:2)',
      '    at App (http://127.0.0.1:5173/assets/index.js:9:9)',
    ].join('\n');
    expect(stackHead(stack)).toBe('CrashProbe ← PanelBody ← div ← Charts');
    expect(stackHead(stack, 2)).toBe('CrashProbe ← PanelBody');
    expect(stackHead(undefined)).toBe('');
  });
});
