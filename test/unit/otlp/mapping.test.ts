import * as assert from 'node:assert/strict';
import type { MetricPoint } from '../../../src/core/model';
import { CumulativeToDelta } from '../../../src/core/otlp/cumulative';
import { diffExp, downscale, expToExplicit, MAX_EXPLICIT_BUCKETS, type ExpHistogram } from '../../../src/core/otlp/exphist';
import { mapLogs, severityOf } from '../../../src/core/otlp/logs';
import { histogramToMs, httpServerDuration, msFactor } from '../../../src/core/otlp/units';
import { anyValue, attributes, id, nanosToMs, resourceOf } from '../../../src/core/otlp/values';

const resource = { serviceName: 's', attributes: {} };

function sumPoint(startMs: number, timeMs: number, value: number): MetricPoint {
  return { name: 'c', kind: 'sum', monotonic: true, startMs, timeMs, value, attributes: {}, resource };
}

function histPoint(startMs: number, timeMs: number, counts: number[], sum: number, bounds = [1, 10]): MetricPoint {
  const count = counts.reduce((a, b) => a + b, 0);
  return { name: 'h', kind: 'histogram', startMs, timeMs, attributes: {}, resource, histogram: { bounds, counts, sum, count } };
}

describe('OTLP mapping pieces', () => {
  describe('CumulativeToDelta', () => {
    it('emits differences, treats a drop as a reset and drops stale points', () => {
      const c = new CumulativeToDelta({ startedAtMs: 1000 });
      const out = [
        c.convert('k', sumPoint(2000, 3000, 10)),
        c.convert('k', sumPoint(2000, 4000, 25)),
        c.convert('k', sumPoint(2000, 4000, 26)),
        c.convert('k', sumPoint(2000, 5000, 4)),
      ];
      assert.deepEqual(out.map((p) => p?.value), [10, 15, undefined, 4]);
      assert.deepEqual(out.map((p) => p?.startMs), [2000, 3000, undefined, 4000]);
      assert.deepEqual(c.stats, { baselines: 0, resets: 1, outOfOrder: 1, evicted: 0 });
    });

    it('subtracts histograms bucket by bucket and spots a reset in any bucket', () => {
      const c = new CumulativeToDelta({ startedAtMs: 0 });
      c.convert('h', histPoint(1, 10, [1, 2, 0], 12));
      const d = c.convert('h', histPoint(1, 20, [1, 5, 1], 50));
      assert.deepEqual(d?.histogram, { bounds: [1, 10], counts: [0, 3, 1], sum: 38, count: 4 });
      const reset = c.convert('h', histPoint(1, 30, [3, 4, 1], 40));
      assert.deepEqual(reset?.histogram?.counts, [3, 4, 1], 'a bucket went down: the whole value is new');
      const relayout = c.convert('h', histPoint(1, 40, [5, 5, 1, 0], 60, [1, 10, 100]));
      assert.equal(relayout, undefined, 'new bounds: a baseline, never a bogus difference');
    });

    it('forgets the least recently updated series beyond its bound', () => {
      const c = new CumulativeToDelta({ startedAtMs: 0, maxSeries: 2 });
      c.convert('a', sumPoint(1, 10, 1));
      c.convert('b', sumPoint(1, 10, 1));
      c.convert('a', sumPoint(1, 20, 2));
      c.convert('c', sumPoint(1, 10, 1));
      assert.equal(c.size, 2);
      assert.equal(c.stats.evicted, 1);
      assert.equal(c.convert('a', sumPoint(1, 30, 5))?.value, 3, 'a was kept (recently updated)');
      assert.equal(c.convert('b', sumPoint(1, 30, 9))?.value, 9, 'b was forgotten: a fresh series again');
    });
  });

  describe('exponential histograms', () => {
    const exp = (scale: number, offset: number, counts: number[], low = 0): ExpHistogram => ({
      scale,
      offset,
      counts,
      low,
      zeroThreshold: 0,
      count: low + counts.reduce((a, b) => a + b, 0),
      sum: 0,
    });

    it('uses the exponential boundaries as explicit bounds', () => {
      // Scale 0: base 2; bucket k holds (2^k, 2^(k+1)].
      const h = expToExplicit(exp(0, 1, [3, 0, 2], 4));
      assert.deepEqual(h.bounds, [2, 4, 8, 16]);
      assert.deepEqual(h.counts, [4, 3, 0, 2, 0]);
      const fine = expToExplicit(exp(2, -1, [1]));
      assert.deepEqual(fine.bounds, [2 ** -0.25, 1]);
    });

    it('downscales by merging index k into k >> 1, negative indexes included', () => {
      const d = downscale(exp(1, -3, [1, 2, 3, 4]), 0);
      // Indexes -3..0 map to -2, -1, -1, 0.
      assert.equal(d.offset, -2);
      assert.deepEqual(d.counts, [1, 5, 4]);
    });

    it('caps the number of explicit buckets', () => {
      const wide = exp(20, 0, Array.from({ length: 5000 }, () => 1));
      const h = expToExplicit(wide);
      assert.ok(h.counts.length <= MAX_EXPLICIT_BUCKETS + 2);
      assert.equal(h.counts.reduce((a, b) => a + b, 0), 5000);
      for (let i = 1; i < h.bounds.length; i++) assert.ok(h.bounds[i] > h.bounds[i - 1]);
    });

    it('diffs cumulative histograms whose offset moved and scale dropped', () => {
      const prev = exp(1, 4, [2, 1]);
      const cur = exp(0, 1, [0, 3, 4]);
      const d = diffExp(cur, prev)!;
      // prev at scale 0: indexes 4,5 -> 2,2 => offset 2, [3].
      assert.equal(d.scale, 0);
      assert.equal(d.count, 7 - 3);
      const total = d.counts.reduce((a, b) => a + b, 0);
      assert.equal(total, 4);
      assert.equal(diffExp(exp(0, 0, [1]), exp(0, 0, [2])), undefined, 'a bucket went down: reset');
      assert.equal(diffExp(exp(3, 0, [5]), exp(1, 0, [1])), undefined, 'the scale went up: reset');
    });
  });

  describe('units', () => {
    const h = (name: string, unit?: string): MetricPoint => ({
      name,
      unit,
      kind: 'histogram',
      timeMs: 1,
      attributes: {},
      resource,
      histogram: { bounds: [0.1, 1], counts: [1, 1, 0], sum: 0.6, count: 2 },
    });

    it('turns seconds into milliseconds and leaves milliseconds alone', () => {
      assert.deepEqual(histogramToMs(h('http.server.request.duration', 's'))?.bounds, [100, 1000]);
      assert.equal(histogramToMs(h('http.server.request.duration', 's'))?.sum, 600);
      assert.deepEqual(histogramToMs(h('http.server.duration', 'ms'))?.bounds, [0.1, 1]);
      assert.deepEqual(histogramToMs(h('x', 'us'))?.bounds, [0.0001, 0.001]);
    });

    it('falls back to the convention when the unit is missing, and refuses non-durations', () => {
      assert.deepEqual(histogramToMs(h('http.server.request.duration'))?.bounds, [100, 1000]);
      assert.deepEqual(histogramToMs(h('http.server.duration'))?.bounds, [0.1, 1]);
      assert.equal(histogramToMs(h('payload.size', 'By')), undefined);
      assert.equal(histogramToMs(h('mystery')), undefined);
      assert.equal(msFactor('min'), 60_000);
    });

    it('recognises HTTP server duration histograms of both generations', () => {
      const stable = h('http.server.request.duration', 's');
      stable.attributes = { 'http.request.method': 'GET', 'http.route': '/items/{id}', 'http.response.status_code': 503 };
      assert.deepEqual(httpServerDuration(stable), { service: 's', method: 'GET', route: '/items/{id}', statusCode: 503, error: true, histogramMs: histogramToMs(stable) });
      const old = h('http.server.duration', 'ms');
      old.attributes = { 'http.method': 'post', 'http.route': '/orders', 'http.status_code': 201 };
      assert.equal(httpServerDuration(old)?.method, 'POST');
      assert.equal(httpServerDuration(old)?.error, false);
      const noRoute = h('http.server.duration', 'ms');
      noRoute.attributes = { 'http.method': 'GET', 'http.target': '/items/42' };
      assert.equal(httpServerDuration(noRoute), undefined, 'a raw path is not a route');
      assert.equal(httpServerDuration(h('db.duration', 's')), undefined);
    });
  });

  describe('values', () => {
    it('converts nanosecond timestamps exactly, from Long, string and number', () => {
      const big = 1700000000123456789n;
      const ns = { low: Number(big & 0xffffffffn) | 0, high: Number(big >> 32n) | 0, unsigned: true };
      assert.equal(nanosToMs(ns, 't'), 1700000000123.456789);
      assert.equal(nanosToMs('1700000000123456789', 't'), 1700000000123.456789);
      assert.equal(nanosToMs('999', 't'), 0.000999);
      assert.equal(nanosToMs(undefined, 't'), 0);
      assert.throws(() => nanosToMs('-5', 't'));
      assert.throws(() => nanosToMs('1e18', 't'));
    });

    it('reads ids as lowercase hex and treats all zeros as absent', () => {
      assert.equal(id('ABCDEF0123456789', 8, true, 'span id'), 'abcdef0123456789');
      assert.equal(id(Buffer.from('abcdef0123456789', 'hex'), 8, false, 'span id'), 'abcdef0123456789');
      assert.equal(id(new Uint8Array(8), 8, false, 'span id'), '');
      assert.equal(id('', 16, true, 'trace id'), '');
      assert.throws(() => id('abc', 8, true, 'span id'), /invalid span id/);
      assert.throws(() => id(12, 8, true, 'span id'), /invalid span id/);
    });

    it('maps any-values: bytes as base64, big ints as exact text, nested lists and maps', () => {
      assert.equal(anyValue({ bytesValue: 'AQID' }, true), 'AQID');
      assert.equal(anyValue({ intValue: '9007199254740993' }, true), '9007199254740993');
      assert.equal(anyValue({ intValue: '-42' }, true), -42);
      assert.deepEqual(anyValue({ kvlistValue: { values: [{ key: 'a', value: { arrayValue: { values: [{ boolValue: true }, {}] } } }] } }, true), { a: [true, null] });
      assert.equal(anyValue({}, true), null);
      assert.throws(() => anyValue({ boolValue: 'yes' }, true));
    });

    it('never lets an attribute key replace the prototype', () => {
      const attrs = attributes([{ key: '__proto__', value: { kvlistValue: { values: [{ key: 'polluted', value: { boolValue: true } }] } } }], true);
      assert.deepEqual(Object.keys(attrs), ['__proto__']);
      assert.equal(Object.getPrototypeOf(attrs), Object.prototype);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('maps resources with defaults', () => {
      const r = resourceOf({ attributes: [{ key: 'process.pid', value: { intValue: '77' } }, { key: 'telemetry.sdk.language', value: { stringValue: 'python' } }] }, true);
      assert.equal(r.serviceName, 'unknown_service');
      assert.equal(r.pid, 77);
      assert.equal(r.sdk, 'python');
      assert.equal(resourceOf(undefined, true).serviceName, 'unknown_service');
    });
  });

  describe('logs', () => {
    it('maps severity numbers by block and falls back to the text', () => {
      const cases: [number, string, string][] = [
        [1, '', 'trace'],
        [8, '', 'debug'],
        [9, '', 'info'],
        [13, '', 'warn'],
        [20, '', 'error'],
        [24, '', 'fatal'],
        [0, 'WARNING', 'warn'],
        [0, 'CRITICAL', 'fatal'],
        [0, 'Error', 'error'],
        [0, 'INFO2', 'info'],
        [0, '', 'info'],
        [99, 'DEBUG', 'debug'],
      ];
      for (const [n, t, want] of cases) assert.equal(severityOf(n, t), want, `${n} ${t}`);
    });

    it('takes the observed time, then the arrival time, when the event time is missing', () => {
      const req = {
        resourceLogs: [
          {
            scopeLogs: [
              {
                logRecords: [
                  { observedTimeUnixNano: '1700000000000000000', body: { stringValue: 'a' } },
                  { body: { stringValue: 'b' }, traceId: '', spanId: '' },
                ],
              },
            ],
          },
        ],
      };
      const m = mapLogs(req, true, 42);
      assert.deepEqual(m.items.map((l) => l.timeMs), [1700000000000, 42]);
      assert.equal(m.items[1].traceId, undefined);
    });
  });
});
