// Writes a pcap of `sessions` keep-alive HTTP/1.1 sessions with `perSession` exchanges each
// (handshake, request/response pairs, FIN both ways): real frames for the big-grid browser test.
import { openSync, writeSync, closeSync } from 'node:fs';

function checksum(header) {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i] << 8) | header[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

export function writeHttpPcap(path, sessions, perSession) {
  const fd = openSync(path, 'w');
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20); // Ethernet
  const chunks = [global];
  let size = 24;
  let time = 1_700_000_000 * 1e6; // microseconds
  const flush = () => {
    writeSync(fd, Buffer.concat(chunks, size));
    chunks.length = 0;
    size = 0;
  };
  const client = [10, 9, 0, 1];
  const server = [10, 9, 0, 2];
  const frame = (fromClient, port, seq, ack, flags, payload) => {
    const data = Buffer.from(payload);
    const total = 14 + 20 + 20 + data.length;
    const buf = Buffer.alloc(16 + total);
    time += 10;
    buf.writeUInt32LE(Math.floor(time / 1e6), 0);
    buf.writeUInt32LE(time % 1e6, 4);
    buf.writeUInt32LE(total, 8);
    buf.writeUInt32LE(total, 12);
    const e = 16;
    buf.set(fromClient ? [2, 0, 0, 0, 0, 2] : [2, 0, 0, 0, 0, 1], e);
    buf.set(fromClient ? [2, 0, 0, 0, 0, 1] : [2, 0, 0, 0, 0, 2], e + 6);
    buf.writeUInt16BE(0x0800, e + 12);
    const ip = e + 14;
    buf[ip] = 0x45;
    buf.writeUInt16BE(20 + 20 + data.length, ip + 2);
    buf[ip + 8] = 64;
    buf[ip + 9] = 6;
    buf.set(fromClient ? client : server, ip + 12);
    buf.set(fromClient ? server : client, ip + 16);
    buf.writeUInt16BE(checksum(buf.subarray(ip, ip + 20)), ip + 10);
    const tcp = ip + 20;
    buf.writeUInt16BE(fromClient ? port : 80, tcp);
    buf.writeUInt16BE(fromClient ? 80 : port, tcp + 2);
    buf.writeUInt32BE(seq >>> 0, tcp + 4);
    buf.writeUInt32BE(ack >>> 0, tcp + 8);
    buf[tcp + 12] = 0x50;
    buf[tcp + 13] = flags;
    buf.writeUInt16BE(65535, tcp + 14);
    data.copy(buf, tcp + 20);
    chunks.push(buf);
    size += buf.length;
    if (size > 4 << 20) flush();
  };
  const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01;
  for (let s = 0; s < sessions; s++) {
    const port = 20000 + s;
    let c = 1000, v = 5000;
    frame(true, port, c, 0, SYN, '');
    frame(false, port, v, c + 1, SYN | ACK, '');
    c += 1; v += 1;
    frame(true, port, c, v, ACK, '');
    for (let j = 0; j < perSession; j++) {
      const request = `GET /item/${s}/${j} HTTP/1.1\r\nHost: big.test\r\n\r\n`;
      frame(true, port, c, v, PSH | ACK, request);
      c += request.length;
      const response = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
      frame(false, port, v, c, PSH | ACK, response);
      v += response.length;
    }
    frame(true, port, c, v, FIN | ACK, '');
    frame(false, port, v, c + 1, FIN | ACK, '');
    frame(true, port, c + 1, v + 1, ACK, '');
  }
  flush();
  closeSync(fd);
}

if (process.argv[1] && process.argv[1].endsWith('synth.mjs')) {
  writeHttpPcap(process.argv[2], Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 200));
}
