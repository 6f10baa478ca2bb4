/**
 * OTLP/HTTP edge cases by hand: each refused or accepted exactly as the specification says, and
 * nothing from a refused request reaches the sink.
 */
import * as assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { otlpTypes } from '../../../src/core/otlp/schema';
import { request, startReceiver, type RawResponse, type Receiver } from './helpers';

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';
const T0 = '1700000000000000000';
const T1 = '1700000000001500000';

function jsonSpan(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: TRACE,
    spanId: SPAN,
    name: 'GET /items/{id}',
    kind: 2,
    startTimeUnixNano: T0,
    endTimeUnixNano: T1,
    attributes: [{ key: 'http.request.method', value: { stringValue: 'GET' } }],
    ...over,
  };
}

function jsonTraces(spans: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'edge' } }] },
        scopeSpans: [{ scope: { name: 'by-hand' }, spans }],
        ...extra,
      },
    ],
  });
}

function protoSpan(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: Buffer.from(TRACE, 'hex'),
    spanId: Buffer.from(SPAN, 'hex'),
    name: 'GET /items/{id}',
    kind: 2,
    startTimeUnixNano: T0,
    endTimeUnixNano: T1,
    ...over,
  };
}

function protoTraces(spans: unknown[]): Buffer {
  const t = otlpTypes().traceRequest;
  const msg = t.fromObject({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
  return Buffer.from(t.encode(msg).finish());
}

const JSON_CT = { 'Content-Type': 'application/json' };
const PROTO_CT = { 'Content-Type': 'application/x-protobuf' };

function statusOf(r: RawResponse): { code: number; message: string } {
  if (r.headers['content-type'] === 'application/json') return JSON.parse(r.body.toString());
  const t = otlpTypes().status;
  return t.toObject(t.decode(r.body)) as { code: number; message: string };
}

describe('OTLP/HTTP edge cases', function () {
  this.timeout(20_000);
  let rx: Receiver;
  let url: string;
  beforeEach(async () => {
    rx = await startReceiver({ maxBodyBytes: 1024 * 1024 });
    url = `${rx.httpUrl}/v1/traces`;
  });
  afterEach(async () => {
    await rx.close();
  });

  function assertNothingStored(): void {
    assert.equal(rx.sink.calls, 0, 'the sink was never called');
    assert.equal(rx.sink.total, 0);
  }

  describe('accepted', () => {
    it('answers an empty protobuf body with 200 and an empty response', async () => {
      const r = await request(url, { headers: PROTO_CT, body: Buffer.alloc(0) });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/x-protobuf');
      assert.equal(r.body.length, 0);
      assertNothingStored();
    });

    it('answers an empty JSON body and an empty JSON object with 200 {}', async () => {
      for (const body of ['', '{}', '{"resourceSpans":[]}']) {
        const r = await request(url, { headers: JSON_CT, body });
        assert.equal(r.status, 200, body);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.deepEqual(JSON.parse(r.body.toString()), {});
      }
      assertNothingStored();
    });

    it('accepts gzip bodies, JSON and protobuf', async () => {
      const r1 = await request(url, {
        headers: { ...JSON_CT, 'Content-Encoding': 'gzip' },
        body: zlib.gzipSync(jsonTraces([jsonSpan()])),
      });
      assert.equal(r1.status, 200);
      const r2 = await request(url, {
        headers: { ...PROTO_CT, 'Content-Encoding': 'gzip' },
        body: zlib.gzipSync(protoTraces([protoSpan({ spanId: Buffer.from('0102030405060708', 'hex') })])),
      });
      assert.equal(r2.status, 200);
      assert.deepEqual(rx.sink.spans.map((s) => s.spanId), [SPAN, '0102030405060708']);
      assert.equal(rx.sink.spans[0].traceId, TRACE);
      assert.equal(rx.sink.spans[0].startMs, 1700000000000);
      assert.equal(rx.sink.spans[0].endMs, 1700000000001.5);
      assert.deepEqual(rx.sink.spans[0].http, { method: 'GET', route: '/items/{id}' });
    });

    it('accepts a charset parameter and a query string', async () => {
      const r = await request(`${url}?x=1`, { headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: jsonTraces([jsonSpan()]) });
      assert.equal(r.status, 200);
      assert.equal(rx.sink.spans.length, 1);
    });

    it('ignores unknown fields in JSON at every level', async () => {
      const body = JSON.stringify({
        futureTopLevel: { a: 1 },
        resourceSpans: [
          {
            resource: { attributes: [], droppedAttributesCount: 0, entityRefs: [{ type: 'x' }] },
            schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
            scopeSpans: [{ scope: { name: 's', version: '1', somethingNew: true }, spans: [jsonSpan({ flags: 257, droppedEventsCount: 2, brandNewField: [1, 2] })] }],
          },
        ],
      });
      const r = await request(url, { headers: JSON_CT, body });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body.toString()), {});
      assert.equal(rx.sink.spans.length, 1);
    });

    it('skips unknown protobuf fields (newer schema versions)', async () => {
      // A span with fields this schema does not declare: flags (16, fixed32), dropped counts, and an
      // invented length-delimited field 99.
      const extra = Buffer.from([
        0x85, 0x01, 0x01, 0x01, 0x00, 0x00, // field 16, wire type 5 (fixed32) = 257
        0x50, 0x07, // field 10 (dropped_attributes_count), varint 7
        0x9a, 0x06, 0x03, 0x61, 0x62, 0x63, // field 99, length-delimited "abc"
      ]);
      const span = Buffer.concat([spanBytes(protoSpan()), extra]);
      const body = wrap(1, wrap(2, wrap(2, span)));
      const r = await request(url, { headers: PROTO_CT, body });
      assert.equal(r.status, 200);
      assert.equal(rx.sink.spans.length, 1);
      assert.equal(rx.sink.spans[0].spanId, SPAN);
    });

    it('answers in JSON for JSON and in protobuf for protobuf', async () => {
      const j = await request(url, { headers: JSON_CT, body: jsonTraces([jsonSpan()]) });
      assert.equal(j.headers['content-type'], 'application/json');
      const p = await request(url, { headers: PROTO_CT, body: protoTraces([protoSpan()]) });
      assert.equal(p.headers['content-type'], 'application/x-protobuf');
    });
  });

  describe('partial success', () => {
    it('rejects spans with ids of the wrong length or all zeros and keeps the rest (JSON)', async () => {
      const spans = [
        jsonSpan({ spanId: '0000000000000001' }),
        jsonSpan({ traceId: TRACE.slice(2) }),
        jsonSpan({ traceId: '0'.repeat(32) }),
        jsonSpan({ spanId: 'eee19b7ec3c1b1' }),
        jsonSpan({ spanId: 'zzzzzzzzzzzzzzzz' }),
        jsonSpan({ parentSpanId: 'abcd' }),
        // Base64 ids are standard proto3 JSON but not OTLP/JSON, which says hex.
        jsonSpan({ traceId: Buffer.from(TRACE, 'hex').toString('base64') }),
        jsonSpan({ spanId: '0000000000000002', parentSpanId: '0000000000000000' }),
      ];
      const r = await request(url, { headers: JSON_CT, body: jsonTraces(spans) });
      assert.equal(r.status, 200);
      const body = JSON.parse(r.body.toString());
      assert.equal(body.partialSuccess.rejectedSpans, '6', 'int64 as a decimal string');
      assert.match(body.partialSuccess.errorMessage, /invalid trace id \(3\)/);
      assert.match(body.partialSuccess.errorMessage, /invalid span id \(2\)/);
      assert.match(body.partialSuccess.errorMessage, /invalid parent span id \(1\)/);
      assert.deepEqual(rx.sink.spans.map((s) => s.spanId), ['0000000000000001', '0000000000000002']);
      assert.equal(rx.sink.spans[1].parentSpanId, undefined, 'an all-zero parent means a root span');
      assert.equal(rx.counters.get('otlp.spans.rejected'), 6);
      assert.equal(rx.counters.get('otlp.spans.accepted'), 2);
    });

    it('rejects spans with ids of the wrong length (protobuf) with a protobuf partialSuccess', async () => {
      const body = protoTraces([
        protoSpan(),
        protoSpan({ traceId: Buffer.alloc(15, 1) }),
        protoSpan({ spanId: Buffer.alloc(9, 1) }),
        protoSpan({ spanId: Buffer.alloc(8, 0) }),
        protoSpan({ traceId: Buffer.alloc(0) }),
      ]);
      const r = await request(url, { headers: PROTO_CT, body });
      assert.equal(r.status, 200);
      const t = otlpTypes().traceResponse;
      const resp = t.toObject(t.decode(r.body), { longs: Number }) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
      assert.equal(resp.partialSuccess.rejectedSpans, 4);
      assert.match(resp.partialSuccess.errorMessage, /^rejected 4 spans: /);
      assert.equal(rx.sink.spans.length, 1);
    });

    it('rejects spans that end before they start or have no timestamps', async () => {
      const spans = [
        jsonSpan({ startTimeUnixNano: T1, endTimeUnixNano: T0 }),
        jsonSpan({ startTimeUnixNano: undefined }),
        jsonSpan({ endTimeUnixNano: 'soon' }),
        jsonSpan({ spanId: '1111111111111111', startTimeUnixNano: 1700000000000000000, endTimeUnixNano: 1700000000002000000 }),
      ];
      const r = await request(url, { headers: JSON_CT, body: jsonTraces(spans) });
      const body = JSON.parse(r.body.toString());
      assert.equal(body.partialSuccess.rejectedSpans, '3');
      assert.match(body.partialSuccess.errorMessage, /end before start \(1\)/);
      assert.equal(rx.sink.spans.length, 1, 'int64 given as a JSON number is accepted too');
      // A JSON number this large is already rounded by the sender's double (to 256 ns).
      assert.ok(Math.abs(rx.sink.spans[0].endMs - rx.sink.spans[0].startMs - 2) < 0.001);
    });

    it('rejects non-finite metric values and keeps non-finite attribute values as text', async () => {
      const point = (value: Record<string, unknown>) => ({ timeUnixNano: T1, ...value });
      const metrics = {
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  { name: 'g', gauge: { dataPoints: [point({ asDouble: 'NaN' }), point({ asDouble: 'Infinity' }), point({ asDouble: 1.5 }), point({ asInt: '7' })] } },
                  {
                    name: 'h',
                    unit: 'ms',
                    histogram: {
                      aggregationTemporality: 1,
                      dataPoints: [
                        point({ count: '1', sum: 'Infinity', bucketCounts: ['1', '0'], explicitBounds: [10] }),
                        point({ count: '1', sum: 3, bucketCounts: ['1', '0'], explicitBounds: ['-Infinity'] }),
                        point({ count: '2', sum: 3, bucketCounts: ['1', '0'], explicitBounds: [10] }),
                        point({ count: '2', sum: 3, bucketCounts: ['1', '1'], explicitBounds: [10] }),
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
      };
      const r = await request(`${rx.httpUrl}/v1/metrics`, { headers: JSON_CT, body: JSON.stringify(metrics) });
      assert.equal(r.status, 200);
      const body = JSON.parse(r.body.toString());
      assert.equal(body.partialSuccess.rejectedDataPoints, '5');
      assert.match(body.partialSuccess.errorMessage, /non-finite value \(2\)/);
      assert.match(body.partialSuccess.errorMessage, /bucket counts do not add up to count \(1\)/);
      assert.deepEqual(rx.sink.metrics.map((p) => p.value ?? p.histogram?.count), [1.5, 7, 2]);

      const spans = [jsonSpan({ attributes: [{ key: 'ratio', value: { doubleValue: 'NaN' } }, { key: 'max', value: { doubleValue: '-Infinity' } }] })];
      const r2 = await request(url, { headers: JSON_CT, body: jsonTraces(spans) });
      assert.deepEqual(JSON.parse(r2.body.toString()), {});
      assert.equal(rx.sink.spans[0].attributes.ratio, 'NaN');
      assert.equal(rx.sink.spans[0].attributes.max, '-Infinity');
    });

    it('rejects a NaN gauge sent as protobuf', async () => {
      const t = otlpTypes().metricsRequest;
      const msg = t.fromObject({
        resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: T1, asDouble: NaN }, { timeUnixNano: T1, asDouble: 2 }] } }] }] }],
      });
      const r = await request(`${rx.httpUrl}/v1/metrics`, { headers: PROTO_CT, body: Buffer.from(t.encode(msg).finish()) });
      assert.equal(r.status, 200);
      const rt = otlpTypes().metricsResponse;
      const resp = rt.toObject(rt.decode(r.body), { longs: Number }) as { partialSuccess: { rejectedDataPoints: number } };
      assert.equal(resp.partialSuccess.rejectedDataPoints, 1);
      assert.deepEqual(rx.sink.metrics.map((p) => p.value), [2]);
    });
  });

  describe('refused', () => {
    it('answers truncated protobuf with 400 and a protobuf google.rpc.Status', async () => {
      const full = protoTraces([protoSpan(), protoSpan()]);
      const r = await request(url, { headers: PROTO_CT, body: full.subarray(0, full.length - 7) });
      assert.equal(r.status, 400);
      assert.equal(r.headers['content-type'], 'application/x-protobuf');
      const s = statusOf(r);
      assert.equal(s.code, 3);
      assert.match(s.message, /invalid protobuf/);
      assertNothingStored();
      assert.equal(rx.counters.get('otlp.http.rejected.400'), 1);
    });

    it('answers bad JSON with 400 and a JSON google.rpc.Status', async () => {
      for (const body of ['{"resourceSpans": [', 'null', '[]', '"x"', '{"resourceSpans": 5}', '{"resourceSpans":[{"scopeSpans":[{"spans":{}}]}]}']) {
        const r = await request(url, { headers: JSON_CT, body });
        assert.equal(r.status, 400, body);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.equal(statusOf(r).code, 3);
      }
      assertNothingStored();
    });

    it('refuses a request whose resource is malformed, keeping none of its valid spans', async () => {
      const body = JSON.stringify({
        resourceSpans: [
          { scopeSpans: [{ spans: [jsonSpan()] }] },
          { resource: { attributes: [{ key: 7, value: { stringValue: 'x' } }] }, scopeSpans: [{ spans: [jsonSpan()] }] },
        ],
      });
      const r = await request(url, { headers: JSON_CT, body });
      assert.equal(r.status, 400);
      assertNothingStored();
    });

    it('answers other content types and encodings with 415', async () => {
      const cases: Record<string, string | number>[] = [
        { 'Content-Type': 'text/plain' },
        { 'Content-Type': 'application/protobuf' },
        { 'Content-Type': 'application/json; charset=latin1' },
        {},
        { ...JSON_CT, 'Content-Encoding': 'br' },
      ];
      for (const headers of cases) {
        const r = await request(url, { headers, body: jsonTraces([jsonSpan()]) });
        assert.equal(r.status, 415, JSON.stringify(headers));
      }
      assertNothingStored();
      assert.equal(rx.counters.get('otlp.http.rejected.415'), cases.length);
    });

    it('answers other methods with 405 and Allow: POST', async () => {
      for (const method of ['GET', 'PUT', 'DELETE', 'OPTIONS']) {
        const r = await request(url, { method, headers: JSON_CT });
        assert.equal(r.status, 405, method);
        assert.equal(r.headers.allow, 'POST');
      }
      assertNothingStored();
    });

    it('answers unknown paths with 404', async () => {
      for (const path of ['/v1/profiles', '/__proto__', '/constructor', '/v1/traces/']) {
        const r = await request(`${rx.httpUrl}${path}`, { headers: PROTO_CT, body: Buffer.alloc(0) });
        assert.equal(r.status, 404, path);
      }
      assertNothingStored();
    });

    it('answers a body over the limit with 413, declared or streamed', async () => {
      const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
      const declared = await request(url, { headers: { ...JSON_CT, 'Content-Length': big.length }, body: big });
      assert.equal(declared.status, 413);
      assert.equal(statusOf(declared).code, 8);
      // Chunked, no Content-Length: refused once the running total passes the limit.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const streamed = await request(url, { headers: JSON_CT, chunks: Array.from({ length: 40 }, () => chunk) });
      assert.equal(streamed.status, 413);
      assertNothingStored();
    });

    it('answers a gzip bomb with 413 without inflating it', async () => {
      // 16 gzip members of 16 MiB of zeros each: ~260 KB on the wire, 256 MiB inflated.
      const member = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
      const bomb = Buffer.concat(Array.from({ length: 16 }, () => member));
      assert.ok(bomb.length < 1024 * 1024, 'the compressed body is within the limit');
      const base = process.memoryUsage().arrayBuffers;
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 1);
      const started = Date.now();
      const r = await request(url, { headers: { ...JSON_CT, 'Content-Encoding': 'gzip' }, body: bomb });
      clearInterval(sampler);
      assert.equal(r.status, 413);
      assert.match(statusOf(r).message, /decompressed body over/);
      assert.ok(peak < 32 * 1024 * 1024, `memory stayed bounded (peak +${(peak / 1048576).toFixed(1)} MiB)`);
      assert.ok(Date.now() - started < 5000, 'decompression stopped early');
      assertNothingStored();
    });

    it('answers an invalid gzip body with 400', async () => {
      const r = await request(url, { headers: { ...JSON_CT, 'Content-Encoding': 'gzip' }, body: 'definitely not gzip' });
      assert.equal(r.status, 400);
      assertNothingStored();
    });

    it('survives absurd nesting without crashing', async () => {
      let value = '{"stringValue":"x"}';
      for (let i = 0; i < 5000; i++) value = `{"arrayValue":{"values":[${value}]}}`;
      const body = jsonTraces([JSON.parse(JSON.stringify(jsonSpan())), { ...jsonSpan(), spanId: '2222222222222222' }]).replace(
        '"attributes":[',
        `"attributes":[{"key":"deep","value":${value}},`,
      );
      const r = await request(url, { headers: JSON_CT, body });
      assert.equal(r.status, 200);
      assert.equal(rx.sink.spans.length, 2);
      const ok = await request(url, { headers: JSON_CT, body: jsonTraces([jsonSpan()]) });
      assert.equal(ok.status, 200, 'still serving');
    });
  });

  describe('cumulative metrics by hand', () => {
    const metricsBody = (points: { start: string; time: string; value: number }[], attrs: Record<string, string> = { route: '/a' }) =>
      JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'edge' } }] },
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'requests',
                    sum: {
                      aggregationTemporality: 2,
                      isMonotonic: true,
                      dataPoints: points.map((p) => ({
                        startTimeUnixNano: p.start,
                        timeUnixNano: p.time,
                        asInt: String(p.value),
                        attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
                      })),
                    },
                  },
                ],
              },
            ],
          },
        ],
      });
    const ns = (ms: number) => `${ms}000000`;

    it('detects a reset that keeps its start time by the value going down', async () => {
      const startMs = Date.now();
      const start = ns(startMs);
      const send = (time: number, value: number) =>
        request(`${rx.httpUrl}/v1/metrics`, { headers: JSON_CT, body: metricsBody([{ start, time: ns(time), value }]) });
      const t = startMs + 1000;
      await send(t, 10);
      await send(t + 1000, 15);
      await send(t + 2000, 3);
      await send(t + 1500, 20); // out of order: dropped
      await send(t + 3000, 4);
      assert.deepEqual(rx.sink.metrics.map((p) => p.value), [10, 5, 3, 1]);
      assert.deepEqual(
        rx.sink.metrics.map((p) => p.startMs),
        [startMs, t, t + 1000, t + 2000],
      );
    });

    it('only takes a baseline from a series that was running before the receiver started', async () => {
      const start = ns(Date.now() - 3_600_000);
      const t = Date.now();
      await request(`${rx.httpUrl}/v1/metrics`, { headers: JSON_CT, body: metricsBody([{ start, time: ns(t), value: 5000 }]) });
      assert.equal(rx.sink.metrics.length, 0, 'an hour of history is not "now"');
      await request(`${rx.httpUrl}/v1/metrics`, { headers: JSON_CT, body: metricsBody([{ start, time: ns(t + 1000), value: 5007 }]) });
      assert.deepEqual(rx.sink.metrics.map((p) => p.value), [7]);
    });

    it('leaves the converter untouched when a request is refused', async () => {
      const start = ns(Date.now());
      const t = Date.now() + 1000;
      const good = JSON.parse(metricsBody([{ start, time: ns(t), value: 10 }]));
      const bad = { resourceMetrics: [...good.resourceMetrics, { scopeMetrics: 'nope' }] };
      const r = await request(`${rx.httpUrl}/v1/metrics`, { headers: JSON_CT, body: JSON.stringify(bad) });
      assert.equal(r.status, 400);
      assert.equal(rx.cumulative.size, 0);
      await request(`${rx.httpUrl}/v1/metrics`, { headers: JSON_CT, body: JSON.stringify(good) });
      assert.deepEqual(rx.sink.metrics.map((p) => p.value), [10]);
    });

    it('keeps separate series for processes that share a resource but not a start time', async () => {
      const t = Date.now() + 1000;
      const a = ns(Date.now());
      const b = ns(Date.now() + 1);
      const send = (start: string, time: number, value: number) =>
        request(`${rx.httpUrl}/v1/metrics`, { headers: JSON_CT, body: metricsBody([{ start, time: ns(time), value }]) });
      await send(a, t, 100);
      await send(b, t + 1, 2);
      await send(a, t + 1000, 110);
      await send(b, t + 1001, 5);
      assert.deepEqual(rx.sink.metrics.map((p) => p.value), [100, 2, 10, 3]);
    });
  });
});

/** The bytes of one Span message (without its tag), via the schema. */
function spanBytes(span: Record<string, unknown>): Buffer {
  const t = otlpTypes().root.lookupType('opentelemetry.proto.trace.v1.Span');
  return Buffer.from(t.encode(t.fromObject(span)).finish());
}

/** A length-delimited field around `payload`. */
function wrap(field: number, payload: Buffer): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  return Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);
}
