/**
 * Forwarding to an upstream OTLP endpoint: into a second, real Routelens collector process (over
 * OTLP/HTTP protobuf and OTLP/gRPC) whose figures must equal the local ones; the bytes decoded with
 * the official OTLP definitions (the protobufjs code generated from opentelemetry-proto that
 * @opentelemetry/otlp-transformer shipped); and an upstream that is down, slow, or answers 503 with
 * Retry-After, partial_success or a final 400.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { WebSocket } from 'ws';
import { silentLogger, type Logger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { nanosBits } from '../../../src/core/forward/encode';
import { parseRetryAfter } from '../../../src/core/forward/transport';
import { otlpTypes } from '../../../src/core/otlp/schema';
import { parseArgs, parseHeader } from '../../../src/cli';
import { freePort, until } from '../../support/net';

// The official OTLP protobuf definitions, as generated code (see the file comment).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const official = require('otlp-proto-definitions/build/src/generated/root') as {
  opentelemetry: { proto: { collector: Record<string, Record<string, Record<string, { decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): Record<string, unknown> }>>> } };
};
const OFFICIAL = official.opentelemetry.proto.collector;
const decodeOfficial = (signal: 'trace' | 'logs' | 'metrics', body: Buffer): Record<string, unknown> => {
  const name = signal === 'trace' ? 'ExportTraceServiceRequest' : signal === 'logs' ? 'ExportLogsServiceRequest' : 'ExportMetricsServiceRequest';
  const type = OFFICIAL[signal].v1[name];
  return type.toObject(type.decode(body), { longs: String, bytes: String, defaults: false });
};

const TOKEN = 'forward-test-token-0123456789';
const CLI = join(__dirname, '..', '..', '..', '..', 'bin', 'routelens.js');

function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(JSON.parse(b) as Record<string, unknown>));
      })
      .on('error', reject);
  });
}

/** A second collector as its own process (`routelens serve`), the upstream. */
async function startUpstreamProcess(): Promise<{ port: number; grpcPort: number; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const grpcPort = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--grpc-port', String(grpcPort), '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', () => {});
  await until(() => out.includes('Press Ctrl+C'), () => `the upstream collector to start (${out})`);
  return {
    port,
    grpcPort,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface Agent {
  ws: WebSocket;
  send(msg: unknown): void;
  close(): Promise<void>;
}

async function nativeAgent(port: number, service: string): Promise<Agent> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  const send = (m: unknown) => ws.send(JSON.stringify(m));
  send({ v: 1, type: 'hello', resource: { 'service.name': service, 'telemetry.sdk.name': 'routelens-python', 'telemetry.sdk.version': '0.1.0', 'process.pid': 1234 } });
  return { ws, send, close: () => new Promise((r) => (ws.once('close', r), ws.close())) };
}

let idSeq = 1;
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');

/** Server spans as the native agent sends them: varied durations, some errors with exceptions. */
function agentSpans(n: number, route: string, t0: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const id = idSeq++;
    const dur = 2 + ((i * 37) % 180) + (i % 7) / 10;
    const error = i % 9 === 0;
    out.push({
      traceId: hex(id, 32),
      spanId: hex(id, 16),
      name: `GET ${route}`,
      kind: 'server',
      status: error ? 'error' : 'unset',
      startMs: t0 + i * 3.5,
      endMs: t0 + i * 3.5 + dur,
      attributes: { 'http.request.method': 'GET', 'http.route': route, 'url.path': route.replace('{id}', String(i)), 'http.response.status_code': error ? 500 : 200, 'code.file.path': '/app/main.py', 'code.line.number': 10 + i % 3, 'code.function.name': 'handler' },
      ...(error ? { exception: { type: 'ValueError', message: `bad item ${i}`, frames: [{ file: '/app/main.py', line: 12, function: 'handler' }] } } : {}),
    });
  }
  return out;
}

function stripRoute(r: Record<string, unknown>) {
  return { service: r.service, method: r.method, route: r.route, count: r.count, errors: r.errors, errorRate: r.errorRate, p50Ms: r.p50Ms, p95Ms: r.p95Ms, p99Ms: r.p99Ms, maxMs: r.maxMs };
}

interface Captured {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  atMs: number;
}

