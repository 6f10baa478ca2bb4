import * as assert from 'node:assert/strict';
import type { MetricPoint, Span } from '../../../src/core/model';
import { TelemetryStore } from '../../../src/core/store/store';
import { isHostToDashboard, isDashboardState, isDashboardToHost, type CollectorView } from '../../../src/features/dashboard/protocol';
import { buildDashboardState, chartStep, gaugeChart, MIN_REQUESTS_FOR_SLOW, type DashboardInput } from '../../../src/features/dashboard/model';
import { resource, serverSpan } from '../helpers/telemetry';

const T0 = 1_700_000_000_000;
const collector: CollectorView = { state: 'listening', endpoint: 'http://127.0.0.1:4318' };

function clockedStore(): { store: TelemetryStore; clock: { now: number } } {
  const clock = { now: T0 };
  return { store: new TelemetryStore({}, { now: () => clock.now }), clock };
}

function input(clock: { now: number }, over: Partial<DashboardInput> = {}): DashboardInput {
  return { collector, windowSec: 60, service: null, paused: false, nowMs: clock.now, ...over };
}

function metric(name: string, value: number, timeMs: number, service = 'orders-api'): MetricPoint {
  return { name, kind: 'gauge', value, timeMs, attributes: {}, resource: resource(service) };
}

function within(actual: number | null, expected: number, rel = 0.01): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= expected * rel, `${actual} is not within ${rel * 100}% of ${expected}`);
}

