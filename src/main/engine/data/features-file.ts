/**
 * Feature datasets from files: a CSV (numeric columns + a label column, as sklearn and pandas
 * write them) or a pair of .npy arrays (x, y). They let users bring features computed elsewhere
 * (e.g. CLIP embeddings from Python) instead of raw images.
 */
import { InputError } from '../errors.ts';
import { decodeNpy } from '../formats/npy.ts';
import { checkLabels, maybeGunzip, readInputFile, readInputPair, toUnitFloat } from './idx.ts';
import type { LabelledData } from './types.ts';

/** Options of loadCsv. */
export interface CsvOptions {
  /** Label column: header name, or 0-based index (negative counts from the end). Default: 'label' if the header has it, else the last column. */
  readonly labelColumn?: string | number;
  /** Whether the first row is a header (default true). */
  readonly header?: boolean;
}

/** Split one CSV line on commas, honouring double quotes ("" inside quotes is a quote). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQ = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (inQ) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else inQ = false;
      } else cur += ch;
    } else if (ch === '"') inQ = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;
const INT_RE = /^[+-]?\d+$/;

function parseNumber(s: string): number | null {
  if (!NUMBER_RE.test(s)) return null;
  const lower = s.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan') return NaN;
  if (lower === 'inf' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  return Number(s);
}

/**
 * Load a CSV (raw or gzipped). Ragged rows, non-numeric or non-finite feature values, and bad
 * labels are InputErrors naming `file:line` and the 0-based column; they never quote a cell or
 * the header, since the file may not be the CSV the user meant (a path typo can name a secret). Integer labels are class indices (names '0'..'C-1');
 * any other labels are class names, sorted to give the indices.
 */
