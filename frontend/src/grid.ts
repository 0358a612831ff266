// A data grid with virtual scrolling: only the rows in view (plus overscan) are in the DOM, pages
// are fetched as the end comes near, columns can be chosen and sorted, cells filter on click.

import { Column, Row, sortRows } from './columns';
import { needsMore, scrollScale, visibleWindow } from './vscroll';

export const ROW_HEIGHT = 24;

export interface Page {
  items: Row[];
  next: string | null;
}

export interface GridOptions {
  columns: Column[];
  visible: string[] | null;
  sort: { column: string; desc: boolean } | null;
  idOf: (row: Row) => string;
  selected: string | null;
  onSelect: (row: Row) => void;
  onFilter: (field: string, value: string, exclude: boolean) => void;
  onColumns: (visible: string[]) => void;
  onSort: (sort: { column: string; desc: boolean } | null) => void;
}

export class Grid {
  rows: Row[] = [];
  private view: Row[] = [];
  private next: string | null = null;
  private loading = false;
  private generation = 0;
  private fetchPage: ((cursor: string | null) => Promise<Page>) | null = null;
  private viewport: HTMLDivElement;
  private spacer: HTMLDivElement;
  private body: HTMLDivElement;
  private header: HTMLDivElement;
  private status: HTMLDivElement;
  private frame = 0;
  error: string | null = null;

  constructor(private root: HTMLElement, private options: GridOptions) {
    root.classList.add('grid');
    root.innerHTML = '';
    const bar = document.createElement('div');
    bar.className = 'grid-bar';
    this.status = document.createElement('div');
    this.status.className = 'grid-status';
    const chooser = document.createElement('details');
    chooser.className = 'column-chooser';
    chooser.innerHTML = '<summary>Columns</summary>';
    const list = document.createElement('div');
    for (const column of options.columns) {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = this.isVisible(column);
      box.addEventListener('change', () => {
        const visible = options.columns.filter((c) => (c === column ? box.checked : this.isVisible(c))).map((c) => c.id);
        this.options.visible = visible;
        this.options.onColumns(visible);
        this.renderHeader();
        this.render();
      });
      label.append(box, ` ${column.title}`);
      list.append(label);
    }
    chooser.append(list);
    bar.append(this.status, chooser);
    this.header = document.createElement('div');
    this.header.className = 'grid-header';
    this.viewport = document.createElement('div');
    this.viewport.className = 'grid-viewport';
    this.viewport.tabIndex = 0;
    this.spacer = document.createElement('div');
    this.spacer.className = 'grid-spacer';
    this.body = document.createElement('div');
    this.body.className = 'grid-rows';
    this.viewport.append(this.spacer, this.body);
    root.append(bar, this.header, this.viewport);
    this.viewport.addEventListener('scroll', () => {
      this.header.scrollLeft = this.viewport.scrollLeft;
      this.schedule();
    });
    this.viewport.addEventListener('keydown', (event) => this.key(event));
    new ResizeObserver(() => this.schedule()).observe(this.viewport);
    this.renderHeader();
  }

  private isVisible(column: Column): boolean {
    return this.options.visible ? this.options.visible.includes(column.id) : !column.hidden;
  }

  private shown(): Column[] {
    return this.options.columns.filter((c) => this.isVisible(c));
  }

  /** Starts over with a new source of pages. */
  async load(fetchPage: (cursor: string | null) => Promise<Page>): Promise<void> {
    this.generation += 1;
    this.fetchPage = fetchPage;
    this.rows = [];
    this.view = [];
    this.next = null;
    this.error = null;
    this.loading = false;
    this.viewport.scrollTop = 0;
    await this.more(true);
  }

  /** Rows added at the top (live updates). */
  prepend(items: Row[]): void {
    if (!items.length) return;
    this.rows = [...items, ...this.rows];
    this.resort();
    this.render();
  }

