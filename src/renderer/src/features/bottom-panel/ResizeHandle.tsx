/**
 * The bottom panel's top edge: drag it (pointer capture, so a fast drag is not lost) or focus it
 * and use the arrow keys to change the panel's height.
 */
import { useRef, type KeyboardEvent, type PointerEvent } from 'react';
import { KEY_STEP_PX, MIN_BOTTOM_PX } from './panel-size.ts';

export interface ResizeHandleProps {
  readonly height: number;
  readonly onResize: (px: number) => void;
}

export function ResizeHandle({ height, onResize }: ResizeHandleProps) {
  const drag = useRef<{ y: number; height: number } | null>(null);
  const down = (e: PointerEvent<HTMLDivElement>) => {
    drag.current = { y: e.clientY, height };
    e.currentTarget.setPointerCapture(e.pointerId);
    e.preventDefault();
  };
  const move = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (d) onResize(d.height + (d.y - e.clientY));
  };
  const up = (e: PointerEvent<HTMLDivElement>) => {
    drag.current = null;
    if (e.currentTarget.hasPointerCapture(e.pointerId)) {
      e.currentTarget.releasePointerCapture(e.pointerId);
    }
  };
  const key = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'ArrowUp') onResize(height + KEY_STEP_PX);
    else if (e.key === 'ArrowDown') onResize(height - KEY_STEP_PX);
    else return;
    e.preventDefault();
  };
  return (
    <div
      className="resize-handle"
      role="separator"
      aria-orientation="horizontal"
      aria-label="Resize the bottom panel"
      aria-valuenow={height}
      aria-valuemin={MIN_BOTTOM_PX}
      tabIndex={0}
      onPointerDown={down}
      onPointerMove={move}
      onPointerUp={up}
      onPointerCancel={up}
      onKeyDown={key}
      data-testid="bottom-resize"
    />
  );
}
