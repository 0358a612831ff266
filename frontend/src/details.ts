// The detail panel: an HTTP exchange (timing bar, headers, bodies raw / pretty / hex) or a TCP session.

import { Api, download } from './api';
import { bodyBytes, hexDump, isImage, prettyBody } from './body';
import { Row, endpoint, formatBytes, formatDuration, formatTime, layersOf } from './columns';
import { decodeLayers, readPcapng, summary } from './packets';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

function table(pairs: [string, string][]): HTMLTableElement {
  const t = el('table', { class: 'kv' });
  for (const [k, v] of pairs) t.append(el('tr', {}, el('th', {}, k), el('td', {}, v)));
  return t;
}

function timingBar(row: Row): HTMLElement {
  const t = row.timing ?? {};
  const start = t.request_start;
  const end = t.response_end ?? t.response_start ?? t.request_end ?? start;
  const total = Math.max(1, end - start);
  const bar = el('div', { class: 'timing-bar' });
  const parts: [string, number | null, number | null][] = [
    ['send', start, t.request_end],
    ['wait', t.request_end, t.response_start],
    ['receive', t.response_start, t.response_end],
  ];
  for (const [name, a, b] of parts) {
    if (a == null || b == null) continue;
    const seg = el('div', { class: `seg ${name}`, title: `${name}: ${formatDuration(b - a)}` });
    seg.style.left = `${((a - start) / total) * 100}%`;
    seg.style.width = `${Math.max(0.5, ((b - a) / total) * 100)}%`;
    bar.append(seg);
  }
  return el('div', {}, bar, el('div', { class: 'timing-legend' }, `send ${formatDuration((t.request_end ?? start) - start)} · wait ${t.response_start && t.request_end ? formatDuration(t.response_start - t.request_end) : '—'} · receive ${t.response_end && t.response_start ? formatDuration(t.response_end - t.response_start) : '—'} · total ${formatDuration(end - start)}`));
}

function bodyView(title: string, body: any): HTMLElement {
  const box = el('div', { class: 'body' }, el('h4', {}, title));
  if (!body || (!body.data && !body.wire_length)) {
    box.append(el('p', { class: 'muted' }, 'no body'));
    return box;
  }
  box.append(el('p', { class: 'muted' }, `${body.content_type ?? 'unknown type'} · ${formatBytes(body.wire_length)} on the wire · ${formatBytes(body.decoded_length)} decoded${body.content_encoding ? ` (${body.content_encoding})` : ''}${body.truncated ? ' · truncated' : ''}`));
  if (!body.data) return box;
  const tabs = el('div', { class: 'tabs' });
  const content = el('div', { class: 'tab-content' });
  const pretty = prettyBody(body.data, body.content_type);
  const modes: [string, () => Node][] = [];
  if (isImage(body.content_type)) {
    modes.push(['image', () => {
      const img = el('img', { alt: 'body' });
      const url = URL.createObjectURL(new Blob([bodyBytes(body.data) as BlobPart], { type: body.content_type }));
      img.src = url;
      return img;
    }]);
  }
  if (pretty !== null) modes.push(['pretty', () => el('pre', { class: 'code' }, pretty)]);
  if (/html/i.test(body.content_type ?? '') && body.data.encoding === 'utf8') {
    modes.push(['rendered', () => {
      const frame = el('iframe', { sandbox: '', class: 'html-preview' }) as HTMLIFrameElement;
      frame.srcdoc = body.data.value;
      return frame;
    }]);
  }
  if (body.data.encoding === 'utf8') modes.push(['raw', () => el('pre', { class: 'code' }, body.data.value)]);
  modes.push(['hex', () => el('pre', { class: 'code hex' }, hexDump(bodyBytes(body.data)))]);
  const show = (index: number) => {
    content.replaceChildren(modes[index]![1]());
    tabs.querySelectorAll('button').forEach((b, i) => b.classList.toggle('active', i === index));
  };
  modes.forEach(([name], index) => {
    const button = el('button', { type: 'button' }, name);
    button.addEventListener('click', () => show(index));
    tabs.append(button);
  });
  box.append(tabs, content);
  show(0);
  return box;
}

function headers(title: string, list: [string, string][] | undefined): HTMLElement {
  return el('div', {}, el('h4', {}, title), table(list ?? []));
}

/** The packets of a session: a list; a click shows the frame's layers and its bytes. */
function packetsView(api: Api, whisperer: string, sessionId: number): HTMLElement {
  const box = el('div', { class: 'packets' }, el('h4', {}, 'Packets'));
  const load = el('button', { type: 'button', class: 'show-packets' }, 'Show the packets of this session');
  box.append(load);
  load.addEventListener('click', async () => {
    load.disabled = true;
    try {
      const response = await api.raw(`/api/v1/sessions/${encodeURIComponent(whisperer)}/${sessionId}/pcapng`);
      const frames = readPcapng(new Uint8Array(await response.arrayBuffer()));
      const list = el('table', { class: 'packet-list' });
      const detail = el('div', { class: 'packet-detail' });
      const first = frames[0]?.time ?? 0;
      frames.forEach((frame, index) => {
        const layers = decodeLayers(frame.data, frame.linkType);
        const tr = el('tr', {}, el('td', {}, String(index + 1)), el('td', {}, `+${formatDuration(frame.time - first)}`), el('td', {}, String(frame.wireLength)), el('td', {}, summary(layers)));
        tr.addEventListener('click', () => {
          list.querySelectorAll('tr').forEach((row) => row.classList.remove('selected'));
          tr.classList.add('selected');
          const tree = el('div', { class: 'layers' });
          for (const layer of layers) {
            const item = el('details', { open: '' }, el('summary', {}, `${layer.name} (bytes ${layer.start}–${layer.end - 1})`), table(layer.fields));
            tree.append(item);
          }
          detail.replaceChildren(tree, el('pre', { class: 'code hex' }, hexDump(frame.data)));
        });
        list.append(tr);
      });
      load.replaceWith(el('p', { class: 'muted' }, `${frames.length} packets`), list, detail);
    } catch (error) {
      load.disabled = false;
      box.append(el('p', { class: 'error' }, (error as Error).message));
    }
  });
  return box;
}

