import * as assert from 'node:assert/strict';
import { TelemetryStore } from '../../../src/core/store/store';
import type { LogRecord } from '../../../src/core/model';
import { hex, resource, serverSpan } from '../helpers/telemetry';

describe('TelemetryStore', () => {
  it('computes per-route count, rate, error rate and quantiles over a window', () => {
    let now = 1_700_000_000_000;
    const store = new TelemetryStore({}, { now: () => now });
    // 100 requests over 10 seconds: durations 1..100 ms, every 10th one a 500.
    for (let i = 1; i <= 100; i++) {
      store.addSpans([serverSpan({ durationMs: i, status: i % 10 === 0 ? 500 : 200 })]);
      if (i % 10 === 0) now += 1000;
    }
    const [r] = store.routeSummaries(60);
    assert.equal(r.count, 100);
    assert.equal(r.method, 'GET');
    assert.equal(r.route, '/items/{item_id}');
    assert.equal(r.errorRate, 0.1);
    // The route has existed for 11 seconds (inclusive of the current one): the rate is over that.
    assert.ok(Math.abs(r.rps - 100 / 11) < 0.01, `rps ${r.rps}`);
    assert.ok(Math.abs(r.p50Ms! - 50) / 50 <= 0.01, `p50 ${r.p50Ms}`);
    assert.ok(Math.abs(r.p95Ms! - 95) / 95 <= 0.01, `p95 ${r.p95Ms}`);
    assert.ok(Math.abs(r.p99Ms! - 99) / 99 <= 0.01, `p99 ${r.p99Ms}`);
  });

  it('forgets requests older than the window', () => {
    let now = 1_700_000_000_000;
    const store = new TelemetryStore({}, { now: () => now });
    store.addSpans([serverSpan({ durationMs: 500 })]);
    now += 120_000;
    store.addSpans([serverSpan({ durationMs: 5 })]);
    const [r] = store.routeSummaries(60);
    assert.equal(r.count, 1);
    assert.ok(r.p99Ms! < 10);
  });

  it('keeps spans of one trace together and drops the oldest first, counting drops', () => {
    const store = new TelemetryStore({ maxSpans: 3 });
    const spans = [1, 2, 3, 4, 5].map(() => serverSpan());
    store.addSpans(spans);
    assert.equal(store.sizes().spans, 3);
    assert.equal(store.counters.get('store.dropped.spans'), 2);
    assert.deepEqual(store.trace(spans[0].traceId), []);
    assert.equal(store.trace(spans[4].traceId).length, 1);
    // Route statistics are aggregates: they keep counting what raw storage dropped.
    assert.equal(store.routeSummaries(60)[0].count, 5);
  });

  it('enforces the byte budget by dropping oldest raw data', () => {
    const store = new TelemetryStore({ maxBytes: 20_000 });
    for (let i = 0; i < 100; i++) store.addSpans([serverSpan()]);
    assert.ok(store.sizes().bytes <= 20_000);
    assert.ok(store.counters.get('store.dropped.spans') > 0);
  });

  it('groups errors by type and in-app frame, counting repeats once per trace', () => {
    const store = new TelemetryStore();
    const mk = (traceId: string, message: string): LogRecord => ({
      timeMs: Date.now(),
      severity: 'error',
      body: message,
      attributes: {},
      resource: resource(),
      traceId,
      exception: {
        type: 'KeyError',
        message,
        frames: [
          { file: '/srv/app/main.py', line: 30, function: 'read_item' },
          { file: '/srv/app/db.py', line: 8, function: 'lookup' },
          { file: '/usr/lib/python3/dist-packages/starlette/routing.py', line: 70, function: 'app' },
        ],
      },
    });
    const t1 = hex(16);
    store.addLogs([mk(t1, "'a'"), mk(t1, "'a'"), mk(hex(16), "'b'")]);
    const groups = store.errorGroups();
    assert.equal(groups.length, 1);
    assert.equal(groups[0].count, 2);
    assert.equal(groups[0].type, 'KeyError');
    assert.equal(groups[0].message, "'b'");
    assert.deepEqual(groups[0].location, { file: '/srv/app/db.py', line: 8, function: 'lookup' });
  });

  it("does not count a server's error log (no trace id) that follows the span's exception", () => {
    const store = new TelemetryStore();
    const frames = [{ file: '/srv/app/main.py', line: 38, function: 'boom' }];
    const span = { ...serverSpan({ status: 500 }), exception: { type: 'ValueError', message: 'x', frames } };
    store.addSpans([span]);
    store.addLogs([{ timeMs: Date.now(), severity: 'error', body: 'Exception in ASGI application', attributes: {}, resource: resource(), exception: { type: 'ValueError', message: 'x', frames } }]);
    assert.equal(store.errorGroups().length, 1);
    assert.equal(store.errorGroups()[0].count, 1);
    store.addSpans([{ ...serverSpan({ status: 500 }), exception: { type: 'ValueError', message: 'x', frames } }]);
    assert.equal(store.errorGroups()[0].count, 2);
  });

  it('fires one change event per batch and a cleared event on clear', () => {
    const store = new TelemetryStore();
    const events: string[] = [];
    store.onDidChange((e) => events.push(e.cleared ? 'cleared' : `spans:${e.spans}`));
    store.addSpans([serverSpan(), serverSpan()]);
    store.clear();
    assert.deepEqual(events, ['spans:2', 'cleared']);
    assert.equal(store.routeSummaries(60).length, 0);
    assert.equal(store.sizes().spans, 0);
  });

  it('counts histogram-derived requests only for routes without spans', () => {
    const store = new TelemetryStore();
    const key = { service: 'orders-api', method: 'GET', route: '/items/{item_id}' };
    assert.equal(store.recordRouteHistogram(key, [{ valueMs: 20, count: 4, error: false }]), true);
    assert.equal(store.routeSummaries(60)[0].count, 4);
    assert.equal(store.routeSummaries(60)[0].source, 'metrics');
    store.addSpans([serverSpan()]);
    assert.equal(store.recordRouteHistogram(key, [{ valueMs: 20, count: 4, error: false }]), false);
    const [r] = store.routeSummaries(60);
    assert.equal(r.source, 'spans');
    assert.equal(r.count, 1);
  });
});
