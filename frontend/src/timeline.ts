// The timeline: a stacked histogram by status class on a canvas; drag to select a range, wheel to zoom.

import { Bucket, CLASSES, dragRange, stack, tickStep, timeAt, xOf, zoom } from './timeline-math';

const COLORS: Record<string, string> = {
  '2xx': '#3fa66b',
  '3xx': '#4f8fd6',
  '1xx': '#9aa5b1',
  '4xx': '#e0a030',
  '5xx': '#d9534f',
  none: '#8e6ccf',
};

export class Timeline {
  private canvas: HTMLCanvasElement;
  private buckets: Bucket[] = [];
  private from = 0; // ms
  private to = 1;
  private drag: { x: number; now: number } | null = null;

  constructor(root: HTMLElement, private onRange: (from: number, to: number) => void) {
    root.classList.add('timeline');
    this.canvas = document.createElement('canvas');
    this.canvas.height = 90;
    root.replaceChildren(this.canvas);
    const legend = document.createElement('div');
    legend.className = 'legend';
    for (const name of CLASSES) {
      const item = document.createElement('span');
      item.innerHTML = `<i style="background:${COLORS[name]}"></i>${name}`;
      legend.append(item);
    }
    root.append(legend);
    this.canvas.addEventListener('mousedown', (e) => {
      this.drag = { x: e.offsetX, now: e.offsetX };
    });
    this.canvas.addEventListener('mousemove', (e) => {
      if (this.drag) {
        this.drag.now = e.offsetX;
        this.draw();
      }
    });
    window.addEventListener('mouseup', () => {
      if (!this.drag) return;
      const range = dragRange(this.drag.x, this.drag.now, this.from, this.to, this.canvas.width);
      this.drag = null;
      this.draw();
      if (range) this.onRange(range[0], range[1]);
    });
    this.canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const center = timeAt(e.offsetX, this.from, this.to, this.canvas.width);
      const [a, b] = zoom(this.from, this.to, center, e.deltaY < 0 ? 0.7 : 1.4);
      this.onRange(a, b);
    }, { passive: false });
    new ResizeObserver(() => this.draw()).observe(root);
  }

  set(buckets: Bucket[], from: number, to: number): void {
    this.buckets = buckets;
    this.from = from;
    this.to = to;
    this.draw();
  }

  private draw(): void {
    const canvas = this.canvas;
    const width = canvas.parentElement?.clientWidth || 800;
    if (canvas.width !== width) canvas.width = width;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const style = getComputedStyle(document.documentElement);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const plot = canvas.height - 16;
    const max = Math.max(1, ...this.buckets.map((b) => b.count));
    const n = this.buckets.length || 1;
    const barWidth = canvas.width / n;
    this.buckets.forEach((bucket, index) => {
      for (const [name, y0, y1] of stack(bucket)) {
        ctx.fillStyle = COLORS[name]!;
        const top = plot - (y1 / max) * (plot - 4);
        const bottom = plot - (y0 / max) * (plot - 4);
        ctx.fillRect(index * barWidth + 0.5, top, Math.max(1, barWidth - 1), bottom - top);
      }
    });
    ctx.fillStyle = style.getPropertyValue('--muted') || '#888';
    ctx.font = '10px sans-serif';
    const step = tickStep(this.to - this.from);
    for (let t = Math.ceil(this.from / step) * step; t <= this.to; t += step) {
      const x = xOf(t, this.from, this.to, canvas.width);
      ctx.fillRect(x, plot, 1, 4);
      const date = new Date(t);
      const label = step >= 864e5 ? date.toISOString().slice(5, 10) : step >= 1e3 ? date.toISOString().slice(11, 19) : date.toISOString().slice(17, 23);
      ctx.fillText(label, x + 2, canvas.height - 2);
    }
    if (this.drag) {
      ctx.fillStyle = 'rgba(80,140,255,0.25)';
      const a = Math.min(this.drag.x, this.drag.now);
      ctx.fillRect(a, 0, Math.abs(this.drag.now - this.drag.x), plot);
    }
  }
}
