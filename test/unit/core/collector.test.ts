import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { WebSocket } from 'ws';
import { Collector, PortInUseError } from '../../../src/core/collector/collector';
import { silentLogger } from '../../../src/core/log';
import { TelemetryStore } from '../../../src/core/store/store';
import { nativeSpan } from '../helpers/telemetry';

const TOKEN = 'test-token-0123456789abcdef';

function request(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A connected agent that collects every reply. */
async function agent(port: number, opts: { headers?: Record<string, string> } = {}): Promise<{ ws: WebSocket; next(): Promise<Record<string, unknown>>; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers: opts.headers });
  const queue: Record<string, unknown>[] = [];
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, closed, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) };
}

describe('Collector', () => {
  let store: TelemetryStore;
  let collector: Collector;
  let port: number;

  beforeEach(async () => {
    store = new TelemetryStore();
    collector = new Collector({ store, token: TOKEN, log: silentLogger, port: 0, maxMessageBytes: 64 * 1024, maxBatchItems: 100 });
    port = await collector.start();
  });
  afterEach(() => collector.stop());

  it('answers the health check without a token', async () => {
    const res = await request(port, '/healthz');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).service, 'routelens');
  });

  it('takes a hello and a batch over the WebSocket and serves the route in the query API', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'orders-api', 'process.pid': 4242 } }));
    const welcome = await a.next();
    assert.equal(welcome.type, 'welcome');
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 7, spans: [nativeSpan({ durationMs: 30 }), nativeSpan({ durationMs: 50, status: 503 })] }));
    const ack = await a.next();
    assert.deepEqual(ack, { v: 1, type: 'ack', seq: 7, accepted: { spans: 2, logs: 0, metrics: 0 }, rejected: { spans: 0, logs: 0, metrics: 0 }, errors: [] });
    const res = await request(port, '/api/v1/routes?window=60', { Authorization: `Bearer ${TOKEN}` });
    assert.equal(res.status, 200);
    const { routes } = JSON.parse(res.body);
    assert.equal(routes.length, 1);
    const r = routes[0];
    assert.equal(r.service, 'orders-api');
    assert.equal(r.method, 'GET');
    assert.equal(r.route, '/items/{item_id}');
    assert.equal(r.count, 2);
    assert.equal(r.errorRate, 0.5);
    assert.ok(Math.abs(r.p50Ms - 30) <= 0.3, `p50 ${r.p50Ms}`);
    assert.deepEqual(r.code, { file: '/srv/app/main.py', line: 12, function: 'main.read_item' });
    a.ws.close();
  });

  it('rejects bad items individually and keeps the good ones of the batch', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'svc' } }));
    await a.next();
    const bad = { ...nativeSpan(), traceId: 'xyz' };
    const backwards = { ...nativeSpan(), startMs: 10, endMs: 5 };
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [nativeSpan(), bad, backwards], logs: [{ timeMs: 1, severity: 'loud', body: 'x' }] }));
    const ack = (await a.next()) as { accepted: { spans: number }; rejected: { spans: number; logs: number }; errors: string[] };
    assert.equal(ack.accepted.spans, 1);
    assert.equal(ack.rejected.spans, 2);
    assert.equal(ack.rejected.logs, 1);
    assert.match(ack.errors[0], /^spans\[1\]: traceId must be 32 lowercase hex characters/);
    assert.match(ack.errors[1], /^spans\[2\]: endMs is before startMs/);
    assert.match(ack.errors[2], /^logs\[0\]: severity must be one of/);
    assert.equal(store.sizes().spans, 1);
    assert.equal(collector.counters.get('ws.rejected.spans'), 2);
    a.ws.close();
  });

  it('expands the compact requests columns into server spans, each row validated on its own', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'svc' } }));
    await a.next();
    const t0 = 1_732_470_000_000_000;
    // Row ids: hex8((seq * 2654435761) mod 2^32) followed by the per-process parts.
    const head = (seq: number) => (Math.imul(seq, 2654435761) >>> 0).toString(16).padStart(8, '0');
    assert.equal(head(1), '9e3779b1');
    const ids = { trace: 'a'.repeat(24), span: '00000000' };
    const shapes = {
      0: { name: 'GET /items/{id}', kind: 'server', attributes: { 'http.route': '/items/{id}', 'http.request.method': 'GET', 'http.response.status_code': 200, 'code.file.path': '/app/main.py', 'code.line.number': 12 } },
      5: { name: 'POST /items', kind: 'server', status: 'error', attributes: { 'http.route': '/items', 'http.request.method': 'POST', 'http.response.status_code': 500 } },
    };
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 4, requests: { ids, shapes, t0, seq: [1, 2, 0, 3], start: [0, 1500, 2000, 2500], dur: [1250, 40_000, 10, 10], shape: [0, 5, 0, 7], path: ['/items/1', '/items', '/items/3', '/x'] } }));
    const ack = (await a.next()) as { seq: number; accepted: { spans: number }; rejected: { spans: number }; errors: string[] };
    assert.equal(ack.seq, 4);
    assert.equal(ack.accepted.spans, 2);
    assert.equal(ack.rejected.spans, 2);
    // seq 0 with an all-zero span part makes an all-zero span id.
    assert.match(ack.errors[0], /^requests\[2\]: spanId must not be all zeros/);
    assert.match(ack.errors[1], /^requests\[3\]: shape 7 is not a number in shapes/);
    const first = store.trace(head(1) + 'a'.repeat(24))[0];
    assert.equal(first.spanId, head(1) + '00000000');
    assert.equal(first.name, 'GET /items/{id}');
    assert.equal(first.kind, 'server');
    assert.equal(first.startMs, 1_732_470_000_000);
    assert.equal(first.endMs, 1_732_470_000_001.25);
    assert.equal(first.attributes['url.path'], '/items/1');
    assert.equal(first.http?.route, '/items/{id}');
    assert.equal(first.code?.line, 12);
    const failed = store.trace(head(2) + 'a'.repeat(24))[0];
    assert.equal(failed.status, 'error');
    assert.equal(failed.startMs, 1_732_470_000_001.5);
    assert.equal(failed.endMs - failed.startMs, 40);
    // Consecutive numbers may come as the first one alone.
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 7, requests: { ids, shapes, t0, seq0: 10, start: [0, 5], dur: [1, 1], shape: [0, 0], path: ['/items/10', '/items/11'] } }));
    assert.equal(((await a.next()) as { accepted: { spans: number } }).accepted.spans, 2);
    assert.equal(store.trace(head(11) + 'a'.repeat(24))[0].attributes['url.path'], '/items/11');
    // Columns that disagree refuse the whole batch with a reason, and keep what is stored.
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 5, requests: { ids, shapes, t0, seq: [1], start: [0, 1], dur: [1], shape: [0], path: ['/'] } }));
    const refused = (await a.next()) as { type: string; code: string; message: string };
    assert.equal(refused.type, 'error');
    assert.equal(refused.code, 'bad_message');
    assert.match(refused.message, /"requests" columns differ in length: "start" has 2 rows, "shape" has 1/);
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 6, requests: { ids: { trace: 'xyz', span: '1' }, shapes, t0, seq: [], start: [], dur: [], shape: [], path: [] } }));
    assert.match(((await a.next()) as { message: string }).message, /"requests" needs "ids" with "trace" \(24 lowercase hex characters\)/);
    assert.equal(store.sizes().spans, 4);
    a.ws.close();
  });

  it('expands the compact calls columns into client spans under their requests, each row validated on its own', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'svc' } }));
    await a.next();
    const t0 = 1_732_470_000_000_000;
    const head = (seq: number) => (Math.imul(seq, 2654435761) >>> 0).toString(16).padStart(8, '0');
    // A call's span id: its parent's head, then the span part with n * 2654435761 mixed in.
    const callId = (seq: number, n: number) => head(seq) + ((0x0000ffff ^ Math.imul(n, 2654435761)) >>> 0).toString(16).padStart(8, '0');
    assert.equal(callId(1, 1), '9e3779b19e37864e');
    const ids = { trace: 'b'.repeat(24), span: '0000ffff' };
    const remote = 'c'.repeat(32);
    const shapes = {
      0: { name: 'SELECT items', kind: 'client', value: 'db.response.returned_rows', attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM items WHERE id = $1', 'db.operation.name': 'SELECT', 'server.address': 'db', 'code.file.path': '/app/main.py', 'code.line.number': 31, 'code.function.name': 'read' } },
      1: { name: 'GET', kind: 'client', value: 'url.full', attributes: { 'http.request.method': 'GET', 'server.address': 'stock', 'server.port': 8001, 'http.response.status_code': 200 } },
    };
    a.ws.send(JSON.stringify({
      v: 1, type: 'batch', seq: 3,
      calls: { ids, shapes, t0, parent: [1, 1, 2, 1, 1], n: [1, 2, 1, 0, 3], start: [10, 900, 2000, 0, 0], dur: [800, 1500, 50, 1, 1], shape: [0, 1, 0, 0, 9], value: [1, 'http://stock:8001/levels?sku=REDACTED', null, null, null], traces: { 2: remote } },
    }));
    const ack = (await a.next()) as { accepted: { spans: number }; rejected: { spans: number }; errors: string[] };
    assert.equal(ack.accepted.spans, 3);
    assert.equal(ack.rejected.spans, 2);
    assert.match(ack.errors[0], /^calls\[3\]: n must be an integer from 1/);
    assert.match(ack.errors[1], /^calls\[4\]: shape 9 is not a number in shapes/);
    const spans = store.trace(head(1) + 'b'.repeat(24));
    assert.deepEqual(spans.map((x) => x.spanId).sort(), [callId(1, 1), callId(1, 2)].sort());
    const query = spans.find((x) => x.name === 'SELECT items')!;
    assert.equal(query.kind, 'client');
    assert.equal(query.parentSpanId, head(1) + '0000ffff');
    assert.equal(query.startMs, 1_732_470_000_000.01);
    assert.equal(query.endMs, 1_732_470_000_000.81);
    assert.equal(query.attributes['db.response.returned_rows'], 1);
    assert.equal(query.code?.line, 31);
    const call = spans.find((x) => x.name === 'GET')!;
    assert.equal(call.attributes['url.full'], 'http://stock:8001/levels?sku=REDACTED');
    assert.equal(call.attributes['http.response.status_code'], 200);
    // A parent that continued a caller's trace names its trace id in "traces".
    const continued = store.trace(remote);
    assert.equal(continued.length, 1);
    assert.equal(continued[0].parentSpanId, head(2) + '0000ffff');
    assert.equal(continued[0].attributes['db.response.returned_rows'], undefined);
    // A value without the shape's name for it is that row's error; columns that disagree refuse the batch.
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 4, calls: { ids, shapes: { 0: { name: 'x', kind: 'client' } }, t0, parent: [5], n: [1], start: [0], dur: [1], shape: [0], value: [3] } }));
    assert.match(((await a.next()) as { errors: string[] }).errors[0], /^calls\[0\]: a value needs shapes\["0"\]\.value/);
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 5, calls: { ids, shapes, t0, parent: [1, 1], n: [4], start: [0], dur: [1], shape: [0] } }));
    const refused = (await a.next()) as { code: string; message: string };
    assert.equal(refused.code, 'bad_message');
    assert.match(refused.message, /"calls" columns differ in length: "parent" has 2 rows, "shape" has 1/);
    assert.equal(store.sizes().spans, 3);
    a.ws.close();
  });

  it('answers malformed, unknown and early messages with clear errors, keeps the connection and the data', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [nativeSpan()] }));
    assert.equal((await a.next()).code, 'no_hello');
    a.ws.send('{not json');
    const e1 = await a.next();
    assert.equal(e1.code, 'bad_json');
    assert.match(String(e1.message), /not valid JSON/);
    a.ws.send(JSON.stringify({ v: 2, type: 'hello', resource: {} }));
    assert.equal((await a.next()).code, 'unsupported_version');
    a.ws.send(JSON.stringify({ v: 1, type: 'subscribe' }));
    assert.equal((await a.next()).code, 'unknown_type');
    a.ws.send(JSON.stringify([1, 2]));
    assert.equal((await a.next()).code, 'bad_message');
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 's' } }));
    assert.equal((await a.next()).type, 'welcome');
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', spans: Array.from({ length: 101 }, () => nativeSpan()) }));
    assert.equal((await a.next()).code, 'too_many_items');
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [nativeSpan()] }));
    assert.equal((await a.next()).type, 'ack');
    assert.equal(store.sizes().spans, 1);
    for (const c of ['no_hello', 'bad_json', 'unsupported_version', 'unknown_type', 'bad_message', 'too_many_items']) assert.equal(collector.counters.get(`ws.rejected.${c}`), 1, c);
    a.ws.close();
  });

  it('closes with 1009 on an oversized message and 1003 on a binary frame, without losing stored data', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 's' } }));
    await a.next();
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [nativeSpan()] }));
    await a.next();
    a.ws.send('x'.repeat(70 * 1024));
    assert.equal(await a.closed, 1009);
    const b = await agent(port);
    b.ws.send(Buffer.from([1, 2, 3]));
    assert.equal(await b.closed, 1003);
    assert.equal(store.sizes().spans, 1);
    assert.equal(collector.counters.get('ws.rejected.too_big'), 1);
    assert.equal(collector.counters.get('ws.rejected.binary'), 1);
    assert.equal((await request(port, '/healthz')).status, 200);
  });

  it('refuses non-loopback Host headers (DNS rebinding) on HTTP and WebSocket', async () => {
    const res = await request(port, '/healthz', { Host: 'evil.example:4318' });
    assert.equal(res.status, 403);
    await assert.rejects(agent(port, { headers: { Host: 'attacker.test' } }), /403/);
    assert.equal((await request(port, '/healthz', { Host: `localhost:${port}` })).status, 200);
    assert.equal((await request(port, '/healthz', { Host: `[::1]:${port}` })).status, 200);
  });

  it('refuses WebSocket upgrades and API calls from browser origins', async () => {
    await assert.rejects(agent(port, { headers: { Origin: 'https://evil.example' } }), /403/);
    const res = await request(port, '/api/v1/routes', { Origin: 'https://evil.example', Authorization: `Bearer ${TOKEN}` });
    assert.equal(res.status, 403);
    assert.equal(collector.counters.get('ws.rejected.origin'), 1);
  });

  it('needs the token for the query API', async () => {
    assert.equal((await request(port, '/api/v1/routes')).status, 401);
    assert.equal((await request(port, '/api/v1/routes', { Authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await request(port, '/api/v1/routes', { Authorization: `Bearer ${TOKEN}` }, 'POST', '{}')).status, 405);
    assert.equal((await request(port, '/api/v1/routes?window=abc', { Authorization: `Bearer ${TOKEN}` })).status, 400);
  });

  it('serves a trace with its spans and logs', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 's' } }));
    await a.next();
    const root = nativeSpan();
    const child = { ...nativeSpan(), traceId: root.traceId, parentSpanId: root.spanId, kind: 'client', name: 'SELECT items' };
    a.ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [root, child], logs: [{ timeMs: Date.now(), severity: 'error', body: 'boom', traceId: root.traceId, spanId: root.spanId }] }));
    await a.next();
    const res = await request(port, `/api/v1/traces/${root.traceId}`, { Authorization: `Bearer ${TOKEN}` });
    const body = JSON.parse(res.body);
    assert.equal(body.spans.length, 2);
    assert.equal(body.logs[0].body, 'boom');
    const list = JSON.parse((await request(port, '/api/v1/traces?service=s&method=GET&route=/items/%7Bitem_id%7D', { Authorization: `Bearer ${TOKEN}` })).body);
    assert.equal(list.traces[0].traceId, root.traceId);
    a.ws.close();
  });

  it('reports a taken port with a clear error', async () => {
    const other = new Collector({ store, token: TOKEN, log: silentLogger, port });
    await assert.rejects(other.start(), (e: Error) => e instanceof PortInUseError && /already in use/.test(e.message));
  });
});
