import * as assert from 'node:assert/strict';
import { bucketQuantile, histogramQuantile, histogramValueQuantile, mergeHistograms, summaryQuantile, type QuantileBucket } from '../../../src/core/prometheus/quantile';
import { counterDelta, counterIncrease, counterRate } from '../../../src/core/prometheus/rate';

const B = (pairs: [number, number][]): QuantileBucket[] => pairs.map(([upperBound, count]) => ({ upperBound, count }));
const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} vs ${b}`);

describe('histogram_quantile (PromQL semantics), hand-computed', () => {
  // 100 observations: 10 at or below 0.1, 50 at or below 0.5, 90 at or below 1, all at or below +Inf.
  const h = B([
    [0.1, 10],
    [0.5, 50],
    [1, 90],
    [Infinity, 100],
  ]);

  it('interpolates linearly inside the bucket holding the rank', () => {
    // rank 50 is the top of (0.1, 0.5]: 0.1 + 0.4 * (50 - 10) / 40 = 0.5
    close(histogramQuantile(0.5, h), 0.5);
    // rank 30: 0.1 + 0.4 * (30 - 10) / 40 = 0.3
    close(histogramQuantile(0.3, h), 0.3);
    // rank 75: 0.5 + 0.5 * (75 - 50) / 40 = 0.8125
    close(histogramQuantile(0.75, h), 0.8125);
  });

  it('starts the lowest bucket at 0 when its bound is positive', () => {
    // rank 5 in (0, 0.1]: 0.1 * 5 / 10 = 0.05
    close(histogramQuantile(0.05, h), 0.05);
    close(histogramQuantile(0, h), 0);
  });

  it('answers the highest finite bound for ranks in the +Inf bucket', () => {
    // rank 95 > 90: in +Inf.
    assert.equal(histogramQuantile(0.95, h), 1);
    assert.equal(histogramQuantile(1, h), 1);
  });

  it('answers the bound of a lowest bucket that is not positive', () => {
    const neg = B([
      [-1, 5],
      [0, 10],
      [1, 20],
      [Infinity, 20],
    ]);
    assert.equal(histogramQuantile(0.1, neg), -1);
    // rank 10 in (-1, 0]: -1 + 1 * (10 - 5) / 5 = 0
    close(histogramQuantile(0.5, neg), 0);
    // rank 15 in (0, 1]: 0 + 1 * (15 - 10) / 10 = 0.5
    close(histogramQuantile(0.75, neg), 0.5);
  });

  it('gives ±Inf outside [0, 1] and NaN for NaN q', () => {
    assert.equal(histogramQuantile(-0.1, h), -Infinity);
    assert.equal(histogramQuantile(1.1, h), Infinity);
    assert.ok(Number.isNaN(histogramQuantile(NaN, h)));
  });

  it('gives NaN without +Inf, with fewer than two buckets, or with no observations', () => {
    assert.ok(Number.isNaN(histogramQuantile(0.5, B([[0.1, 1], [1, 2]]))));
    assert.ok(Number.isNaN(histogramQuantile(0.5, B([[Infinity, 5]]))));
    assert.ok(Number.isNaN(histogramQuantile(0.5, B([[0.1, 0], [Infinity, 0]]))));
    assert.ok(Number.isNaN(histogramQuantile(0.5, [])));
  });

  it('sorts buckets and merges equal bounds', () => {
    const shuffled = B([
      [1, 90],
      [Infinity, 100],
      [0.1, 10],
      [0.5, 50],
    ]);
    close(histogramQuantile(0.75, shuffled), 0.8125);
    // Two series' buckets concatenated (as after a sum without `by (le)`): counts add per bound.
    const doubled = [...h, ...h];
    close(histogramQuantile(0.75, doubled), 0.8125);
  });

  it('forces monotonicity by raising a count lower than its predecessor', () => {
    // The 0.5 bucket went down (a scrape caught counters mid-update): treated as 20.
    const r = bucketQuantile(
      0.5,
      B([
        [0.1, 20],
        [0.5, 15],
        [1, 40],
        [Infinity, 40],
      ]),
    );
    assert.equal(r.forcedMonotonic, true);
    // rank 20 is reached at 0.1 (the first bucket with count >= 20): 0 + 0.1 * 20/20 = 0.1
    close(r.value, 0.1);
    // rank 30: buckets [20, 20, 40]: in (0.5, 1]: 0.5 + 0.5 * (30 - 20) / 20 = 0.75
    close(histogramQuantile(0.75, B([[0.1, 20], [0.5, 15], [1, 40], [Infinity, 40]])), 0.75);
  });

  it('smooths float noise between adjacent counts without calling it non-monotonic', () => {
    const r = bucketQuantile(
      0.5,
      B([
        [1, 10],
        [2, 10 - 1e-15],
        [3, 20],
        [Infinity, 20],
      ]),
    );
    assert.equal(r.fixedPrecision, true);
    assert.equal(r.forcedMonotonic, false);
    close(r.value, 1);
  });

  it('works on model histograms (per-bucket counts) and merges deltas', () => {
    const a = { bounds: [0.1, 0.5, 1], counts: [5, 20, 20, 5], sum: 30, count: 50 };
    const b = { bounds: [0.1, 0.5, 1], counts: [5, 20, 20, 5], sum: 30, count: 50 };
    const m = mergeHistograms([a, b])!;
    assert.deepEqual(m.counts, [10, 40, 40, 10]);
    close(histogramValueQuantile(0.75, m), 0.8125);
    assert.equal(mergeHistograms([a, { ...b, bounds: [0.1, 0.2, 1] }]), undefined);
  });

  it('reads a summary quantile only where the summary publishes it', () => {
    const s = { quantiles: [{ quantile: 0.5, value: 4773 }, { quantile: 0.99, value: 76656 }], sum: 1, count: 1 };
    assert.equal(summaryQuantile(0.99, s), 76656);
    assert.ok(Number.isNaN(summaryQuantile(0.95, s)));
  });
});

describe('counter rates with resets', () => {
  it('takes differences and treats a drop as a restart', () => {
    assert.deepEqual(counterDelta(10, 15), { delta: 5, reset: false });
    assert.deepEqual(counterDelta(10, 3), { delta: 3, reset: true });
    assert.deepEqual(counterDelta({ t: 0, v: 10, createdMs: 1 }, { t: 1, v: 12, createdMs: 2 }), { delta: 12, reset: true });
  });

  it('sums increases through resets and divides by the time covered', () => {
    const samples = [
      { t: 0, v: 100 },
      { t: 5000, v: 150 },
      { t: 10_000, v: 20 }, // restarted: 20 new
      { t: 15_000, v: 50 },
    ];
    assert.deepEqual(counterIncrease(samples), { increase: 50 + 20 + 30, resets: 1 });
    close(counterRate(samples), 100 / 15);
    assert.ok(Number.isNaN(counterRate(samples.slice(0, 1))));
  });
});