  private async more(first = false): Promise<void> {
    if (!this.fetchPage || this.loading || (!first && this.next === null)) return;
    const generation = this.generation;
    this.loading = true;
    this.renderStatus();
    try {
      const page = await this.fetchPage(first ? null : this.next);
      if (generation !== this.generation) return;
      this.rows.push(...page.items);
      this.next = page.next;
      this.resort();
    } catch (error) {
      if (generation !== this.generation) return;
      this.error = (error as Error).message;
      this.next = null;
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.render();
      }
    }
  }

  private resort(): void {
    const sort = this.options.sort;
    const column = sort && this.options.columns.find((c) => c.id === sort.column);
    this.view = column ? sortRows(this.rows, column, sort!.desc) : this.rows;
  }

  select(id: string | null): void {
    this.options.selected = id;
    this.render();
  }

  private key(event: KeyboardEvent): void {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const index = this.view.findIndex((row) => this.options.idOf(row) === this.options.selected);
    const next = Math.max(0, Math.min(this.view.length - 1, index + (event.key === 'ArrowDown' ? 1 : -1)));
    const row = this.view[next];
    if (row) {
      event.preventDefault();
      this.options.onSelect(row);
    }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private renderHeader(): void {
    this.header.innerHTML = '';
    for (const column of this.shown()) {
      const cell = document.createElement('div');
      cell.className = 'grid-hcell';
      cell.style.width = `${column.width}px`;
      const sort = this.options.sort;
      const mark = sort && sort.column === column.id ? (sort.desc ? ' ▼' : ' ▲') : '';
      cell.textContent = column.title + mark;
      cell.dataset.column = column.id;
      cell.addEventListener('click', () => {
        const current = this.options.sort;
        let next: GridOptions['sort'];
        if (!current || current.column !== column.id) next = { column: column.id, desc: false };
        else if (!current.desc) next = { column: column.id, desc: true };
        else next = null;
        this.options.sort = next;
        this.options.onSort(next);
        this.resort();
        this.renderHeader();
        this.render();
      });
      this.header.append(cell);
    }
  }

  private renderStatus(): void {
    const more = this.next !== null ? '+' : '';
    const state = this.loading ? ' · loading…' : '';
    this.status.textContent = this.error ? `Error: ${this.error}` : `${this.rows.length}${more} rows${state}`;
    this.status.classList.toggle('error', !!this.error);
  }

  render(): void {
    this.renderStatus();
    const total = this.view.length;
    const logical = total * ROW_HEIGHT;
    const scale = scrollScale(logical);
    this.spacer.style.height = `${Math.ceil(logical * scale)}px`;
    const viewport = this.viewport.clientHeight || 600;
    const window = visibleWindow(this.viewport.scrollTop / scale, viewport, ROW_HEIGHT, total);
    this.body.style.transform = `translateY(${this.viewport.scrollTop - (this.viewport.scrollTop / scale - window.offset)}px)`;
    const columns = this.shown();
    const fragment = document.createDocumentFragment();
    for (let index = window.start; index < window.end; index++) {
      const row = this.view[index]!;
      const line = document.createElement('div');
      line.className = 'grid-row';
      const id = this.options.idOf(row);
      line.dataset.id = id;
      line.dataset.index = String(index);
      if (id === this.options.selected) line.classList.add('selected');
      if (typeof row.status === 'number') line.classList.add(`s${Math.floor(row.status / 100)}xx`);
      else if (row.kind === 'http') line.classList.add('snone');
      for (const column of columns) {
        const cell = document.createElement('div');
        cell.className = 'grid-cell';
        cell.style.width = `${column.width}px`;
        cell.dataset.column = column.id;
        const text = column.text(row);
        const filter = column.filter?.(row);
        if (filter && filter[1] !== undefined && filter[1] !== '') {
          const value = document.createElement('span');
          value.className = 'fv';
          value.textContent = text;
          value.title = `click: ${filter[0]}:${filter[1]} · Ctrl+click: NOT`;
          value.addEventListener('click', (event) => {
            event.stopPropagation();
            this.options.onFilter(filter[0], filter[1], event.ctrlKey || event.metaKey);
          });
          cell.append(value);
        } else {
          cell.textContent = text;
        }
        line.append(cell);
      }
      line.addEventListener('click', () => this.options.onSelect(row));
      fragment.append(line);
    }
    this.body.replaceChildren(fragment);
    if (needsMore(window, total) && this.next !== null && !this.loading) void this.more();
  }
}
