/**
 * Raw-socket helpers for the security suite: requests whose Host, framing and timing a normal HTTP
 * client would not let us choose.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';

export interface RawResult {
  status: number;
  head: string;
  body: string;
  /** Milliseconds from connect until the server closed the connection (or we gave up). */
  ms: number;
  closedByServer: boolean;
}

/**
 * Writes `request` (a string, or chunks written `intervalMs` apart) and reads until the server
 * closes the connection or `waitMs` passes.
 */
export function rawRequest(port: number, request: string | Buffer | (string | Buffer)[], opts: { intervalMs?: number; waitMs?: number; endAfterWrite?: boolean } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    let trickle: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(trickle);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, body: rest.join('\r\n\r\n'), ms: Date.now() - t0, closedByServer });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 5000);
    const parts = Array.isArray(request) ? [...request] : [request];
    socket.on('connect', () => {
      if (!opts.intervalMs) {
        for (const p of parts) socket.write(p);
        if (opts.endAfterWrite) socket.end();
        return;
      }
      trickle = setInterval(() => {
        const p = parts.shift();
        if (p === undefined || socket.destroyed) return clearInterval(trickle);
        socket.write(p);
      }, opts.intervalMs);
    });
  });
}

/** A request text with exactly the headers given (Host included or not). */
export function requestText(method: string, path: string, headers: [string, string][], body = ''): string {
  const lines = [`${method} ${path} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  lines.push('Connection: close');
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

export function upgradeText(path: string, headers: [string, string][]): string {
  return requestText('GET', path, [...headers, ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', randomBytes(16).toString('base64')]]).replace('Connection: close', 'Connection: Upgrade');
}

export function httpRequest(
  port: number,
  path: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string; agent?: http.Agent } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Opens a socket and keeps it open (sending nothing) until destroyed. */
export function holdSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    // A socket the server refuses may close before connecting completes on our side.
    s.once('close', () => resolve(s));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A masked client text frame, as a WebSocket client must send it. */
export function wsTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : len < 65536 ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), bigLen(len)]);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, masked]);
}

function bigLen(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
