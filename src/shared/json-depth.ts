/**
 * Nesting depth of JSON, measured without recursion. Untrusted JSON (request bodies, pipeline
 * files, file headers) can nest tens of thousands of levels in a few hundred KB; `JSON.parse`
 * copes, but anything that walks the result recursively afterwards (JSON.stringify, structured
 * clone, a deep-equal, an error message) overflows the stack. Entry points bound the depth first.
 */

/**
 * Deepest `[` / `{` nesting in JSON text; brackets inside strings do not count. Stops scanning
 * once the depth passes `limit` (and returns that depth), so hostile input costs one pass at most.
 */
export function jsonTextDepth(text: string, limit: number = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Most objects and arrays jsonValueDepth visits before it gives up and answers Infinity. */
export const MAX_JSON_VALUE_NODES = 1_000_000;

/**
 * Deepest array/object nesting of an already parsed value (a scalar is 0, `{}` is 1). Stops once
 * the depth passes `limit`. Shared references (which structured clone can carry but JSON cannot)
 * are walked once per path; a value with more than MAX_JSON_VALUE_NODES objects and arrays on
 * those paths, or a cycle with no finite `limit`, answers Infinity instead of running on.
 */
export function jsonValueDepth(value: unknown, limit: number = Infinity): number {
  if (typeof value !== 'object' || value === null) return 0;
  const stack: [object, number][] = [[value, 1]];
  let max = 0;
  let visited = 0;
  while (stack.length > 0) {
    const top = stack.pop();
    if (!top) break;
    const [v, d] = top;
    if (++visited > MAX_JSON_VALUE_NODES) return Infinity;
    if (d > max) {
      max = d;
      if (max > limit) return max;
    }
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    for (const c of children) {
      if (typeof c === 'object' && c !== null) stack.push([c, d + 1]);
    }
  }
  return max;
}
