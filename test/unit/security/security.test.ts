/**
 * The collector under hostile input, against a running collector (startRuntime): DNS rebinding,
 * cross-origin pages in a real Chromium, CORS "simple" content types, the query API's token,
 * oversized bodies and messages, gzip bombs, slow clients, connection floods, the token file, and
 * values chosen to exhaust memory. Each attack must be refused with the documented status, counted,
 * leave nothing in the store, and leave the collector answering.
 */
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { WebSocket } from 'ws';
import { loadOrCreateToken } from '../../../src/core/collector/token';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { forceGc } from '../../fuzz/runner';
import { hex, nativeSpan } from '../helpers/telemetry';
import { holdSocket, httpRequest, rawRequest, requestText, sleep, upgradeText, wsTextFrame } from './net';
import { freePort } from '../../support/net';

const TOKEN = 'security-suite-token-0123456789abcdef';
const CHROMIUM = process.env.ROUTELENS_CHROMIUM || '/usr/bin/chromium';

// Low limits and timeouts so each attack reaches them quickly; the defaults are in docs/reliability.md.
const MAX_BODY = 256 * 1024;
const MAX_MESSAGE = 64 * 1024;
const HEADERS_TIMEOUT = 1000;
const REQUEST_TIMEOUT = 2000;
const KEEP_ALIVE = 1000;
const HEARTBEAT = 1000;
const MAX_SOCKETS = 200;
const MAX_WS = 50;
// Node checks the timeouts every quarter of the headers timeout (see Collector); plus scheduling slack.
const CHECK_SLACK = HEADERS_TIMEOUT / 4 + 600;

function otlpJson(service = 'attacker'): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: hex(16),
                spanId: hex(8),
                name: 'GET /pwned',
                kind: 2,
                startTimeUnixNano: '1700000000000000000',
                endTimeUnixNano: '1700000000100000000',
                attributes: [
                  { key: 'http.request.method', value: { stringValue: 'GET' } },
                  { key: 'http.route', value: { stringValue: '/pwned' } },
                ],
              },
            ],
          },
        ],
      },
    ],
  });
}


/** Gzip of `mib` MiB of zeros, made in 1 MiB steps so the test itself never holds the inflated size. */
function gzipBomb(mib: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gz = zlib.createGzip({ level: 9 });
    const out: Buffer[] = [];
    gz.on('data', (c: Buffer) => out.push(c));
    gz.on('end', () => resolve(Buffer.concat(out)));
    gz.on('error', reject);
    const zeros = Buffer.alloc(1024 * 1024);
    let i = 0;
    const write = () => {
      while (i < mib) {
        i++;
        if (!gz.write(zeros)) return gz.once('drain', write);
      }
      gz.end();
    };
    write();
  });
}

/** Highest (heap + array buffers) growth over `fn`, sampled every 5 ms. */
async function peakMemoryGrowth(fn: () => Promise<void>): Promise<number> {
  forceGc();
  const base = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const start = base();
  let peak = start;
  const t = setInterval(() => (peak = Math.max(peak, base())), 5);
  try {
    await fn();
  } finally {
    clearInterval(t);
  }
  peak = Math.max(peak, base());
  return (peak - start) / 1048576;
}

