// Packets down to the byte: reading a pcapng (a session's export) and decoding a frame's layers.

export interface Frame {
  /** Epoch nanoseconds. */
  time: number;
  linkType: number;
  wireLength: number;
  data: Uint8Array;
  comment?: string;
}

export interface Layer {
  name: string;
  /** Byte range of the layer's header in the frame. */
  start: number;
  end: number;
  fields: [string, string][];
}

/** The frames of a pcapng file (SHB, IDB, EPB and SPB; both byte orders). */
export function readPcapng(bytes: Uint8Array): Frame[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: Frame[] = [];
  const interfaces: { linkType: number; tsDiv: number }[] = [];
  let little = true;
  let at = 0;
  while (at + 12 <= bytes.length) {
    const type = view.getUint32(at, true);
    if (type === 0x0a0d0d0a) {
      little = view.getUint32(at + 8, true) === 0x1a2b3c4d;
      interfaces.length = 0;
    }
    const length = view.getUint32(at + 4, little);
    if (length < 12 || at + length > bytes.length) throw new Error(`damaged pcapng block at byte ${at}`);
    const blockType = view.getUint32(at, little);
    if (blockType === 1) {
      const linkType = view.getUint16(at + 8, little);
      let tsDiv = 1e6;
      let opt = at + 16;
      while (opt + 4 <= at + length - 4) {
        const code = view.getUint16(opt, little);
        const len = view.getUint16(opt + 2, little);
        if (code === 0) break;
        if (code === 9 && len >= 1) {
          const v = bytes[opt + 4]!;
          tsDiv = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
        }
        opt += 4 + Math.ceil(len / 4) * 4;
      }
      interfaces.push({ linkType, tsDiv });
    } else if (blockType === 6) {
      const iface = interfaces[view.getUint32(at + 8, little)] ?? { linkType: 1, tsDiv: 1e6 };
      const ts = view.getUint32(at + 12, little) * 2 ** 32 + view.getUint32(at + 16, little);
      const captured = view.getUint32(at + 20, little);
      const wire = view.getUint32(at + 24, little);
      frames.push({ time: Math.round((ts / iface.tsDiv) * 1e9), linkType: iface.linkType, wireLength: wire, data: bytes.slice(at + 28, at + 28 + captured) });
    } else if (blockType === 3) {
      const iface = interfaces[0] ?? { linkType: 1, tsDiv: 1e6 };
      const wire = view.getUint32(at + 8, little);
      frames.push({ time: 0, linkType: iface.linkType, wireLength: wire, data: bytes.slice(at + 12, at + 12 + Math.min(wire, length - 16)) });
    }
    at += length;
  }
  return frames;
}

const hex = (b: Uint8Array, s: number, e: number) => Array.from(b.subarray(s, e), (x) => x.toString(16).padStart(2, '0')).join(':');
function ipv6(b: Uint8Array, s: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[s + i]! << 8) | b[s + i + 1]!).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
const u16 = (b: Uint8Array, s: number) => (b[s]! << 8) | b[s + 1]!;
const u32 = (b: Uint8Array, s: number) => ((b[s]! << 24) >>> 0) + (b[s + 1]! << 16) + (b[s + 2]! << 8) + b[s + 3]!;

