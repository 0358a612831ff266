// Virtual scrolling: which rows to put in the DOM for a scroll position.

export interface Window {
  /** First row index rendered (inclusive). */
  start: number;
  /** Last row index rendered (exclusive). */
  end: number;
  /** Pixels above the first rendered row. */
  offset: number;
  /** Full height of all rows. */
  height: number;
}

/** Rows in view plus `overscan` on each side, clamped to [0, total). */
export function visibleWindow(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 20): Window {
  const height = total * rowHeight;
  if (total <= 0 || rowHeight <= 0) return { start: 0, end: 0, offset: 0, height: 0 };
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, height - viewport)));
  const first = Math.floor(top / rowHeight);
  const shown = Math.ceil(viewport / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, first + shown + overscan);
  return { start, end, offset: start * rowHeight, height };
}

/** True when the window comes within `margin` rows of the loaded end: time to fetch the next page. */
export function needsMore(window: Window, loaded: number, margin = 100): boolean {
  return loaded > 0 && window.end + margin >= loaded;
}

/**
 * Browsers cap element heights (about 16M px in Chromium's layout, 33M in others): beyond it, the
 * scroll space is scaled. Returns the factor from logical pixels to DOM pixels.
 */
export const MAX_SCROLL_PX = 15_000_000;
export function scrollScale(height: number): number {
  return height > MAX_SCROLL_PX ? MAX_SCROLL_PX / height : 1;
}
