import * as assert from 'node:assert/strict';
import type { LogRecord, Span } from '../../../src/core/model';
import { TelemetryStore } from '../../../src/core/store/store';
import { callsLabel, DEFAULT_FILTER, isHostToTrace, isTracePanelState, isTraceToHost } from '../../../src/features/traces/protocol';
import { buildTraceView, callsOfRequest, MAX_VALUE_CHARS, routeOfTrace, selfTimeMs, traceListRows } from '../../../src/features/traces/model';
import { hex, resource, serverSpan } from '../helpers/telemetry';

const TRACE = 'ab'.repeat(16);
let seq = 0;
function span(name: string, parent: string | undefined, startMs: number, endMs: number, over: Partial<Span> = {}): Span {
  const spanId = (++seq).toString(16).padStart(16, '0');
  return { traceId: TRACE, spanId, parentSpanId: parent, name, kind: 'internal', startMs, endMs, status: 'unset', attributes: {}, events: [], links: [], resource: resource(), ...over };
}

describe('trace view model', () => {
  it('orders spans depth first with children by start time, with depth and child counts', () => {
    const root = span('GET /orders', undefined, 1000, 1100, { kind: 'server' });
    const b = span('b', root.spanId, 1050, 1090);
    const a = span('a', root.spanId, 1010, 1040);
    const a1 = span('a1', a.spanId, 1020, 1030);
    const v = buildTraceView(TRACE, [b, a1, root, a], [])!;
    assert.deepEqual(
      v.spans.map((s) => [s.name, s.depth, s.children]),
      [
        ['GET /orders', 0, 2],
        ['a', 1, 1],
        ['a1', 2, 0],
        ['b', 1, 0],
      ],
    );
    assert.equal(v.durationMs, 100);
    assert.equal(v.spans[1].offsetMs, 10);
    assert.equal(v.orphans, 0);
  });

  it('gives each span its self time: children overlapping each other count once, time outside the span not at all', () => {
    const root = span('GET /orders', undefined, 1000, 1100, { kind: 'server' });
    const q1 = span('SELECT a', root.spanId, 1010, 1030, { kind: 'client', attributes: { 'db.query.text': 'select * from a where id = ?' } });
    const q2 = span('SELECT b', root.spanId, 1020, 1040, { kind: 'client' });
    const late = span('GET', root.spanId, 1090, 1200, { kind: 'client', attributes: { 'url.full': 'http://h/x?q=REDACTED' } });
    const v = buildTraceView(TRACE, [root, q1, q2, late], [])!;
    const byName = new Map(v.spans.map((s) => [s.name, s]));
    // 100 ms less 10..40 (30 ms, the overlap once) less 90..100 (10 ms, clipped to the parent).
    assert.equal(byName.get('GET /orders')!.selfMs, 60);
    assert.equal(byName.get('SELECT a')!.selfMs, 20);
    assert.equal(byName.get('SELECT a')!.detail, 'select * from a where id = ?');
    assert.equal(byName.get('GET')!.detail, 'http://h/x?q=REDACTED');
    assert.equal(byName.get('SELECT b')!.detail, undefined);
    assert.equal(selfTimeMs(root, []), 100);
    assert.equal(selfTimeMs(root, [span('outside', root.spanId, 2000, 3000)]), 100);
  });

  it('shows spans whose parent is missing at the top level and counts them', () => {
    const root = span('root', undefined, 0, 10);
    const orphan = span('late child', 'f'.repeat(16), 5, 6);
    const v = buildTraceView(TRACE, [orphan, root], [])!;
    assert.deepEqual(
      v.spans.map((s) => [s.name, s.depth]),
      [
        ['root', 0],
        ['late child', 0],
      ],
    );
    assert.equal(v.orphans, 1);
  });

  it('places every span once even when parent links form a cycle', () => {
    const x = span('x', undefined, 0, 10);
    const y = span('y', x.spanId, 1, 5);
    x.parentSpanId = y.spanId;
    const self = span('self', undefined, 2, 3);
    self.parentSpanId = self.spanId;
    const v = buildTraceView(TRACE, [x, y, self], [])!;
    assert.equal(v.spans.length, 3);
    assert.deepEqual(new Set(v.spans.map((s) => s.name)), new Set(['x', 'y', 'self']));
  });

  it('handles a 2,000-level chain without running out of stack', () => {
    const spans: Span[] = [span('s0', undefined, 0, 4000)];
    for (let i = 1; i < 2000; i++) spans.push(span(`s${i}`, spans[i - 1].spanId, i, 4000 - i));
    const v = buildTraceView(TRACE, spans.reverse(), [])!;
    assert.equal(v.spans.length, 2000);
    assert.equal(v.spans[1999].depth, 1999);
    assert.equal(v.spans[1999].name, 's1999');
  });

  it('numbers services in order of appearance and stringifies attributes, cutting long values', () => {
    const root = span('root', undefined, 0, 10, { attributes: { z: 1, a: 'x'.repeat(MAX_VALUE_CHARS + 10), obj: [1, 'two'] } });
    const remote = span('remote', root.spanId, 2, 8, { resource: resource('payments') });
    const v = buildTraceView(TRACE, [root, remote], [])!;
    assert.deepEqual(v.services, ['orders-api', 'payments']);
    assert.equal(v.spans[1].service, 1);
    assert.deepEqual(
      v.spans[0].attributes.map(([k]) => k),
      ['a', 'obj', 'z'],
    );
    assert.equal(v.spans[0].attributes[1][1], '[1,"two"]');
    assert.equal(v.spans[0].attributes[2][1], '1');
    assert.match(v.spans[0].attributes[0][1], /… \(10 more characters\)$/);
  });

  it('keeps exceptions with their frames, events and the code location', () => {
    const s = span('handler', undefined, 0, 10, {
      status: 'error',
      statusMessage: 'boom',
      exception: { type: 'ValueError', message: 'bad', frames: [{ file: '/app/a.py', line: 3, function: 'f' }], stacktrace: 'Traceback…' },
      events: [{ name: 'exception', timeMs: 9, attributes: { 'exception.type': 'ValueError' } }],
      code: { file: '/app/main.py', line: 12, function: 'read_item' },
    });
    const [v] = buildTraceView(TRACE, [s], [])!.spans;
    assert.equal(v.status, 'error');
    assert.equal(v.statusMessage, 'boom');
    assert.deepEqual(v.exception?.frames, [{ file: '/app/a.py', line: 3, function: 'f' }]);
    assert.equal(v.exception?.stacktrace, 'Traceback…');
    assert.deepEqual(v.events, [{ name: 'exception', offsetMs: 9, attributes: [['exception.type', 'ValueError']] }]);
    assert.deepEqual(v.code, { file: '/app/main.py', line: 12, function: 'read_item' });
  });

  it('sorts the trace logs by time and places them on the trace time axis', () => {
    const s = span('root', undefined, 1000, 1010);
    const log = (t: number, body: string): LogRecord => ({ timeMs: t, severity: 'info', body, attributes: {}, resource: resource(), traceId: TRACE, spanId: s.spanId });
    const v = buildTraceView(TRACE, [s], [log(1008, 'second'), log(1002, 'first')])!;
    assert.deepEqual(
      v.logs.map((l) => [l.body, l.offsetMs, l.spanId]),
      [
        ['first', 2, s.spanId],
        ['second', 8, s.spanId],
      ],
    );
    assert.equal(buildTraceView(TRACE, [], []), null);
  });

  it('finds the route of a trace from its outermost server span', () => {
    const outer = { ...serverSpan({ route: '/outer', method: 'POST' }), parentSpanId: undefined };
    const inner = { ...serverSpan({ route: '/inner', service: 'backend' }), parentSpanId: outer.spanId, startMs: outer.startMs + 1 };
    assert.deepEqual(routeOfTrace([inner, outer]), { service: 'orders-api', method: 'POST', route: '/outer' });
    assert.deepEqual(routeOfTrace([inner]), { service: 'backend', method: 'GET', route: '/inner' });
    assert.equal(routeOfTrace([span('job', undefined, 0, 1)]), null);
  });

  it('filters a route list by errors, by the p95 and by time range', () => {
    const clock = { now: 1_700_000_000_000 };
    const store = new TelemetryStore({}, { now: () => clock.now });
    const route = { service: 'orders-api', method: 'GET', route: '/items/{item_id}' };
    store.addSpans([serverSpan({ durationMs: 5 }), serverSpan({ durationMs: 500, status: 500 })]);
    clock.now += 120_000;
    store.addSpans([serverSpan({ durationMs: 50 }), serverSpan({ durationMs: 7 })]);
    const all = traceListRows(store, route, DEFAULT_FILTER, 40, clock.now);
    assert.equal(all.total, 4);
    assert.deepEqual(
      all.rows.map((r) => r.durationMs),
      [7, 50, 500, 5],
    );
    assert.deepEqual(
      traceListRows(store, route, { ...DEFAULT_FILTER, errorsOnly: true }, 40, clock.now).rows.map((r) => r.durationMs),
      [500],
    );
    assert.deepEqual(
      traceListRows(store, route, { ...DEFAULT_FILTER, slowOnly: true }, 40, clock.now).rows.map((r) => r.durationMs),
      [50, 500],
    );
    assert.deepEqual(traceListRows(store, route, { ...DEFAULT_FILTER, slowOnly: true }, null, clock.now).rows, []);
    assert.deepEqual(
      traceListRows(store, route, { ...DEFAULT_FILTER, rangeSec: 60 }, 40, clock.now).rows.map((r) => r.durationMs),
      [7, 50],
    );
  });

  it('lists how many queries and calls each request made itself, whatever order its spans arrive in', () => {
    const clock = { now: 1_700_000_000_000 };
    const store = new TelemetryStore({}, { now: () => clock.now });
    const route = { service: 'orders-api', method: 'GET', route: '/items/{item_id}' };
    const req = serverSpan({ durationMs: 40, startMs: clock.now - 100 });
    const quiet = serverSpan({ durationMs: 5, startMs: clock.now - 50 });
    const child = (name: string, parent: Span, kind: Span['kind'], attributes: Span['attributes'], service?: string): Span => ({
      traceId: parent.traceId,
      spanId: hex(8),
      parentSpanId: parent.spanId,
      name,
      kind,
      startMs: parent.startMs + 1,
      endMs: parent.startMs + 2,
      status: 'unset',
      attributes,
      events: [],
      links: [],
      resource: resource(service),
    });
    const inner = child('load', req, 'internal', {});
    const q1 = child('SELECT items', req, 'client', { 'db.system.name': 'postgresql', 'db.query.text': 'select * from items where id = ?' });
    const q2 = child('SELECT items', inner, 'client', { 'db.system.name': 'postgresql' });
    const cache = child('GET', inner, 'client', { 'db.system': 'redis' }); // an older SDK's name
    const folded = child('SELECT stock', req, 'client', { 'db.system.name': 'postgresql', 'routelens.folded.count': 40 });
    const http = child('GET', req, 'client', { 'http.request.method': 'GET', 'url.full': 'http://inventory/stock' });
    // The next service's request under that HTTP call, with its own query: that service's, not this request's.
    const downstream = { ...child('GET /stock', http, 'server', {}, 'inventory'), http: { method: 'GET', route: '/stock', statusCode: 200 } };
    const theirs = child('SELECT stock', downstream, 'client', { 'db.system.name': 'sqlite' }, 'inventory');
    // Client spans first, the request's own span last, as they often arrive.
    store.addSpans([q2, cache, theirs, downstream, folded, http, q1, inner]);
    store.addSpans([req, quiet]);
    const { rows } = traceListRows(store, route, DEFAULT_FILTER, null, clock.now);
    const byTrace = new Map(rows.map((r) => [r.traceId, r]));
    assert.equal(byTrace.get(req.traceId)!.queries, 43, 'two queries, a Redis command and 40 folded');
    assert.equal(byTrace.get(req.traceId)!.calls, 1);
    assert.equal(byTrace.get(quiet.traceId)!.queries, undefined, 'absent when none');
    assert.equal(byTrace.get(quiet.traceId)!.calls, undefined);
    assert.deepEqual(callsOfRequest(store.trace(req.traceId), downstream.spanId), { queries: 1, calls: 0 });
    assert.deepEqual(callsOfRequest([q1, { ...inner, parentSpanId: q1.spanId }, { ...q1, parentSpanId: inner.spanId }], req.spanId), { queries: 0, calls: 0 }, 'a cycle ends');
    assert.equal(callsLabel(byTrace.get(req.traceId)!), '43 queries · 1 call');
    assert.equal(callsLabel({ queries: 1 }), '1 query');
    assert.equal(callsLabel({ calls: 2 }), '2 calls');
    assert.equal(callsLabel({}), '');
    assert.ok(isHostToTrace(JSON.parse(JSON.stringify({ type: 'traces', route, filter: DEFAULT_FILTER, p95Ms: null, windowSec: 60, rows, total: rows.length }))));
    assert.ok(!isHostToTrace({ type: 'traces', route, filter: DEFAULT_FILTER, p95Ms: null, windowSec: 60, rows: [{ ...rows[0], queries: '3' }], total: 1 }));
  });

  it('passes the webview guard after the JSON round trip, and the guards refuse malformed input', () => {
    const root = span('root', undefined, 0, 10, { attributes: { k: 'v' }, exception: { type: 'E', message: 'm', frames: [{ file: 'f', line: 1, function: 'g' }] } });
    const v = buildTraceView(TRACE, [root, span('c', root.spanId, 1, 2)], [])!;
    assert.ok(isHostToTrace(JSON.parse(JSON.stringify({ type: 'trace', traceId: TRACE, trace: v }))));
    assert.ok(!isHostToTrace({ type: 'trace', traceId: TRACE, trace: { ...v, spans: [{ name: 'x' }] } }));
    assert.ok(isHostToTrace({ type: 'traces', route: null, filter: DEFAULT_FILTER, p95Ms: null, windowSec: 60, rows: [], total: 0 }));
    assert.ok(isTraceToHost({ type: 'openSource', owner: 'span', id: hex(8), frame: -1 }));
    assert.ok(isTraceToHost({ type: 'setFilter', filter: { errorsOnly: true, slowOnly: false, rangeSec: 300 } }));
    assert.ok(!isTraceToHost({ type: 'openSource', owner: 'file', id: '/etc/passwd', frame: 0 }));
    assert.ok(!isTraceToHost({ type: 'openSource', owner: 'span', id: 'x', frame: 1.5 }));
    assert.ok(!isTraceToHost({ type: 'setFilter', filter: { errorsOnly: true, slowOnly: false, rangeSec: 7 } }));
    assert.ok(!isTraceToHost({ type: 'selectTrace', traceId: 'zz' }));
    assert.ok(isTracePanelState({ route: { service: 's', method: 'GET', route: '/' }, traceId: TRACE, filter: DEFAULT_FILTER, spanId: null }));
    assert.ok(!isTracePanelState({ route: 'GET /', traceId: TRACE, filter: DEFAULT_FILTER }));
  });
});
