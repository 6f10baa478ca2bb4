import * as assert from 'node:assert/strict';
import type { MetricPoint } from '../../../src/core/model';
import { ExpositionTracker, fromCumulative } from '../../../src/core/prometheus/convert';
import { parseExposition } from '../../../src/core/prometheus/parser';
import { resource } from '../helpers/telemetry';

const T0 = 1_700_000_000_000;
const res = resource('shop');

function scrape(tracker: ExpositionTracker, text: string, scrapeMs: number, hasBaseline: boolean, watchStartMs = T0): MetricPoint[] {
  return tracker.convert(parseExposition(text), { resource: res, scrapeMs, hasBaseline, watchStartMs }).points;
}

const counterText = (v: number, created?: number) => `# TYPE reqs_total counter\nreqs_total{code="200"} ${v}\n${created !== undefined ? `# TYPE reqs_created gauge\nreqs_created{code="200"} ${created}\n` : ''}`;

describe('ExpositionTracker: cumulative exposition to model points', () => {
  it('uses a counter first seen as a baseline, then emits deltas', () => {
    const t = new ExpositionTracker();
    assert.deepEqual(scrape(t, counterText(100), T0, false), []);
    const [p] = scrape(t, counterText(130), T0 + 5000, true);
    assert.equal(p.name, 'reqs_total');
    assert.equal(p.kind, 'sum');
    assert.equal(p.monotonic, true);
    assert.equal(p.value, 30);
    assert.equal(p.startMs, T0);
    assert.equal(p.timeMs, T0 + 5000);
    assert.deepEqual(p.attributes, { code: '200' });
    assert.equal(p.resource.serviceName, 'shop');
  });

  it('counts everything after a restart (value went down)', () => {
    const t = new ExpositionTracker();
    scrape(t, counterText(100), T0, false);
    assert.equal(scrape(t, counterText(7), T0 + 5000, true)[0].value, 7);
    assert.equal(scrape(t, counterText(10), T0 + 10_000, true)[0].value, 3);
  });

  it('counts everything after a restart that _created reveals, even when the value went up', () => {
    const t = new ExpositionTracker();
    scrape(t, counterText(5, 1_699_999_000), T0, false);
    const [p] = scrape(t, counterText(8, 1_700_000_003), T0 + 5000, true);
    assert.equal(p.value, 8);
    assert.equal(p.startMs, 1_700_000_003_000);
  });

  it('counts a series whole when it started while watched', () => {
    const t = new ExpositionTracker();
    // Created after watching began: nothing it counted predates Routelens.
    assert.equal(scrape(t, counterText(4, (T0 + 1000) / 1000), T0 + 2000, false)[0].value, 4);
    // Absent from an earlier good scrape of the target: it started since.
    const u = new ExpositionTracker();
    scrape(u, '# TYPE other gauge\nother 1\n', T0, false);
    assert.equal(scrape(u, counterText(9), T0 + 5000, true).find((p) => p.name === 'reqs_total')!.value, 9);
  });

  it('turns histograms into per-scrape delta buckets', () => {
    const h = (c: number[], sum: number) =>
      `# TYPE lat_seconds histogram\n${['0.1', '0.5', '+Inf'].map((le, i) => `lat_seconds_bucket{path="/a",le="${le}"} ${c[i]}`).join('\n')}\nlat_seconds_sum{path="/a"} ${sum}\nlat_seconds_count{path="/a"} ${c[2]}\n`;
    const t = new ExpositionTracker();
    assert.deepEqual(scrape(t, h([1, 3, 4], 2), T0, false), []);
    const [p] = scrape(t, h([3, 8, 10], 5), T0 + 5000, true);
    assert.equal(p.kind, 'histogram');
    assert.equal(p.unit, 's');
    assert.deepEqual(p.attributes, { path: '/a' });
    // cumulative deltas [2, 5, 6] → per bucket [2, 3, 1]
    assert.deepEqual(p.histogram, { bounds: [0.1, 0.5], counts: [2, 3, 1], sum: 3, count: 6 });
    // A restart: the whole current histogram.
    const [q] = scrape(t, h([1, 1, 2], 0.3), T0 + 10_000, true);
    assert.deepEqual(q.histogram, { bounds: [0.1, 0.5], counts: [1, 0, 1], sum: 0.3, count: 2 });
  });

  it('judges each bucket as its own counter: a new bucket starts from its first value, as PromQL increase does', () => {
    const t = new ExpositionTracker();
    scrape(t, '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\n', T0, false);
    // le="2" is new: its first value is its baseline; le="+Inf" went from 1 to 3.
    const [a] = scrape(t, '# TYPE h histogram\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 3\n', T0 + 5000, true);
    assert.deepEqual(a.histogram!.counts, [0, 2]);
    // Monotonic increases need no second copy.
    assert.equal(a.histogram!.cumulativeIncrease, undefined);
    const [b] = scrape(t, '# TYPE h histogram\nh_bucket{le="2"} 4\nh_bucket{le="+Inf"} 5\n', T0 + 10_000, true);
    assert.deepEqual(b.histogram!.counts, [1, 1]);
    assert.equal(b.histogram!.cumulativeIncrease, undefined);
  });

  it('a bucket added between two others counts nothing at first, so the increases are not monotonic', () => {
    const t = new ExpositionTracker();
    scrape(t, '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 4\n', T0, false);
    const [p] = scrape(t, '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="1.5"} 3\nh_bucket{le="+Inf"} 6\n', T0 + 5000, true);
    assert.deepEqual(p.histogram!.bounds, [1, 1.5]);
    assert.deepEqual(p.histogram!.cumulativeIncrease, [1, 0, 2]);
    assert.deepEqual(p.histogram!.counts, [1, 0, 1]);
  });

  it('a bucket that went down restarted on its own; the others keep counting (no _created)', () => {
    const t = new ExpositionTracker();
    const h = (c: number[]) => `# TYPE h histogram\n${['1', '2', '+Inf'].map((le, i) => `h_bucket{le="${le}"} ${c[i]}`).join('\n')}\n`;
    scrape(t, h([5, 8, 10]), T0, false);
    // le=1 and +Inf went down (restarts), le=2 went up by 1.
    const [p] = scrape(t, h([4, 9, 9]), T0 + 5000, true);
    assert.deepEqual(p.histogram!.cumulativeIncrease, [4, 1, 9]);
    // The monotonic per-bucket counts other consumers read raise le=2 to le=1.
    assert.deepEqual(p.histogram!.counts, [4, 0, 5]);
  });

  it('a new _created time restarts every bucket', () => {
    const t = new ExpositionTracker();
    const h = (c: number[], created: number) =>
      `# TYPE h histogram\n${['1', '+Inf'].map((le, i) => `h_bucket{le="${le}"} ${c[i]}`).join('\n')}\nh_created ${created}\n`;
    scrape(t, h([5, 10], T0 / 1000 - 100), T0, false);
    const [p] = scrape(t, h([6, 7], T0 / 1000 + 1), T0 + 5000, true);
    assert.deepEqual(p.histogram!.counts, [6, 1]);
  });

  it('passes gauges, summaries, info and statesets through on every scrape', () => {
    const text = [
      '# TYPE temp gauge',
      'temp 21.5',
      '# TYPE rpc summary',
      'rpc{quantile="0.5"} 0.2',
      'rpc{quantile="0.99"} NaN',
      'rpc_sum 10',
      'rpc_count 40',
      '# TYPE build info',
      'build_info{version="1.2"} 1',
      '# EOF',
    ].join('\n');
    const t = new ExpositionTracker();
    const pts = scrape(t, text, T0, false);
    assert.deepEqual(
      pts.map((p) => [p.name, p.kind]),
      [
        ['temp', 'gauge'],
        ['rpc', 'summary'],
        ['build_info', 'gauge'],
      ],
    );
    assert.deepEqual(pts[1].summary, { quantiles: [{ quantile: 0.5, value: 0.2 }], sum: 10, count: 40 });
  });

  it('derives per-bucket counts from non-monotonic cumulative ones without negatives', () => {
    assert.deepEqual(fromCumulative([1, 2], [5, 3, 6], 1).counts, [5, 0, 1]);
  });

  it('forgets series not seen for a while', () => {
    const t = new ExpositionTracker({ staleMs: 60_000 });
    scrape(t, counterText(1), T0, false);
    assert.equal(t.size, 1);
    scrape(t, '# TYPE g gauge\ng 1\n', T0 + 120_000, true);
    assert.equal(t.size, 0);
  });
});
