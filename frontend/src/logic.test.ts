import { describeTarget, targetOf, ttlSeconds } from './attach';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE, formatState, parseState } from './state';
import { canWrite, parseTokens, refreshDelay, resolveToken, takeToken, TOKEN_KEY } from './auth';
import { addTerm, applyCompletion, quoteValue, term } from './filters';
import { needsMore, scrollScale, visibleWindow } from './vscroll';
import { dragRange, stack, tickStep, timeAt, xOf, zoom } from './timeline-math';
import { HTTP_COLUMNS, SESSION_COLUMNS, formatDuration, rowId, sortRows } from './columns';
import { networkGraph, placeOf, usageGraph } from './graph-model';
import { bodyBytes, hexDump, prettyBody } from './body';
import { validateSettings } from './agents';

describe('URL state', () => {
  it('round-trips every field', () => {
    const state = { view: 'sessions' as const, whisperers: ['a', 'b c'], from: 1000, to: 2000, q: 'status:5xx AND path:"/a b"', sel: 'w/1/0', sort: { column: 'time', desc: true }, columns: ['time', 'path'] };
    expect(parseState(formatState(state))).toEqual(state);
  });
  it('leaves defaults out and falls back on bad values', () => {
    expect(formatState(DEFAULT_STATE)).toBe('');
    expect(parseState('?view=nope&from=x&to=5')).toEqual({ ...DEFAULT_STATE, to: 5 });
    expect(parseState('?from=10&to=5').from).toBeNull();
  });
});

describe('token', () => {
  const memory = () => {
    const map = new Map<string, string>();
    return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) };
  };
  it('is taken from the URL once and kept', () => {
    expect(takeToken('?token=abc&view=map')).toEqual({ token: 'abc', rest: '?view=map' });
    const storage = memory();
    expect(resolveToken('?token=abc&q=x', storage)).toEqual({ token: 'abc', rest: '?q=x', fromUrl: true });
    expect(storage.getItem(TOKEN_KEY)).toBe('abc');
    expect(resolveToken('?q=x', storage)).toEqual({ token: 'abc', rest: '?q=x', fromUrl: false });
  });
});

