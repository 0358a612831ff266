// The Spider UI: login, views (HTTP, TCP sessions, network map, cluster usage, agents), search,
// timeline, details, exports; the whole view state in the URL.

import './style.css';
import { renderAgents } from './agents';
import { Api, ApiError, download, saveBlob } from './api';
import { canWrite, parseTokens, refreshDelay, REFRESH_KEY, resolveToken, TOKEN_KEY, type UserTokens } from './auth';
import { Column, HTTP_COLUMNS, PACKET_COLUMNS, Row, rowId, SESSION_COLUMNS } from './columns';
import { renderDetails, renderPacket } from './details';
import { addTerm } from './filters';
import { Grid } from './grid';
import { networkGraph, placeOf, usageGraph, UsageOptions } from './graph-model';
import { AttachPanel, AttachTarget, targetOf } from './attach';
import { GraphView, renderGraph } from './maps';
import { SearchBox } from './search';
import { DEFAULT_STATE, formatState, parseState, View, ViewState } from './state';
import { Timeline } from './timeline';

const app = document.getElementById('app')!;
let api: Api;
let state: ViewState = DEFAULT_STATE;
let grid: Grid | null = null;
let graph: GraphView | null = null;
let attachPanel: AttachPanel | null = null;
let live: WebSocket | null = null;
let search: SearchBox;
let timeline: Timeline;
const queries = new Map<string, string>();
const usageOptions: UsageOptions = { mode: 'nls', selected: null, intraNamespace: true, node: true, external: true, collapseOver: 10 };

