import * as assert from 'node:assert/strict';
import { handleQuery } from '../../../src/core/collector/queryApi';
import { analyseRequest, analyseTraceView, criticalPath, InsightsEngine, normalizeStatement, pathTemplate, timedTree, type Finding } from '../../../src/core/findings';
import { PAUSED_MS_ATTRIBUTE, type Attributes, type Span, type SpanKind } from '../../../src/core/model';
import { breakdownLine } from '../../../src/features/codeLens/lensText';
import { TelemetryStore } from '../../../src/core/store/store';
import { isDashboardState } from '../../../src/features/dashboard/protocol';
import { buildDashboardState } from '../../../src/features/dashboard/model';
import { hex, resource } from '../helpers/telemetry';

const T0 = 1_790_000_000_000;

interface Opts {
  parent?: Span;
  kind?: SpanKind;
  service?: string;
  pid?: number;
  name?: string;
  attrs?: Attributes;
  route?: string;
  method?: string;
  line?: number;
  traceId?: string;
}

/** A span from `start` to `end` ms after T0. */
function sp(start: number, end: number, o: Opts = {}): Span {
  const service = o.service ?? o.parent?.resource.serviceName ?? 'gateway';
  const r = { ...resource(service), pid: o.pid ?? o.parent?.resource.pid ?? 100 };
  const s: Span = {
    traceId: o.traceId ?? o.parent?.traceId ?? hex(16),
    spanId: hex(8),
    parentSpanId: o.parent?.spanId,
    name: o.name ?? (o.route ? `${o.method ?? 'GET'} ${o.route}` : 'work'),
    kind: o.kind ?? (o.route ? 'server' : 'internal'),
    startMs: T0 + start,
    endMs: T0 + end,
    status: 'unset',
    attributes: { ...(o.attrs ?? {}) },
    events: [],
    links: [],
    resource: r,
  };
  if (o.route) s.http = { method: o.method ?? 'GET', route: o.route, statusCode: 200 };
  if (o.line) s.code = { file: '/srv/shop/orders.py', line: o.line, function: 'list_orders' };
  return s;
}

function db(start: number, end: number, parent: Span, statement: string, line = 42, system = 'postgresql'): Span {
  return sp(start, end, { parent, kind: 'client', name: statement.split(' ')[0], line, attrs: { 'db.system.name': system, 'db.namespace': 'shop', 'db.query.text': statement } });
}

