// Grid columns of each record kind: header, cell text, sort key, and the query field a cell filters on.

import { decodeLayers, Layer, summary } from './packets';

export type Row = Record<string, any>;

export interface Column {
  id: string;
  title: string;
  width: number;
  text: (row: Row) => string;
  /** Sort key (numbers sort numerically). */
  key?: (row: Row) => number | string;
  /** The query field and value a click on the cell filters on. */
  filter?: (row: Row) => [string, string] | null;
  hidden?: boolean;
}

export function formatTime(ns: number | null | undefined): string {
  if (ns === null || ns === undefined) return '';
  const ms = Math.floor(ns / 1e6);
  const date = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`;
}

export function formatDuration(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || ns < 0) return '';
  if (ns < 1e3) return `${ns} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function endpoint(e: { ip: string; port: number } | undefined): string {
  if (!e) return '';
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** Request start to response end (or request end), in ns. */
export function httpDuration(row: Row): number | null {
  const t = row.timing;
  if (!t) return null;
  const end = t.response_end ?? t.request_end;
  return end ? end - t.request_start : null;
}

/** The identity of a row, kept in the URL as the selection. */
export function rowId(kind: 'http' | 'sessions' | 'packets', row: Row): string {
  if (kind === 'packets') return packetRowId(row);
  return kind === 'http' ? `${row.whisperer}/${row.session_id}/${row.index}` : `${row.whisperer}/${row.id}`;
}

export const HTTP_COLUMNS: Column[] = [
  { id: 'time', title: 'Time', width: 190, text: (r) => formatTime(r.timing?.request_start), key: (r) => r.timing?.request_start ?? 0 },
  { id: 'whisperer', title: 'Whisperer', width: 110, text: (r) => r.whisperer, filter: (r) => ['whisperer', r.whisperer], hidden: true },
  { id: 'client', title: 'From', width: 150, text: (r) => r.client?.ip ?? '', filter: (r) => ['client', r.client?.ip] },
  { id: 'server', title: 'To', width: 160, text: (r) => endpoint(r.server), filter: (r) => ['server', endpoint(r.server)] },
  { id: 'method', title: 'Method', width: 70, text: (r) => r.method, filter: (r) => ['method', r.method] },
  { id: 'host', title: 'Host', width: 160, text: (r) => r.host ?? '', filter: (r) => (r.host ? ['host', r.host] : null) },
  { id: 'path', title: 'Path', width: 260, text: (r) => r.path, filter: (r) => ['path', r.path] },
  { id: 'status', title: 'Status', width: 60, text: (r) => (r.status ?? '—').toString(), key: (r) => r.status ?? 0, filter: (r) => (r.status ? ['status', String(r.status)] : null) },
  { id: 'duration', title: 'Duration', width: 90, text: (r) => formatDuration(httpDuration(r)), key: (r) => httpDuration(r) ?? -1 },
  { id: 'size', title: 'Resp. size', width: 90, text: (r) => formatBytes(r.response_body?.wire_length), key: (r) => r.response_body?.wire_length ?? -1 },
  { id: 'type', title: 'Content-Type', width: 150, text: (r) => r.response_body?.content_type ?? '', hidden: true },
  { id: 'state', title: 'Parse', width: 80, text: (r) => r.state, filter: (r) => ['state', r.state] },
  { id: 'session', title: 'Session', width: 80, text: (r) => String(r.session_id), key: (r) => r.session_id, filter: (r) => ['session', String(r.session_id)], hidden: true },
];

function sessionBytes(r: Row): number {
  return (r.client_to_server?.bytes ?? 0) + (r.server_to_client?.bytes ?? 0);
}

export const SESSION_COLUMNS: Column[] = [
  { id: 'time', title: 'First packet', width: 190, text: (r) => formatTime(r.first_packet), key: (r) => r.first_packet },
  { id: 'whisperer', title: 'Whisperer', width: 110, text: (r) => r.whisperer, filter: (r) => ['whisperer', r.whisperer], hidden: true },
  { id: 'client', title: 'Client', width: 170, text: (r) => endpoint(r.client), filter: (r) => ['client', r.client?.ip] },
  { id: 'server', title: 'Server', width: 170, text: (r) => endpoint(r.server), filter: (r) => ['server', endpoint(r.server)] },
  { id: 'state', title: 'State', width: 90, text: (r) => r.state, filter: (r) => ['state', r.state] },
  { id: 'close', title: 'Close', width: 90, text: (r) => r.close_reason ?? '', filter: (r) => (r.close_reason ? ['close_reason', r.close_reason] : null) },
  { id: 'duration', title: 'Duration', width: 90, text: (r) => formatDuration(r.last_packet - r.first_packet), key: (r) => r.last_packet - r.first_packet },
  { id: 'rtt', title: 'RTT', width: 80, text: (r) => formatDuration(r.handshake_rtt_ns), key: (r) => r.handshake_rtt_ns ?? -1 },
  { id: 'bytes', title: 'Bytes', width: 90, text: (r) => formatBytes(sessionBytes(r)), key: sessionBytes },
  { id: 'packets', title: 'Packets', width: 70, text: (r) => String((r.client_to_server?.packets ?? 0) + (r.server_to_client?.packets ?? 0)), key: (r) => (r.client_to_server?.packets ?? 0) + (r.server_to_client?.packets ?? 0) },
  { id: 'missed_syn', title: 'Missed SYN', width: 80, text: (r) => (r.missed_syn ? 'yes' : ''), filter: (r) => ['missed_syn', String(!!r.missed_syn)], hidden: true },
  { id: 'id', title: 'Id', width: 80, text: (r) => String(r.id), key: (r) => r.id, filter: (r) => ['session', String(r.id)] },
];

/** A packet row's decoded layers, computed once per row. */
function layersOf(row: Row): Layer[] {
  if (!row._layers) {
    const binary = atob(row.frame ?? '');
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    row._bytes = bytes;
    row._layers = decodeLayers(bytes, row.link_type ?? 1);
  }
  return row._layers;
}

export const PACKET_COLUMNS: Column[] = [
  { id: 'time', title: 'Time', width: 190, text: (r) => formatTime(r.time), key: (r) => r.time },
  { id: 'whisperer', title: 'Whisperer', width: 130, text: (r) => r.whisperer, filter: (r) => ['whisperer', r.whisperer] },
  { id: 'session', title: 'Session', width: 80, text: (r) => String(r.session_id), key: (r) => r.session_id },
  { id: 'direction', title: 'Dir', width: 60, text: (r) => (r.from_client ? 'c→s' : 's→c') },
  { id: 'length', title: 'Length', width: 70, text: (r) => String(r.wire_len), key: (r) => r.wire_len },
  { id: 'summary', title: 'Summary', width: 520, text: (r) => summary(layersOf(r)) },
];

export { layersOf };

export function packetRowId(row: Row): string {
  return `${row.whisperer}/${row.session_id}/${row.time}/${row.wire_len}`;
}

/** Rows sorted by a column (stable); the original order when the column has no key or text. */
export function sortRows(rows: Row[], column: Column, desc: boolean): Row[] {
  const key = column.key ?? column.text;
  const keyed = rows.map((row, index) => ({ row, index, k: key(row) }));
  keyed.sort((a, b) => {
    let c = 0;
    if (typeof a.k === 'number' && typeof b.k === 'number') c = a.k - b.k;
    else c = String(a.k).localeCompare(String(b.k));
    if (c === 0) c = a.index - b.index;
    return desc ? -c : c;
  });
  return keyed.map((entry) => entry.row);
}