function theme(): void {
  const stored = localStorage.getItem('spider.theme');
  const dark = stored ? stored === 'dark' : window.matchMedia?.('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

function setState(patch: Partial<ViewState>, push = false): void {
  state = { ...state, ...patch };
  const url = `${location.pathname}${formatState(state)}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

function kindOf(view: View): 'http' | 'sessions' | 'packets' {
  return view === 'sessions' || view === 'packets' ? view : 'http';
}

function rangeParams(): Record<string, string | number | null> {
  return { q: state.q || null, from: state.from, to: state.to, whisperer: state.whisperers.join(',') || null };
}

function queryString(params: Record<string, string | number | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== '') search.set(key, String(value));
  return search.toString();
}

function login(message = ''): void {
  app.innerHTML = `<form class="login"><h1>Spider</h1>
    <input name="name" placeholder="User name" autocomplete="username">
    <input name="password" type="password" placeholder="Password" autocomplete="current-password">
    <details><summary>Use an API token instead</summary><p>The admin token: <code>spider up</code> prints a login link and writes it to <code>DATA/admin.token</code>.</p>
    <input name="token" type="password" placeholder="API token" autocomplete="off"></details>
    <button type="submit">Log in</button><p class="error"></p></form>`;
  (app.querySelector('.error') as HTMLElement).textContent = message;
  app.querySelector('form')!.addEventListener('submit', (event) => {
    event.preventDefault();
    const field = (name: string) => (app.querySelector(`input[name="${name}"]`) as HTMLInputElement).value;
    const token = field('token').trim();
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.removeItem(REFRESH_KEY);
      void start(token);
    } else if (field('name').trim()) {
      void signIn(field('name').trim(), field('password'));
    } else {
      (app.querySelector('.error') as HTMLElement).textContent = 'A user name and password, or a token.';
    }
  });
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/** Keeps a user's tokens and renews the access token before it expires. */
function keep(tokens: UserTokens): void {
  sessionStorage.setItem(TOKEN_KEY, tokens.accessToken);
  sessionStorage.setItem(REFRESH_KEY, tokens.refreshToken);
  if (api) api.token = tokens.accessToken;
  clearTimeout(refreshTimer);
  if (tokens.expiresAt) refreshTimer = setTimeout(() => void renew(), refreshDelay(tokens.expiresAt, Date.now()));
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function signIn(name: string, password: string): Promise<void> {
  let tokens: UserTokens | null = null;
  try {
    const response = await post('/api/v1/login', { name, password });
    tokens = response.ok ? parseTokens(await response.json()) : null;
    if (!tokens) return login(response.status === 401 ? 'Wrong user name or password.' : `Login failed (HTTP ${response.status}).`);
  } catch (error) {
    return login(`Cannot reach the gateway: ${(error as Error).message}`);
  }
  keep(tokens);
  await start(tokens.accessToken);
}

async function renew(): Promise<void> {
  const refresh = sessionStorage.getItem(REFRESH_KEY);
  if (!refresh) return;
  const response = await post('/api/v1/refresh', { refresh_token: refresh }).catch(() => null);
  const tokens = response?.ok ? parseTokens(await response.json()) : null;
  if (tokens) keep(tokens);
  else {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    live?.close();
    login('Your session ended: log in again.');
  }
}

async function start(token: string): Promise<void> {
  api = new Api(token);
  try {
    await api.get('/api/v1/query/fields');
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    login(error instanceof ApiError && error.status === 401 ? 'This token is not accepted.' : `Cannot reach the gateway: ${(error as Error).message}`);
    return;
  }
  // A viewer does not see the controls that change configuration (the gateway refuses them too).
  const me = await api.get('/api/v1/whoami').catch(() => null);
  document.documentElement.dataset.readonly = String(!canWrite(me));
  shell();
  await show();
}

function shell(): void {
  app.innerHTML = `
    <header>
      <span class="logo">Spider</span>
      <nav class="views">
        <button data-view="http">HTTP</button><button data-view="sessions">TCP sessions</button><button data-view="packets">IP packets</button>
        <button data-view="map">Network map</button><button data-view="usage">Network usage</button><button data-view="agents">Agents</button>
      </nav>
      <input class="whisperers" list="whisperer-names" placeholder="All Whisperers" title="Whisperers (comma separated)"><datalist id="whisperer-names"></datalist>
      <span class="range"></span>
      <details class="menu"><summary>Export / import</summary>
        <button type="button" class="export-json">Grid as JSON</button>
        <button type="button" class="export-har">HTTP as HAR</button>
        <button type="button" class="export-pcapng">Selection as pcapng</button>
        <label>Import pcap <input type="file" class="import" accept=".pcap,.pcapng,.cap"></label>
      </details>
      <button type="button" class="theme" title="Dark mode">◐</button>
      <button type="button" class="logout">Log out</button>
    </header>
    <div class="searchbar"></div>
    <div class="timeline-box"></div>
    <main><section class="content"></section><aside class="details" hidden></aside></main>`;
  search = new SearchBox(app.querySelector('.searchbar')!, api, () => (state.view === 'sessions' ? 'tcp_session' : 'http'), (q) => {
    setState({ q, sel: null }, true);
    void show();
  });
  timeline = new Timeline(app.querySelector('.timeline-box')!, (from, to) => {
    setState({ from, to }, true);
    void show();
  });
  app.querySelectorAll<HTMLButtonElement>('nav.views button').forEach((button) =>
    button.addEventListener('click', () => {
      const view = button.dataset.view as View;
      // Filters are kept per view: HTTP and TCP sessions have different fields.
      queries.set(kindOf(state.view), state.q);
      const q = kindOf(view) === kindOf(state.view) ? state.q : (queries.get(kindOf(view)) ?? '');
      setState({ view, q, sel: null, sort: null, columns: null }, true);
      void show();
    }),
  );
  const whisperers = app.querySelector('.whisperers') as HTMLInputElement;
  whisperers.addEventListener('change', () => {
    setState({ whisperers: whisperers.value.split(',').map((w) => w.trim()).filter(Boolean), sel: null }, true);
    void show();
  });
  app.querySelector('.theme')!.addEventListener('click', () => {
    const dark = document.documentElement.dataset.theme !== 'dark';
    localStorage.setItem('spider.theme', dark ? 'dark' : 'light');
    theme();
    if (state.view === 'map' || state.view === 'usage') void show();
  });
  app.querySelector('.logout')!.addEventListener('click', () => {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    if (refresh) {
      // Ends the user's session on the server too (its access and refresh tokens stop working).
      void fetch('/api/v1/logout', {
        method: 'POST',
        headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: refresh }),
      }).catch(() => undefined);
    }
    clearTimeout(refreshTimer);
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    live?.close();
    login();
  });
  app.querySelector('.export-json')!.addEventListener('click', () => {
    saveBlob(new Blob([JSON.stringify(grid?.rows ?? [], null, 1)], { type: 'application/json' }), `spider-${state.view}.json`);
  });
  app.querySelector('.export-har')!.addEventListener('click', () => {
    void download(api, `/api/v1/http/har?${queryString({ ...rangeParams(), limit: 10000 })}`, 'spider.har').catch((e) => alert(e.message));
  });
  app.querySelector('.export-pcapng')!.addEventListener('click', () => {
    void download(api, `/api/v1/http/pcapng?${queryString(rangeParams())}`, 'spider-selection.pcapng').catch((e) => alert(e.message));
  });
  app.querySelector('.import')!.addEventListener('change', async (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      const name = file.name.replace(/\.[^.]*$/, '');
      const response = await api.raw(`/api/v1/import?name=${encodeURIComponent(name)}`, { method: 'POST', body: file, headers: { 'content-type': 'application/octet-stream' } });
      const imported = await response.json();
      setState({ whisperers: [imported.whisperer], view: 'http', from: null, to: null, sel: null }, true);
      void show();
    } catch (error) {
      alert(`Import failed: ${(error as Error).message}`);
    }
  });
  const menu = app.querySelector('.menu') as HTMLDetailsElement;
  menu.querySelectorAll('button, input').forEach((item) => item.addEventListener('click', () => setTimeout(() => (menu.open = false), 0)));
  window.addEventListener('popstate', () => {
    state = parseState(location.search);
    void show();
  });
}

function columnsOf(kind: 'http' | 'sessions' | 'packets'): Column[] {
  return kind === 'http' ? HTTP_COLUMNS : kind === 'sessions' ? SESSION_COLUMNS : PACKET_COLUMNS;
}

function addFilter(field: string, value: string, exclude: boolean): void {
  const q = addTerm(state.q, field, value, exclude);
  setState({ q, sel: null }, true);
  void show();
}

function details(row: Row | null): void {
  const aside = app.querySelector('.details') as HTMLElement;
  const kind = kindOf(state.view);
  const close = () => {
    setState({ sel: null });
    grid?.select(null);
    details(null);
  };
  if (kind === 'packets') {
    renderPacket(aside, row, close);
    return;
  }
  renderDetails(aside, api, kind, row, () => {
    setState({ sel: null });
    grid?.select(null);
    details(null);
  });
}

async function refreshTimeline(): Promise<void> {
  try {
    const result = await api.get('/api/v1/timeline', { ...rangeParams(), buckets: 120 });
    if (result.from === null) {
      timeline.set([], state.from ?? 0, state.to ?? 1);
      app.querySelector('.range')!.textContent = 'no data yet';
      return;
    }
    const from = Math.floor(result.from / 1e6);
    const to = Math.ceil(result.to / 1e6);
    timeline.set(result.buckets, from, to);
    const total = result.buckets.reduce((sum: number, b: any) => sum + b.count, 0);
    const range = app.querySelector('.range') as HTMLElement;
    range.textContent = `${new Date(from).toISOString().replace('T', ' ').slice(0, 19)} → ${new Date(to).toISOString().replace('T', ' ').slice(0, 19)} · ${total} exchanges `;
    if (state.from !== null || state.to !== null) {
      const reset = document.createElement('button');
      reset.textContent = 'all time';
      reset.addEventListener('click', () => {
        setState({ from: null, to: null }, true);
        void show();
      });
      range.append(reset);
    }
  } catch (error) {
    if (error instanceof ApiError && error.code === 'invalid_query') search.showError(error.message, error.span);
  }
}

function connectLive(): void {
  live?.close();
  live = null;
  if (state.view !== 'http' || state.to !== null || state.sort) return;
  const params = new URLSearchParams({ access_token: api.token });
  if (state.q) params.set('q', state.q);
  if (state.whisperers.length) params.set('whisperer', state.whisperers.join(','));
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/live?${params}`);
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    if (message.type === 'http' && grid) {
      const known = new Set(grid.rows.map((row) => rowId('http', row)));
      grid.prepend(message.items.filter((row: Row) => !known.has(rowId('http', row))));
    }
  });
  live = socket;
}

