import { describe, expect, it } from 'vitest';
import { jsonTextDepth, jsonValueDepth } from '../../src/shared/json-depth.ts';

describe('jsonTextDepth', () => {
  it('counts [ and { nesting, ignoring brackets inside strings and escaped quotes', () => {
    expect(jsonTextDepth('1')).toBe(0);
    expect(jsonTextDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonTextDepth('{"a":"[[[[{{{{\\"[[[["}')).toBe(1);
  });

  it('stops past the limit on 100,000 levels without recursion', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(jsonTextDepth(deep, 64)).toBe(65);
    expect(jsonTextDepth(deep)).toBe(100_000);
  });
});

describe('jsonValueDepth', () => {
  it('measures parsed values: scalars 0, {} 1, nested arrays and objects', () => {
    expect(jsonValueDepth(3)).toBe(0);
    expect(jsonValueDepth(null)).toBe(0);
    expect(jsonValueDepth({})).toBe(1);
    expect(jsonValueDepth({ a: [1, { b: [] }] })).toBe(4);
  });

  it('handles a 100,000-level value, a cycle and a doubling DAG without hanging', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jsonValueDepth(deep, 32)).toBe(33);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(jsonValueDepth(cyclic, 32)).toBe(33);
    expect(jsonValueDepth(cyclic)).toBe(Infinity);
    let dag: unknown[] = [];
    for (let i = 0; i < 30; i++) dag = [dag, dag];
    expect(jsonValueDepth(dag)).toBe(Infinity);
  });
});