describe('sidebar view model', () => {
  it('gives an empty but well-formed state for an empty store', () => {
    const { store, clock } = clockedStore();
    const s = buildDashboardState(store, input(clock));
    assert.deepEqual(s.routes, []);
    assert.deepEqual(s.errors, []);
    assert.deepEqual(s.traces, []);
    assert.equal(s.totals.requests, 0);
    assert.equal(s.totals.p95Ms, null);
    assert.equal(s.charts.requests.t.length, 60);
    assert.ok(s.charts.requests.lines[0].every((v) => v === 0));
    assert.ok(s.charts.errors.lines[0].every((v) => v === null), 'no requests: no error rate rather than 0%');
    assert.equal(s.charts.memory, undefined);
    assert.equal(s.charts.cpu, undefined);
    assert.ok(isDashboardState(s));
  });

  it('builds route rows with figures and a 60-second sparkline', () => {
    const { store, clock } = clockedStore();
    for (let i = 1; i <= 100; i++) store.addSpans([serverSpan({ route: '/a', durationMs: i, status: i % 10 === 0 ? 500 : 200 })]);
    clock.now += 1000;
    store.addSpans([serverSpan({ route: '/b', method: 'POST', durationMs: 5 })]);
    const s = buildDashboardState(store, input(clock));
    assert.equal(s.routes.length, 2);
    const a = s.routes.find((r) => r.route === '/a')!;
    assert.equal(a.count, 100);
    assert.equal(a.errorRate, 0.1);
    within(a.p95Ms, 95);
    assert.equal(a.spark.length, 60);
    assert.equal(a.spark[58], 100, 'the requests of the previous second');
    assert.equal(a.spark[59], 0);
    assert.equal(s.routes.find((r) => r.route === '/b')!.method, 'POST');
  });

  it('merges services exactly for the totals (sketches merge, no averaging of percentiles)', () => {
    const { store, clock } = clockedStore();
    for (let i = 0; i < 100; i++) store.addSpans([serverSpan({ service: 'fast', durationMs: 10 }), serverSpan({ service: 'slow', route: '/slow', durationMs: 1000 })]);
    const all = buildDashboardState(store, input(clock));
    assert.deepEqual(all.services, ['fast', 'slow']);
    assert.equal(all.service, null);
    assert.equal(all.totals.requests, 200);
    within(all.totals.p50Ms, 10);
    within(all.totals.p99Ms, 1000);
    const fast = buildDashboardState(store, input(clock, { service: 'fast' }));
    assert.equal(fast.service, 'fast');
    assert.equal(fast.totals.requests, 100);
    within(fast.totals.p99Ms, 10);
    assert.deepEqual(
      fast.routes.map((r) => r.service),
      ['fast'],
    );
  });

  it('falls back to all services when the chosen one is gone', () => {
    const { store, clock } = clockedStore();
    store.addSpans([serverSpan({ service: 'a' })]);
    const s = buildDashboardState(store, input(clock, { service: 'gone' }));
    assert.equal(s.service, null);
    assert.equal(s.routes.length, 1);
  });

  it('counts routes known only from metrics in the totals and charts, once', () => {
    const { store, clock } = clockedStore();
    store.addSpans([serverSpan({ route: '/spans', durationMs: 10 })]);
    store.recordRouteHistogram({ service: 'orders-api', method: 'GET', route: '/metrics-only' }, [{ valueMs: 50, count: 4, error: true }]);
    clock.now += 1000;
    const s = buildDashboardState(store, input(clock));
    assert.equal(s.totals.requests, 5);
    assert.equal(s.totals.errorRate, 0.8);
    assert.equal(s.charts.requests.lines[0].at(-1), 5);
  });

  it('buckets the request and error charts by the window: 1 s, 5 s, 15 s', () => {
    assert.equal(chartStep(60), 1);
    assert.equal(chartStep(300), 5);
    assert.equal(chartStep(900), 15);
    const { store, clock } = clockedStore();
    // 10 requests (2 failing) in one second, 5 s later 4 more that all succeed.
    for (let i = 0; i < 10; i++) store.addSpans([serverSpan({ status: i < 2 ? 500 : 200 })]);
    clock.now += 5000;
    for (let i = 0; i < 4; i++) store.addSpans([serverSpan()]);
    clock.now += 1000;
    const s = buildDashboardState(store, input(clock));
    const rps = s.charts.requests.lines[0];
    const err = s.charts.errors.lines[0];
    assert.equal(rps.at(-1), 4);
    assert.equal(rps.at(-6), 10);
    assert.equal(err.at(-6), 0.2);
    assert.equal(err.at(-1), 0);
    assert.equal(err.at(-2), null);
    assert.equal(s.charts.toSec - s.charts.fromSec, 60);
    // Over five minutes a bucket is five seconds: the same 14 requests fall into at most two buckets.
    const five = buildDashboardState(store, input(clock, { windowSec: 300 }));
    assert.equal(five.charts.stepSec, 5);
    assert.equal(five.charts.requests.t.length, 60);
    const total = five.charts.requests.lines[0].reduce<number>((a, v, i) => a + (v ?? 0) * Math.min(5, clock.now / 1000 - 1 - five.charts.requests.t[i] + 1), 0);
    assert.ok(Math.abs(total - 14) < 1e-6, `requests in the 5-minute buckets: ${total}`);
  });

  it('charts latency per 10-second slot, merged over services', () => {
    const { store, clock } = clockedStore();
    for (let i = 0; i < 50; i++) store.addSpans([serverSpan({ service: 'a', durationMs: 20 }), serverSpan({ service: 'b', durationMs: 200 })]);
    clock.now += 1000;
    const s = buildDashboardState(store, input(clock));
    const [p50, , p99] = s.charts.latency.lines;
    const last = p50.length - 1;
    assert.ok(p50[last] !== null && p50[last]! < 25, `p50 ${p50[last]}`);
    within(p99[last], 200);
    assert.ok(s.charts.latency.t.every((t) => t % 10 === 0));
  });

  it('charts memory and CPU from the process gauges, summed over processes', () => {
    const { store, clock } = clockedStore();
    const base = Math.floor(T0 / 1000) * 1000;
    store.addMetrics([metric('process.memory.usage', 100e6, base - 3000), metric('process.memory.usage', 110e6, base - 2000), metric('process.cpu.utilization', 0.25, base - 2000)]);
    store.addMetrics([metric('process.memory.usage', 50e6, base - 2000, 'worker')]);
    clock.now = base + 500;
    const s = buildDashboardState(store, input(clock));
    assert.ok(s.charts.memory && s.charts.cpu);
    const mem = s.charts.memory.lines[0];
    assert.equal(mem.at(-3), 100e6, 'one process at base-3s');
    assert.equal(mem.at(-2), 160e6, 'both processes at base-2s');
    assert.equal(mem.at(-1), 160e6, 'held for a late report');
    assert.equal(s.charts.cpu.lines[0].at(-2), 0.25);
    const one = buildDashboardState(store, input(clock, { service: 'worker' }));
    assert.equal(one.charts.memory!.lines[0].at(-2), 50e6);
    assert.equal(one.charts.cpu, undefined);
  });

  it('holds a gauge through a late report but not through a long silence', () => {
    const mk = (ts: number[]) => {
      const { store } = clockedStore();
      store.addMetrics(ts.map((t, i) => metric('process.memory.usage', 10 + i, t * 1000)));
      return store.metricSeries({ name: 'process.memory.usage' });
    };
    const c = gaugeChart(mk([100, 102]), 100, 110, 1)!;
    assert.deepEqual(c.lines[0].slice(0, 4), [10, 10, 11, 11]);
    assert.equal(c.lines[0][9], null, 'more than 5 s after the last point');
    assert.equal(gaugeChart([], 0, 60, 1), undefined);
  });

  it('lists failed requests and those slower than their route p95, newest first', () => {
    const { store, clock } = clockedStore();
    const spans: Span[] = [];
    for (let i = 0; i < MIN_REQUESTS_FOR_SLOW * 2; i++) spans.push(serverSpan({ route: '/busy', durationMs: 10 + (i % 5) }));
    store.addSpans(spans);
    clock.now += 100;
    const slow = serverSpan({ route: '/busy', durationMs: 900 });
    store.addSpans([slow]);
    clock.now += 100;
    const failed = serverSpan({ route: '/rare', durationMs: 3, status: 503 });
    store.addSpans([failed]);
    // A route with few requests: its slowest one is not "slower than p95".
    store.addSpans([serverSpan({ route: '/quiet', durationMs: 5 }), serverSpan({ route: '/quiet', durationMs: 500 })]);
    const s = buildDashboardState(store, input(clock));
    assert.deepEqual(
      s.traces.map((t) => t.traceId),
      [failed.traceId, slow.traceId],
    );
    assert.equal(s.traces[0].error, true);
    assert.equal(s.traces[0].statusCode, 503);
    assert.equal(s.traces[1].slow, true);
    assert.equal(s.traces[1].route, '/busy');
  });

  it('leaves requests older than the window out of the slow and failed list', () => {
    const { store, clock } = clockedStore();
    store.addSpans([serverSpan({ status: 500 })]);
    clock.now += 61_000;
    store.addSpans([serverSpan()]);
    assert.deepEqual(buildDashboardState(store, input(clock)).traces, []);
  });

  it('passes recent errors with their route, place and trace', () => {
    const { store, clock } = clockedStore();
    const span = { ...serverSpan({ route: '/boom', method: 'POST', status: 500 }), exception: { type: 'KeyError', message: "'X'", frames: [{ file: '/srv/app/shop.py', line: 42, function: 'apply' }] } };
    store.addSpans([span]);
    const [e] = buildDashboardState(store, input(clock)).errors;
    assert.equal(e.type, 'KeyError');
    assert.equal(e.route, 'POST /boom');
    assert.equal(e.where, 'shop.py:42');
    assert.equal(e.traceId, span.traceId);
  });

  it('survives the JSON round trip of postMessage and passes the webview guard', () => {
    const { store, clock } = clockedStore();
    for (let i = 0; i < 30; i++) store.addSpans([serverSpan({ route: `/r${i % 3}`, durationMs: i, status: i % 7 ? 200 : 500 })]);
    store.addMetrics([metric('process.memory.usage', 1e8, clock.now - 1500)]);
    clock.now += 2000;
    const msg = JSON.parse(JSON.stringify({ type: 'state', state: buildDashboardState(store, input(clock)) }));
    assert.ok(isHostToDashboard(msg));
    assert.ok(!isHostToDashboard({ type: 'state', state: { ...msg.state, routes: [{ route: 1 }] } }));
    assert.ok(!isHostToDashboard({ type: 'state', state: { ...msg.state, collector: { state: 'hacked', endpoint: '' } } }));
  });

  it('accepts only well-formed messages from the webview', () => {
    const good = [
      { type: 'ready' },
      { type: 'openRoute', service: 's', method: 'GET', route: '/' },
      { type: 'openTrace', traceId: 'a'.repeat(32) },
      { type: 'setWindow', seconds: 300 },
      { type: 'setService', service: null },
      { type: 'setService', service: 'api' },
      { type: 'command', command: 'copyAgentEnv' },
    ];
    for (const m of good) assert.ok(isDashboardToHost(m), JSON.stringify(m));
    const bad = [
      null,
      'ready',
      [],
      { type: 'nope' },
      { type: 'openRoute', service: 's', method: 'GET' },
      { type: 'openTrace', traceId: '<img src=x onerror=alert(1)>' },
      { type: 'openTrace', traceId: 'A'.repeat(32) },
      { type: 'setWindow', seconds: 42 },
      { type: 'setService', service: 3 },
      { type: 'command', command: 'workbench.action.terminal.new' },
    ];
    for (const m of bad) assert.ok(!isDashboardToHost(m), JSON.stringify(m));
  });
});
