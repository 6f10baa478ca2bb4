/**
 * The official OpenTelemetry JS exporters (OTLP/HTTP JSON, OTLP/HTTP protobuf, OTLP/gRPC) sending
 * real SDK output to the receiver: what lands in the sink must be exactly what the SDK produced.
 */
import * as assert from 'node:assert/strict';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes as OtelAttributes } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import {
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter as TraceHttp } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPLogExporter as LogsHttp } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as MetricsHttp } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { ExportResult } from '@opentelemetry/core';
import type { MetricPoint, Span } from '../../../src/core/model';
import { histogramToMs } from '../../../src/core/otlp/units';
import { hrToMs, startReceiver, type Receiver } from './helpers';

type Transport = 'http/json' | 'http/protobuf' | 'grpc' | 'grpc+gzip' | 'http/protobuf+gzip';

interface Exportable<T> {
  export(items: T, cb: (r: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

function exportOnce<T>(exporter: Exportable<T>, items: T): Promise<void> {
  return new Promise((resolve, reject) =>
    exporter.export(items, (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error(`export failed: ${r.code}`)))),
  );
}

function traceExporter(t: Transport, rx: Receiver): Exportable<ReadableSpan[]> {
  const gzip = t.endsWith('+gzip') ? { compression: CompressionAlgorithm.GZIP } : {};
  if (t === 'http/json') return new TraceHttp({ url: `${rx.httpUrl}/v1/traces` });
  if (t.startsWith('http/protobuf')) return new TraceProto({ url: `${rx.httpUrl}/v1/traces`, ...gzip });
  return new TraceGrpc({ url: rx.grpcUrl, ...gzip });
}

function logExporter(t: Transport, rx: Receiver): Exportable<ReadableLogRecord[]> {
  const gzip = t.endsWith('+gzip') ? { compression: CompressionAlgorithm.GZIP } : {};
  if (t === 'http/json') return new LogsHttp({ url: `${rx.httpUrl}/v1/logs` });
  if (t.startsWith('http/protobuf')) return new LogsProto({ url: `${rx.httpUrl}/v1/logs`, ...gzip });
  return new LogsGrpc({ url: rx.grpcUrl, ...gzip });
}

function metricExporter(t: Transport, rx: Receiver, delta = false): PushMetricExporter {
  const temporalityPreference = delta ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE;
  const gzip = t.endsWith('+gzip') ? { compression: CompressionAlgorithm.GZIP } : {};
  if (t === 'http/json') return new MetricsHttp({ url: `${rx.httpUrl}/v1/metrics`, temporalityPreference });
  if (t.startsWith('http/protobuf')) return new MetricsProto({ url: `${rx.httpUrl}/v1/metrics`, temporalityPreference, ...gzip });
  return new MetricsGrpc({ url: rx.grpcUrl, temporalityPreference, ...gzip });
}

const RESOURCE_ATTRS = { 'service.name': 'shop-api', 'service.instance.id': 'inst-7', 'process.pid': 4242, 'deployment.environment': 'dev' };

/** The SDK's own telemetry.sdk.* attributes plus the app's, as a configured app sends them. */
function shopResource() {
  return defaultResource().merge(resourceFromAttributes(RESOURCE_ATTRS));
}

/** What the receiver should store as attributes for an SDK attribute map (scope added). */
function expectedAttrs(attrs: OtelAttributes, scope: { name: string; version?: string }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = v;
  out['otel.scope.name'] = scope.name;
  if (scope.version) out['otel.scope.version'] = scope.version;
  return out;
}

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 0.001, `${what}: ${actual} vs ${expected} (more than 1 µs apart)`);
}

const KIND: Record<number, Span['kind']> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

function makeSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: shopResource(),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('shop.http', '1.4.2');

  // Stable HTTP semantic conventions, a 500 with an exception and code location.
  const server = tracer.startSpan('GET /items/{item_id}', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'http.route': '/items/{item_id}',
      'http.response.status_code': 500,
      'url.path': '/items/42',
      'url.scheme': 'http',
      'code.function.name': 'shop.api.get_item',
      'code.file.path': '/srv/shop/api.py',
      'code.line.number': 42,
      'retry.count': 3,
      'ratio': 0.25,
      'cached': false,
      'tags': ['a', 'b'],
      'sizes': [1, 2, 3],
    },
  });
  const err = new TypeError('item 42 has no price');
  server.recordException(err);
  server.addEvent('cache.miss', { 'cache.key': 'item:42', 'cache.shard': 2 });
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'price lookup failed' });
  const ctx = trace.setSpan(context.active(), server);
  const child = tracer.startSpan('SELECT items', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } }, ctx);
  child.end();
  const worker = tracer.startSpan('recompute', {
    kind: SpanKind.INTERNAL,
    links: [{ context: child.spanContext(), attributes: { 'link.reason': 'follows' } }],
  }, ctx);
  worker.end();
  server.end();

  // The older generation: http.method / http.target / http.status_code, code.filepath etc., no
  // http.route (the route comes from the span name).
  const old = tracer.startSpan('POST /orders', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.method': 'POST',
      'http.target': '/orders?draft=1',
      'http.status_code': 201,
      'code.filepath': '/srv/shop/orders.py',
      'code.lineno': 17,
      'code.function': 'create_order',
      'code.namespace': 'shop.orders',
    },
  });
  old.setStatus({ code: SpanStatusCode.OK });
  old.end();
  const producer = tracer.startSpan('publish', { kind: SpanKind.PRODUCER });
  producer.end();
  const consumer = tracer.startSpan('consume', { kind: SpanKind.CONSUMER });
  consumer.end();
  return memory.getFinishedSpans();
}

function checkSpans(sent: ReadableSpan[], stored: Span[]): void {
  assert.equal(stored.length, sent.length);
  for (const s of sent) {
    const ctx = s.spanContext();
    const got = stored.find((x) => x.spanId === ctx.spanId);
    assert.ok(got, `span ${s.name} stored`);
    assert.equal(got.traceId, ctx.traceId);
    assert.equal(got.parentSpanId, s.parentSpanContext?.spanId);
    assert.equal(got.name, s.name);
    assert.equal(got.kind, KIND[s.kind]);
    near(got.startMs, hrToMs(s.startTime), `${s.name} start`);
    near(got.endMs, hrToMs(s.endTime), `${s.name} end`);
    assert.equal(got.status, (['unset', 'ok', 'error'] as const)[s.status.code]);
    assert.equal(got.statusMessage, s.status.message || undefined);
    assert.deepEqual(got.attributes, expectedAttrs(s.attributes, s.instrumentationScope));
    assert.equal(got.events.length, s.events.length);
    s.events.forEach((e, i) => {
      assert.equal(got.events[i].name, e.name);
      near(got.events[i].timeMs, hrToMs(e.time), `${s.name} event ${e.name}`);
      assert.deepEqual(got.events[i].attributes, { ...(e.attributes ?? {}) });
    });
    assert.deepEqual(
      got.links,
      s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: { ...(l.attributes ?? {}) } })),
    );
    assert.equal(got.resource.serviceName, 'shop-api');
    assert.equal(got.resource.instanceId, 'inst-7');
    assert.equal(got.resource.pid, 4242);
    assert.match(got.resource.sdk ?? '', /^opentelemetry\/nodejs\/\d+\.\d+/);
    assert.equal(got.resource.attributes['deployment.environment'], 'dev');
  }

  const get = (name: string) => stored.find((x) => x.name === name)!;
  const server = get('GET /items/{item_id}');
  assert.deepEqual(server.http, { method: 'GET', route: '/items/{item_id}', statusCode: 500, path: '/items/42' });
  assert.deepEqual(server.code, { file: '/srv/shop/api.py', line: 42, function: 'shop.api.get_item' });
  assert.equal(server.exception?.type, 'TypeError');
  assert.equal(server.exception?.message, 'item 42 has no price');
  assert.ok(server.exception?.stacktrace?.includes('item 42 has no price'));
  assert.ok((server.exception?.frames.length ?? 0) > 0, 'frames parsed from the V8 stack');
  const old = get('POST /orders');
  assert.deepEqual(old.http, { method: 'POST', route: '/orders', statusCode: 201, path: '/orders' });
  assert.deepEqual(old.code, { file: '/srv/shop/orders.py', line: 17, function: 'shop.orders.create_order' });
  assert.equal(get('SELECT items').parentSpanId, server.spanId);
  assert.equal(get('SELECT items').http, undefined);
}

