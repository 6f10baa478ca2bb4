import * as assert from 'node:assert/strict';
import { handleQuery } from '../../../src/core/collector/queryApi';
import type { Span } from '../../../src/core/model';
import { normalizeRoute, RouteIndex, type DetectedRoute } from '../../../src/core/routes';
import { handlerStatsForFile } from '../../../src/core/routes/handlerStats';
import { histogramText, hoverHeadline } from '../../../src/features/codeLens/lensText';
import type { RouteSummary } from '../../../src/core/stats/routeStats';
import { TelemetryStore } from '../../../src/core/store/store';
import type { CollectorView } from '../../../src/features/dashboard/protocol';
import { buildDashboardState } from '../../../src/features/dashboard/model';
import { serverSpan } from '../helpers/telemetry';

// 13:20:07 UTC: not on a latency-slot boundary, so windows start mid-slot.
const T0 = Date.UTC(2026, 11, 3, 13, 20, 7, 400);
/** The start of T0's second. */
const S0 = Math.floor(T0 / 1000) * 1000;
const collector: CollectorView = { state: 'listening', endpoint: 'http://127.0.0.1:4318' };
const FILE = 'file:///home/dev/shop/app/main.py';

/** Deterministic latencies: a lognormal-ish spread from 2 to about 400 ms. */
function latency(i: number): number {
  const u = ((i * 7919) % 1000) / 1000;
  return 2 + Math.exp(u * 6);
}

/** 3,000 spans ending over the 30 s before T0, 100 a second, 5% of them 500s. */
function backlog(): Span[] {
  const spans: Span[] = [];
  for (let i = 0; i < 3000; i++) {
    const endMs = S0 - 30_000 + Math.floor(i / 100) * 1000 + (i % 100) * 10;
    const d = latency(i);
    spans.push(serverSpan({ route: '/items/{item_id}', durationMs: d, startMs: endMs - d, status: i % 20 === 0 ? 500 : 200 }));
  }
  return spans;
}

function clockedStore(startMs: number): { store: TelemetryStore; clock: { now: number } } {
  const clock = { now: startMs };
  return { store: new TelemetryStore({}, { now: () => clock.now }), clock };
}

function apiRoutes(store: TelemetryStore, window: number): (RouteSummary & { breakdown: unknown })[] {
  const res = handleQuery('/api/v1/routes', new URLSearchParams({ window: String(window) }), store, { counters: { snapshot: () => ({}) }, connectionCount: 0, port: 4318 });
  return (res.body as { routes: (RouteSummary & { breakdown: unknown })[] }).routes;
}

function handler(method: string, route: string, line: number): DetectedRoute {
  return { method, route, normalized: normalizeRoute(route), framework: 'fastapi', handlerName: `h${line}`, line, decoratorLine: line - 1, endLine: line + 3 };
}

describe('figures: time of the request, not of its arrival', () => {
  it('a 30-second backlog delivered in one batch fills its own seconds, with no spike', () => {
    const { store, clock } = clockedStore(T0);
    store.addSpans(backlog());
    const series = store.serviceSeriesOf('orders-api')!;
    const { counts } = series.perSecond(T0 / 1000, 60);
    // The 30 seconds the spans belong to hold 100 each; the 30 before them and "now" hold none.
    const nowIdx = 59;
    for (let k = nowIdx - 30; k < nowIdx; k++) assert.equal(counts[k], 100, `second ${k - nowIdx} holds ${counts[k]}`);
    for (let k = 0; k < nowIdx - 30; k++) assert.equal(counts[k], 0);
    assert.equal(counts[nowIdx], 0, 'nothing piles up in the second the batch arrived');

    const state = buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: clock.now });
    const rps = state.charts.requests.lines[0].filter((v): v is number => v !== null);
    assert.ok(Math.max(...rps) <= 100, `the requests chart peaks at ${Math.max(...rps)} req/s, not at the batch`);
    // The latency chart has points for the slots the requests fell in (no gap where they happened).
    const p50 = state.charts.latency.lines[0];
    const withData = state.charts.latency.t.filter((_t, i) => p50[i] !== null);
    assert.ok(withData.length >= 3, 'latency points in the slots of the backlog');
    assert.ok(withData.every((t) => t >= Math.floor((T0 - 30_000) / 10_000) * 10 && t <= T0 / 1000), 'and only there');
    assert.deepEqual(state.routes[0].spark.slice(29, 59), new Array(30).fill(100));
  });

  it('gives the rate and percentiles of the same spans delivered live', () => {
    const late = clockedStore(T0);
    late.store.addSpans(backlog());

    const live = clockedStore(T0 - 30_000);
    const spans = backlog();
    // Live: each span arrives 5 ms after it ended, in batches of ten.
    for (let i = 0; i < spans.length; i += 10) {
      const batch = spans.slice(i, i + 10);
      live.clock.now = batch[batch.length - 1].endMs + 5;
      live.store.addSpans(batch);
    }
    live.clock.now = T0;

    for (const window of [60, 300]) {
      const a = apiRoutes(late.store, window)[0];
      const b = apiRoutes(live.store, window)[0];
      assert.equal(a.count, 3000);
      // (The breakdown differs by design: the live store's traces have settled, the late one's not yet.)
      assert.deepEqual({ ...a, lastSeenMs: 0, breakdown: null }, { ...b, lastSeenMs: 0, breakdown: null }, `window ${window}`);
    }
    const la = buildDashboardState(late.store, { collector, windowSec: 60, service: null, paused: false, nowMs: T0 });
    const lb = buildDashboardState(live.store, { collector, windowSec: 60, service: null, paused: false, nowMs: T0 });
    assert.deepEqual(la.totals, lb.totals);
    assert.deepEqual(la.charts.requests, lb.charts.requests);
    assert.deepEqual(la.charts.latency, lb.charts.latency);
  });

  it('counts spans older than the 15-minute history in the totals only', () => {
    const { store } = clockedStore(T0);
    const old = serverSpan({ route: '/old', durationMs: 5, startMs: T0 - 20 * 60_000 });
    store.addSpans([old]);
    const entry = Array.from(store.routeEntries()).find((e) => e.key.route === '/old')!;
    assert.equal(entry.series.total.count, 1);
    assert.equal(apiRoutes(store, 900)[0].count, 0);
  });

  it('takes a span from a clock ahead of ours as happening now', () => {
    const { store } = clockedStore(T0);
    store.addSpans([serverSpan({ route: '/ahead', durationMs: 5, startMs: T0 + 3_600_000 })]);
    assert.equal(apiRoutes(store, 60)[0].count, 1);
  });
});