export function renderDetails(root: HTMLElement, api: Api, kind: 'http' | 'sessions', row: Row | null, onClose: () => void): void {
  root.innerHTML = '';
  if (!row) {
    root.hidden = true;
    return;
  }
  root.hidden = false;
  const close = el('button', { type: 'button', class: 'close', title: 'Close' }, '×');
  close.addEventListener('click', onClose);
  const sessionId = kind === 'http' ? row.session_id : row.id;
  const pcap = el('button', { type: 'button', class: 'download-pcapng' }, 'Download session (pcapng)');
  pcap.addEventListener('click', () => {
    void download(api, `/api/v1/sessions/${encodeURIComponent(row.whisperer)}/${sessionId}/pcapng`, `${row.whisperer}-session-${sessionId}.pcapng`).catch((error) => alert(error.message));
  });
  if (kind === 'http') {
    root.append(
      el('div', { class: 'detail-head' }, el('h3', {}, `${row.method} ${row.uri}`), close),
      el('p', { class: `status-line s${row.status ? Math.floor(row.status / 100) : 'none'}xx` }, row.status ? `${row.status} ${row.reason ?? ''}` : 'no response'),
      timingBar(row),
      table([
        ['Time', formatTime(row.timing?.request_start)],
        ['From', endpoint(row.client)],
        ['To', endpoint(row.server)],
        ['Host', row.host ?? ''],
        ['Version', row.version],
        ['Parse state', row.state + (row.warnings?.length ? ` (${row.warnings.join('; ')})` : '')],
        ['Whisperer', row.whisperer],
        ['Session', `${row.session_id} #${row.index}`],
        ['Query', (row.query ?? []).map(([k, v]: [string, string]) => `${k}=${v}`).join('&')],
      ]),
      pcap,
      headers('Request headers', row.request_headers),
      bodyView('Request body', row.request_body),
      headers('Response headers', row.response_headers),
      bodyView('Response body', row.response_body),
      packetsView(api, row.whisperer, sessionId),
    );
  } else {
    const c = row.client_to_server ?? {};
    const s = row.server_to_client ?? {};
    root.append(
      el('div', { class: 'detail-head' }, el('h3', {}, `${endpoint(row.client)} → ${endpoint(row.server)}`), close),
      table([
        ['State', `${row.state}${row.close_reason ? ` (${row.close_reason})` : ''}`],
        ['First packet', formatTime(row.first_packet)],
        ['Connected', formatTime(row.connected_at)],
        ['Last packet', formatTime(row.last_packet)],
        ['Duration', formatDuration(row.last_packet - row.first_packet)],
        ['Handshake RTT', formatDuration(row.handshake_rtt_ns)],
        ['Missed SYN', row.missed_syn ? 'yes' : 'no'],
        ['Client → server', `${c.packets ?? 0} packets · ${formatBytes(c.bytes)} · ${c.retransmissions ?? 0} retransmissions · ${formatBytes(c.lost_bytes)} lost`],
        ['Server → client', `${s.packets ?? 0} packets · ${formatBytes(s.bytes)} · ${s.retransmissions ?? 0} retransmissions · ${formatBytes(s.lost_bytes)} lost`],
        ['Whisperer', row.whisperer],
        ['Session id', String(row.id)],
      ]),
      pcap,
      packetsView(api, row.whisperer, sessionId),
    );
  }
}

/** One packet of the packets grid: its layers and its bytes. */
export function renderPacket(root: HTMLElement, row: Row | null, onClose: () => void): void {
  root.innerHTML = '';
  root.hidden = !row;
  if (!row) return;
  const close = el('button', { type: 'button', class: 'close', title: 'Close' }, '×');
  close.addEventListener('click', onClose);
  const layers = layersOf(row);
  const tree = el('div', { class: 'layers' });
  for (const layer of layers) tree.append(el('details', { open: '' }, el('summary', {}, `${layer.name} (bytes ${layer.start}–${layer.end - 1})`), table(layer.fields)));
  root.append(
    el('div', { class: 'detail-head' }, el('h3', {}, `Packet of session ${row.session_id}`), close),
    table([['Time', formatTime(row.time)], ['Whisperer', row.whisperer], ['Direction', row.from_client ? 'client → server' : 'server → client'], ['Length', `${row.wire_len} on the wire, ${row._bytes.length} captured`]]),
    tree,
    el('pre', { class: 'code hex' }, hexDump(row._bytes)),
  );
}
