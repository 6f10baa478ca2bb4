import * as assert from 'node:assert/strict';
import { handleQuery, logQueryFromParams, searchTerms } from '../../../src/core/collector/queryApi';
import { parseSearch } from '../../../src/core/store/logIndex';
import { TelemetryStore } from '../../../src/core/store/store';
import type { Attributes, LogRecord, Severity } from '../../../src/core/model';
import { hex, resource, serverSpan } from '../helpers/telemetry';

const T0 = 1_700_000_000_000;

function log(body: string, opts: { severity?: Severity; service?: string; attrs?: Attributes; traceId?: string; timeMs?: number } = {}): LogRecord {
  return {
    timeMs: opts.timeMs ?? T0,
    severity: opts.severity ?? 'info',
    body,
    attributes: opts.attrs ?? {},
    resource: resource(opts.service ?? 'shop'),
    traceId: opts.traceId,
  };
}

const collectorInfo = { counters: { snapshot: () => ({}) }, connectionCount: 0, port: 0 };

function api(store: TelemetryStore, query: string): { status: number; body: { logs?: (LogRecord & { route?: string })[]; message?: string } } {
  return handleQuery('/api/v1/logs', new URLSearchParams(query), store, collectorInfo) as never;
}

describe('log filters', () => {
  let store: TelemetryStore;
  let failedTrace: string;
  let okTrace: string;

  beforeEach(() => {
    store = new TelemetryStore({}, { now: () => T0 + 60_000 });
    const ok = serverSpan({ route: '/login', method: 'POST', status: 200, service: 'shop' });
    const failed = serverSpan({ route: '/pay', method: 'POST', status: 503, service: 'shop' });
    okTrace = ok.traceId;
    failedTrace = failed.traceId;
    store.addLogs([
      log('user logged in', { attrs: { user_id: 42, plan: 'pro' }, traceId: okTrace, timeMs: T0 + 1000 }),
      log('user logged in', { attrs: { user_id: 7 }, timeMs: T0 + 2000 }),
      log('Payment FAILED for card', { severity: 'error', attrs: { user_id: 42, status: 503 }, traceId: failedTrace, timeMs: T0 + 3000 }),
      log('cache warm', { severity: 'debug', service: 'worker', attrs: { status: 200 }, timeMs: T0 + 4000 }),
      log('slow query took 2s', { severity: 'warn', service: 'worker', timeMs: T0 + 5000 }),
    ]);
    store.addSpans([ok, failed]);
  });

  it('filters by level (at least one, or an exact list)', () => {
    assert.deepEqual(store.queryLogs({ minSeverity: 'warn' }).map((l) => l.body), ['slow query took 2s', 'Payment FAILED for card']);
    assert.deepEqual(store.queryLogs({ severities: ['debug', 'error'] }).map((l) => l.body), ['cache warm', 'Payment FAILED for card']);
  });

  it('filters by service, trace id, time range and route', () => {
    assert.deepEqual(store.queryLogs({ service: 'worker' }).map((l) => l.body), ['slow query took 2s', 'cache warm']);
    assert.deepEqual(store.queryLogs({ traceId: okTrace }).map((l) => l.attributes.user_id), [42]);
    assert.deepEqual(store.queryLogs({ sinceMs: T0 + 2000, untilMs: T0 + 4000 }).map((l) => l.timeMs), [T0 + 3000, T0 + 2000]);
    assert.deepEqual(store.queryLogs({ route: '/pay' }).map((l) => l.body), ['Payment FAILED for card']);
    assert.deepEqual(store.queryLogs({ route: 'POST /login' }).map((l) => l.body), ['user logged in']);
    assert.deepEqual(store.queryLogs({ route: 'GET /login' }), []);
  });

  it('matches text case-insensitively, a quoted phrase as a whole', () => {
    assert.deepEqual(store.queryLogs({ terms: searchTerms('payment failed') }).length, 1);
    assert.deepEqual(store.queryLogs({ terms: searchTerms('"failed for card"') }).length, 1);
    assert.deepEqual(store.queryLogs({ terms: searchTerms('"card for failed"') }).length, 0);
    assert.deepEqual(store.queryLogs({ terms: searchTerms('logged') }).length, 2);
  });

  it('filters by attribute value, = and != (a missing attribute is not equal)', () => {
    assert.deepEqual(store.queryLogs({ attrs: [{ key: 'user_id', value: '42', negate: false }] }).map((l) => l.body), ['Payment FAILED for card', 'user logged in']);
    assert.deepEqual(store.queryLogs({ attrs: [{ key: 'status', value: '200', negate: true }] }).map((l) => l.body), ['slow query took 2s', 'Payment FAILED for card', 'user logged in', 'user logged in']);
    assert.deepEqual(store.queryLogs({ attrs: [{ key: 'user_id', value: '999', negate: false }] }), []);
  });

  it('keeps only records of failed requests', () => {
    assert.deepEqual(store.queryLogs({ failedOnly: true }).map((l) => l.traceId), [failedTrace]);
  });

  it('combines filters and honours the limit, newest first', () => {
    assert.deepEqual(store.queryLogs({ attrs: [{ key: 'user_id', value: '42', negate: false }], minSeverity: 'error' }).map((l) => l.body), ['Payment FAILED for card']);
    assert.deepEqual(store.queryLogs({}, 2).map((l) => l.timeMs), [T0 + 5000, T0 + 4000]);
  });

  it('keeps the indexes right as the oldest records are dropped', () => {
    const small = new TelemetryStore({ maxLogs: 100 });
    for (let i = 0; i < 5000; i++) small.addLogs([log(`n${i}`, { attrs: { k: i % 7 }, service: `s${i % 3}` })]);
    const seven = small.queryLogs({ attrs: [{ key: 'k', value: '3', negate: false }], service: 's1' }, 1000);
    const expected = [];
    for (let i = 4999; i >= 4900; i--) if (i % 7 === 3 && i % 3 === 1) expected.push(`n${i}`);
    assert.deepEqual(seven.map((l) => l.body), expected);
    assert.equal(small.sizes().logs, 100);
    const { first, next } = small.logSeqRange();
    assert.equal(next - first, 100);
    assert.equal(small.logAt(first)?.log.body, 'n4900');
    assert.equal(small.logAt(first - 1), undefined);
    // A live tail's next page: only what came after.
    small.addLogs([log('fresh', { attrs: { k: 3 }, service: 's1' })]);
    assert.deepEqual(small.matchLogs({ attrs: [{ key: 'k', value: '3', negate: false }] }, { afterSeq: next }).map((s) => small.logAt(s)!.log.body), ['fresh']);
    small.clear();
    assert.deepEqual(small.queryLogs({ service: 's1' }), []);
  });

  it('shrinking the store keeps the newest records findable', () => {
    for (let i = 0; i < 50; i++) store.addLogs([log(`later ${i}`, { attrs: { batch: 'b' } })]);
    store.setLimits({ maxLogs: 10 });
    const found = store.queryLogs({ attrs: [{ key: 'batch', value: 'b', negate: false }] }, 100);
    assert.equal(found.length, 10);
    assert.equal(found[0].body, 'later 49');
  });
});