describe('figures: every view agrees on the same requests', () => {
  // Traffic over 90 s on two routes, plus an older burst: windows start mid-slot and cut through it.
  function populated(): { store: TelemetryStore; index: RouteIndex } {
    const { store } = clockedStore(T0);
    const spans: Span[] = [];
    for (let i = 0; i < 1800; i++) {
      const endMs = T0 - 90_000 + i * 50;
      const d = latency(i);
      spans.push(serverSpan({ route: '/items/{item_id}', durationMs: d, startMs: endMs - d, status: i % 13 === 0 ? 500 : 200 }));
      if (i % 3 === 0) spans.push(serverSpan({ route: '/orders', method: 'POST', durationMs: d * 2, startMs: endMs - d * 2 }));
    }
    store.addSpans(spans);
    const index = new RouteIndex();
    index.setFile(FILE, [handler('GET', '/items/{item_id}', 10), handler('POST', '/orders', 20)]);
    return { store, index };
  }

  for (const window of [60, 300]) {
    it(`lens, hover, sidebar row and /api/v1/routes give one count and one set of percentiles (window ${window} s)`, () => {
      const { store, index } = populated();
      const lenses = handlerStatsForFile(FILE, index, store, window, T0);
      const rows = buildDashboardState(store, { collector, windowSec: window, service: null, paused: false, nowMs: T0 }).routes;
      const api = apiRoutes(store, window);
      assert.equal(api.length, 2);
      for (const r of api) {
        const lens = lenses.find((l) => l.handler.route === r.route)!;
        const row = rows.find((x) => x.route === r.route && x.method === r.method)!;
        assert.ok(r.count > 0);
        // lens ~ api
        assert.equal(lens.count, r.count, `${r.route}: lens count`);
        for (const k of ['p50Ms', 'p95Ms', 'p99Ms'] as const) assert.ok(Math.abs(lens[k]! - r[k]!) < 1e-3, `${r.route}: lens ${k} ${lens[k]} vs ${r[k]}`);
        assert.ok(Math.abs(lens.rps - r.rps) < 1e-3 && Math.abs(lens.errorRate - r.errorRate) < 1e-3);
        // row ~ api
        assert.deepEqual([row.count, row.rps, row.errorRate, row.p50Ms, row.p95Ms, row.p99Ms], [r.count, r.rps, r.errorRate, r.p50Ms, r.p95Ms, r.p99Ms], `${r.route}: row`);
        // hover ~ lens: the header's count, and the histogram's bars add up to it
        const head = hoverHeadline(lens);
        assert.match(head, new RegExp(`^${lens.count} requests in the last ${lens.seconds} s`));
        const bars = histogramText(lens).split('\n').map((l) => Number(l.trim().split(/\s+/).pop()));
        assert.equal(bars.reduce((a, b) => a + b, 0), lens.count, `${r.route}: the histogram adds up to the header's count`);
        // The rate is the count over the seconds measured: 90 s of traffic, so a 60 s window (cut
        // at a slot boundary) covers only traffic, a 300 s one is measured over the 91 s of it.
        assert.ok(Math.abs(r.rps - Math.round((lens.count / lens.rateSeconds) * 1000) / 1000) < 1e-9);
        assert.ok(lens.seconds > 50 && lens.seconds <= window, `covers ${lens.seconds} s`);
        assert.equal(lens.rateSeconds, window === 60 ? lens.seconds : 91);
      }
    });
  }
});