function makeLogs(): { records: ReadableLogRecord[]; traceId: string; spanId: string } {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: shopResource(),
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const logger = provider.getLogger('shop.logging', '0.9.0');
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spanId = 'b7ad6b7169203331';
  const spanCtx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1 });
  logger.emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: 'ERROR',
    body: 'payment failed',
    context: spanCtx,
    attributes: {
      'exception.type': 'ValueError',
      'exception.message': 'card declined',
      'exception.stacktrace':
        'Traceback (most recent call last):\n  File "/srv/shop/pay.py", line 88, in charge\n    raise ValueError("card declined")\nValueError: card declined\n',
      'code.filepath': '/srv/shop/pay.py',
      'code.lineno': 88,
      'code.function': 'charge',
    },
  });
  logger.emit({ severityNumber: SeverityNumber.WARN2, body: { order: 'o-1', items: [1, 2], ok: true }, attributes: { 'code.file.path': '/srv/a.py', 'code.line.number': 3, 'code.function.name': 'a.f' } });
  logger.emit({ severityText: 'DEBUG', body: 12.5 });
  logger.emit({ severityNumber: SeverityNumber.FATAL, body: 'disk full', eventName: 'disk.alert' });
  return { records: memory.getFinishedLogRecords(), traceId, spanId };
}

function checkLogs(sent: ReadableLogRecord[], rx: Receiver, traceId: string, spanId: string): void {
  const stored = rx.sink.logs;
  assert.equal(stored.length, sent.length);
  sent.forEach((s, i) => {
    const got = stored[i];
    near(got.timeMs, hrToMs(s.hrTime), 'log time');
    assert.equal(got.resource.serviceName, 'shop-api');
  });
  const [err, warn, debug, fatal] = stored;
  assert.equal(err.severity, 'error');
  assert.equal(err.severityNumber, 17);
  assert.equal(err.body, 'payment failed');
  assert.equal(err.traceId, traceId);
  assert.equal(err.spanId, spanId);
  assert.equal(err.exception?.type, 'ValueError');
  assert.equal(err.exception?.message, 'card declined');
  assert.deepEqual(err.exception?.frames, [{ file: '/srv/shop/pay.py', line: 88, function: 'charge' }]);
  assert.deepEqual(err.code, { file: '/srv/shop/pay.py', line: 88, function: 'charge' });
  assert.equal(err.attributes['otel.scope.name'], 'shop.logging');
  assert.equal(warn.severity, 'warn');
  assert.equal(warn.severityNumber, 14);
  assert.deepEqual(JSON.parse(warn.body), { order: 'o-1', items: [1, 2], ok: true });
  assert.equal(warn.traceId, undefined);
  assert.deepEqual(warn.code, { file: '/srv/a.py', line: 3, function: 'a.f' });
  assert.equal(debug.severity, 'debug', 'severity from text when the number is unset');
  assert.equal(debug.severityNumber, undefined);
  assert.equal(debug.body, '12.5');
  assert.equal(fatal.severity, 'fatal');
  assert.equal(fatal.attributes['event.name'], 'disk.alert');
}

async function flush(reader: PeriodicExportingMetricReader): Promise<void> {
  await reader.forceFlush();
}

