import * as assert from 'node:assert/strict';
import { storeTotals } from '../../../src/core/stats/totals';
import { TelemetryStore } from '../../../src/core/store/store';
import { serverSpan } from '../helpers/telemetry';

describe('totals of a scope (the dashboard headline and the status bar)', () => {
  it('merges every service into one distribution instead of taking the slowest service', () => {
    const store = new TelemetryStore();
    const now = Date.now();
    // 96 fast requests in one service, 4 slow ones in another.
    for (let i = 0; i < 96; i++) store.addSpans([serverSpan({ service: 'fast', durationMs: 10, startMs: now - 5000 + i })]);
    for (let i = 0; i < 4; i++) store.addSpans([serverSpan({ service: 'slow', route: '/report', durationMs: 1000, startMs: now - 4000 + i })]);
    const all = storeTotals(store, 60, now / 1000);
    assert.equal(all.requests, 100);
    assert.ok(all.p95Ms !== null && Math.abs(all.p95Ms - 10) < 0.2, `p95 of all requests ${all.p95Ms} ms`);
    assert.ok(all.p99Ms !== null && Math.abs(all.p99Ms - 1000) < 6, `p99 ${all.p99Ms} ms`);
    const slow = storeTotals(store, 60, now / 1000, 'slow');
    assert.equal(slow.requests, 4);
    assert.ok(slow.p95Ms !== null && Math.abs(slow.p95Ms - 1000) < 6);
    assert.equal(storeTotals(new TelemetryStore(), 60).p95Ms, null, 'no requests: no figure');
  });
});