describe('GET /api/v1/logs', () => {
  it('answers the filters and adds the route of each record', () => {
    const store = new TelemetryStore();
    const span = serverSpan({ route: '/login', method: 'POST' });
    store.addSpans([span]);
    store.addLogs([log('user logged in', { attrs: { user_id: 42 }, traceId: span.traceId }), log('other', { attrs: { user_id: 43 } })]);
    const r = api(store, 'attr.user_id=42&level=info&q=LOGGED');
    assert.equal(r.status, 200);
    assert.equal(r.body.logs!.length, 1);
    assert.equal(r.body.logs![0].traceId, span.traceId);
    assert.equal(r.body.logs![0].route, '/login');
    assert.equal(api(store, 'attr.user_id!=42').body.logs![0].body, 'other');
    assert.equal(api(store, `traceId=${span.traceId.toUpperCase()}`).body.logs!.length, 1);
    assert.equal(api(store, 'route=/login').body.logs!.length, 1);
    assert.equal(api(store, 'failed=true').body.logs!.length, 0);
  });

  it('rejects bad filters with a clear message', () => {
    const store = new TelemetryStore();
    for (const [query, words] of [
      ['level=loud', 'level must be'],
      ['traceId=xyz', 'traceId must be 32 hex'],
      ['sinceMs=yesterday', 'sinceMs must be a number'],
      ['failed=maybe', 'failed must be true or false'],
      ['attr.=1', 'attr. needs an attribute name'],
      [`q=${'x'.repeat(1001)}`, 'q is limited'],
      ['limit=0', 'limit must be'],
    ]) {
      const r = api(store, query);
      assert.equal(r.status, 400, query);
      assert.ok(r.body.message!.includes(words), `${query}: ${r.body.message}`);
    }
  });

  it('reads level lists and aliases', () => {
    assert.deepEqual(logQueryFromParams(new URLSearchParams('level=WARNING')), { minSeverity: 'warn' });
    assert.deepEqual(logQueryFromParams(new URLSearchParams('level=info,critical')), { severities: ['info', 'fatal'] });
  });
});

describe('parseSearch (the log view search box)', () => {
  it('splits words, phrases and field filters', () => {
    assert.deepEqual(parseSearch('user_id=42 status!=200 "Logged In" Payment service=shop level=warn route=/pay trace=ABC'), {
      terms: ['logged in', 'payment'],
      attrs: [{ key: 'user_id', value: '42', negate: false }, { key: 'status', value: '200', negate: true }],
      service: 'shop',
      minSeverity: 'warn',
      route: '/pay',
      traceId: 'abc',
    });
  });

  it('takes a quoted field value with spaces', () => {
    assert.deepEqual(parseSearch('plan="pro max" x'), { terms: ['x'], attrs: [{ key: 'plan', value: 'pro max', negate: false }] });
  });

  it('treats an unclosed quote as running to the end', () => {
    assert.deepEqual(parseSearch('"half open'), { terms: ['half open'] });
  });

  it('an id-shaped value is found through the index', () => {
    const store = new TelemetryStore();
    const id = hex(16);
    store.addLogs([log('a', { traceId: id }), log('b')]);
    assert.deepEqual(store.queryLogs(parseSearch(`trace=${id}`)).map((l) => l.body), ['a']);
  });
});