describe('security: the collector under hostile input', function () {
  this.timeout(30_000);
  let rt: Runtime;
  let port: number;
  const c = (name: string) => rt.counters.get(name);
  const stored = () => c('store.spans') + c('store.logs') + c('store.metrics');

  /** Runs `fn` and asserts it stored nothing and the collector still answers its health check. */
  async function refusedAndFine(fn: () => Promise<void>): Promise<void> {
    const before = stored();
    await fn();
    assert.equal(stored(), before, 'nothing from a refused request may be stored');
    const h = await httpRequest(port, '/healthz');
    assert.equal(h.status, 200, 'the collector answers afterwards');
  }

  before(async () => {
    rt = await startRuntime({
      port: 0,
      grpcPort: await freePort(),
      token: TOKEN,
      log: silentLogger,
      limits: { maxSpans: 5000, maxLogs: 5000 },
      maxMessageBytes: MAX_MESSAGE,
      maxBodyBytes: MAX_BODY,
      tuning: { headersTimeoutMs: HEADERS_TIMEOUT, requestTimeoutMs: REQUEST_TIMEOUT, keepAliveTimeoutMs: KEEP_ALIVE, heartbeatMs: HEARTBEAT, maxSockets: MAX_SOCKETS, maxConnections: MAX_WS, maxBatchItems: 100 },
    });
    port = rt.collector.port;
    assert.ok(rt.grpcPort > 0, `gRPC did not start: ${rt.grpcError}`);
  });
  after(() => rt?.stop());

  // ---- DNS rebinding ---------------------------------------------------------------------------

  describe('DNS rebinding: Host must be a loopback name', () => {
    const refusedHosts = (p: number) => [
      'evil.com',
      `evil.com:${p}`,
      '127.0.0.1.evil.com',
      `127.0.0.1.evil.com:${p}`,
      'localhost.evil.com',
      `localhost.evil.com:${p}`,
      'LOCALHOST.EVIL.COM',
      `127.0.0.1:${p}.evil.com`,
      `127.0.0.1:${p}@evil.com`,
      `evil.com:${p}#127.0.0.1`,
      '[::1].evil.com',
      `[::1]:${p}.evil.com`,
      '[::1]evil',
      '[::1',
      '[::ffff:127.0.0.1]',
      `[::ffff:7f00:1]:${p}`,
      '[fe80::1]',
      '[::]',
      '::1',
      '0.0.0.0',
      '2130706433',
      '0x7f000001',
      '',
      'localhost:',
      'localhost:http',
    ];

    it('refuses every non-loopback Host on the health check, OTLP, the query API and the WebSocket, and counts each', async () => {
      await refusedAndFine(async () => {
        const hosts = refusedHosts(port);
        const http0 = c('http.rejected.host');
        const ws0 = c('ws.rejected.host');
        for (const host of hosts) {
          const h: [string, string][] = [['Host', host]];
          const results = await Promise.all([
            rawRequest(port, requestText('GET', '/healthz', h)),
            rawRequest(port, requestText('POST', '/v1/traces', [...h, ['Content-Type', 'application/json']], otlpJson())),
            rawRequest(port, requestText('GET', '/api/v1/routes', [...h, ['Authorization', `Bearer ${TOKEN}`]])),
            rawRequest(port, upgradeText('/v1/ws', h)),
          ]);
          for (const [i, r] of results.entries()) assert.equal(r.status, 403, `Host ${JSON.stringify(host)}, request ${i}: ${r.head.split('\r\n')[0]}`);
          assert.ok(!results[2].body.includes('routes'), 'no data in a refused answer');
        }
        assert.equal(c('http.rejected.host') - http0, hosts.length * 3);
        assert.equal(c('ws.rejected.host') - ws0, hosts.length);
      });
    });

    it('refuses a request with no Host at all (HTTP/1.1 and HTTP/1.0)', async () => {
      await refusedAndFine(async () => {
        const before = c('http.rejected.host');
        const r11 = await rawRequest(port, 'POST /v1/traces HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
        const r10 = await rawRequest(port, 'GET /api/v1/routes HTTP/1.0\r\nAuthorization: Bearer ' + TOKEN + '\r\n\r\n');
        const ws = await rawRequest(port, upgradeText('/v1/ws', []));
        assert.equal(r11.status, 403);
        assert.equal(r10.status, 403);
        assert.equal(ws.status, 403);
        assert.equal(c('http.rejected.host') - before, 2);
      });
    });

    it('serves the loopback names, IPv6 included', async () => {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`, '127.0.0.1', 'localhost', '[::1]', `app.localhost:${port}`]) {
        const r = await rawRequest(port, requestText('GET', '/healthz', [['Host', host]]));
        assert.equal(r.status, 200, `Host ${host}`);
      }
    });
  });

  // ---- browsers -------------------------------------------------------------------------------

  describe('a page on another origin, in a real Chromium', function () {
    this.timeout(90_000);
    let attacker: http.Server;
    let attackerPort: number;
    let browser: import('playwright-core').Browser | undefined;
    let home: string;

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        console.log(`      (no browser at ${CHROMIUM}; set ROUTELENS_CHROMIUM)`);
        return this.skip();
      }
      attacker = http.createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<!doctype html><title>attacker</title><p>nothing to see</p>');
      });
      await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
      attackerPort = (attacker.address() as net.AddressInfo).port;
      home = mkdtempSync(join(tmpdir(), 'routelens-sec-chromium-'));
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          '--disable-dev-shm-usage',
          // evil.test resolves to loopback: a DNS-rebinding attacker's name after the rebind.
          '--host-resolver-rules=MAP evil.test 127.0.0.1',
        ],
      });
    });

    after(async () => {
      await browser?.close();
      attacker?.close();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    type Attempt = { ok: boolean; status?: number; type?: string; text?: string | null; error?: string };

    /**
     * What the attacker's page runs: browser JavaScript, as text (the test's own imports must not
     * leak into it), with `target` and `body` in scope.
     */
    const SCRIPTS = {
      post: (contentType: string) =>
        `try { const r = await fetch(target, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': ${JSON.stringify(contentType)} }, body }); return { ok: true, status: r.status, type: r.type }; } catch (e) { return { ok: false, error: String(e) }; }`,
      multipart: `const form = new FormData(); form.append('x', body); try { await fetch(target, { method: 'POST', mode: 'no-cors', body: form }); } catch (e) {} return 'sent';`,
      beacon: `return String(navigator.sendBeacon(target, body));`,
      jsonPost: `try { const r = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }); return { ok: true, status: r.status }; } catch (e) { return { ok: false, error: String(e) }; }`,
      corsGet: `try { const r = await fetch(target); return { ok: true, status: r.status, text: await r.text() }; } catch (e) { return { ok: false, error: String(e) }; }`,
      opaqueGet: `const r = await fetch(target, { mode: 'no-cors' }); return { ok: true, type: r.type, text: await r.text() };`,
      websocket: `return await new Promise((resolve) => { const ws = new WebSocket(target); ws.onopen = () => { ws.send(body); resolve('open'); }; ws.onerror = () => resolve('error'); setTimeout(() => resolve('timeout'), 5000); });`,
    };

    async function attempt(pageUrl: string, script: string, target: string): Promise<Attempt | string> {
      const page = await browser!.newPage();
      try {
        await page.goto(pageUrl);
        return (await page.evaluate(`(async (target, body) => { ${script} })(${JSON.stringify(target)}, ${JSON.stringify(otlpJson('from-browser'))})`)) as Attempt | string;
      } finally {
        await page.close();
      }
    }

    /** Waits until a counter moved (requests like sendBeacon are sent after the call returns). */
    async function waitFor(name: string, from: number, by: number): Promise<number> {
      const end = Date.now() + 5000;
      while (c(name) - from < by && Date.now() < end) await sleep(20);
      return c(name) - from;
    }

    it('cannot write telemetry with "simple" cross-origin POSTs (text/plain, form-urlencoded, multipart, sendBeacon)', async () => {
      await refusedAndFine(async () => {
        const origin = `http://127.0.0.1:${attackerPort}/`;
        const target = `http://127.0.0.1:${port}/v1/traces`;
        for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'text/plain;charset=UTF-8']) {
          const before = c('http.rejected.origin');
          const r = (await attempt(origin, SCRIPTS.post(ct), target)) as Attempt;
          // An opaque response: the page learns nothing, and the collector refused it (403, counted).
          assert.equal(r.type, 'opaque', JSON.stringify(r));
          assert.equal(await waitFor('http.rejected.origin', before, 1), 1, `${ct}: refused for its Origin`);
        }
        const beforeMultipart = c('http.rejected.origin');
        await attempt(origin, SCRIPTS.multipart, target);
        assert.equal(await waitFor('http.rejected.origin', beforeMultipart, 1), 1, 'multipart: refused for its Origin');
        const beforeBeacon = c('http.rejected.origin');
        assert.equal(await attempt(origin, SCRIPTS.beacon, target), 'true');
        assert.equal(await waitFor('http.rejected.origin', beforeBeacon, 1), 1, 'sendBeacon: refused for its Origin');
        assert.equal(c('otlp.spans.accepted'), 0);
      });
    });

    it('cannot send JSON (the preflight is refused, so the POST never goes out)', async () => {
      await refusedAndFine(async () => {
        const before = c('http.rejected.origin');
        const r = (await attempt(`http://127.0.0.1:${attackerPort}/`, SCRIPTS.jsonPost, `http://127.0.0.1:${port}/v1/traces`)) as Attempt;
        assert.equal(r.ok, false, JSON.stringify(r));
        assert.match(r.error ?? '', /TypeError/);
        assert.equal(await waitFor('http.rejected.origin', before, 1), 1, 'the OPTIONS preflight, refused');
      });
    });

    it('cannot open the agent WebSocket', async () => {
      await refusedAndFine(async () => {
        const before = c('ws.rejected.origin');
        const connections = c('ws.connections');
        const r = await attempt(`http://127.0.0.1:${attackerPort}/`, SCRIPTS.websocket, `ws://127.0.0.1:${port}/v1/ws`);
        assert.equal(r, 'error');
        assert.equal(c('ws.rejected.origin') - before, 1);
        assert.equal(c('ws.connections'), connections);
      });
    });

    it('cannot read the query API (no CORS, no token) nor open the live stream', async () => {
      await refusedAndFine(async () => {
        const origin0 = c('http.rejected.origin');
        const token0 = c('api.rejected.token');
        const ws0 = c('ws.rejected.origin');
        const page = `http://127.0.0.1:${attackerPort}/`;
        const cors = (await attempt(page, SCRIPTS.corsGet, `http://127.0.0.1:${port}/api/v1/routes`)) as Attempt;
        assert.equal(cors.ok, false, JSON.stringify(cors));
        const opaque = (await attempt(page, SCRIPTS.opaqueGet, `http://127.0.0.1:${port}/api/v1/routes`)) as Attempt;
        assert.equal(opaque.type, 'opaque');
        assert.equal(opaque.text, '');
        assert.equal(await attempt(page, SCRIPTS.websocket, `ws://127.0.0.1:${port}/api/v1/live`), 'error');
        // The CORS GET carries an Origin (refused for it); a no-cors GET carries none (refused for
        // the missing token): either way, refused and counted.
        assert.equal(c('http.rejected.origin') - origin0 + (c('api.rejected.token') - token0), 2);
        assert.equal(c('ws.rejected.origin') - ws0, 1);
      });
    });

    it('a rebound name reaching loopback is refused by its Host, on HTTP and WebSocket', async () => {
      await refusedAndFine(async () => {
        const http0 = c('http.rejected.host');
        const ws0 = c('ws.rejected.host');
        const page = `http://evil.test:${attackerPort}/`;
        const r = (await attempt(page, SCRIPTS.post('text/plain'), `http://evil.test:${port}/v1/traces`)) as Attempt;
        assert.equal(r.type, 'opaque', JSON.stringify(r));
        assert.equal(await waitFor('http.rejected.host', http0, 1), 1);
        assert.equal(await attempt(page, SCRIPTS.websocket, `ws://evil.test:${port}/v1/ws`), 'error');
        assert.equal(c('ws.rejected.host') - ws0, 1);
      });
    });

    it('cannot reach the gRPC port either (a browser speaks HTTP/1.1 to it, which gRPC does not)', async () => {
      await refusedAndFine(async () => {
        const before = c('otlp.grpc.requests.traces');
        const r = (await attempt(`http://127.0.0.1:${attackerPort}/`, SCRIPTS.post('text/plain'), `http://127.0.0.1:${rt.grpcPort}/opentelemetry.proto.collector.trace.v1.TraceService/Export`)) as Attempt;
        assert.equal(r.ok, false, JSON.stringify(r));
        assert.equal(c('otlp.grpc.requests.traces'), before);
      });
    });
  });

  // ---- content types, tokens ------------------------------------------------------------------

  describe('CORS "simple request" content types', () => {
    it('refuses text/plain, form-urlencoded and multipart with 415 even without an Origin', async () => {
      await refusedAndFine(async () => {
        const before = c('otlp.http.rejected.415');
        let n = 0;
        for (const path of ['/v1/traces', '/v1/logs', '/v1/metrics']) {
          for (const ct of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/json; charset=iso-8859-1', 'application/jsonx', undefined]) {
            const headers: http.OutgoingHttpHeaders = ct ? { 'Content-Type': ct } : {};
            const r = await httpRequest(port, path, { method: 'POST', headers, body: otlpJson() });
            assert.equal(r.status, 415, `${path} ${ct}`);
            n++;
          }
        }
        assert.equal(c('otlp.http.rejected.415') - before, n);
      });
    });

    it('accepts the same body as application/json from a client without an Origin', async () => {
      const before = c('otlp.spans.accepted');
      const r = await httpRequest(port, '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: otlpJson('legit') });
      assert.equal(r.status, 200);
      assert.equal(c('otlp.spans.accepted') - before, 1);
    });
  });

  describe('the query API token', () => {
    const endpoints = ['/api/v1/routes', '/api/v1/services', '/api/v1/traces', '/api/v1/errors', '/api/v1/logs', '/api/v1/stats', `/api/v1/traces/${'a'.repeat(32)}`, '/api/v1/nope'];
    const wrong: [string, http.OutgoingHttpHeaders][] = [
      ['no Authorization', {}],
      ['an empty bearer', { Authorization: 'Bearer ' }],
      ['a wrong token of the same length', { Authorization: `Bearer ${TOKEN.slice(0, -1)}${TOKEN.endsWith('f') ? 'e' : 'f'}` }],
      ['a prefix of the token', { Authorization: `Bearer ${TOKEN.slice(0, 8)}` }],
      ['the token and more', { Authorization: `Bearer ${TOKEN}x` }],
      ['Basic auth', { Authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }],
      ['the token without a scheme', { Authorization: TOKEN }],
      ['two tokens', { Authorization: `Bearer ${TOKEN} ${TOKEN}` }],
    ];

    it('answers 401 with WWW-Authenticate for a missing or wrong token, on every endpoint, and counts each', async () => {
      const before = c('api.rejected.token');
      let n = 0;
      for (const path of endpoints) {
        for (const [what, headers] of wrong) {
          const r = await httpRequest(port, path, { headers });
          assert.equal(r.status, 401, `${path} with ${what}`);
          assert.match(String(r.headers['www-authenticate']), /^Bearer/);
          assert.ok(!r.body.includes(TOKEN), 'the answer never carries the token');
          n++;
        }
        const q = await httpRequest(port, `${path}?token=${TOKEN}&access_token=${TOKEN}`);
        assert.equal(q.status, 401, `${path}: a token in the query string is not a token`);
        n++;
      }
      assert.equal(c('api.rejected.token') - before, n);
    });

    it('refuses the live stream upgrade without the token', async () => {
      const before = c('api.rejected.token');
      const r = await rawRequest(port, upgradeText('/api/v1/live', [['Host', `127.0.0.1:${port}`], ['Authorization', 'Bearer nope']]));
      assert.equal(r.status, 401);
      assert.equal(c('api.rejected.token') - before, 1);
    });

    it('serves with the right token (the scheme name in any case)', async () => {
      for (const scheme of ['Bearer', 'bearer']) {
        const r = await httpRequest(port, '/api/v1/stats', { headers: { Authorization: `${scheme} ${TOKEN}` } });
        assert.equal(r.status, 200);
      }
    });
  });

  // ---- sizes ----------------------------------------------------------------------------------

  describe('oversized bodies, messages and headers', () => {
    it('refuses a declared Content-Length over the limit at once, without reading the body', async () => {
      await refusedAndFine(async () => {
        const before = c('otlp.http.rejected.413');
        const head = requestText('POST', '/v1/traces', [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/x-protobuf'], ['Content-Length', String(1024 * 1024 * 1024)]]).replace('Connection: close\r\n', '');
        const r = await rawRequest(port, head, { waitMs: 3000 });
        assert.equal(r.status, 413);
        assert.ok(r.closedByServer && r.ms < 1000, `answered and closed in ${r.ms} ms`);
        assert.equal(c('otlp.http.rejected.413') - before, 1);
      });
    });

    it('refuses a chunked body once it passes the limit', async () => {
      await refusedAndFine(async () => {
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const parts: Buffer[] = [Buffer.from(`POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`)];
        for (let i = 0; i < 8; i++) parts.push(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
        const r = await rawRequest(port, parts, { intervalMs: 5 });
        assert.equal(r.status, 413);
      });
    });

    it('stops inflating a gzip bomb at the limit: 413, fast, and no memory to speak of', async () => {
      const bomb = await gzipBomb(128);
      assert.ok(bomb.length < MAX_BODY, `the bomb (${bomb.length} bytes) fits under the body limit`);
      await refusedAndFine(async () => {
        let status = 0;
        const t0 = Date.now();
        const growth = await peakMemoryGrowth(async () => {
          const r = await httpRequest(port, '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' }, body: bomb });
          status = r.status;
        });
        assert.equal(status, 413);
        assert.ok(Date.now() - t0 < 2000, `answered in ${Date.now() - t0} ms`);
        // 128 MiB if it were inflated whole; the limit (256 KiB) plus zlib's buffers is what it may cost.
        assert.ok(growth < 24, `memory grew ${growth.toFixed(1)} MiB`);
      });
    });

    it('refuses corrupt gzip with 400', async () => {
      await refusedAndFine(async () => {
        const gz = zlib.gzipSync(Buffer.from(otlpJson()));
        gz[gz.length - 6] ^= 0xff;
        const r = await httpRequest(port, '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body: gz });
        assert.equal(r.status, 400);
        const r2 = await httpRequest(port, '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'br' }, body: gz });
        assert.equal(r2.status, 415);
      });
    });

    it('refuses a compressed gRPC message that inflates past the limit (RESOURCE_EXHAUSTED)', async () => {
      await refusedAndFine(async () => {
        const client = new grpc.Client(`127.0.0.1:${rt.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
        try {
          const raw = (b: Buffer) => b;
          const code = await new Promise<number>((resolve) =>
            client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', raw, raw, Buffer.alloc(32 * 1024 * 1024), (err) => resolve(err?.code ?? 0)),
          );
          assert.equal(code, grpc.status.RESOURCE_EXHAUSTED);
        } finally {
          client.close();
        }
      });
    });

    it('closes a WebSocket that sends a message over the limit with 1009, and takes a new connection after', async () => {
      await refusedAndFine(async () => {
        const before = c('ws.rejected.too_big');
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
        await new Promise((r) => ws.once('open', r));
        ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'big' } }));
        ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [nativeSpan()], pad: 'x'.repeat(MAX_MESSAGE) }));
        const code = await new Promise<number>((r) => ws.once('close', r));
        assert.equal(code, 1009);
        assert.equal(c('ws.rejected.too_big') - before, 1);
      });
    });

    it('refuses a batch with more items than allowed, keeping the connection', async () => {
      await refusedAndFine(async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
        const replies: Record<string, unknown>[] = [];
        ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
        await new Promise((r) => ws.once('open', r));
        ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'many' } }));
        ws.send(JSON.stringify({ v: 1, type: 'batch', spans: Array.from({ length: 60 }, () => ({ traceId: 'x' })), logs: Array.from({ length: 41 }, () => ({})) }));
        while (replies.length < 2) await sleep(10);
        assert.equal(replies[1].code, 'too_many_items');
        ws.close();
      });
    });

    it('answers 431 to headers over 16 KiB, and counts it', async () => {
      await refusedAndFine(async () => {
        const before = c('http.rejected.headers_too_large');
        const r = await rawRequest(port, requestText('GET', '/healthz', [['Host', `127.0.0.1:${port}`], ['X-Big', 'a'.repeat(20_000)]]));
        assert.equal(r.status, 431);
        assert.equal(c('http.rejected.headers_too_large') - before, 1);
      });
    });
  });

  // ---- slow clients ---------------------------------------------------------------------------

  describe('slow clients', () => {
    it('cuts silent, header-trickling, body-trickling and idle keep-alive connections within their timeouts (408)', async () => {
      await refusedAndFine(async () => {
        const before = c('http.rejected.timeout');
        const host = `Host: 127.0.0.1:${port}\r\n`;
        const trickleHeaders = ['GET /healthz HTTP/1.1\r\n', ...Array.from({ length: 100 }, (_, i) => `X-${i}: y\r\n`)];
        const body = Buffer.from(otlpJson());
        const trickleBody = [`POST /v1/traces HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, ...Array.from(body.subarray(0, 200)).map((b) => Buffer.from([b]))];
        const [silent, headers, slowBody, keepAlive] = await Promise.all([
          rawRequest(port, [], { waitMs: 10_000 }),
          rawRequest(port, trickleHeaders, { intervalMs: 50, waitMs: 10_000 }),
          rawRequest(port, trickleBody, { intervalMs: 50, waitMs: 10_000 }),
          rawRequest(port, `GET /healthz HTTP/1.1\r\n${host}\r\n`, { waitMs: 10_000 }),
        ]);
        const within = (r: typeof silent, limit: number, what: string) => {
          assert.ok(r.closedByServer, `${what}: still open after ${r.ms} ms`);
          assert.ok(r.ms >= limit - 100 && r.ms <= limit + CHECK_SLACK, `${what}: cut after ${r.ms} ms, limit ${limit} ms`);
        };
        within(silent, HEADERS_TIMEOUT, 'silent');
        within(headers, HEADERS_TIMEOUT, 'trickling headers');
        within(slowBody, REQUEST_TIMEOUT, 'trickling body');
        // Node 20 keeps an idle keep-alive socket one second past keepAliveTimeout (a margin for
        // clients whose own timer is about to fire).
        within(keepAlive, KEEP_ALIVE + 1000, 'idle keep-alive');
        assert.equal(silent.status, 408);
        assert.equal(headers.status, 408);
        assert.equal(slowBody.status, 408);
        assert.equal(keepAlive.status, 200);
        assert.equal(c('http.rejected.timeout') - before, 3);
        console.log(`      cut after: silent ${silent.ms} ms, headers ${headers.ms} ms, body ${slowBody.ms} ms, keep-alive ${keepAlive.ms} ms`);
      });
    });

    it('cuts an upgraded WebSocket that trickles a frame and never answers pings', async () => {
      await refusedAndFine(async () => {
        const frame = wsTextFrame(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'slow' } }));
        const parts: (string | Buffer)[] = [upgradeText('/v1/ws', [['Host', `127.0.0.1:${port}`]]), ...Array.from(frame.subarray(0, frame.length - 1)).map((b) => Buffer.from([b]))];
        const r = await rawRequest(port, parts, { intervalMs: 40, waitMs: 10_000 });
        assert.equal(r.status, 101);
        assert.ok(r.closedByServer && r.ms <= 2 * HEARTBEAT + 600, `cut after ${r.ms} ms`);
        assert.ok(c('ws.closed.unresponsive') >= 1);
      });
    });
  });

  // ---- floods ---------------------------------------------------------------------------------

  describe('connection floods', () => {
    const healthWithin = async (ms: number) => {
      const t0 = Date.now();
      const r = await Promise.race([httpRequest(port, '/healthz'), sleep(ms).then(() => ({ status: 0 }))]);
      return { status: r.status, ms: Date.now() - t0 };
    };

    it('keeps answering /healthz while hundreds of idle sockets are held, and never holds more than its cap', async () => {
      await refusedAndFine(async () => {
        const evicted0 = c('http.evicted.idle');
        const sockets = await Promise.all(Array.from({ length: 2 * MAX_SOCKETS }, () => holdSocket(port)));
        try {
          const h = await healthWithin(1000);
          assert.equal(h.status, 200, 'health check during the flood');
          assert.ok(rt.collector.sockets.size <= MAX_SOCKETS, `${rt.collector.sockets.size} sockets held`);
          assert.ok(rt.collector.sockets.highWater <= MAX_SOCKETS, `high water ${rt.collector.sockets.highWater}`);
          assert.ok(c('http.evicted.idle') - evicted0 >= MAX_SOCKETS, `evicted ${c('http.evicted.idle') - evicted0}`);
        } finally {
          for (const s of sockets) s.destroy();
        }
      });
    });

    it('refuses newcomers while every socket is busy, and recovers when the request timeout frees them', async () => {
      const refused0 = c('http.rejected.connections');
      const head = `POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`;
      const uploads = Array.from({ length: MAX_SOCKETS }, () => rawRequest(port, [head], { waitMs: 10_000 }));
      await sleep(300);
      const during = await healthWithin(500).catch(() => ({ status: 0, ms: 0 }));
      assert.notEqual(during.status, 200, 'all sockets busy: a newcomer is refused');
      assert.ok(c('http.rejected.connections') > refused0);
      assert.ok(rt.collector.sockets.highWater <= MAX_SOCKETS);
      const cut = await Promise.all(uploads);
      assert.ok(cut.every((r) => r.status === 408), 'the stalled uploads end with 408');
      // The server's side of each cut socket closes a moment after the client sees the 408.
      const end = Date.now() + 1000;
      let after = { status: 0, ms: 0 };
      while (after.status !== 200 && Date.now() < end) after = await healthWithin(500).catch(() => ({ status: 0, ms: 0 }));
      assert.equal(after.status, 200);
    });

    it('caps agent WebSockets: the ones over the limit get 503, the others keep working', async () => {
      await refusedAndFine(async () => {
        const before = c('ws.rejected.connections');
        const results = await Promise.all(
          Array.from(
            { length: MAX_WS + 30 },
            () =>
              new Promise<{ ws: WebSocket; status: number }>((resolve) => {
                const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
                ws.once('open', () => resolve({ ws, status: 101 }));
                ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode ?? 0 }));
                ws.once('error', () => resolve({ ws, status: -1 }));
              }),
          ),
        );
        try {
          assert.equal(results.filter((r) => r.status === 101).length, MAX_WS);
          assert.equal(results.filter((r) => r.status === 503).length, 30);
          assert.equal(c('ws.rejected.connections') - before, 30);
          assert.equal((await healthWithin(1000)).status, 200);
        } finally {
          for (const r of results) r.ws.terminate();
        }
      });
    });
  });

  // ---- values chosen to exhaust memory or confuse ---------------------------------------------

  describe('hostile values', () => {
    async function agentSend(messages: unknown[]): Promise<Record<string, unknown>[]> {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { maxPayload: 1 << 20 });
      const replies: Record<string, unknown>[] = [];
      ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
      await new Promise((r) => ws.once('open', r));
      for (const m of messages) ws.send(typeof m === 'string' ? m : JSON.stringify(m));
      const end = Date.now() + 5000;
      while (replies.length < messages.length && Date.now() < end) await sleep(10);
      ws.close();
      return replies;
    }

    it('keeps route statistics small when durations span 10^-3 to 10^308 ms', async () => {
      const routes = 200;
      const growth = await peakMemoryGrowth(async () => {
        for (let i = 0; i < routes; i += 20) {
          const spans = [];
          for (let r = i; r < i + 20; r++) {
            for (const d of [0.002, 1e308]) spans.push({ ...nativeSpan({ route: `/hostile/${r}` }), startMs: 0, endMs: d });
          }
          await agentSend([{ v: 1, type: 'hello', resource: { 'service.name': 'hostile' } }, { v: 1, type: 'batch', spans }]);
        }
        forceGc();
      });
      // Before the clamp this took 225 MiB: a 570 KB sketch per route and per 10-second slot.
      assert.ok(growth < 40, `memory grew ${growth.toFixed(1)} MiB for ${routes} routes`);
    });

    it('keeps "__proto__" as a plain attribute key and refuses a deeply nested version as a plain protocol error', async () => {
      const span: Record<string, unknown> = { ...nativeSpan({ route: '/proto' }), attributes: JSON.parse('{"__proto__": ["x"], "http.route": "/proto", "http.request.method": "GET"}') };
      const deep = `{"v":${'['.repeat(20_000)}${']'.repeat(20_000)},"type":"hello","resource":{}}`;
      const internal0 = c('ws.internalError');
      const replies = await agentSend([{ v: 1, type: 'hello', resource: { 'service.name': 'proto' } }, { v: 1, type: 'batch', spans: [span] }, deep]);
      assert.equal(replies[1].type, 'ack');
      assert.equal(replies[2].code, 'unsupported_version');
      assert.equal(c('ws.internalError'), internal0);
      const stored = rt.store.trace(span.traceId as string)[0];
      assert.equal(Object.getPrototypeOf(stored.attributes), Object.prototype);
      assert.ok(Object.prototype.hasOwnProperty.call(stored.attributes, '__proto__'));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });

  describe('names that would grow tables outside the store budget', () => {
    it('clips OTLP strings to 16 KiB, so a route or service name cannot hold megabytes', async () => {
      // 100,000 characters each: over the string limit, under this suite's 256 KiB body limit.
      const big = (c0: string) => c0.repeat(100_000);
      const body = otlpJson('x').replace('"stringValue":"x"', `"stringValue":"${big('s')}"`).replace('"stringValue":"/pwned"', `"stringValue":"${big('r')}"`);
      const r = await httpRequest(port, '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      assert.equal(r.status, 200);
      const route = rt.store.routeSummaries(900).find((x) => x.route.startsWith('rrrr'));
      assert.ok(route, 'the route is there');
      assert.ok(route.route.length <= 16 * 1024 + 1 && route.service.length <= 16 * 1024 + 1, `route ${route.route.length}, service ${route.service.length} characters`);
    });

    it('remembers at most 1,000 services, forgetting the one seen longest ago', async () => {
      const before = c('store.dropped.services');
      for (let part = 0; part < 3; part++) {
        const resourceLogs = Array.from({ length: 500 }, (_, k) => ({
          resource: { attributes: [{ key: 'service.name', value: { stringValue: `cycling-${part * 500 + k}` } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000000', severityNumber: 9, body: { stringValue: 'hi' } }] }],
        }));
        const r = await httpRequest(port, '/v1/logs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ resourceLogs }) });
        assert.equal(r.status, 200);
      }
      assert.ok(rt.store.serviceList().length <= 1000);
      assert.ok(c('store.dropped.services') - before >= 500);
      assert.ok(rt.store.serviceList().some((x) => x.name === 'cycling-1499'), 'the newest stays');
    });
  });

  // ---- the token file --------------------------------------------------------------------------

  describe('the token file', () => {
    let dir: string;
    const mode = (p: string) => statSync(p).mode & 0o777;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'routelens-token-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('is created 0600 in a folder created 0700', function () {
      if (process.platform === 'win32') return this.skip();
      const file = join(dir, '.routelens', 'token');
      const token = loadOrCreateToken(file);
      assert.match(token, /^[0-9a-f]{64}$/);
      assert.equal(mode(file), 0o600);
      assert.equal(mode(join(dir, '.routelens')), 0o700);
      assert.equal(loadOrCreateToken(file), token, 'the same token next time');
    });

    it('tightens a readable token file and a readable .routelens folder, keeping the token', function () {
      if (process.platform === 'win32') return this.skip();
      const folder = join(dir, '.routelens');
      mkdirSync(folder, { mode: 0o755 });
      chmodSync(folder, 0o755);
      const file = join(folder, 'token');
      writeFileSync(file, 'existing-token-0123456789abcdef\n', { mode: 0o644 });
      chmodSync(file, 0o644);
      assert.equal(loadOrCreateToken(file), 'existing-token-0123456789abcdef');
      assert.equal(mode(file), 0o600);
      assert.equal(mode(folder), 0o700);
    });

    it('replaces an unusable token in a readable file only after making it private', function () {
      if (process.platform === 'win32') return this.skip();
      const file = join(dir, 'token');
      writeFileSync(file, 'short\n', { mode: 0o666 });
      chmodSync(file, 0o666);
      const token = loadOrCreateToken(file);
      assert.equal(mode(file), 0o600);
      assert.equal(readFileSync(file, 'utf8').trim(), token);
    });

    it('leaves a shared folder named by ROUTELENS_TOKEN_FILE alone (only the file is tightened)', function () {
      if (process.platform === 'win32') return this.skip();
      const shared = join(dir, 'shared');
      mkdirSync(shared);
      chmodSync(shared, 0o755);
      loadOrCreateToken(join(shared, 'token'));
      assert.equal(mode(shared), 0o755);
      assert.equal(mode(join(shared, 'token')), 0o600);
    });
  });

  // ---- afterwards -----------------------------------------------------------------------------

  describe('after all of it', () => {
    it('still takes telemetry on every door and reports no internal error', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
      const replies: Record<string, unknown>[] = [];
      ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'after' } }));
      ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [nativeSpan()] }));
      while (replies.length < 2) await sleep(10);
      assert.deepEqual(replies[1].accepted, { spans: 1, logs: 0, metrics: 0 });
      ws.close();
      const r = await httpRequest(port, '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: otlpJson('after') });
      assert.equal(r.status, 200);
      const stats = JSON.parse((await httpRequest(port, '/api/v1/stats', { headers: { Authorization: `Bearer ${TOKEN}` } })).body) as { counters: Record<string, number>; process: { rssBytes: number } };
      for (const name of ['http.internalError', 'ws.internalError', 'otlp.http.rejected.500', 'otlp.grpc.rejected.internal']) assert.equal(stats.counters[name] ?? 0, 0, name);
      assert.ok(stats.process.rssBytes > 0);
    });
  });
});
