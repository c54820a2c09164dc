/**
 * The bottom panel's height: dragged on its top edge (or moved with the arrow keys), kept within
 * the window so the canvas stays usable, and remembered in localStorage across sessions.
 */
import { useCallback, useEffect, useState } from 'react';

/** Height before the user changes it. */
export const DEFAULT_BOTTOM_PX = 320;
/** Smallest height: the tabs and a few rows. */
export const MIN_BOTTOM_PX = 120;
/** Room always left above the panel for the toolbar and the canvas. */
export const MIN_ABOVE_PX = 220;
/** One arrow-key press. */
export const KEY_STEP_PX = 24;
/** localStorage key of the remembered height. */
export const BOTTOM_KEY = 'd2nwg.bottomPanelPx';

/** `px` kept between MIN_BOTTOM_PX and what a window `viewport` px tall leaves. */
export function clampBottom(px: number, viewport: number): number {
  const max = Math.max(MIN_BOTTOM_PX, viewport - MIN_ABOVE_PX);
  return Math.round(Math.min(max, Math.max(MIN_BOTTOM_PX, px)));
}

/** Share of the window the Comparison tab gets at least when it opens: diff, table and plot. */
export const COMPARE_SHARE = 0.6;

/**
 * The height to show the Comparison tab at: the current one if it already gives the comparison
 * COMPARE_SHARE of the window, else that share (a taller panel the user chose is kept).
 */
export function compareHeight(height: number, viewport: number): number {
  return Math.max(height, clampBottom(viewport * COMPARE_SHARE, viewport));
}

/** The remembered height, or the default when none (or nothing readable) is stored. */
export function readBottom(storage: Pick<Storage, 'getItem'> | undefined): number {
  try {
    const v = Number(storage?.getItem(BOTTOM_KEY));
    return Number.isFinite(v) && v > 0 ? v : DEFAULT_BOTTOM_PX;
  } catch {
    return DEFAULT_BOTTOM_PX;
  }
}

function storage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

export interface BottomSize {
  /** Height in CSS px. */
  readonly height: number;
  /** Set (clamped and remembered). */
  readonly resize: (px: number) => void;
}

/** The bottom panel's height for the page, remembered. */
export function useBottomSize(): BottomSize {
  const [height, setHeight] = useState(() =>
    clampBottom(readBottom(storage()), window.innerHeight),
  );
  const resize = useCallback((px: number) => {
    const h = clampBottom(px, window.innerHeight);
    setHeight(h);
    try {
      storage()?.setItem(BOTTOM_KEY, String(h));
    } catch {
      // A full or blocked storage only means the size is not remembered.
    }
  }, []);
  // A smaller window must not push the canvas out of sight.
  useEffect(() => {
    const onResize = () => setHeight((h) => clampBottom(h, window.innerHeight));
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  return { height, resize };
}
