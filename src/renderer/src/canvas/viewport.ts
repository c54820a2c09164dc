/**
 * The first view of an opened pipeline: the whole graph when it fits at a zoom where node text is
 * readable, else that zoom at the start of the graph (its top-left, where the chain begins), and
 * the user scrolls through the rest, never a graph shrunk to 5 px text.
 */

/** Smallest text on a node's face (titles and port names, CSS px at zoom 1). */
export const NODE_TEXT_PX = 12;
/** Smallest on-screen size of that text the first view allows. */
export const READABLE_TEXT_PX = 11;
/** The zoom that keeps node text at READABLE_TEXT_PX. */
export const READABLE_ZOOM = READABLE_TEXT_PX / NODE_TEXT_PX;
/** The first view never magnifies a small graph beyond 1:1. */
export const MAX_OPEN_ZOOM = 1;
/** Space kept around the graph, in screen px. */
export const VIEW_PADDING = 40;

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Viewport {
  readonly x: number;
  readonly y: number;
  readonly zoom: number;
}

/**
 * The viewport that shows `bounds` (flow coordinates) in a `screen` of width × height: centred
 * along an axis where it fits, aligned to its start (plus padding) where it does not.
 */
export function readableViewport(
  bounds: Rect,
  screen: { readonly width: number; readonly height: number },
  padding = VIEW_PADDING,
): Viewport {
  const fit = Math.min(
    (screen.width - 2 * padding) / Math.max(bounds.width, 1),
    (screen.height - 2 * padding) / Math.max(bounds.height, 1),
  );
  const zoom = Math.min(MAX_OPEN_ZOOM, Math.max(READABLE_ZOOM, fit));
  const place = (start: number, size: number, room: number) => {
    const shown = size * zoom;
    return shown + 2 * padding <= room ? (room - shown) / 2 - start * zoom : padding - start * zoom;
  };
  return {
    x: place(bounds.x, bounds.width, screen.width),
    y: place(bounds.y, bounds.height, screen.height),
    zoom,
  };
}
