/**
 * Quantiles from classic histogram buckets, computed exactly as PromQL's `histogram_quantile`
 * (promql/quantile.go: bucketQuantile, coalesceBuckets, ensureMonotonicAndIgnoreSmallDeltas), so a
 * figure shown here is the figure a Grafana panel over the same buckets shows.
 */
import type { HistogramValue, SummaryValue } from '../model';

export interface QuantileBucket {
  upperBound: number;
  /** Cumulative count of observations at or below `upperBound`. */
  count: number;
}

/** PromQL's tolerance for float noise between adjacent cumulative counts. */
const SMALL_DELTA_TOLERANCE = 1e-12;
const MIN_NORMAL = 2.2250738585072014e-308;

/** Go's `almost.Equal` from the Prometheus code base. */
function almostEqual(a: number, b: number, epsilon: number): boolean {
  if (a !== a && b !== b) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

/** Go's sort.Search: the smallest i in [0, n) for which f(i) is true, else n. */
function search(n: number, f: (i: number) => boolean): number {
  let i = 0;
  let j = n;
  while (i < j) {
    const h = (i + j) >>> 1;
    if (!f(h)) i = h + 1;
    else j = h;
  }
  return i;
}

export interface QuantileResult {
  value: number;
  /** Some cumulative count went down and was raised to its predecessor (PromQL annotates this). */
  forcedMonotonic: boolean;
  /** Float noise between adjacent counts was smoothed. */
  fixedPrecision: boolean;
}

/**
 * The q-quantile of cumulative buckets, as `histogram_quantile(q, ...)`:
 * - q < 0 gives -Inf, q > 1 gives +Inf, NaN q gives NaN;
 * - without a +Inf bucket, with fewer than two buckets, or with no observations: NaN;
 * - buckets with the same bound are merged; a count lower than the one before is raised to it;
 * - the bucket holding rank q*count is interpolated linearly from its lower to its upper bound;
 *   the lowest bucket starts at 0 when its bound is positive (else its bound is the answer);
 * - a rank in the +Inf bucket gives the upper bound of the highest finite bucket.
 */
export function bucketQuantile(q: number, input: readonly QuantileBucket[]): QuantileResult {
  const nan = { value: NaN, forcedMonotonic: false, fixedPrecision: false };
  if (q !== q) return nan;
  if (q < 0) return { ...nan, value: -Infinity };
  if (q > 1) return { ...nan, value: Infinity };
  if (input.length === 0) return nan;
  const sorted = input.map((b) => ({ upperBound: b.upperBound, count: b.count }));
  sorted.sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (sorted[sorted.length - 1].upperBound !== Infinity) return nan;

  const buckets = coalesce(sorted);
  let forcedMonotonic = false;
  let fixedPrecision = false;
  let prev = buckets[0].count;
  for (let i = 1; i < buckets.length; i++) {
    const curr = buckets[i].count;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, SMALL_DELTA_TOLERANCE)) {
      buckets[i].count = prev;
      fixedPrecision = true;
      continue;
    }
    if (curr < prev) {
      buckets[i].count = prev;
      forcedMonotonic = true;
      continue;
    }
    prev = curr;
  }

  if (buckets.length < 2) return { ...nan, forcedMonotonic, fixedPrecision };
  const observations = buckets[buckets.length - 1].count;
  if (observations === 0) return { ...nan, forcedMonotonic, fixedPrecision };
  let rank = q * observations;
  const b = search(buckets.length - 1, (i) => buckets[i].count >= rank);

  if (b === buckets.length - 1) return { value: buckets[buckets.length - 2].upperBound, forcedMonotonic, fixedPrecision };
  if (b === 0 && buckets[0].upperBound <= 0) return { value: buckets[0].upperBound, forcedMonotonic, fixedPrecision };
  let bucketStart = 0;
  const bucketEnd = buckets[b].upperBound;
  let count = buckets[b].count;
  if (b > 0) {
    bucketStart = buckets[b - 1].upperBound;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return { value: bucketStart + (bucketEnd - bucketStart) * (rank / count), forcedMonotonic, fixedPrecision };
}

function coalesce(buckets: QuantileBucket[]): QuantileBucket[] {
  let last = buckets[0];
  let i = 0;
  for (let k = 1; k < buckets.length; k++) {
    const b = buckets[k];
    if (b.upperBound === last.upperBound) {
      last = { upperBound: last.upperBound, count: last.count + b.count };
    } else {
      buckets[i] = last;
      last = b;
      i++;
    }
  }
  buckets[i] = last;
  return buckets.slice(0, i + 1);
}

/** `histogram_quantile(q, buckets)` as a number. */
export function histogramQuantile(q: number, buckets: readonly QuantileBucket[]): number {
  return bucketQuantile(q, buckets).value;
}

/** Cumulative buckets (with +Inf) of a model histogram, whose counts are per bucket. */
export function cumulativeBuckets(h: HistogramValue): QuantileBucket[] {
  const out: QuantileBucket[] = [];
  let acc = 0;
  for (let i = 0; i < h.counts.length; i++) {
    acc += h.counts[i];
    out.push({ upperBound: i < h.bounds.length ? h.bounds[i] : Infinity, count: acc });
  }
  return out;
}

/** `histogram_quantile` over a model histogram (for instance the sum of a window's deltas). */
export function histogramValueQuantile(q: number, h: HistogramValue): number {
  return histogramQuantile(q, cumulativeBuckets(h));
}

/** Adds histograms with the same bounds, e.g. the per-scrape deltas of a window. Undefined when layouts differ. */
export function mergeHistograms(hs: readonly HistogramValue[]): HistogramValue | undefined {
  if (hs.length === 0) return undefined;
  const bounds = hs[0].bounds;
  const counts = new Array<number>(hs[0].counts.length).fill(0);
  let sum = 0;
  let count = 0;
  for (const h of hs) {
    if (h.bounds.length !== bounds.length || h.counts.length !== counts.length) return undefined;
    for (let i = 0; i < bounds.length; i++) if (h.bounds[i] !== bounds[i]) return undefined;
    for (let i = 0; i < counts.length; i++) counts[i] += h.counts[i];
    sum += h.sum;
    count += h.count;
  }
  return { bounds: [...bounds], counts, sum, count };
}

/**
 * A summary's own q-quantile when it publishes that quantile (client-side quantiles cannot be
 * recomputed or interpolated meaningfully); NaN when it does not.
 */
export function summaryQuantile(q: number, s: SummaryValue): number {
  for (const x of s.quantiles) if (x.quantile === q) return x.value;
  for (const x of s.quantiles) if (Math.abs(x.quantile - q) < 1e-9) return x.value;
  return NaN;
}