/** A bare HTTP upstream whose answers a test scripts, recording what arrives (gunzipped). */
async function scriptedUpstream(answer: (req: Captured, n: number) => { status: number; headers?: Record<string, string>; body?: Buffer; delayMs?: number }, port = 0) {
  const received: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
      const c: Captured = { path: req.url ?? '', headers: req.headers, body, atMs: Date.now() };
      received.push(c);
      const a = answer(c, received.length);
      setTimeout(() => {
        res.writeHead(a.status, { 'Content-Type': 'application/x-protobuf', ...a.headers });
        res.end(a.body ?? Buffer.alloc(0));
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actual = (server.address() as { port: number }).port;
  return { port: actual, url: `http://127.0.0.1:${actual}`, received, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

function spansIn(c: Captured): number {
  const req = decodeOfficial('trace', c.body) as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
  let n = 0;
  for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  return n;
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, trace: () => {}, debug: () => {}, info: push, warn: push, error: push };
}

describe('forwarding to an upstream OTLP endpoint', function () {
  this.timeout(60_000);

  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    it(`into a second collector process over ${protocol}: the upstream's route figures and traces equal the local ones`, async () => {
      const up = await startUpstreamProcess();
      let rt: Runtime | undefined;
      try {
        rt = await startRuntime({
          port: 0,
          token: TOKEN,
          log: silentLogger,
          forward: { url: protocol === 'grpc' ? `http://127.0.0.1:${up.grpcPort}` : `http://127.0.0.1:${up.port}`, protocol, flushMs: 100, maxBatch: 200 },
        });
        // The native agent protocol...
        const agent = await nativeAgent(rt.collector.port, 'orders');
        const t0 = Date.now() - 5000;
        const first = idSeq;
        agent.send({ v: 1, type: 'batch', seq: 1, instance: 'i1', spans: agentSpans(300, '/orders/{id}', t0), logs: [{ timeMs: t0, severity: 'error', body: 'payment failed', traceId: hex(first, 32), spanId: hex(first, 16), attributes: { 'code.file.path': '/app/main.py', 'code.line.number': 5 } }], metrics: [] });
        agent.send({ v: 1, type: 'batch', seq: 2, instance: 'i1', spans: agentSpans(120, '/health', t0), logs: [], metrics: [] });
        // ...and a real OpenTelemetry SDK over OTLP/HTTP protobuf.
        const provider = new BasicTracerProvider({
          resource: resourceFromAttributes({ 'service.name': 'billing', 'deployment.environment': 'dev' }),
          spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${rt.collector.url}/v1/traces` }), { maxExportBatchSize: 100, scheduledDelayMillis: 50 })],
        });
        const tracer = provider.getTracer('billing-http', '2.3.4');
        for (let i = 0; i < 40; i++) {
          const s = tracer.startSpan('POST /invoices', { kind: SpanKind.SERVER, startTime: t0 + i * 10, attributes: { 'http.request.method': 'POST', 'http.route': '/invoices', 'http.response.status_code': i % 10 === 0 ? 503 : 201 } });
          if (i % 10 === 0) s.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream down' });
          s.end(t0 + i * 10 + 5 + i);
        }
        await provider.forceFlush();
        await provider.shutdown();
        await until(async () => (((await getJson(rt!.collector.port, '/api/v1/routes?window=900')).routes as unknown[]).length === 3 ? true : false), 'the three routes locally');
        assert.ok(await rt.forwarder!.flush(15_000), 'the forwarder drained its queue');
        const local = ((await getJson(rt.collector.port, '/api/v1/routes?window=900')).routes as Record<string, unknown>[]).map(stripRoute);
        const remote = await until(async () => {
          const r = ((await getJson(up.port, '/api/v1/routes?window=900')).routes as Record<string, unknown>[]).map(stripRoute);
          return r.reduce((a, x) => a + (x.count as number), 0) === 460 ? r : undefined;
        }, 'all 460 requests upstream');
        assert.deepEqual(remote, local);
        assert.equal((local.find((r) => r.route === '/orders/{id}')!.count as number), 300);

        // One trace, span by span: the same ids, times, attributes, resource, exception.
        const a = (await getJson(rt.collector.port, `/api/v1/traces/${hex(first, 32)}`)) as { spans: Record<string, unknown>[]; logs: Record<string, unknown>[] };
        const b = (await getJson(up.port, `/api/v1/traces/${hex(first, 32)}`)) as { spans: Record<string, unknown>[]; logs: Record<string, unknown>[] };
        const [ls, us] = [a.spans[0], b.spans[0]];
        assert.equal(us.spanId, ls.spanId);
        assert.equal(us.startMs, ls.startMs);
        assert.equal(us.endMs, ls.endMs);
        assert.deepEqual(us.http, ls.http);
        assert.deepEqual(us.code, ls.code);
        assert.deepEqual((us.exception as { type: string }).type, 'ValueError');
        assert.deepEqual((us.exception as { message: string }).message, 'bad item 0');
        assert.equal((us.resource as { serviceName: string }).serviceName, 'orders');
        assert.equal((us.resource as { attributes: Record<string, unknown> }).attributes['process.pid'], 1234);
        // The native agent's spans arrive under a scope named after the agent.
        assert.equal((us.attributes as Record<string, unknown>)['otel.scope.name'], 'routelens-python');
        assert.equal(b.logs.length, 1);
        assert.equal(b.logs[0].body, 'payment failed');
        // The SDK's scope came through as it was.
        const billing = (await getJson(up.port, '/api/v1/traces?service=billing&limit=1')).traces as { traceId: string }[];
        const bt = (await getJson(up.port, `/api/v1/traces/${billing[0].traceId}`)) as { spans: { attributes: Record<string, unknown>; resource: { attributes: Record<string, unknown> } }[] };
        assert.equal(bt.spans[0].attributes['otel.scope.name'], 'billing-http');
        assert.equal(bt.spans[0].attributes['otel.scope.version'], '2.3.4');
        assert.equal(bt.spans[0].resource.attributes['deployment.environment'], 'dev');

        const stats = (await getJson(rt.collector.port, '/api/v1/stats')).forward as Record<string, Record<string, number> | string>;
        assert.equal(stats.state, 'ok');
        assert.equal((stats.sent as Record<string, number>).traces, 460);
        assert.equal((stats.sent as Record<string, number>).logs, 1);
        assert.equal((stats.dropped as Record<string, number>).traces, 0);
        await agent.close();
      } finally {
        await rt?.stop();
        await up.stop();
      }
    });
  }

  it('sends bytes that decode with the official OTLP definitions: resource, scope, ids, exact nanosecond times, exceptions, logs, metrics; secrets redacted', async () => {
    const up = await scriptedUpstream(() => ({ status: 200 }));
    const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, forward: { url: up.url, flushMs: 50, headers: { 'x-team-key': 'k-123' } } });
    try {
      const agent = await nativeAgent(rt.collector.port, 'orders');
      const t0 = 1_765_000_000_123.457;
      agent.send({
        v: 1,
        type: 'batch',
        spans: [
          {
            traceId: hex(0xabc, 32),
            spanId: hex(0xdef, 16),
            parentSpanId: hex(0x123, 16),
            name: 'GET /items/{id}',
            kind: 'server',
            status: 'error',
            statusMessage: 'boom',
            startMs: t0,
            endMs: t0 + 12.5,
            attributes: { 'http.route': '/items/{id}', 'http.request.method': 'GET', 'url.query': 'token=s3cr3t-value-xyz&page=2', 'http.request.header.authorization': 'Bearer abcdefghijklmnopqrstuvwxyz', retries: 3, ratio: 0.25, cached: false, tags: ['a', 'b'] },
            exception: { type: 'KeyError', message: 'missing', frames: [{ file: '/app/items.py', line: 40, function: 'get_item' }] },
          },
        ],
        logs: [{ timeMs: t0 + 1, severity: 'warn', body: 'login password=hunter2 failed', traceId: hex(0xabc, 32), spanId: hex(0xdef, 16), attributes: {} }],
        metrics: [{ name: 'process.memory.rss', kind: 'gauge', value: 123456789, unit: 'By', timeMs: t0, attributes: {} }],
      });
      await until(() => up.received.length >= 3, 'three requests upstream');
      const byPath = (p: string) => up.received.find((c) => c.path === p)!;
      const tr = byPath('/v1/traces');
      assert.equal(tr.headers['content-type'], 'application/x-protobuf');
      assert.equal(tr.headers['content-encoding'], 'gzip');
      assert.equal(tr.headers['x-team-key'], 'k-123');
      const req = decodeOfficial('trace', tr.body) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      const rs = req.resourceSpans[0];
      const rattrs = Object.fromEntries(rs.resource.attributes.map((kv: any) => [kv.key, kv.value])); // eslint-disable-line @typescript-eslint/no-explicit-any
      assert.deepEqual(rattrs['service.name'], { stringValue: 'orders' });
      assert.deepEqual(rattrs['process.pid'], { intValue: '1234' });
      assert.deepEqual(rs.scopeSpans[0].scope, { name: 'routelens-python', version: '0.1.0' });
      const span = rs.scopeSpans[0].spans[0];
      assert.equal(Buffer.from(span.traceId, 'base64').toString('hex'), hex(0xabc, 32));
      assert.equal(Buffer.from(span.spanId, 'base64').toString('hex'), hex(0xdef, 16));
      assert.equal(Buffer.from(span.parentSpanId, 'base64').toString('hex'), hex(0x123, 16));
      assert.equal(span.kind, 2);
      assert.equal(span.startTimeUnixNano, '1765000000123457000');
      assert.equal(span.endTimeUnixNano, '1765000000135957000');
      assert.deepEqual(span.status, { message: 'boom', code: 2 });
      const attrs = Object.fromEntries(span.attributes.map((kv: any) => [kv.key, kv.value])); // eslint-disable-line @typescript-eslint/no-explicit-any
      assert.deepEqual(attrs['http.route'], { stringValue: '/items/{id}' });
      assert.deepEqual(attrs.retries, { intValue: '3' });
      assert.deepEqual(attrs.ratio, { doubleValue: 0.25 });
      assert.deepEqual(attrs.cached, { boolValue: false });
      assert.deepEqual(attrs.tags, { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } });
      assert.equal(attrs['url.query'].stringValue, 'token=[redacted]&page=2');
      assert.doesNotMatch(attrs['http.request.header.authorization'].stringValue, /abcdefghijklmnop/);
      assert.equal(attrs['otel.scope.name'], undefined, 'the scope travels as the scope, not as an attribute');
      const ev = span.events[0];
      assert.equal(ev.name, 'exception');
      const evAttrs = Object.fromEntries(ev.attributes.map((kv: any) => [kv.key, kv.value.stringValue])); // eslint-disable-line @typescript-eslint/no-explicit-any
      assert.equal(evAttrs['exception.type'], 'KeyError');
      assert.match(evAttrs['exception.stacktrace'], /File "\/app\/items.py", line 40, in get_item/);
      // The local store keeps what arrived, unredacted.
      const local = rt.store.trace(hex(0xabc, 32))[0];
      assert.equal(local.attributes['url.query'], 'token=s3cr3t-value-xyz&page=2');

      const logsReq = decodeOfficial('logs', byPath('/v1/logs').body) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      const rec = logsReq.resourceLogs[0].scopeLogs[0].logRecords[0];
      assert.equal(rec.body.stringValue, 'login password=[redacted] failed');
      assert.equal(rec.severityNumber, 13);
      assert.equal(rec.severityText, 'WARN');
      assert.equal(Buffer.from(rec.traceId, 'base64').toString('hex'), hex(0xabc, 32));
      assert.equal(rec.timeUnixNano, '1765000000124457000');
      const metricsReq = decodeOfficial('metrics', byPath('/v1/metrics').body) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      const m = metricsReq.resourceMetrics[0].scopeMetrics[0].metrics[0];
      assert.equal(m.name, 'process.memory.rss');
      assert.equal(m.unit, 'By');
      assert.equal(m.gauge.dataPoints[0].asDouble, 123456789);
      await agent.close();
    } finally {
      await rt.stop();
      await up.close();
    }
  });

  it('encodes histograms and sums from OTLP and Prometheus as delta points the official decoder reads', async () => {
    const up = await scriptedUpstream(() => ({ status: 200 }));
    const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, forward: { url: up.url, flushMs: 50, signals: ['metrics'] } });
    try {
      // Through an OTLP/JSON request, as an SDK sends it.
      const now = Date.now();
      const body = JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
            scopeMetrics: [
              {
                scope: { name: 'shop-meter', version: '1.0' },
                metrics: [
                  { name: 'http.server.request.duration', unit: 's', histogram: { aggregationTemporality: 1, dataPoints: [{ startTimeUnixNano: String((now - 1000) * 1e6), timeUnixNano: String(now * 1e6), count: '6', sum: 0.9, bucketCounts: ['1', '2', '3', '0'], explicitBounds: [0.05, 0.1, 0.25], attributes: [{ key: 'http.route', value: { stringValue: '/a' } }] }] } },
                  { name: 'jobs', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ startTimeUnixNano: String((now - 1000) * 1e6), timeUnixNano: String(now * 1e6), asInt: '7' }] } },
                ],
              },
            ],
          },
        ],
      });
      await new Promise<void>((resolve, reject) => {
        const r = http.request(`${rt.collector.url}/v1/metrics`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => (res.resume(), res.on('end', resolve)));
        r.on('error', reject);
        r.end(body);
      });
      await until(() => up.received.length >= 1, 'the metrics upstream');
      const req = decodeOfficial('metrics', up.received[0].body) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      const sm = req.resourceMetrics[0].scopeMetrics[0];
      assert.deepEqual(sm.scope, { name: 'shop-meter', version: '1.0' });
      const h = sm.metrics.find((m: { name: string }) => m.name === 'http.server.request.duration');
      assert.equal(h.histogram.aggregationTemporality, 1);
      assert.equal(h.histogram.dataPoints[0].count, '6');
      assert.deepEqual(h.histogram.dataPoints[0].bucketCounts, ['1', '2', '3', '0']);
      assert.deepEqual(h.histogram.dataPoints[0].explicitBounds, [0.05, 0.1, 0.25]);
      const s = sm.metrics.find((m: { name: string }) => m.name === 'jobs');
      assert.equal(s.sum.isMonotonic, true);
      assert.equal(s.sum.dataPoints[0].asDouble, 7);
    } finally {
      await rt.stop();
      await up.close();
    }
  });

  it('upstream down: holds everything below the queue bound and delivers it when the upstream comes up; above the bound, drops are counted', async () => {
    const port = await freePort();
    const log = recordingLogger();
    const rt = await startRuntime({ port: 0, token: TOKEN, log, forward: { url: `http://127.0.0.1:${port}`, flushMs: 50, maxQueue: 500, maxBatch: 100, initialBackoffMs: 100, maxBackoffMs: 300, signals: ['traces'] } });
    try {
      const agent = await nativeAgent(rt.collector.port, 'orders');
      agent.send({ v: 1, type: 'batch', spans: agentSpans(400, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => rt.forwarder!.state().state === 'retrying' && rt.forwarder!.state().queued.traces === 400, 'the forwarder to hold 400 spans while retrying');
      // The local views have everything at once.
      assert.equal(rt.store.routeSummaries(60)[0].count, 400);
      await new Promise((r) => setTimeout(r, 800));
      assert.ok(rt.forwarder!.state().retries >= 2, `retried ${rt.forwarder!.state().retries} times`);
      // Past the bound: 500 held, 250 of these 350 dropped and counted.
      agent.send({ v: 1, type: 'batch', spans: agentSpans(350, '/b', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => rt.forwarder!.state().dropped.traces === 250, () => `250 drops (state ${JSON.stringify(rt.forwarder!.state())})`);
      assert.equal(rt.counters.get('forward.dropped.spans'), 250);
      assert.equal(rt.store.routeSummaries(60).reduce((a, r) => a + r.count, 0), 750, 'the local store keeps all of them');
      // The refusal was logged once, not once per retry.
      assert.equal(log.lines.filter((l) => l.includes('connection refused')).length, 1, log.lines.join('\n'));
      const up = await scriptedUpstream(() => ({ status: 200 }), port);
      try {
        await until(() => up.received.reduce((a, c) => a + spansIn(c), 0) === 500, () => `500 spans upstream (got ${up.received.reduce((a, c) => a + spansIn(c), 0)})`);
        assert.equal(rt.forwarder!.state().state, 'ok');
        assert.equal(rt.forwarder!.state().sent.traces, 500);
      } finally {
        await up.close();
      }
      await agent.close();
    } finally {
      await rt.stop();
    }
  });

  it('503 with Retry-After: waits as long as asked, then sends the same batch again; nothing is lost', async () => {
    const up = await scriptedUpstream((_c, n) => (n <= 2 ? { status: 503, headers: { 'Retry-After': '1' } } : { status: 200 }));
    const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, forward: { url: up.url, flushMs: 50, initialBackoffMs: 50, signals: ['traces'] } });
    try {
      const agent = await nativeAgent(rt.collector.port, 'orders');
      agent.send({ v: 1, type: 'batch', spans: agentSpans(50, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => up.received.length >= 3, 'a third attempt', 10_000);
      const [a, b, c] = up.received;
      assert.ok(b.atMs - a.atMs >= 950, `second attempt ${b.atMs - a.atMs} ms after the first`);
      assert.ok(c.atMs - b.atMs >= 950, `third attempt ${c.atMs - b.atMs} ms after the second`);
      assert.deepEqual(c.body, a.body, 'the same batch, sent again');
      assert.equal(spansIn(c), 50);
      await until(() => rt.forwarder!.state().sent.traces === 50, 'the batch counted as sent');
      assert.equal(rt.forwarder!.state().retries, 2);
      assert.match(rt.forwarder!.state().lastError!.message, /HTTP 503/);
      await agent.close();
    } finally {
      await rt.stop();
      await up.close();
    }
  });

  it('a slow upstream never holds the local views up', async () => {
    const up = await scriptedUpstream(() => ({ status: 200, delayMs: 3000 }));
    const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, forward: { url: up.url, flushMs: 20, maxBatch: 10, signals: ['traces'] } });
    try {
      const agent = await nativeAgent(rt.collector.port, 'orders');
      agent.send({ v: 1, type: 'batch', spans: agentSpans(10, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => up.received.length === 1, 'the first request upstream');
      // While the upstream sits on that request, more arrives and is queried locally.
      agent.send({ v: 1, type: 'batch', spans: agentSpans(30, '/b', Date.now() - 1000), logs: [], metrics: [] });
      const started = Date.now();
      await until(async () => ((await getJson(rt.collector.port, '/api/v1/routes')).routes as { count: number }[]).reduce((a, r) => a + r.count, 0) === 40, 'all 40 requests in the local views', 2000, 20);
      const waited = Date.now() - started;
      assert.equal(up.received.length, 1, 'the upstream has not answered yet');
      assert.ok(waited < 2000, `local views took ${waited} ms`);
      assert.equal(rt.forwarder!.state().queued.traces, 40);
      await agent.close();
    } finally {
      await rt.stop();
      await up.close();
    }
  });

  it('reads partial_success and reports a final 400 once, dropping only that batch', async () => {
    const types = otlpTypes();
    const partial = Buffer.from(types.traceResponse.encode(types.traceResponse.fromObject({ partialSuccess: { rejectedSpans: 2, errorMessage: 'two spans too old' } })).finish());
    const up = await scriptedUpstream((_c, n) => (n === 1 ? { status: 200, body: partial } : { status: 400, body: Buffer.from('bad request') , headers: { 'Content-Type': 'text/plain' } }));
    const log = recordingLogger();
    const rt = await startRuntime({ port: 0, token: TOKEN, log, forward: { url: up.url, flushMs: 30, maxBatch: 5, signals: ['traces'] } });
    try {
      const agent = await nativeAgent(rt.collector.port, 'orders');
      agent.send({ v: 1, type: 'batch', spans: agentSpans(5, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => rt.forwarder!.state().rejectedByUpstream.traces === 2, 'partial success counted');
      assert.equal(rt.forwarder!.state().lastPartialSuccess!.message, 'two spans too old');
      assert.equal(rt.forwarder!.state().sent.traces, 5);
      agent.send({ v: 1, type: 'batch', spans: agentSpans(15, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => rt.forwarder!.state().failed.traces === 15, 'three batches refused for good');
      assert.equal(up.received.length, 4, 'a 400 is not retried');
      assert.equal(rt.forwarder!.state().state, 'failing');
      assert.equal(log.lines.filter((l) => l.includes('HTTP 400')).length, 1, log.lines.join('\n'));
      assert.match(log.lines.find((l) => l.includes('HTTP 400'))!, /bad request/);
      await agent.close();
    } finally {
      await rt.stop();
      await up.close();
    }
  });

  it('forwards only the services and signals asked for', async () => {
    const up = await scriptedUpstream(() => ({ status: 200 }));
    const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, forward: { url: up.url, flushMs: 30, services: ['orders'], signals: ['traces'] } });
    try {
      const a = await nativeAgent(rt.collector.port, 'orders');
      const b = await nativeAgent(rt.collector.port, 'billing');
      a.send({ v: 1, type: 'batch', spans: agentSpans(3, '/a', Date.now() - 1000), logs: [{ timeMs: Date.now(), severity: 'info', body: 'x', attributes: {} }], metrics: [] });
      b.send({ v: 1, type: 'batch', spans: agentSpans(4, '/b', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => rt.store.routeSummaries(60).length === 2, 'both services locally');
      await rt.forwarder!.flush();
      assert.deepEqual(up.received.map((c) => c.path), ['/v1/traces']);
      assert.equal(spansIn(up.received[0]), 3);
      await a.close();
      await b.close();
    } finally {
      await rt.stop();
      await up.close();
    }
  });

  it('starts, replaces and ends forwarding on a running collector (the editor changes its settings)', async () => {
    const a = await scriptedUpstream(() => ({ status: 200 }));
    const b = await scriptedUpstream(() => ({ status: 200 }));
    const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger });
    try {
      assert.equal(rt.forwarder, undefined);
      assert.equal((await getJson(rt.collector.port, '/api/v1/stats')).forward, undefined);
      const agent = await nativeAgent(rt.collector.port, 'orders');
      agent.send({ v: 1, type: 'batch', spans: agentSpans(2, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => rt.store.routeSummaries(60).length === 1, 'the first spans');
      rt.setForward({ url: a.url, flushMs: 30, signals: ['traces'] });
      agent.send({ v: 1, type: 'batch', spans: agentSpans(3, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => a.received.length === 1, 'the first upstream');
      assert.equal(spansIn(a.received[0]), 3, 'only what arrived after forwarding began');
      rt.setForward({ url: b.url, flushMs: 30, signals: ['traces'] });
      agent.send({ v: 1, type: 'batch', spans: agentSpans(4, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => b.received.length === 1, 'the second upstream');
      assert.equal(spansIn(b.received[0]), 4);
      assert.equal(((await getJson(rt.collector.port, '/api/v1/stats')).forward as { endpoint: string }).endpoint, b.url);
      rt.setForward(undefined);
      agent.send({ v: 1, type: 'batch', spans: agentSpans(5, '/a', Date.now() - 1000), logs: [], metrics: [] });
      await until(() => rt.store.routeSummaries(60)[0].count === 14, 'all spans locally');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(a.received.length + b.received.length, 2);
      rt.setForward({ url: 'not a url' });
      assert.match(rt.forwardError!, /Invalid URL/);
      assert.equal(((await getJson(rt.collector.port, '/api/v1/stats')).forward as { state: string }).state, 'off');
      await agent.close();
    } finally {
      await rt.stop();
      await a.close();
      await b.close();
    }
  });

  it('parses the serve flags, Retry-After and exact nanoseconds', () => {
    const p = parseArgs(['serve', '--forward', 'http://collector:4318', '--forward-protocol', 'grpc', '--forward-header', 'Authorization=Bearer%20abc', '--forward-signals', 'traces,logs']);
    assert.ok(!('error' in p) && !('help' in p));
    assert.deepEqual((p as { forward: unknown }).forward, { url: 'http://collector:4318', headers: { Authorization: 'Bearer abc' }, protocol: 'grpc', signals: ['traces', 'logs'] });
    assert.ok('error' in (parseArgs(['serve', '--forward-protocol', 'grpc']) as object));
    assert.ok('error' in (parseArgs(['serve', '--forward', 'ftp://x']) as object));
    assert.ok('error' in (parseArgs(['serve', '--forward', 'http://x', '--forward-signals', 'spans']) as object));
    assert.equal(typeof parseHeader('novalue'), 'string');
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString(), Date.now()) !== undefined, true);
    assert.equal(parseRetryAfter('soon'), undefined);
    const bits = nanosBits(1_765_000_000_123.457);
    assert.equal((BigInt(bits.high) << 32n) + BigInt(bits.low), 1765000000123457000n);
  });
});