function newMeter(exporter: PushMetricExporter) {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: 30_000 });
  const provider = new MeterProvider({
    resource: shopResource(),
    readers: [reader],
    views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  return { reader, provider, meter: provider.getMeter('shop.metrics', '2.0.0') };
}

const BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

function pointsNamed(rx: Receiver, name: string): MetricPoint[] {
  return rx.sink.metrics.filter((p) => p.name === name);
}

async function checkCumulativeMetrics(t: Transport, rx: Receiver): Promise<void> {
  const a = newMeter(metricExporter(t, rx));
  const requests = a.meter.createCounter('http.requests', { unit: '{request}' });
  const duration = a.meter.createHistogram('http.server.request.duration', { unit: 's', advice: { explicitBucketBoundaries: BUCKETS_S } });
  const oldDuration = a.meter.createHistogram('http.server.duration', { unit: 'ms', advice: { explicitBucketBoundaries: [5, 10, 50, 100] } });
  const sizes = a.meter.createHistogram('payload.size', { unit: 'By' });
  const active = a.meter.createUpDownCounter('http.server.active_requests');
  const gauge = a.meter.createGauge('queue.depth');
  const route = { 'http.request.method': 'GET', 'http.route': '/items/{item_id}', 'http.response.status_code': 200 };

  requests.add(3, { route: '/a' });
  requests.add(1, { route: '/b' });
  duration.record(0.02, route);
  duration.record(0.3, route);
  duration.record(0.3, route);
  oldDuration.record(7, { 'http.method': 'GET', 'http.status_code': 200 });
  for (const v of [1, 2, 4, 100]) sizes.record(v);
  active.add(5);
  active.add(-2);
  gauge.record(7.5);
  await flush(a.reader);

  const first = rx.sink.metrics.length;
  const reqA = () => pointsNamed(rx, 'http.requests').filter((p) => p.attributes.route === '/a');
  assert.deepEqual(reqA().map((p) => p.value), [3], 'a series that started after the receiver counts from its first point');
  assert.equal(reqA()[0].kind, 'sum');
  assert.equal(reqA()[0].monotonic, true);
  assert.equal(reqA()[0].unit, '{request}');
  const d1 = pointsNamed(rx, 'http.server.request.duration');
  assert.equal(d1.length, 1);
  assert.equal(d1[0].unit, 's');
  assert.deepEqual(d1[0].histogram?.bounds, BUCKETS_S);
  assert.equal(d1[0].histogram?.count, 3);
  assert.ok(Math.abs((d1[0].histogram?.sum ?? 0) - 0.62) < 1e-9);
  assert.equal(d1[0].attributes['http.route'], '/items/{item_id}');
  const ms = histogramToMs(d1[0])!;
  assert.deepEqual(ms.bounds, BUCKETS_S.map((b) => b * 1000));
  assert.ok(Math.abs(ms.sum - 620) < 1e-6);
  const old = pointsNamed(rx, 'http.server.duration')[0];
  assert.equal(old.unit, 'ms');
  assert.deepEqual(histogramToMs(old)?.bounds, [5, 10, 50, 100]);
  const size = pointsNamed(rx, 'payload.size')[0];
  assert.equal(size.kind, 'histogram', 'exponential histograms arrive as explicit buckets');
  assert.equal(size.histogram?.count, 4);
  assert.equal(size.histogram?.sum, 107);
  checkExponentialBuckets(size, [1, 2, 4, 100]);
  const act = pointsNamed(rx, 'http.server.active_requests')[0];
  assert.equal(act.kind, 'gauge', 'a cumulative up-down counter is kept as its level');
  assert.equal(act.value, 3);
  assert.equal(pointsNamed(rx, 'queue.depth')[0].value, 7.5);
  assert.equal(pointsNamed(rx, 'queue.depth')[0].kind, 'gauge');
  assert.equal(reqA()[0].resource.serviceName, 'shop-api');
  assert.equal(reqA()[0].attributes['otel.scope.name'], 'shop.metrics');

  // Second export: cumulative values become the increments since the first one.
  requests.add(2, { route: '/a' });
  duration.record(1.2, route);
  sizes.record(3);
  await flush(a.reader);
  const second = rx.sink.metrics.slice(first);
  const reqA2 = second.filter((p) => p.name === 'http.requests' && p.attributes.route === '/a');
  assert.deepEqual(reqA2.map((p) => p.value), [2]);
  assert.equal(reqA2[0].startMs, reqA()[0].timeMs, 'a delta covers the time since the previous point');
  const reqB2 = second.filter((p) => p.name === 'http.requests' && p.attributes.route === '/b');
  assert.deepEqual(reqB2.map((p) => p.value), [0]);
  const d2 = second.filter((p) => p.name === 'http.server.request.duration');
  assert.equal(d2.length, 1);
  assert.equal(d2[0].histogram?.count, 1);
  assert.ok(Math.abs((d2[0].histogram?.sum ?? 0) - 1.2) < 1e-9);
  assert.equal(d2[0].histogram?.counts[BUCKETS_S.indexOf(2.5)], 1, '1.2 s lands in the (1, 2.5] bucket');
  assert.equal(d2[0].histogram?.counts.reduce((x, y) => x + y, 0), 1);
  const s2 = second.filter((p) => p.name === 'payload.size');
  assert.equal(s2[0].histogram?.count, 1);
  assert.equal(s2[0].histogram?.sum, 3);
  checkExponentialBuckets(s2[0], [3]);
  await a.provider.shutdown();

  // The app restarts: same resource, a new start time and a counter back near zero. That is a
  // reset, not a negative delta.
  const before = rx.sink.metrics.length;
  const b = newMeter(metricExporter(t, rx));
  b.meter.createCounter('http.requests', { unit: '{request}' }).add(1, { route: '/a' });
  await flush(b.reader);
  const reqA3 = rx.sink.metrics.slice(before).filter((p) => p.name === 'http.requests' && p.attributes.route === '/a');
  assert.deepEqual(reqA3.map((p) => p.value), [1]);
  const total = pointsNamed(rx, 'http.requests')
    .filter((p) => p.attributes.route === '/a')
    .reduce((sum, p) => sum + (p.value ?? 0), 0);
  assert.equal(total, 6, 'the deltas add up to every request counted');
  await b.provider.shutdown();
}

/** Each value must sit in the bucket whose (lower, upper] range holds it. */
function checkExponentialBuckets(p: MetricPoint, values: number[]): void {
  const h = p.histogram!;
  assert.equal(h.counts.length, h.bounds.length + 1);
  const expected = new Array<number>(h.counts.length).fill(0);
  for (const v of values) {
    let i = h.bounds.findIndex((b) => v <= b * (1 + 1e-12));
    if (i < 0) i = h.bounds.length;
    expected[i]++;
  }
  assert.deepEqual(h.counts, expected);
}

async function checkDeltaMetrics(t: Transport, rx: Receiver): Promise<void> {
  const m = newMeter(metricExporter(t, rx, true));
  const c = m.meter.createCounter('jobs.done');
  c.add(4);
  await flush(m.reader);
  c.add(6);
  await flush(m.reader);
  assert.deepEqual(pointsNamed(rx, 'jobs.done').map((p) => p.value), [4, 6], 'delta sums pass through');
  await m.provider.shutdown();
}

const TRANSPORTS: Transport[] = ['http/json', 'http/protobuf', 'http/protobuf+gzip', 'grpc', 'grpc+gzip'];

describe('OTLP receiver with the official exporters', function () {
  this.timeout(30_000);
  for (const t of TRANSPORTS) {
    describe(t, () => {
      let rx: Receiver;
      beforeEach(async () => {
        rx = await startReceiver();
      });
      afterEach(async () => {
        await rx.close();
      });

      it('stores exactly the spans the SDK produced', async () => {
        const spans = makeSpans();
        const exporter = traceExporter(t, rx);
        await exportOnce(exporter, spans);
        await exporter.shutdown();
        checkSpans(spans, rx.sink.spans);
        assert.equal(rx.counters.get('otlp.spans.accepted'), spans.length);
        assert.equal(rx.counters.get('otlp.spans.rejected'), 0);
      });

      it('stores the log records with severity, body, trace context, exception and code', async () => {
        const { records, traceId, spanId } = makeLogs();
        const exporter = logExporter(t, rx);
        await exportOnce(exporter, records);
        await exporter.shutdown();
        checkLogs(records, rx, traceId, spanId);
      });

      it('turns cumulative metrics into deltas and detects a restart', async () => {
        await checkCumulativeMetrics(t, rx);
      });

      it('passes delta metrics through', async () => {
        await checkDeltaMetrics(t, rx);
      });
    });
  }

  it('keeps every route statistic input for the store: server span with route, duration histogram fields', async () => {
    const rx = await startReceiver();
    try {
      const spans = makeSpans();
      const exporter = traceExporter('http/protobuf', rx);
      await exportOnce(exporter, spans);
      await exporter.shutdown();
      const servers = rx.sink.spans.filter((s) => s.kind === 'server' && s.http?.route);
      assert.deepEqual(servers.map((s) => `${s.http!.method} ${s.http!.route}`).sort(), ['GET /items/{item_id}', 'POST /orders']);
    } finally {
      await rx.close();
    }
  });
});
