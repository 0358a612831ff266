// Bodies: decoding the model's body data, pretty-printing, and hex/ASCII dumps.

export interface BodyData {
  encoding: 'utf8' | 'base64';
  value: string;
}

export function bodyBytes(data: BodyData | null | undefined): Uint8Array {
  if (!data) return new Uint8Array();
  if (data.encoding === 'utf8') return new TextEncoder().encode(data.value);
  const binary = atob(data.value);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Pretty text of a body by content type: JSON indented; other text as is; null for binary. */
export function prettyBody(data: BodyData | null | undefined, contentType: string | null | undefined): string | null {
  if (!data) return null;
  if (data.encoding !== 'utf8') return null;
  const type = (contentType ?? '').toLowerCase();
  const text = data.value;
  if (type.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }
  return text;
}

/** A classic hex dump: offset, 16 bytes in hex, ASCII. */
export function hexDump(bytes: Uint8Array, max = 64 * 1024): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, max);
  for (let offset = 0; offset < end; offset += 16) {
    const chunk = bytes.subarray(offset, Math.min(offset + 16, end));
    const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(chunk, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > end) lines.push(`… ${bytes.length - end} more bytes`);
  return lines.join('\n');
}

export function isImage(contentType: string | null | undefined): boolean {
  return /^image\/(png|jpeg|gif|webp|svg\+xml)/i.test(contentType ?? '');
}
