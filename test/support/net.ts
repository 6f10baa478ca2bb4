/** What tests in plain Node share for talking to local servers: a free port, a GET, a polling wait. */
import * as http from 'node:http';
import * as net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
}

/** The status of GET http://127.0.0.1:port/path on a fresh connection, 0 when it fails. */
export function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((r) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.on('end', () => r(res.statusCode ?? 0));
      })
      .on('error', () => r(0));
  });
}

/** Polls `f` until it returns something truthy; fails naming `what` after `ms`. */
export async function until<T>(
  f: () => T | undefined | false | Promise<T | undefined | false>,
  what: string | (() => string),
  ms = 15_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
