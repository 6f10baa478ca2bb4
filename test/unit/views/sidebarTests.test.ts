/** The sidebar's "Test runs" section: test-client requests shown apart from the route figures. */
import * as assert from 'node:assert/strict';
import { TelemetryStore } from '../../../src/core/store/store';
import { isDashboardState, type CollectorView } from '../../../src/features/dashboard/protocol';
import { buildDashboardState, MAX_TESTS } from '../../../src/features/dashboard/model';
import { serverSpan } from '../helpers/telemetry';

const collector: CollectorView = { state: 'listening', endpoint: 'http://127.0.0.1:4318' };

function testSpan(id: string, opts: Parameters<typeof serverSpan>[0] = {}) {
  const s = serverSpan(opts);
  s.attributes['test.case.name'] = id;
  return s;
}

describe('sidebar test runs', () => {
  it('lists each test with its requests, failures and slowest request, and leaves them out of the routes', () => {
    const clock = { now: 1_700_000_000_000 };
    const store = new TelemetryStore({}, { now: () => clock.now });
    store.addSpans([serverSpan({ route: '/a', durationMs: 4 })]);
    store.addSpans([testSpan('tests/test_a.py::test_one', { route: '/a', durationMs: 300 }), testSpan('tests/test_a.py::test_one', { route: '/a', durationMs: 20, status: 500 })]);
    clock.now += 10;
    const slow = testSpan('tests/test_a.py::test_two', { route: '/b', durationMs: 7 });
    store.addSpans([slow]);
    const s = buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: clock.now });
    assert.deepEqual(s.routes.map((r) => [r.route, r.count]), [['/a', 1]], 'only the real request is a route figure');
    assert.equal(s.totals.requests, 1);
    assert.deepEqual(
      s.tests?.map((t) => [t.id, t.requests, t.errors, Math.round(t.slowestMs)]),
      [
        ['tests/test_a.py::test_two', 1, 0, 7],
        ['tests/test_a.py::test_one', 2, 1, 300],
      ],
    );
    assert.equal(s.tests?.[0].slowestTraceId, slow.traceId);
    assert.ok(isDashboardState(s));
    assert.ok(isDashboardState(JSON.parse(JSON.stringify(s))), 'survives postMessage');
  });

  it('keeps the list short, and the guard refuses malformed rows but takes states without the section', () => {
    const store = new TelemetryStore();
    for (let i = 0; i < MAX_TESTS + 5; i++) store.addSpans([testSpan(`t${i}`)]);
    const s = buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: Date.now() });
    assert.equal(s.tests?.length, MAX_TESTS);
    assert.equal(s.tests?.[0].id, `t${MAX_TESTS + 4}`, 'most recent first');
    assert.ok(isDashboardState({ ...s, tests: undefined }));
    assert.ok(!isDashboardState({ ...s, tests: [{ ...s.tests![0], slowestTraceId: 'not-an-id' }] }));
    assert.ok(!isDashboardState({ ...s, tests: [{ ...s.tests![0], requests: '3' }] }));
  });
});
