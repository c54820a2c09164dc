/**
 * The runs table's columns and sort, kept across sessions in the page's localStorage (filters
 * and search are not: a table that opens filtered hides runs). What is read back is parsed
 * strictly; anything else (another version's shape, a hand edit) falls back to the defaults.
 */
import { z } from 'zod';
import { DEFAULT_VIEW, type RunsView } from './runs-table.ts';

/** The slice of Web Storage the runs store uses (localStorage has it). */
export interface ViewStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const KEY = 'd2nwg.runs.view';

const SavedViewSchema = z.strictObject({
  sort: z.strictObject({ column: z.string().min(1).max(300), dir: z.enum(['asc', 'desc']) }),
  fields: z.array(z.string().min(1).max(200)).max(50),
  metrics: z.array(z.string().min(1).max(200)).max(50),
  epoch: z.number().int().nonnegative().nullable(),
});
type SavedView = z.output<typeof SavedViewSchema>;

/** The page's localStorage, or undefined where there is none or it may not be used. */
export function browserStorage(): ViewStorage | undefined {
  // Through `window`: only a page has one (Node's own localStorage is not wanted here).
  const page = globalThis as { window?: { localStorage?: ViewStorage } };
  try {
    return page.window?.localStorage;
  } catch {
    return undefined;
  }
}

/** The saved view over the defaults; the defaults when nothing valid is saved. */
export function loadView(storage: ViewStorage | undefined): RunsView {
  let text: string | null = null;
  try {
    text = storage?.getItem(KEY) ?? null;
  } catch {
    return DEFAULT_VIEW;
  }
  if (text === null) return DEFAULT_VIEW;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return DEFAULT_VIEW;
  }
  const parsed = SavedViewSchema.safeParse(json);
  return parsed.success ? { ...DEFAULT_VIEW, ...parsed.data } : DEFAULT_VIEW;
}

/** Save the view's columns and sort (a full or unavailable storage is not an error). */
export function saveView(storage: ViewStorage | undefined, view: RunsView): void {
  const saved: SavedView = {
    sort: { ...view.sort },
    fields: [...view.fields],
    metrics: [...view.metrics],
    epoch: view.epoch,
  };
  try {
    storage?.setItem(KEY, JSON.stringify(saved));
  } catch {
    // Quota exceeded or storage disabled: the view still applies for this session.
  }
}
