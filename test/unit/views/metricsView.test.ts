import * as assert from 'node:assert/strict';
import type { MetricPoint } from '../../../src/core/model';
import { TelemetryStore } from '../../../src/core/store/store';
import { buildDashboardState, buildMetricsView, MAX_METRIC_MATCHES } from '../../../src/features/dashboard/model';
import { isDashboardState, isMetricsView } from '../../../src/features/dashboard/protocol';
import { resource } from '../helpers/telemetry';

function gauge(name: string, value: number, timeMs: number, attributes: Record<string, string> = {}): MetricPoint {
  return { name, kind: 'gauge', value, timeMs, attributes, resource: resource('shop'), unit: 'By' };
}

describe('the metrics explorer view model', () => {
  it('finds series by name or label, shows their last value, and charts the pinned ones', () => {
    const now = 1_700_000_000_000;
    const store = new TelemetryStore({}, { now: () => now });
    store.addMetrics([gauge('process.memory.usage', 100, now - 20_000), gauge('process.memory.usage', 150, now - 1000), gauge('queue_depth', 3, now - 1000, { queue: 'emails' }), gauge('queue_depth', 9, now - 1000, { queue: 'sms' })]);
    const targets = [{ url: 'http://127.0.0.1:8000/metrics', service: 'shop', state: 'up' as const, series: 3 }];
    const all = buildMetricsView(store, { filter: '', pinned: new Set(), targets, nowMs: now, windowSec: 60 });
    assert.equal(all.total, 3);
    assert.deepEqual(all.targets, targets);
    const memory = all.matches.find((m) => m.name === 'process.memory.usage')!;
    assert.equal(memory.last, 150);
    assert.equal(memory.pinned, false);

    const sms = buildMetricsView(store, { filter: 'SMS', pinned: new Set(), targets: [], nowMs: now, windowSec: 60 });
    assert.deepEqual(sms.matches.map((m) => [m.name, m.labels, m.last]), [['queue_depth', 'queue="sms"', 9]]);

    const pinned = buildMetricsView(store, { filter: 'memory', pinned: new Set([memory.key]), targets: [], nowMs: now, windowSec: 60 });
    assert.equal(pinned.matches[0].pinned, true);
    assert.equal(pinned.pinned.length, 1);
    const values = pinned.pinned[0].chart!.lines[0].filter((v) => v !== null);
    assert.ok(values.includes(100) && values.includes(150), JSON.stringify(values));
  });

  it('lists a bounded number of matches and counts the rest', () => {
    const store = new TelemetryStore();
    store.addMetrics(Array.from({ length: MAX_METRIC_MATCHES + 5 }, (_, i) => gauge(`m_${String(i).padStart(2, '0')}`, i, Date.now())));
    const v = buildMetricsView(store, { filter: 'm_', pinned: new Set(), targets: [], nowMs: Date.now(), windowSec: 60 });
    assert.equal(v.matches.length, MAX_METRIC_MATCHES);
    assert.equal(v.total, MAX_METRIC_MATCHES + 5);
  });

  it('is checked by the dashboard state guard: a malformed metrics part fails it', () => {
    const now = Date.now();
    const store = new TelemetryStore();
    store.addMetrics([gauge('queue_depth', 3, now)]);
    const state = buildDashboardState(store, { collector: { state: 'listening', endpoint: 'http://127.0.0.1:4318' }, windowSec: 60, service: null, paused: false, nowMs: now }, { generation: 0 });
    state.metrics = buildMetricsView(store, { filter: '', pinned: new Set(), targets: [{ url: 'http://127.0.0.1:8000/metrics', service: 'shop', state: 'up', series: 1 }], nowMs: now, windowSec: 60 });
    assert.ok(isMetricsView(state.metrics));
    assert.ok(isDashboardState(state));
    assert.equal(isDashboardState({ ...state, metrics: { ...state.metrics, matches: [{ key: 1 }] } }), false);
    assert.equal(isDashboardState({ ...state, metrics: { ...state.metrics, targets: [{ url: 'x', service: 's', state: 'sideways', series: 0 }] } }), false);
    assert.equal(isDashboardState({ ...state, metrics: 'none' }), false);
  });
});
