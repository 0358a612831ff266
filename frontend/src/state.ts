// The whole view state lives in the URL: agent(s), range, query, view, selection, sorting, columns.

export type View = 'http' | 'sessions' | 'packets' | 'map' | 'usage' | 'agents';
export const VIEWS: View[] = ['http', 'sessions', 'packets', 'map', 'usage', 'agents'];

export interface ViewState {
  view: View;
  whisperers: string[];
  /** Range in epoch milliseconds; null = the extent of the data. */
  from: number | null;
  to: number | null;
  q: string;
  /** The selected row: `whisperer/session/index` (http) or `whisperer/id` (sessions). */
  sel: string | null;
  sort: { column: string; desc: boolean } | null;
  columns: string[] | null;
}

export const DEFAULT_STATE: ViewState = {
  view: 'http',
  whisperers: [],
  from: null,
  to: null,
  q: '',
  sel: null,
  sort: null,
  columns: null,
};

function int(text: string | null): number | null {
  if (text === null || text.trim() === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? Math.trunc(value) : null;
}

/** Reads the state from a query string (`?view=…&q=…`). Unknown or malformed values fall back. */
export function parseState(search: string): ViewState {
  const params = new URLSearchParams(search);
  const view = params.get('view') as View | null;
  const sortText = params.get('sort');
  let sort: ViewState['sort'] = null;
  if (sortText) {
    const desc = sortText.startsWith('-');
    const column = desc ? sortText.slice(1) : sortText;
    if (column) sort = { column, desc };
  }
  const columns = params.get('cols');
  let from = int(params.get('from'));
  let to = int(params.get('to'));
  if (from !== null && to !== null && from >= to) {
    from = null;
    to = null;
  }
  return {
    view: view && VIEWS.includes(view) ? view : 'http',
    whisperers: (params.get('w') ?? '').split(',').filter((name) => name !== ''),
    from,
    to,
    q: params.get('q') ?? '',
    sel: params.get('sel') || null,
    sort,
    columns: columns ? columns.split(',').filter((c) => c !== '') : null,
  };
}

/** The query string of a state; defaults are left out so links stay short. */
export function formatState(state: ViewState): string {
  const params = new URLSearchParams();
  if (state.view !== 'http') params.set('view', state.view);
  if (state.whisperers.length) params.set('w', state.whisperers.join(','));
  if (state.from !== null) params.set('from', String(state.from));
  if (state.to !== null) params.set('to', String(state.to));
  if (state.q) params.set('q', state.q);
  if (state.sel) params.set('sel', state.sel);
  if (state.sort) params.set('sort', (state.sort.desc ? '-' : '') + state.sort.column);
  if (state.columns) params.set('cols', state.columns.join(','));
  const text = params.toString();
  return text ? `?${text}` : '';
}
