import * as assert from 'node:assert/strict';
import { LogViewModel, MAX_MESSAGE, toQuery } from '../../../src/features/logs/model';
import { displayText, EMPTY_FILTER, isLogsToHost, type LogFilter } from '../../../src/features/logs/protocol';
import { TelemetryStore } from '../../../src/core/store/store';
import type { LogRecord, Severity } from '../../../src/core/model';
import { resource, serverSpan } from '../helpers/telemetry';

const T0 = 1_700_000_000_000;
const log = (body: string, o: { severity?: Severity; attrs?: LogRecord['attributes']; traceId?: string; timeMs?: number; service?: string } = {}): LogRecord => ({
  timeMs: o.timeMs ?? T0,
  severity: o.severity ?? 'info',
  body,
  attributes: o.attrs ?? {},
  resource: resource(o.service ?? 'shop'),
  traceId: o.traceId,
});
const filter = (f: Partial<LogFilter>): LogFilter => ({ ...EMPTY_FILTER, ...f });

describe('log view model', () => {
  it('follows new records and the ones the store drops, changing version only when positions move', () => {
    const store = new TelemetryStore({ maxLogs: 5 });
    const m = new LogViewModel(store);
    m.setFilter(filter({ text: 'keep' }));
    assert.equal(m.total, 0);
    store.addLogs([log('keep 1'), log('skip'), log('keep 2')]);
    const v = m.version;
    assert.equal(m.refresh(), true);
    assert.equal(m.total, 2);
    assert.equal(m.version, v, 'appends keep the positions');
    assert.deepEqual(m.rows(0, 10).map((r) => r?.message), ['keep 1', 'keep 2']);
    store.addLogs([log('x'), log('y'), log('keep 3')]); // drops "keep 1" and "skip" (5 held)
    assert.equal(m.refresh(), true);
    assert.notEqual(m.version, v);
    assert.deepEqual(m.rows(0, 10).map((r) => r?.message), ['keep 2', 'keep 3']);
    assert.equal(m.refresh(), false, 'nothing new');
    store.clear();
    assert.equal(m.refresh(true), true);
    assert.equal(m.total, 0);
  });

  it('re-evaluates route and failed filters as the request span arrives after its records', () => {
    const store = new TelemetryStore();
    const m = new LogViewModel(store);
    m.setFilter(filter({ failedOnly: true }));
    const span = serverSpan({ route: '/pay', status: 500 });
    store.addLogs([log('charging', { traceId: span.traceId })]);
    m.refresh();
    assert.equal(m.total, 0);
    store.addSpans([span]);
    m.refresh();
    assert.equal(m.total, 1);
    assert.equal(m.rows(0, 1)[0]?.route, 'GET /pay');
  });

  it('combines the filter fields with the search box', () => {
    assert.deepEqual(toQuery(filter({ level: 'warn', service: 'shop', text: 'user_id=42 "logged in"', traceId: 'AB'.repeat(16), sinceMs: 5, untilMs: 9, failedOnly: true })), {
      terms: ['logged in'],
      attrs: [{ key: 'user_id', value: '42', negate: false }],
      minSeverity: 'warn',
      service: 'shop',
      traceId: 'ab'.repeat(16),
      sinceMs: 5,
      untilMs: 9,
      failedOnly: true,
    });
  });

  it('makes hostile text inert and bounded in rows and details', () => {
    const store = new TelemetryStore();
    const m = new LogViewModel(store);
    const huge = 'A'.repeat(1024 * 1024);
    store.addLogs([
      log('\u001b[31mred\u001b[0m bell\u0007 nul\u0000 cr\r\nnext \ud800 lone <img src=x onerror=alert(1)>', { attrs: { '\u001b[1mkey': 'v\u0000al', long: 'x'.repeat(10_000) } }),
      log(huge),
    ]);
    m.setFilter(EMPTY_FILTER);
    const [a, b] = m.rows(0, 2);
    assert.equal(a!.message, 'red bell␇ nul␀ cr␍ ⏎ next \uFFFD lone <img src=x onerror=alert(1)>');
    assert.deepEqual(a!.chips[0], ['key', 'v␀al']);
    assert.ok(a!.chips[1][1].length <= 120);
    assert.equal(b!.message.length, MAX_MESSAGE);
    const d = m.detail(1)!;
    assert.equal(d.body.length, 64 * 1024);
    assert.equal(d.bodyCut, 1024 * 1024 - 64 * 1024);
    assert.equal(m.detail(0)!.body.includes('\n'), true, 'the details keep line breaks');
  });

  it('counts records per level over time, within the filter range when there is one', () => {
    const store = new TelemetryStore();
    const m = new LogViewModel(store);
    store.addLogs([log('a', { timeMs: T0 }), log('b', { timeMs: T0 + 1500, severity: 'error' }), log('c', { timeMs: T0 + 59_000, severity: 'warn' }), log('d', { timeMs: T0 + 59_500, severity: 'debug' })]);
    m.setFilter(EMPTY_FILTER);
    const h = m.histogram({ sinceMs: null, untilMs: null });
    assert.equal(h.bucketMs, 1000);
    const sum = h.counts.reduce((s, c) => [s[0] + c[0], s[1] + c[1], s[2] + c[2], s[3] + c[3]], [0, 0, 0, 0]);
    assert.deepEqual(sum, [1, 1, 1, 1]);
    assert.ok(h.counts.length <= 61);
    const narrow = m.histogram({ sinceMs: T0, untilMs: T0 + 10_000 });
    assert.equal(narrow.bucketMs, 1000);
    assert.equal(narrow.counts.length, 11);
  });

  it('checks what the webview sends', () => {
    assert.equal(isLogsToHost({ type: 'rows', version: 1, start: 0, count: 100 }), true);
    assert.equal(isLogsToHost({ type: 'rows', version: 1, start: 0, count: 100_000 }), false);
    assert.equal(isLogsToHost({ type: 'setState', state: { filter: { ...EMPTY_FILTER, traceId: 'not hex!' }, paused: false } }), false);
    assert.equal(isLogsToHost({ type: 'openSource', version: 1, index: -1 }), false);
    assert.equal(displayText('a\u2028b', 10), 'a\uFFFDb');
  });
});
