// The search box: the query language with completion from the gateway and errors shown in place.

import { Api } from './api';
import { applyCompletion } from './filters';

interface Completion {
  text: string;
  detail: string;
  kind: string;
  replace: [number, number];
}

export class SearchBox {
  input: HTMLInputElement;
  private list: HTMLUListElement;
  private error: HTMLDivElement;
  private items: Completion[] = [];
  private active = -1;
  private timer = 0;
  private sequence = 0;

  constructor(root: HTMLElement, private api: Api, private kind: () => string, private onSubmit: (q: string) => void) {
    root.classList.add('search');
    this.input = document.createElement('input');
    this.input.type = 'search';
    this.input.placeholder = 'Search: status:5xx AND path:/api/*   (Tab completes, Enter searches)';
    this.input.spellcheck = false;
    this.input.setAttribute('aria-label', 'search');
    this.list = document.createElement('ul');
    this.list.className = 'completions';
    this.list.hidden = true;
    this.error = document.createElement('div');
    this.error.className = 'query-error';
    this.error.hidden = true;
    root.replaceChildren(this.input, this.list, this.error);
    this.input.addEventListener('input', () => this.changed());
    this.input.addEventListener('click', () => this.changed());
    this.input.addEventListener('blur', () => setTimeout(() => (this.list.hidden = true), 150));
    this.input.addEventListener('keydown', (e) => this.key(e));
  }

  set(q: string): void {
    clearTimeout(this.timer);
    this.sequence += 1;
    this.list.hidden = true;
    this.input.value = q;
    this.error.hidden = true;
    this.input.classList.remove('invalid');
  }

  /** Shows an error of the query in place (column and span from the API). */
  showError(message: string, span?: [number, number]): void {
    this.error.hidden = false;
    this.input.classList.add('invalid');
    const q = Array.from(this.input.value);
    if (span) {
      const [a, b] = span;
      const before = q.slice(0, a).join('');
      const bad = q.slice(a, Math.max(b, a + 1)).join('') || ' ';
      this.error.innerHTML = '';
      const code = document.createElement('code');
      const mark = document.createElement('mark');
      mark.textContent = bad;
      code.append(before, mark, q.slice(Math.max(b, a + 1)).join(''));
      this.error.append(code, document.createElement('br'), message);
    } else {
      this.error.textContent = message;
    }
  }

  private changed(): void {
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.refresh(), 120);
  }

  private async refresh(): Promise<void> {
    const sequence = ++this.sequence;
    const q = this.input.value;
    const cursor = Array.from(q.slice(0, this.input.selectionStart ?? q.length)).length;
    try {
      const [completions, verdict] = await Promise.all([
        this.api.get('/api/v1/query/complete', { q, cursor, kind: this.kind() }),
        this.api.get('/api/v1/query/validate', { q, kind: this.kind() }),
      ]);
      if (sequence !== this.sequence) return;
      this.items = completions.items;
      this.active = this.items.length ? 0 : -1;
      this.renderList();
      if (verdict.valid) {
        this.error.hidden = true;
        this.input.classList.remove('invalid');
      } else {
        this.showError(verdict.error.message, verdict.error.span);
      }
    } catch {
      /* completion is best effort */
    }
  }

  private renderList(): void {
    this.list.replaceChildren();
    this.list.hidden = this.items.length === 0 || document.activeElement !== this.input;
    this.items.slice(0, 12).forEach((item, index) => {
      const li = document.createElement('li');
      li.className = index === this.active ? 'active' : '';
      li.innerHTML = `<b></b> <small></small>`;
      li.querySelector('b')!.textContent = item.text;
      li.querySelector('small')!.textContent = item.detail;
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        this.accept(item);
      });
      this.list.append(li);
    });
  }

  private accept(item: Completion): void {
    const { value, cursor } = applyCompletion(this.input.value, item.text, item.replace);
    this.input.value = value;
    const offset = Array.from(value).slice(0, cursor).join('').length;
    this.input.setSelectionRange(offset, offset);
    this.changed();
  }

  private key(e: KeyboardEvent): void {
    const open = !this.list.hidden && this.items.length > 0;
    if (e.key === 'Enter') {
      e.preventDefault();
      this.list.hidden = true;
      this.onSubmit(this.input.value.trim());
    } else if (e.key === 'Tab' && open && this.active >= 0) {
      e.preventDefault();
      this.accept(this.items[this.active]!);
    } else if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && open) {
      e.preventDefault();
      const n = Math.min(12, this.items.length);
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.renderList();
    } else if (e.key === 'Escape') {
      this.list.hidden = true;
    }
  }
}
