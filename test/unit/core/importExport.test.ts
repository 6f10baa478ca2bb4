import * as assert from 'node:assert/strict';
import { exportOtlpJson, importOtlpJson, parseOtlpJson } from '../../../src/core/importExport';
import type { LogRecord, MetricPoint, Span } from '../../../src/core/model';
import { TelemetryStore } from '../../../src/core/store/store';
import { hex, resource, serverSpan } from '../helpers/telemetry';

function richSpan(): Span {
  const s = serverSpan({ durationMs: 12.345, status: 500 });
  s.startMs = 1732470000123.456;
  s.endMs = s.startMs + 12.345;
  s.parentSpanId = hex(8);
  s.statusMessage = 'boom';
  s.attributes = { ...s.attributes, 'code.file.path': '/srv/app/main.py', 'code.line.number': 12, 'code.function.name': 'read_item', ratio: 0.25, tags: ['a', 'b'], flag: true };
  s.code = { file: '/srv/app/main.py', line: 12, function: 'read_item' };
  s.events = [{ name: 'cache.miss', timeMs: s.startMs + 1.5, attributes: { key: 'k1' } }];
  s.links = [{ traceId: hex(16), spanId: hex(8), attributes: { why: 'retry' } }];
  s.exception = { type: 'KeyError', message: "'x'", frames: [{ file: '/srv/app/main.py', line: 14, function: 'read_item' }, { file: '/srv/app/db.py', line: 3, function: 'get' }] };
  return s;
}

describe('export and import (OTLP JSON)', () => {
  it('round-trips spans, logs and metrics through a file', () => {
    const store = new TelemetryStore();
    const span = richSpan();
    const log: LogRecord = {
      timeMs: 1732470000200.5,
      severity: 'error',
      body: 'payment failed <b>',
      attributes: { 'logger.name': 'shop' },
      resource: resource(),
      traceId: span.traceId,
      spanId: span.spanId,
      code: { file: '/srv/app/pay.py', line: 9, function: 'charge' },
    };
    const metric: MetricPoint = { name: 'process.memory.usage', unit: 'By', kind: 'gauge', value: 123456789, timeMs: 1732470000300, attributes: {}, resource: resource() };
    store.addSpans([span]);
    store.addLogs([log]);
    store.addMetrics([metric]);
    const text = exportOtlpJson(store);
    assert.equal(text.trim().split('\n').length, 3);

    const back = parseOtlpJson(text);
    assert.deepEqual(back.errors, []);
    assert.equal(back.spans.length, 1);
    const s = back.spans[0];
    for (const k of ['traceId', 'spanId', 'parentSpanId', 'name', 'kind', 'status', 'statusMessage', 'code', 'http', 'links'] as const) assert.deepEqual(s[k], span[k], k);
    assert.ok(Math.abs(s.startMs - span.startMs) < 0.001 && Math.abs(s.endMs - span.endMs) < 0.001);
    for (const [k, v] of Object.entries(span.attributes)) assert.deepEqual(s.attributes[k], v, k);
    assert.equal(s.resource.serviceName, 'orders-api');
    assert.equal(s.exception?.type, 'KeyError');
    assert.deepEqual(s.exception?.frames, span.exception!.frames);
    assert.deepEqual(s.events[0], span.events[0]);
    const l = back.logs[0];
    assert.equal(l.body, log.body);
    assert.equal(l.severity, 'error');
    assert.equal(l.traceId, log.traceId);
    assert.deepEqual(l.code, log.code);
    assert.equal(back.metrics[0].value, 123456789);

    const fresh = new TelemetryStore();
    const r = importOtlpJson(fresh, text);
    assert.deepEqual({ spans: r.spans, logs: r.logs, metrics: r.metrics, rejected: r.rejected }, { spans: 1, logs: 1, metrics: 1, rejected: 0 });
    assert.equal(fresh.trace(span.traceId).length, 1);
    assert.equal(fresh.errorGroups().length, 2);
  });

  it('reads a pretty-printed single request and reports lines that are not OTLP', () => {
    const store = new TelemetryStore();
    store.addSpans([serverSpan()]);
    const pretty = JSON.stringify(JSON.parse(exportOtlpJson(store)), null, 2);
    assert.equal(parseOtlpJson(pretty).spans.length, 1);
    const r = parseOtlpJson('{"hello": 1}\nnot json at all\n');
    assert.equal(r.errors.length, 2);
    assert.match(r.errors[0], /^line 1: not an OTLP/);
  });

  it('places imported requests at their own time in the statistics', () => {
    let now = 1_700_000_600_000;
    const store = new TelemetryStore({}, { now: () => now });
    const old = serverSpan({ startMs: now - 300_000 });
    const text = (() => {
      const s = new TelemetryStore();
      s.addSpans([old]);
      return exportOtlpJson(s);
    })();
    importOtlpJson(store, text);
    assert.equal(store.routeSummaries(60)[0].count, 0, 'five minutes ago is outside the last minute');
    assert.equal(store.routeSummaries(900)[0].count, 1);
    now += 1;
  });
});