describe('filters from cells', () => {
  it('quotes what the grammar would misread', () => {
    expect(quoteValue('/api/v1/orders')).toBe('/api/v1/orders');
    expect(quoteValue('10.0.0.1:80')).toBe('10.0.0.1:80');
    expect(quoteValue('a b')).toBe('"a b"');
    expect(quoteValue('a*b')).toBe('"a\\*b"');
    expect(quoteValue('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteValue('OR')).toBe('"OR"');
    expect(quoteValue('')).toBe('""');
  });
  it('adds include and exclude terms', () => {
    expect(term('method', 'GET', true)).toBe('NOT method:GET');
    expect(addTerm('', 'method', 'GET', false)).toBe('method:GET');
    expect(addTerm('status:5xx', 'method', 'GET', true)).toBe('status:5xx AND NOT method:GET');
    expect(addTerm('a:1 OR b:2', 'c', '3', false)).toBe('(a:1 OR b:2) AND c:3');
    expect(addTerm('method:GET', 'method', 'GET', false)).toBe('method:GET');
  });
  it('applies a completion over the typed word (character indices)', () => {
    expect(applyCompletion('sta', 'status:', [0, 3])).toEqual({ value: 'status:', cursor: 7 });
    expect(applyCompletion('é method:P', 'POST', [9, 10])).toEqual({ value: 'é method:POST', cursor: 13 });
  });
});

describe('virtual scrolling', () => {
  it('renders only the rows in view plus overscan', () => {
    const w = visibleWindow(24 * 100_000, 600, 24, 200_000, 20);
    expect(w.start).toBe(100_000 - 20);
    expect(w.end - w.start).toBeLessThan(100);
    expect(w.offset).toBe(w.start * 24);
    expect(w.height).toBe(200_000 * 24);
  });
  it('reaches the last row and clamps', () => {
    const w = visibleWindow(1e12, 600, 24, 200_000);
    expect(w.end).toBe(200_000);
    expect(visibleWindow(0, 600, 24, 0)).toEqual({ start: 0, end: 0, offset: 0, height: 0 });
  });
  it('asks for more near the end and scales huge heights', () => {
    expect(needsMore(visibleWindow(0, 600, 24, 1000), 1000)).toBe(false);
    expect(needsMore(visibleWindow(24 * 950, 600, 24, 1000), 1000)).toBe(true);
    expect(scrollScale(1000)).toBe(1);
    expect(scrollScale(30_000_000)).toBeLessThan(1);
  });
});

describe('timeline', () => {
  it('maps times and drags', () => {
    expect(xOf(150, 100, 200, 1000)).toBe(500);
    expect(timeAt(500, 100, 200, 1000)).toBe(150);
    expect(dragRange(100, 300, 0, 1000, 1000)).toEqual([100, 300]);
    expect(dragRange(300, 100, 0, 1000, 1000)).toEqual([100, 300]);
    expect(dragRange(100, 101, 0, 1000, 1000)).toBeNull();
    expect(zoom(0, 1000, 500, 0.5)).toEqual([250, 750]);
  });
  it('stacks by status class', () => {
    expect(stack({ start: 0, count: 6, by_class: { '2xx': 3, '5xx': 2, none: 1 } })).toEqual([['2xx', 0, 3], ['5xx', 3, 5], ['none', 5, 6]]);
    expect(tickStep(60_000)).toBe(10_000);
  });
});

describe('columns', () => {
  const rows = [
    { kind: 'http', whisperer: 'w', session_id: 1, index: 0, status: 500, timing: { request_start: 2, response_end: 10 } },
    { kind: 'http', whisperer: 'w', session_id: 2, index: 0, status: 200, timing: { request_start: 1, response_end: 3 } },
  ];
  it('sorts by key and gives ids', () => {
    const status = HTTP_COLUMNS.find((c) => c.id === 'status')!;
    expect(sortRows(rows, status, false).map((r) => r.status)).toEqual([200, 500]);
    const duration = HTTP_COLUMNS.find((c) => c.id === 'duration')!;
    expect(sortRows(rows, duration, true).map((r) => r.session_id)).toEqual([1, 2]);
    expect(rowId('http', rows[0]!)).toBe('w/1/0');
    expect(rowId('sessions', { whisperer: 'w', id: 9 })).toBe('w/9');
    expect(SESSION_COLUMNS.find((c) => c.id === 'client')!.filter!({ client: { ip: '1.2.3.4', port: 5 } })).toEqual(['client', '1.2.3.4']);
    expect(formatDuration(1_500_000)).toBe('1.5 ms');
  });
});

describe('maps', () => {
  it('builds the network map with error colours and latency on the slowest links', () => {
    const graph = networkGraph(
      [{ ip: '10.0.0.1', names: [], requests_out: 10, requests_in: 0 }, { ip: '10.0.0.2', names: ['api'], requests_out: 0, requests_in: 10 }],
      [{ client: '10.0.0.1', server: '10.0.0.2', requests: 10, client_errors: 2, server_errors: 3, no_response: 0, latency_mean_ns: 5e6 }],
    );
    expect(graph.nodes.find((n) => n.id === '10.0.0.2')!.role).toBe('server');
    expect(graph.nodes.find((n) => n.id === '10.0.0.1')!.color).toBe('#e3b341');
    expect(graph.edges[0]!.positions).toBe('0% 50% 50% 70% 70% 100%');
    expect(graph.edges[0]!.label).toBe('5.0 ms');
  });
  it('builds the cluster map: collapse, cloud, toggles', () => {
    const rows = [];
    for (let i = 0; i < 12; i++) rows.push({ src: `10.0.0.${i}`, dst: '10.1.0.1', bytes: 100 * (i + 1), messages: 1, src_workload: { namespace: 'big', kind: 'Deployment', workload: `w${i}` }, dst_workload: { namespace: 'web', kind: 'Deployment', workload: 'front' } });
    rows.push({ src: '10.1.0.1', dst: '8.8.8.8', bytes: 5, messages: 1, src_workload: { namespace: 'web', kind: 'Deployment', workload: 'front' }, dst_workload: { kind: 'external' } });
    const options = { mode: 'nls' as const, selected: null, intraNamespace: true, node: true, external: true, collapseOver: 10 };
    const graph = usageGraph(rows, options);
    expect(graph.nodes.some((n) => n.id === 'ns:big#all' && n.label === '12 workloads')).toBe(true);
    expect(graph.nodes.some((n) => n.id === 'cloud')).toBe(true);
    expect(usageGraph(rows, { ...options, selected: 'big' }).nodes.filter((n) => n.parent === 'ns:big').length).toBe(12);
    expect(usageGraph(rows, { ...options, external: false }).nodes.some((n) => n.id === 'cloud')).toBe(false);
    expect(placeOf('1.2.3.4', { kind: 'internal_unidentified' }, 'nls').id).toBe('internal');
    expect(placeOf('1.2.3.4', { namespace: 'a', pod: 'p', node: 'n1', kind: 'Pod' }, 'nps').parents.map((p) => p[0])).toEqual(['node:n1', 'nsn:n1/a']);
  });
});

describe('bodies', () => {
  it('pretty-prints JSON and dumps hex', () => {
    expect(prettyBody({ encoding: 'utf8', value: '{"a":1}' }, 'application/json')).toBe('{\n  "a": 1\n}');
    expect(prettyBody({ encoding: 'base64', value: 'AAE=' }, 'image/png')).toBeNull();
    expect(Array.from(bodyBytes({ encoding: 'base64', value: 'AAE=' }))).toEqual([0, 1]);
    expect(hexDump(new TextEncoder().encode('AB\n'))).toBe(`00000000  ${'41 42 0a'.padEnd(47)}  AB.`);
  });
});

describe('Whisperer settings', () => {
  it('validates before sending', () => {
    expect(validateSettings({ kind: 'whisperer', capture: true, filter: 'tcp port 80', snaplen: 65535, cpu_budget: 10 })).toEqual([]);
    expect(validateSettings({ kind: 'whisperer', capture: 'yes', snaplen: -1, cpu_budget: 300 })).toHaveLength(3);
    expect(validateSettings(null)).toEqual(['settings must be a JSON object']);
  });
});

import { decodeLayers, readPcapng, summary } from './packets';

describe('packets', () => {
  // Ethernet + IPv4 + TCP SYN from 10.0.0.1:1234 to 10.0.0.2:80, plus 2 payload bytes.
  const frame = new Uint8Array([
    2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
    0x45, 0, 0, 42, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0,
    0x68, 0x69,
  ]);
  it('decodes the layers of a frame', () => {
    const layers = decodeLayers(frame, 1);
    expect(layers.map((l) => l.name)).toEqual(['Ethernet', 'IPv4', 'TCP', 'Payload']);
    expect(layers[2]!.fields.find(([k]) => k === 'flags')![1]).toBe('SYN ACK');
    expect(layers[3]).toMatchObject({ start: 54, end: 56 });
    expect(summary(layers)).toBe('10.0.0.1:1234 → 10.0.0.2:80 TCP [SYN ACK] 2 bytes');
  });
  it('reads a pcapng of one interface and one packet', () => {
    const block = (type: number, body: number[]) => {
      const length = 12 + body.length;
      const out = new Uint8Array(length);
      const v = new DataView(out.buffer);
      v.setUint32(0, type, true);
      v.setUint32(4, length, true);
      out.set(body, 8);
      v.setUint32(length - 4, length, true);
      return out;
    };
    const le32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
    const shb = block(0x0a0d0d0a, [...le32(0x1a2b3c4d), 1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
    const idb = block(1, [1, 0, 0, 0, ...le32(65535)]);
    const padded = [...frame, 0, 0, 0, 0].slice(0, Math.ceil(frame.length / 4) * 4);
    const epb = block(6, [...le32(0), ...le32(0), ...le32(1_000_000), ...le32(frame.length), ...le32(frame.length), ...padded]);
    const file = new Uint8Array([...shb, ...idb, ...epb]);
    const frames = readPcapng(file);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.time).toBe(1e9);
    expect(Array.from(frames[0]!.data)).toEqual(Array.from(frame));
    expect(() => readPcapng(file.slice(0, file.length - 8))).toThrow(/damaged/);
  });
});

describe('attachment targets', () => {
  const web = { namespace: 'shop', kind: 'Deployment', workload: 'web', pod: 'web-1', node: 'n1' };
  it('a workload in NLS, a pod in NPS, nothing for IP classes', () => {
    expect(targetOf(web, 'nls')).toEqual({ target: 'workload', namespace: 'shop', kind: 'Deployment', name: 'web' });
    expect(targetOf(web, 'nps')).toEqual({ target: 'pod', namespace: 'shop', name: 'web-1' });
    expect(targetOf({ namespace: 'shop', kind: 'Pod', workload: 'bare', pod: 'bare' }, 'nls')).toEqual({ target: 'pod', namespace: 'shop', name: 'bare' });
    expect(targetOf({ kind: 'external' }, 'nls')).toBeNull();
    expect(targetOf({ kind: 'node', node: 'n1' }, 'nls')).toBeNull();
    expect(targetOf(null, 'nls')).toBeNull();
    expect(describeTarget(targetOf(web, 'nls')!)).toBe('Deployment shop/web');
  });
  it('the time to live is whole minutes from 1 to a week', () => {
    expect(ttlSeconds('30')).toBe(1800);
    expect(ttlSeconds('0')).toBeNull();
    expect(ttlSeconds('1.5')).toBeNull();
    expect(ttlSeconds('abc')).toBeNull();
    expect(ttlSeconds(String(7 * 24 * 60 + 1))).toBeNull();
  });
});

describe('host mode usage', () => {
  it('a process or container on a plain host sits in its host, in both views', () => {
    const ref = { kind: 'Process', workload: 'nginx', node: 'web-1', namespace: null, pod: null };
    for (const mode of ['nls', 'nps'] as const) {
      expect(placeOf('10.0.0.5', ref, mode)).toEqual({ id: 'proc:web-1/nginx', label: 'nginx', parents: [['node:web-1', 'web-1']], cls: 'process' });
    }
    expect(placeOf('10.0.0.5', { ...ref, kind: 'Container', workload: 'abc123' }, 'nls').cls).toBe('container');
  });
});

describe('user tokens', () => {
  it('reads a login answer and refreshes a minute before expiry', () => {
    const tokens = parseTokens({ user: 'ana', access_token: 'a', refresh_token: 'r', expires_at: 900_000 });
    expect(tokens).toEqual({ user: 'ana', accessToken: 'a', refreshToken: 'r', expiresAt: 900_000 });
    expect(parseTokens({ error: { code: 'unauthorized' } })).toBeNull();
    expect(parseTokens(null)).toBeNull();
    expect(refreshDelay(900_000, 0)).toBe(840_000);
    expect(refreshDelay(10_000, 0)).toBe(5_000);
  });
});

describe('who may write', () => {
  it('needs scope admin or agents', () => {
    expect(canWrite({ scopes: ['admin'] })).toBe(true);
    expect(canWrite({ scopes: ['query', 'agents'] })).toBe(true);
    expect(canWrite({ scopes: ['query'] })).toBe(false);
    expect(canWrite(null)).toBe(false);
  });
});