function http(start: number, end: number, parent: Span, url: string, line = 30): Span {
  const u = new URL(url);
  return sp(start, end, { parent, kind: 'client', name: 'GET', line, attrs: { 'http.request.method': 'GET', 'url.full': url, 'server.address': u.hostname, 'server.port': u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 } });
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('findings: critical path', () => {
  it('follows sequential children and the parent time between them, covering the request exactly', () => {
    const root = sp(0, 100, { route: '/orders' });
    const a = sp(10, 30, { parent: root });
    const b = sp(40, 90, { parent: root });
    const p = criticalPath(timedTree([root, a, b], root.spanId)!);
    assert.deepEqual(
      p.segments.map((s) => [s.spanId, s.startMs - T0, s.endMs - T0]),
      [[root.spanId, 0, 10], [a.spanId, 10, 30], [root.spanId, 30, 40], [b.spanId, 40, 90], [root.spanId, 90, 100]],
    );
    assert.equal(sum(p.segments.map((s) => s.endMs - s.startMs)), 100);
    assert.equal(p.hotSpanId, b.spanId);
    assert.equal(p.selfMs.get(root.spanId), 30);
  });

  it('takes the parallel call that finished last, and only the part of the other that nothing else covers', () => {
    const root = sp(0, 100, { route: '/fan' });
    const slow = sp(10, 80, { parent: root, name: 'slow' });
    const fast = sp(5, 40, { parent: root, name: 'fast' });
    const p = criticalPath(timedTree([root, slow, fast], root.spanId)!);
    assert.deepEqual(
      p.segments.map((s) => [s.spanId, s.startMs - T0, s.endMs - T0]),
      [[root.spanId, 0, 5], [fast.spanId, 5, 10], [slow.spanId, 10, 80], [root.spanId, 80, 100]],
    );
    assert.equal(p.pathMs.get(fast.spanId), 5);
  });

  it('handles an async fan-out of ten tasks: the longest is on the path, the rest are not', () => {
    const root = sp(0, 60, { route: '/gather' });
    const tasks = Array.from({ length: 10 }, (_, i) => sp(5, 20 + i * 3, { parent: root, name: `task${i}` }));
    const p = criticalPath(timedTree([root, ...tasks], root.spanId)!);
    const onPath = new Set(p.segments.map((s) => s.spanId));
    assert.ok(onPath.has(tasks[9].spanId));
    assert.equal(tasks.filter((t) => onPath.has(t.spanId)).length, 1);
    assert.equal(sum(p.segments.map((s) => s.endMs - s.startMs)), 60);
  });

  it('moves a downstream process whose clock runs 500 ms ahead into its client span, as a block', () => {
    const root = sp(0, 100, { route: '/checkout' });
    const call = http(10, 90, root, 'http://payments:8000/pay');
    // The payments service's clock is 500 ms ahead: its spans sit outside the call that waited on them.
    const server = sp(520, 580, { parent: call, service: 'payments', pid: 200, route: '/pay', method: 'POST' });
    const query = db(530, 570, server, 'UPDATE accounts SET balance = balance - ? WHERE id = ?');
    const tree = timedTree([root, call, server, query], root.spanId)!;
    const p = criticalPath(tree);
    const q = p.segments.find((s) => s.spanId === query.spanId)!;
    assert.equal(q.endMs - q.startMs, 40, 'durations are kept');
    assert.ok(q.startMs >= T0 + 10 && q.endMs <= T0 + 90, 'inside the client span');
    const srv = tree.children[0].children[0];
    assert.equal(srv.shiftMs, -490);
    assert.equal(srv.children[0].shiftMs, -490, 'the same shift for the whole process');
    assert.equal(sum(p.segments.map((s) => s.endMs - s.startMs)), 100);
  });

  it('walks a 2,000-level chain without running out of stack', () => {
    const spans = [sp(0, 4000, { route: '/deep' })];
    for (let i = 1; i < 2000; i++) spans.push(sp(i, 4000 - i, { parent: spans[i - 1] }));
    const p = criticalPath(timedTree(spans, spans[0].spanId)!);
    assert.equal(sum(p.segments.map((s) => s.endMs - s.startMs)), 4000);
    assert.equal(p.segments.length, 2 * 2000 - 1);
  });
});

describe('findings: time by destination', () => {
  it('splits a request into own code, each database, HTTP and each downstream service, adding up exactly', () => {
    const root = sp(0, 200, { route: '/checkout', method: 'POST' });
    const q1 = db(10, 30, root, 'SELECT * FROM carts WHERE id = ?');
    const q2 = db(35, 45, root, 'GET cart:?', 50, 'redis');
    const call = http(50, 150, root, 'http://inventory:8001/reserve');
    const inv = sp(60, 140, { parent: call, service: 'inventory', pid: 300, route: '/reserve', method: 'POST' });
    const q3 = db(70, 120, inv, 'UPDATE stock SET n = n - ? WHERE sku = ?');
    const a = analyseRequest([root, q1, q2, call, inv, q3], root)!;
    const by = Object.fromEntries(a.breakdown.map((p) => [`${p.kind}:${p.target}`, p.ms]));
    assert.deepEqual(by, {
      'db:postgresql shop': 20 + 50,
      'db:redis shop': 10,
      'service:inventory': 80 - 50,
      'http:inventory:8001': 100 - 80,
      'code:own code': 200 - 20 - 10 - 100,
    });
    assert.equal(sum(a.breakdown.map((p) => p.ms)), 200);
    assert.equal(a.calls, 3, "the request's own calls: two queries and one HTTP call (inventory's query is inventory's)");
  });
});

describe('findings: N+1, slow queries, dominance', () => {
  function orders(opts: { repeats: number; parallel?: boolean; distinct?: boolean; paused?: boolean; queryMs?: number }): Span[] {
    const root = sp(0, 400, { route: '/orders', traceId: hex(16) });
    if (opts.paused) root.attributes[PAUSED_MS_ATTRIBUTE] = 30_000;
    const spans = [root, db(2, 8, root, 'SELECT * FROM orders WHERE user_id = ?', 40)];
    for (let i = 0; i < opts.repeats; i++) {
      const start = opts.parallel ? 10 : 10 + i * (opts.queryMs ?? 5);
      const stmt = opts.distinct ? `SELECT * FROM t${i} WHERE id = ?` : `SELECT * FROM items WHERE order_id = ${100 + i}`;
      spans.push(db(start, start + (opts.queryMs ?? 5) - 1, root, stmt, 44));
    }
    return spans;
  }

  function engineWith(): { engine: InsightsEngine; add: (spans: Span[]) => void; clock: { now: number } } {
    const traces = new Map<string, Span[]>();
    const clock = { now: T0 };
    const engine = new InsightsEngine((id) => traces.get(id) ?? [], { now: () => clock.now });
    return {
      engine,
      clock,
      add: (spans) => {
        traces.set(spans[0].traceId, spans);
        engine.observe(spans);
        clock.now += 10_000;
        engine.process();
      },
    };
  }

  it('finds 12 sequential runs of one statement at one line, with the count, the time and the line', () => {
    const { engine, add } = engineWith();
    const t = orders({ repeats: 12 });
    add(t);
    const [f, ...rest] = engine.list({ kind: 'n+1' });
    assert.equal(rest.length, 0);
    assert.equal(f.callsPerRequest, 12);
    assert.equal(f.operation, 'SELECT * FROM items WHERE order_id = ?');
    assert.deepEqual(f.location, { file: '/srv/shop/orders.py', line: 44, function: 'list_orders' });
    assert.equal(f.msPerRequest, 12 * 4);
    assert.equal(f.route, '/orders');
    assert.deepEqual(f.exampleTraceIds, [t[0].traceId]);
    assert.match(f.message, /^N\+1: 12 × SELECT \* FROM items WHERE order_id = \? per request on GET \/orders \(48\.0 ms, 12% of the request\)$/);
  });

  for (const [what, o] of [
    ['4 repeats', { repeats: 4 }],
    ['repeats in parallel', { repeats: 8, parallel: true }],
    ['a loop of different statements', { repeats: 8, distinct: true }],
    ['a request paused at a breakpoint', { repeats: 12, paused: true }],
  ] as const) {
    it(`makes no finding of ${what}`, () => {
      const { engine, add } = engineWith();
      add(orders(o));
      assert.deepEqual(engine.list({ kind: 'n+1' }), []);
    });
  }

  it('clears a finding once 5 later requests of the route no longer show it', () => {
    const { engine, add } = engineWith();
    add(orders({ repeats: 6 }));
    for (let i = 0; i < 4; i++) add(orders({ repeats: 1 }));
    assert.equal(engine.list({ kind: 'n+1' }).length, 1, 'still there after 4 clean requests');
    add(orders({ repeats: 1 }));
    assert.equal(engine.list({ kind: 'n+1' }).length, 0, 'gone after the 5th');
  });

  it('finds a statement taking most of its request, and the database dominating the route', () => {
    const { engine, add } = engineWith();
    for (let i = 0; i < 5; i++) {
      const root = sp(0, 300, { route: '/report' });
      add([root, db(20, 280, root, "SELECT sum(total) FROM orders WHERE day > '2026-01-01'", 61)]);
    }
    const slow = engine.list({ kind: 'slow-query' });
    assert.equal(slow.length, 1);
    assert.equal(slow[0].operation, 'SELECT sum(total) FROM orders WHERE day > ?');
    assert.equal(slow[0].location?.line, 61);
    assert.equal(Math.round(slow[0].share * 1000), 867);
    const dom = engine.list({ kind: 'dominant-downstream' });
    assert.equal(dom.length, 1);
    assert.equal(dom[0].destination.target, 'postgresql shop');
    assert.equal(dom[0].requests, 5);
  });

  it('needs five requests before a destination dominates a route', () => {
    const { engine, add } = engineWith();
    for (let i = 0; i < 4; i++) {
      const root = sp(0, 100, { route: '/r' });
      add([root, http(5, 95, root, 'http://slow-partner:9000/x')]);
    }
    assert.deepEqual(engine.list({ kind: 'dominant-downstream' }), []);
  });

  it('waits for a trace to settle before analysing it', () => {
    const { engine, clock } = engineWith();
    const traces = new Map<string, Span[]>();
    const e = new InsightsEngine((id) => traces.get(id) ?? [], { now: () => clock.now });
    const t = orders({ repeats: 6 });
    traces.set(t[0].traceId, t);
    e.observe(t);
    assert.equal(e.process(), 0);
    clock.now += 2500;
    assert.equal(e.process(), 1);
    assert.equal(e.list().length, 1);
    assert.ok(engine);
  });
});

describe('findings: in the store and the query API', () => {
  it('serves /api/v1/insights, a breakdown per route and the analysis of a trace', () => {
    const clock = { now: T0 + 1000 };
    const store = new TelemetryStore({}, { now: () => clock.now });
    const root = sp(0, 400, { route: '/orders' });
    const spans = [root];
    for (let i = 0; i < 7; i++) spans.push(db(10 + i * 20, 28 + i * 20, root, `SELECT name FROM items WHERE id = ${i}`, 44));
    store.addSpans(spans);
    clock.now += 3000;
    const info = { counters: { snapshot: () => ({}) }, connectionCount: 0, port: 1 };
    const insights = (handleQuery('/api/v1/insights', new URLSearchParams(), store, info).body as { insights: Finding[] }).insights;
    assert.equal(insights.length, 1);
    assert.equal(insights[0].kind, 'n+1');
    assert.equal(insights[0].callsPerRequest, 7);
    assert.equal(handleQuery('/api/v1/insights', new URLSearchParams({ kind: 'bogus' }), store, info).status, 400);

    const routes = (handleQuery('/api/v1/routes', new URLSearchParams({ window: '900' }), store, info).body as { routes: { breakdown: { byKind: Record<string, number>; byTarget: { target: string; meanMs: number }[] } }[] }).routes;
    assert.equal(routes[0].breakdown.byKind.db, 7 * 18);
    assert.equal(routes[0].breakdown.byKind.code, 400 - 7 * 18);

    const trace = handleQuery(`/api/v1/traces/${root.traceId}`, new URLSearchParams(), store, info).body as { analysis: ReturnType<typeof analyseTraceView> };
    assert.equal(trace.analysis!.requestSpanId, root.spanId);
    assert.equal(trace.analysis!.findings[0].count, 7);
    assert.equal(sum(trace.analysis!.criticalPath.map((s) => s.endMs - s.startMs)), 400);
    assert.equal(trace.analysis!.spans[root.spanId].selfMs, 400 - 7 * 18);
  });
});

describe('findings: normalisation', () => {
  it('folds literals and ids so repeats compare equal', () => {
    assert.equal(normalizeStatement("SELECT * FROM  t WHERE a = 'x''y' AND b = 12.5"), 'SELECT * FROM t WHERE a = ? AND b = ?');
    assert.equal(pathTemplate('/users/42/orders/3f2b8c1e-0000-4000-8000-1234567890ab'), '/users/{id}/orders/{id}');
  });
});

describe('findings: the service map and the sidebar', () => {
  it('maps calls to databases, hosts and the services that answered, with rates, p95 and errors', () => {
    const clock = { now: T0 + 1000 };
    const store = new TelemetryStore({}, { now: () => clock.now });
    for (let i = 0; i < 10; i++) {
      const root = sp(0, 100, { route: '/checkout', method: 'POST' });
      const call = http(10, 60, root, 'http://payments:8000/pay');
      if (i === 0) call.status = 'error';
      const pay = sp(15, 55, { parent: call, service: 'payments', pid: 7, route: '/pay', method: 'POST' });
      const q = db(20, 50, pay, 'UPDATE accounts SET balance = ?');
      const ext = http(65, 95, root, 'https://api.partner.example:443/rates');
      store.addSpans([root, call, pay, q, ext]);
    }
    clock.now += 5000;
    const map = store.insights.serviceMap(60);
    const edges = Object.fromEntries(map.edges.map((e) => [`${e.from} -> ${e.to.kind}:${e.to.target}`, e]));
    assert.deepEqual(Object.keys(edges).sort(), ['gateway -> http:api.partner.example:443', 'gateway -> service:payments', 'payments -> db:postgresql shop']);
    assert.equal(edges['gateway -> service:payments'].count, 10);
    assert.equal(edges['gateway -> service:payments'].errorRate, 0.1);
    assert.ok(Math.abs(edges['payments -> db:postgresql shop'].p95Ms! - 30) < 0.3);
    assert.deepEqual(map.nodes.map((n) => `${n.kind}:${n.name}`), ['service:gateway', 'service:payments', 'db:postgresql shop', 'http:api.partner.example:443']);

    const state = buildDashboardState(store, { collector: { state: 'listening', endpoint: 'http://127.0.0.1:1' }, windowSec: 60, service: null, paused: false, nowMs: clock.now });
    assert.ok(isDashboardState(JSON.parse(JSON.stringify(state))), 'the state with the map and the bars passes the webview guard');
    assert.equal(state.serviceMap.length, 3);
    const row = state.routes.find((r) => r.route === '/checkout')!;
    // 100 ms: 30 in payments' database, 10 in payments' own code, 10 + 30 in HTTP, 20 own code.
    assert.deepEqual({ ...row.breakdown, top: undefined }, { code: 20, db: 30, http: 40, service: 10, top: undefined });
    assert.deepEqual(row.breakdown!.top.slice(0, 2).map((t) => `${t.target} ${t.meanMs}`).sort(), ['api.partner.example:443 30', 'postgresql shop 30']);
    const only = buildDashboardState(store, { collector: { state: 'listening', endpoint: 'http://127.0.0.1:1' }, windowSec: 60, service: 'payments', paused: false, nowMs: clock.now });
    assert.deepEqual(only.serviceMap.map((e) => `${e.from}>${e.to}`).sort(), ['gateway>payments', 'payments>postgresql shop']);
  });
});

describe('findings: the hover line', () => {
  it('says where a handler spends its time, by destination, with shares adding up to about 100%', () => {
    const clock = { now: T0 + 1000 };
    const store = new TelemetryStore({}, { now: () => clock.now });
    for (let i = 0; i < 4; i++) {
      const root = sp(0, 100, { route: '/orders' });
      store.addSpans([root, db(10, 70, root, 'SELECT * FROM orders WHERE user_id = ?')]);
    }
    clock.now += 5000;
    const line = breakdownLine(store, [{ service: 'gateway', method: 'GET', route: '/orders' }]);
    assert.equal(line, 'Time per request: postgresql shop 60 ms (60%), own code 40 ms (40%)');
    assert.equal(breakdownLine(store, [{ service: 'gateway', method: 'GET', route: '/none' }]), undefined);
  });
});

describe('findings: malformed traces', () => {
  it('gives no analysis, and no error, for a trace whose spans are all in a parent cycle', () => {
    const a = sp(0, 10);
    const b = sp(1, 5, { parent: a });
    a.parentSpanId = b.spanId;
    assert.equal(analyseTraceView([a, b]), undefined);
    const engine = new InsightsEngine(() => [a, b]);
    engine.observe([a, b]);
    engine.flush();
    assert.deepEqual(engine.list(), []);
  });
});
