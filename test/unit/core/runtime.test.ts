import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { observationsFromHistogram } from '../../../src/core/stats/histogramObservations';
import { LatencySketch } from '../../../src/core/stats/sketch';
import { freePort } from '../../support/net';


function getJson(port: number, path: string, token: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve(JSON.parse(b)));
    }).on('error', reject);
  });
}

describe('the runtime: collector with OTLP wired in', () => {
  let rt: Runtime;
  const token = 'runtime-test-token-123456';

  beforeEach(async () => {
    rt = await startRuntime({ port: 0, grpcPort: await freePort(), token, log: silentLogger });
  });
  afterEach(() => rt.stop());

  it('takes spans from the official OTLP/HTTP protobuf exporter into route statistics', async () => {
    const exporter = new OTLPTraceExporter({ url: `${rt.collector.url}/v1/traces` });
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'node-api' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('test');
    for (const status of [200, 200, 503]) {
      const span = tracer.startSpan('GET /users/:id', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': status } });
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    await provider.forceFlush();
    await provider.shutdown();
    const body = (await getJson(rt.collector.port, '/api/v1/routes', token)) as { routes: { service: string; route: string; count: number; errorRate: number; source: string }[] };
    assert.equal(body.routes.length, 1);
    assert.deepEqual({ ...body.routes[0] }, { ...body.routes[0], service: 'node-api', route: '/users/:id', count: 3, source: 'spans' });
    assert.ok(Math.abs(body.routes[0].errorRate - 1 / 3) < 0.001);
  });

  it('derives route statistics from http.server.request.duration histograms over gRPC when no spans come', async () => {
    const exporter = new OTLPMetricExporter({ url: `http://127.0.0.1:${rt.grpcPort}` });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'metrics-only' }), readers: [reader] });
    const hist = provider.getMeter('m').createHistogram('http.server.request.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25] } });
    for (let i = 0; i < 40; i++) hist.record(0.02, { 'http.request.method': 'GET', 'http.route': '/orders/{id}', 'http.response.status_code': 200 });
    for (let i = 0; i < 10; i++) hist.record(0.2, { 'http.request.method': 'GET', 'http.route': '/orders/{id}', 'http.response.status_code': 500 });
    await reader.forceFlush();
    await provider.shutdown();
    const [route] = rt.store.routeSummaries(60);
    assert.equal(route.source, 'metrics');
    assert.equal(route.route, '/orders/{id}');
    assert.equal(route.count, 50);
    assert.equal(route.errorRate, 0.2);
    // histogram_quantile(0.5) of these buckets: rank 25 of the 40 in (10, 25] ms → 10 + 15 * 25/40 = 19.4 ms.
    assert.ok(Math.abs(route.p50Ms! - 19.375) / 19.375 < 0.05, `p50 ${route.p50Ms}`);
    assert.ok(route.p95Ms! > 100 && route.p95Ms! <= 250, `p95 ${route.p95Ms}`);
  });

  it('scrapes the /metrics URL an agent announces, under its service name, and only on loopback', async () => {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`ws://127.0.0.1:${rt.collector.port}/v1/ws`);
    await new Promise((r) => ws.on('open', r));
    ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'shop' } }));
    ws.send(JSON.stringify({ v: 1, type: 'announce', prometheus: ['http://127.0.0.1:9/metrics', 'http://example.com/metrics'] }));
    for (let i = 0; i < 50 && rt.prometheus.targets().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    const targets = rt.prometheus.targets();
    assert.equal(targets.length, 1);
    assert.equal(targets[0].url, 'http://127.0.0.1:9/metrics');
    assert.equal(targets[0].service, 'shop');
    assert.equal(rt.counters.get('announce.rejected.notLoopback'), 1);
    // A change of the configured targets (the settings) keeps what agents announced.
    rt.prometheus.setTargets(['http://127.0.0.1:10/metrics']);
    assert.deepEqual(rt.prometheus.targets().map((t) => t.url).sort(), ['http://127.0.0.1:10/metrics', 'http://127.0.0.1:9/metrics']);
    rt.prometheus.setTargets([]);
    assert.deepEqual(rt.prometheus.targets().map((t) => t.url), ['http://127.0.0.1:9/metrics']);
  });

  it('spreads histogram buckets so quantiles follow linear interpolation', () => {
    const obs = observationsFromHistogram({ bounds: [10, 20, 40], counts: [0, 100, 0, 5], sum: 0, count: 105 });
    const sk = new LatencySketch();
    for (const o of obs) sk.add(o.valueMs, o.count);
    assert.equal(sk.count, 105);
    assert.ok(Math.abs(sk.quantile(0.5) - 15) < 0.6, `p50 ${sk.quantile(0.5)}`);
    assert.equal(sk.quantile(1), 40, 'the +Inf bucket answers the highest finite bound');
  });
});

describe('routelens serve', () => {
  it('prints where it listens and stops cleanly on SIGTERM', async function () {
    this.timeout(15_000);
    const cli = join(__dirname, '..', '..', '..', '..', 'bin', 'routelens.js');
    const port = await freePort();
    const child = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--grpc-port', '0', '--token', 'cli-token-abcdefghijkl'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    for (let i = 0; i < 100 && !out.includes('Press Ctrl+C'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, new RegExp(`listening on http://127.0.0.1:${port}`));
    assert.match(out, /OTLP\/gRPC: +off/);
    assert.match(out, /token given with --token/);
    const body = await getJson(port, '/api/v1/routes', 'cli-token-abcdefghijkl');
    assert.deepEqual(body.routes, []);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0);
  });

  it('explains a bad option', async () => {
    const cli = join(__dirname, '..', '..', '..', '..', 'bin', 'routelens.js');
    const child = spawn(process.execPath, [cli, 'serve', '--port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 2);
    assert.match(err, /--port must be a whole number/);
  });
});