export async function loadCsv(file: string, options: CsvOptions = {}): Promise<LabelledData> {
  const bytes = maybeGunzip(await readInputFile(file, 'CSV file'), file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError('not UTF-8 text', file);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  const header = options.header ?? true;
  let lineNo = 0;
  let names: string[] | null = null;
  const rows: { cells: string[]; line: number }[] = [];
  for (const raw of lines) {
    lineNo++;
    if (raw.trim() === '') continue;
    const cells = splitCsvLine(raw);
    if (header && names === null) {
      names = cells;
      continue;
    }
    rows.push({ cells, line: lineNo });
  }
  if (rows.length === 0) throw new InputError('no data rows', file);
  const width = names ? names.length : rows[0].cells.length;
  if (width < 2) {
    throw new InputError(
      `needs at least 2 columns (features and a label), found ${width}`,
      names ? `${file}:1` : `${file}:${rows[0].line}`,
    );
  }
  for (const r of rows) {
    if (r.cells.length !== width) {
      throw new InputError(
        `row has ${r.cells.length} columns but ${names ? 'the header has' : 'the first row has'} ${width}`,
        `${file}:${r.line}`,
      );
    }
  }

  // Resolve the label column.
  let labelCol: number;
  const lc = options.labelColumn;
  if (typeof lc === 'string') {
    if (!names)
      throw new InputError(`labelColumn '${lc}' is a name but the CSV has no header`, file);
    labelCol = names.indexOf(lc);
    if (labelCol < 0) {
      throw new InputError(
        `label column '${lc}' not in the header (${names.length} columns)`,
        `${file}:1`,
      );
    }
  } else if (typeof lc === 'number') {
    labelCol = lc < 0 ? width + lc : lc;
    if (!Number.isInteger(lc) || labelCol < 0 || labelCol >= width) {
      throw new InputError(`label column index ${lc} is out of range for ${width} columns`, file);
    }
  } else {
    const li = names ? names.findIndex((n) => n.toLowerCase() === 'label') : -1;
    labelCol = li >= 0 ? li : width - 1;
  }

  const n = rows.length;
  const d = width - 1;
  const x = new Float32Array(n * d);
  const rawLabels: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const { cells, line } = rows[i];
    let k = 0;
    for (let j = 0; j < width; j++) {
      if (j === labelCol) {
        rawLabels[i] = cells[j];
        continue;
      }
      const v = parseNumber(cells[j]);
      if (v === null || !Number.isFinite(v)) {
        const kind =
          cells[j] === '' ? 'is empty' : v === null ? 'is not a number' : 'is not finite';
        throw new InputError(`column ${j} (0-based) ${kind}`, `${file}:${line}`);
      }
      x[i * d + k++] = v;
    }
  }

  // Labels: all integers → indices; all names → sorted class names; anything else is an error.
  let labels: Int32Array;
  let classNames: string[];
  if (rawLabels.every((s) => INT_RE.test(s))) {
    const vals = rawLabels.map((s) => Number(s));
    ({ labels, classNames } = checkLabels(vals, file, undefined, (i) => `${file}:${rows[i].line}`));
  } else {
    let firstName = -1;
    let firstInt = -1;
    for (let i = 0; i < n; i++) {
      const s = rawLabels[i];
      if (s === '') throw new InputError('empty label', `${file}:${rows[i].line}`);
      if (INT_RE.test(s)) {
        if (firstInt < 0) firstInt = i;
      } else if (parseNumber(s) !== null) {
        throw new InputError(
          `label (column ${labelCol}, 0-based) is numeric but not an integer`,
          `${file}:${rows[i].line}`,
        );
      } else if (firstName < 0) firstName = i;
    }
    if (firstInt >= 0) {
      throw new InputError(
        `labels mix integers (first on line ${rows[firstInt].line}) and names (first on line ${rows[firstName].line})`,
        `${file}:${rows[Math.max(firstInt, firstName)].line}`,
      );
    }
    classNames = [...new Set(rawLabels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const index = new Map(classNames.map((c, i) => [c, i]));
    labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = index.get(rawLabels[i]) ?? 0;
  }
  return { x, sampleShape: [d], labels, classNames, source: file };
}

/**
 * Load an .npy pair: x [n, d] (features) or [n, h, w] / [n, h, w, c] (images; uint8 scaled to
 * [0, 1]) and y [n] of integer labels (float arrays allowed when every value is integral).
 */
export async function loadNpyPair(xPath: string, yPath: string): Promise<LabelledData> {
  const [xb, yb] = await readInputPair([xPath, '.npy samples file'], [yPath, '.npy labels file']);
  const xa = decodeNpy(xb, xPath);
  const ya = decodeNpy(yb, yPath);
  if (xa.shape.length < 2 || xa.shape.length > 4) {
    throw new InputError(
      `x must have shape [n, d], [n, h, w] or [n, h, w, c]; found (${xa.shape.join(', ')})`,
      xPath,
    );
  }
  if (ya.shape.length !== 1) {
    throw new InputError(`y must be 1-D [n]; found (${ya.shape.join(', ')})`, yPath);
  }
  const n = xa.shape[0];
  if (ya.shape[0] !== n) {
    throw new InputError(`${ya.shape[0]} labels in ${yPath} but ${n} samples in ${xPath}`, yPath);
  }
  let x: Float32Array;
  if (xa.data instanceof BigInt64Array) {
    throw new InputError(`samples of dtype ${xa.dtype} are not supported; use float32`, xPath);
  } else if (xa.data instanceof Uint8Array && xa.shape.length > 2) {
    x = toUnitFloat(xa.data);
  } else {
    x = Float32Array.from(xa.data);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new InputError(`non-finite value ${x[i]} at flat index ${i}`, xPath);
    }
  }
  let yv: ArrayLike<number>;
  if (ya.data instanceof BigInt64Array) {
    yv = Array.from(ya.data, (v) => Number(v));
  } else {
    yv = ya.data;
  }
  if (ya.dtype === '|b1') {
    throw new InputError(`labels must be integers, found dtype ${ya.dtype}`, yPath);
  }
  const { labels, classNames } = checkLabels(yv, yPath);
  const rest = xa.shape.slice(1);
  const sampleShape = rest.length === 2 ? [rest[0], rest[1], 1] : rest;
  return { x, sampleShape, labels, classNames, source: xPath };
}