/** The layers of a frame: link (Ethernet, VLAN, Linux cooked, raw IP), IPv4/IPv6, TCP/UDP, payload. */
export function decodeLayers(frame: Uint8Array, linkType: number): Layer[] {
  const layers: Layer[] = [];
  let at = 0;
  let etherType = 0;
  if (linkType === 1) {
    if (frame.length < 14) return layers;
    etherType = u16(frame, 12);
    layers.push({ name: 'Ethernet', start: 0, end: 14, fields: [['destination', hex(frame, 0, 6)], ['source', hex(frame, 6, 12)], ['type', `0x${etherType.toString(16).padStart(4, '0')}`]] });
    at = 14;
    while ((etherType === 0x8100 || etherType === 0x88a8) && at + 4 <= frame.length) {
      layers.push({ name: '802.1Q', start: at, end: at + 4, fields: [['vlan', String(u16(frame, at) & 0x0fff)]] });
      etherType = u16(frame, at + 2);
      at += 4;
    }
  } else if (linkType === 113) {
    etherType = u16(frame, 14);
    layers.push({ name: 'Linux cooked (SLL)', start: 0, end: 16, fields: [['protocol', `0x${etherType.toString(16)}`]] });
    at = 16;
  } else if (linkType === 101 || linkType === 12) {
    etherType = frame[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  } else {
    return [{ name: `link type ${linkType}`, start: 0, end: frame.length, fields: [] }];
  }
  let proto = -1;
  if (etherType === 0x0800 && at + 20 <= frame.length) {
    const ihl = (frame[at]! & 0x0f) * 4;
    proto = frame[at + 9]!;
    layers.push({ name: 'IPv4', start: at, end: at + ihl, fields: [['source', Array.from(frame.subarray(at + 12, at + 16)).join('.')], ['destination', Array.from(frame.subarray(at + 16, at + 20)).join('.')], ['total length', String(u16(frame, at + 2))], ['ttl', String(frame[at + 8])], ['protocol', String(proto)], ['id', String(u16(frame, at + 4))], ['flags/fragment', `0x${u16(frame, at + 6).toString(16)}`]] });
    at += ihl;
  } else if (etherType === 0x86dd && at + 40 <= frame.length) {
    proto = frame[at + 6]!;
    layers.push({ name: 'IPv6', start: at, end: at + 40, fields: [['source', ipv6(frame, at + 8)], ['destination', ipv6(frame, at + 24)], ['payload length', String(u16(frame, at + 4))], ['next header', String(proto)], ['hop limit', String(frame[at + 7])]] });
    at += 40;
  }
  if (proto === 6 && at + 20 <= frame.length) {
    const offset = (frame[at + 12]! >> 4) * 4;
    const flags = frame[at + 13]!;
    const names = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'].filter((_, i) => flags & (1 << i));
    layers.push({ name: 'TCP', start: at, end: at + offset, fields: [['source port', String(u16(frame, at))], ['destination port', String(u16(frame, at + 2))], ['seq', String(u32(frame, at + 4))], ['ack', String(u32(frame, at + 8))], ['flags', names.join(' ')], ['window', String(u16(frame, at + 14))]] });
    at += offset;
  } else if (proto === 17 && at + 8 <= frame.length) {
    layers.push({ name: 'UDP', start: at, end: at + 8, fields: [['source port', String(u16(frame, at))], ['destination port', String(u16(frame, at + 2))], ['length', String(u16(frame, at + 4))]] });
    at += 8;
  }
  if (at < frame.length) layers.push({ name: 'Payload', start: at, end: frame.length, fields: [['bytes', String(frame.length - at)]] });
  return layers;
}

/** One line about a frame: addresses, ports, TCP flags, payload size. */
export function summary(layers: Layer[]): string {
  const get = (name: string, field: string) => layers.find((l) => l.name === name)?.fields.find(([k]) => k === field)?.[1];
  const ip = layers.find((l) => l.name === 'IPv4' || l.name === 'IPv6');
  const transport = layers.find((l) => l.name === 'TCP' || l.name === 'UDP');
  const payload = layers.find((l) => l.name === 'Payload');
  const src = ip ? `${get(ip.name, 'source')}:${transport ? get(transport.name, 'source port') : ''}` : '';
  const dst = ip ? `${get(ip.name, 'destination')}:${transport ? get(transport.name, 'destination port') : ''}` : '';
  const flags = get('TCP', 'flags');
  return `${src} → ${dst} ${transport?.name ?? ''}${flags ? ` [${flags}]` : ''}${payload ? ` ${payload.end - payload.start} bytes` : ''}`.trim();
}
