// Pure helpers of the timeline: scales, selection to a range, stacking by status class.

export const CLASSES = ['2xx', '3xx', '1xx', '4xx', '5xx', 'none'] as const;
export type StatusClass = (typeof CLASSES)[number];

export interface Bucket {
  start: number; // epoch ns
  count: number;
  by_class: Record<string, number>;
}

/** Pixel x of a time (ms) on an axis [from, to] ms drawn over `width` px. */
export function xOf(time: number, from: number, to: number, width: number): number {
  if (to <= from) return 0;
  return ((time - from) / (to - from)) * width;
}

/** Time (ms) at pixel x, clamped to the axis. */
export function timeAt(x: number, from: number, to: number, width: number): number {
  if (width <= 0) return from;
  const clamped = Math.max(0, Math.min(width, x));
  return Math.round(from + (clamped / width) * (to - from));
}

/** A drag from x1 to x2 as a range in ms (ordered); null when narrower than `minPx` (a click). */
export function dragRange(x1: number, x2: number, from: number, to: number, width: number, minPx = 3): [number, number] | null {
  if (Math.abs(x2 - x1) < minPx) return null;
  const a = timeAt(Math.min(x1, x2), from, to, width);
  const b = timeAt(Math.max(x1, x2), from, to, width);
  return b > a ? [a, b] : null;
}

/** Zooms [from, to] by `factor` (<1 in, >1 out) around `center` ms. */
export function zoom(from: number, to: number, center: number, factor: number): [number, number] {
  const left = (center - from) * factor;
  const right = (to - center) * factor;
  const a = Math.round(center - left);
  const b = Math.round(center + right);
  return b - a >= 1 ? [a, b] : [from, to];
}

/** The stacked segments of one bucket, bottom up: [class, y0, y1] as counts. */
export function stack(bucket: Bucket): [StatusClass, number, number][] {
  const out: [StatusClass, number, number][] = [];
  let y = 0;
  for (const name of CLASSES) {
    const value = bucket.by_class[name] ?? 0;
    if (value > 0) {
      out.push([name, y, y + value]);
      y += value;
    }
  }
  return out;
}

/** A round tick step (ms) giving about `ticks` ticks over `span` ms. */
export function tickStep(span: number, ticks = 6): number {
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5];
  const ideal = span / Math.max(1, ticks);
  return steps.find((step) => step >= ideal) ?? steps[steps.length - 1]!;
}