async function show(): Promise<void> {
  graph?.destroy();
  graph = null;
  attachPanel?.stop();
  attachPanel = null;
  live?.close();
  app.querySelectorAll<HTMLButtonElement>('nav.views button').forEach((b) => b.classList.toggle('active', b.dataset.view === state.view));
  (app.querySelector('.whisperers') as HTMLInputElement).value = state.whisperers.join(',');
  search.set(state.q);
  const content = app.querySelector('.content') as HTMLElement;
  content.className = `content view-${state.view}`;
  content.innerHTML = '';
  details(null);
  const showTimeline = state.view !== 'agents' && state.view !== 'usage';
  (app.querySelector('.timeline-box') as HTMLElement).hidden = !showTimeline;
  (app.querySelector('.searchbar') as HTMLElement).hidden = !showTimeline || state.view === 'packets';
  if (showTimeline) void refreshTimeline();
  else app.querySelector('.range')!.textContent = '';
  if (state.view === 'http' || state.view === 'sessions' || state.view === 'packets') {
    const kind = kindOf(state.view);
    grid = new Grid(content, {
      columns: columnsOf(kind),
      visible: state.columns,
      sort: state.sort,
      idOf: (row) => rowId(kind, row),
      selected: state.sel,
      onSelect: (row) => {
        setState({ sel: rowId(kind, row) });
        grid?.select(rowId(kind, row));
        details(row);
      },
      onFilter: addFilter,
      onColumns: (visible) => setState({ columns: visible }),
      onSort: (sort) => setState({ sort }),
    });
    const path = `/api/v1/${kind}`;
    const params = kind === 'packets' ? { ...rangeParams(), q: null } : rangeParams();
    await grid.load((cursor) => api.get(path, { ...params, limit: 1000, cursor }));
    if (grid.error) {
      const span = grid.error;
      try {
        await api.get(path, { ...params, limit: 1 });
      } catch (error) {
        if (error instanceof ApiError && error.code === 'invalid_query') search.showError(error.message, error.span);
      }
      void span;
    }
    const names = new Set(grid.rows.map((row) => row.whisperer));
    const datalist = app.querySelector('#whisperer-names') as HTMLDataListElement;
    datalist.replaceChildren(...[...names].map((name) => Object.assign(document.createElement('option'), { value: name })));
    if (state.sel) {
      const row = grid.rows.find((r) => rowId(kind, r) === state.sel);
      if (row) details(row);
    }
    connectLive();
  } else if (state.view === 'map') {
    grid = null;
    content.innerHTML = '<div class="graph"></div><p class="hint">Servers blue, clients yellow, size by volume; links green / orange (4xx) / red (5xx, no response); latency on the slowest links. Click a node or link to filter (Ctrl+click to exclude); drag to place.</p>';
    try {
      const map = await api.get('/api/v1/network-map', rangeParams());
      if (!map.nodes.length) content.querySelector('.graph')!.textContent = 'No HTTP traffic in this range.';
      else
        graph = renderGraph(content.querySelector('.graph')!, networkGraph(map.nodes, map.edges), (id, event) => addFilter('server', id, event?.ctrlKey ?? false), (edge, event) => {
          const q = addTerm(addTerm(state.q, 'client', edge.source, false), 'server', edge.target, event?.ctrlKey ?? false);
          setState({ q }, true);
          void show();
        });
    } catch (error) {
      content.querySelector('.graph')!.textContent = `Cannot load the network map: ${(error as Error).message}`;
    }
  } else if (state.view === 'usage') {
    grid = null;
    await showUsage(content);
  } else {
    grid = null;
    await renderAgents(content, api, state.whisperers, (names) => setState({ whisperers: names }));
  }
}

