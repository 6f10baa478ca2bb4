/**
 * Test traffic (`test.case.name` on a server span, docs/protocol.md): kept out of the server's
 * route figures and shown per test at /api/v1/tests.
 */
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { WebSocket } from 'ws';
import { Collector } from '../../../src/core/collector/collector';
import { silentLogger } from '../../../src/core/log';
import { TelemetryStore } from '../../../src/core/store/store';
import { MAX_TESTS, TestTraffic } from '../../../src/core/store/testTraffic';
import { nativeSpan } from '../helpers/telemetry';
import type { Span } from '../../../src/core/model';

const TOKEN = 'test-traffic-token-0123456789abcdef';

function get(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }));
      })
      .on('error', reject);
  });
}

const testSpan = (test: string | undefined, opts: Parameters<typeof nativeSpan>[0] = {}) => {
  const s = nativeSpan(opts);
  if (test !== undefined) (s.attributes as Record<string, unknown>)['test.case.name'] = test;
  return s;
};

describe('test traffic', () => {
  let store: TelemetryStore;
  let collector: Collector;
  let port: number;

  beforeEach(async () => {
    store = new TelemetryStore();
    collector = new Collector({ store, token: TOKEN, log: silentLogger, port: 0 });
    port = await collector.start();
  });
  afterEach(() => collector.stop());

  async function send(spans: Record<string, unknown>[]): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    await new Promise((r) => ws.once('open', r));
    const replies: Record<string, unknown>[] = [];
    ws.on('message', (d) => replies.push(JSON.parse(d.toString()) as Record<string, unknown>));
    ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'shop' } }));
    ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 1, spans }));
    while (!replies.some((m) => m.type === 'ack')) await new Promise((r) => setTimeout(r, 5));
    ws.close();
  }

  it('keeps test requests out of the route figures and sums them per test', async () => {
    await send([
      testSpan(undefined, { durationMs: 5 }),
      testSpan(undefined, { durationMs: 7 }),
      testSpan('tests/test_api.py::test_read', { durationMs: 900 }),
      testSpan('tests/test_api.py::test_read', { durationMs: 40 }),
      testSpan('tests/test_api.py::test_fail', { durationMs: 30, status: 500 }),
      testSpan('tests/test_api.py::test_fail', { durationMs: 20, method: 'POST', route: '/orders' }),
    ]);
    const routes = (await get(port, '/api/v1/routes?window=60')).body.routes as { route: string; count: number; p95Ms: number; errorRate: number }[];
    assert.equal(routes.length, 1, 'the test-only route POST /orders is not a server route');
    assert.equal(routes[0].count, 2, 'only the two real requests');
    assert.ok(routes[0].p95Ms < 10, `p95 ${routes[0].p95Ms} untouched by the 900 ms test request`);
    assert.equal(routes[0].errorRate, 0);

    const res = await get(port, '/api/v1/tests');
    assert.equal(res.status, 200);
    const tests = res.body.tests as { id: string; service: string; requests: number; errors: number; slowestMs: number; slowestTraceId: string; routes: string[] }[];
    assert.deepEqual(tests.map((t) => t.id), ['tests/test_api.py::test_fail', 'tests/test_api.py::test_read'], 'most recently seen first');
    const [fail, read] = tests;
    assert.equal(read.service, 'shop');
    assert.equal(read.requests, 2);
    assert.equal(read.errors, 0);
    assert.ok(Math.abs(read.slowestMs - 900) < 1, `slowest ${read.slowestMs}`);
    assert.match(read.slowestTraceId, /^[0-9a-f]{32}$/);
    assert.equal(fail.requests, 2);
    assert.equal(fail.errors, 1);
    assert.deepEqual(fail.routes, ['GET /items/{item_id}', 'POST /orders']);
    // The spans themselves are kept: a test's slowest trace opens like any other.
    assert.equal((await get(port, `/api/v1/traces/${read.slowestTraceId}`)).status, 200);
    assert.deepEqual((await get(port, '/api/v1/tests?service=other')).body.tests, []);
  });

  it('is bounded: the test seen least recently is forgotten', () => {
    const t = new TestTraffic();
    const span = { traceId: 'a'.repeat(32), resource: { serviceName: 's' }, http: { method: 'GET', route: '/' } } as unknown as Span;
    for (let i = 0; i <= MAX_TESTS; i++) t.record(`t${i}`, span, 1, false, i);
    assert.equal(t.size, MAX_TESTS);
    assert.equal(t.forgotten, 1);
    assert.ok(!t.summaries().some((s) => s.id === 't0'));
  });
});