async function showUsage(content: HTMLElement): Promise<void> {
  content.innerHTML = `<div class="usage-bar">
    <label><input type="radio" name="mode" value="nls"> NLS (namespaces → workloads)</label>
    <label><input type="radio" name="mode" value="nps"> NPS (nodes → namespaces → pods)</label>
    <label><input type="checkbox" class="t-intra"> intra-namespace</label>
    <label><input type="checkbox" class="t-node"> node</label>
    <label><input type="checkbox" class="t-external"> external</label></div><div class="usage-body"><div class="graph"></div><aside class="attach-panel"></aside></div>`;
  attachPanel?.stop();
  attachPanel = new AttachPanel(content.querySelector('.attach-panel') as HTMLElement, api);
  void attachPanel.start();
  const bar = content.querySelector('.usage-bar')!;
  (bar.querySelector(`input[value="${usageOptions.mode}"]`) as HTMLInputElement).checked = true;
  const toggles: [string, keyof UsageOptions][] = [['.t-intra', 'intraNamespace'], ['.t-node', 'node'], ['.t-external', 'external']];
  for (const [selector, key] of toggles) {
    const box = bar.querySelector(selector) as HTMLInputElement;
    box.checked = usageOptions[key] as boolean;
    box.addEventListener('change', () => {
      (usageOptions as any)[key] = box.checked;
      void show();
    });
  }
  bar.querySelectorAll<HTMLInputElement>('input[name="mode"]').forEach((radio) =>
    radio.addEventListener('change', () => {
      usageOptions.mode = radio.value as 'nls' | 'nps';
      void show();
    }),
  );
  try {
    const usage = await api.get('/api/v1/usage', { from: state.from, to: state.to, group: 'connection', limit: 10000 });
    const model = usageGraph(usage.items, usageOptions);
    const targets = new Map<string, AttachTarget>();
    for (const row of usage.items) {
      for (const [ip, ref] of [[row.src, row.src_workload], [row.dst, row.dst_workload]]) {
        const target = targetOf(ref, usageOptions.mode);
        if (target) targets.set(placeOf(ip, ref, usageOptions.mode).id, target);
      }
    }
    if (!model.nodes.length) content.querySelector('.graph')!.textContent = 'No network usage in this range (it comes from Gociphers, enriched by a Controller).';
    else
      graph = renderGraph(content.querySelector('.graph')!, model, (id) => {
        const target = targets.get(id);
        if (target) {
          attachPanel?.select(target);
          return;
        }
        const ns = id.startsWith('ns:') ? id.slice(3).replace(/#all$/, '') : null;
        usageOptions.selected = ns;
        void show();
      }, () => {});
  } catch (error) {
    content.querySelector('.graph')!.textContent = `Cannot load network usage: ${(error as Error).message}`;
  }
}

theme();
const { token, rest, fromUrl } = resolveToken(location.search, sessionStorage);
if (fromUrl) history.replaceState(null, '', `${location.pathname}${rest}`);
state = parseState(rest);
if (token && !fromUrl && sessionStorage.getItem(REFRESH_KEY)) {
  // A user's session after a reload: renew its access token (and its timer) first.
  void renew().then(() => {
    const renewed = sessionStorage.getItem(TOKEN_KEY);
    if (renewed) void start(renewed);
  });
} else if (token) void start(token);
else login();
