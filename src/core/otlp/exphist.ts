import type { HistogramValue } from '../model';
import { OtlpItemError } from './values';

/**
 * An exponential histogram reduced to what Routelens keeps: positive bucket k of `scale` holds
 * (base^k, base^(k+1)] with base = 2^(2^-scale), `counts[i]` being bucket `offset + i`; `low` is
 * the zero bucket plus every negative bucket (durations and sizes, what Routelens shows, are never
 * negative, so those values only need to be counted, below every positive bound).
 */
export interface ExpHistogram {
  scale: number;
  offset: number;
  counts: number[];
  low: number;
  zeroThreshold: number;
  count: number;
  sum: number;
}

/** Beyond this many positive buckets the histogram is downscaled (adjacent pairs merged). */
export const MAX_EXPLICIT_BUCKETS = 320;
const MAX_ALIGNED_BUCKETS = 4096;

export function checkExp(h: ExpHistogram): void {
  if (!Number.isInteger(h.scale) || h.scale < -10 || h.scale > 20) throw new OtlpItemError('exponential scale out of range');
  if (!Number.isSafeInteger(h.offset) || Math.abs(h.offset) > 2 ** 31) throw new OtlpItemError('exponential offset out of range');
  let total = h.low;
  for (const c of h.counts) total += c;
  if (total !== h.count) throw new OtlpItemError('bucket counts do not add up to count');
}

/** The same histogram one or more scales coarser: index k becomes k >> 1 per step, exactly what the sender would have produced. */
export function downscale(h: ExpHistogram, toScale: number): ExpHistogram {
  let { offset, counts, scale } = h;
  while (scale > toScale) {
    // Flooring (not truncating) keeps negative indexes on the mapping the OTLP spec defines.
    const newOffset = Math.floor(offset / 2);
    const merged: number[] = [];
    for (let i = 0; i < counts.length; i++) {
      const j = Math.floor((offset + i) / 2) - newOffset;
      merged[j] = (merged[j] ?? 0) + counts[i];
    }
    for (let j = 0; j < merged.length; j++) merged[j] ??= 0;
    offset = newOffset;
    counts = merged;
    scale--;
  }
  return { ...h, scale, offset, counts };
}

/**
 * cur - prev for cumulative exponential histograms, aligned by bucket index (senders move the
 * offset and lower the scale as the range grows). Undefined when a bucket went down: a reset.
 */
export function diffExp(cur: ExpHistogram, prev: ExpHistogram): ExpHistogram | undefined {
  if (prev.scale < cur.scale) return undefined;
  let scale = cur.scale;
  let p: ExpHistogram;
  let c: ExpHistogram;
  let start: number;
  let end: number;
  // Two far-apart offsets would make the aligned array huge; coarser scales bring them together.
  for (;;) {
    p = downscale(prev, scale);
    c = downscale(cur, scale);
    const ranges = [c, p].filter((h) => h.counts.length > 0);
    start = ranges.length > 0 ? Math.min(...ranges.map((h) => h.offset)) : 0;
    end = ranges.length > 0 ? Math.max(...ranges.map((h) => h.offset + h.counts.length)) : 0;
    if (end - start <= MAX_ALIGNED_BUCKETS) break;
    scale--;
  }
  const counts = new Array<number>(Math.max(0, end - start));
  for (let k = start; k < end; k++) {
    const d = (c.counts[k - c.offset] ?? 0) - (p.counts[k - p.offset] ?? 0);
    if (d < 0) return undefined;
    counts[k - start] = d;
  }
  const low = c.low - p.low;
  const count = c.count - p.count;
  if (low < 0 || count < 0) return undefined;
  return { ...c, offset: start, counts, low, count, sum: c.sum - p.sum };
}

/**
 * As explicit buckets, so every histogram downstream has one shape and quantiles follow the same
 * `histogram_quantile` rule. The exponential boundaries become the explicit bounds, so positive
 * values lose no resolution; everything in `low` lands in the lowest bucket (-Inf, base^offset].
 */
export function expToExplicit(h: ExpHistogram): HistogramValue {
  let { offset, counts } = h;
  let a = 0;
  let b = counts.length;
  while (a < b && counts[a] === 0) a++;
  while (b > a && counts[b - 1] === 0) b--;
  if (a > 0 || b < counts.length) {
    offset += a;
    counts = counts.slice(a, b);
  }
  let scale = h.scale;
  if (counts.length > MAX_EXPLICIT_BUCKETS) {
    while (Math.ceil(counts.length / 2 ** (h.scale - scale)) + 1 > MAX_EXPLICIT_BUCKETS) scale--;
    ({ offset, counts } = downscale({ ...h, offset, counts }, scale));
  }
  if (counts.length === 0) {
    return { bounds: [Math.max(h.zeroThreshold, 0)], counts: [h.low, 0], sum: h.sum, count: h.count };
  }
  const bounds = new Array<number>(counts.length + 1);
  for (let i = 0; i <= counts.length; i++) bounds[i] = boundary(offset + i, scale);
  for (let i = 0; i < bounds.length; i++) {
    if (!Number.isFinite(bounds[i]) || bounds[i] <= 0 || (i > 0 && bounds[i] <= bounds[i - 1])) {
      throw new OtlpItemError('exponential buckets out of range');
    }
  }
  return { bounds, counts: [h.low, ...counts, 0], sum: h.sum, count: h.count };
}

/** base^index for base = 2^(2^-scale), as one power of two so bucket edges are exact where they can be. */
function boundary(index: number, scale: number): number {
  return scale >= 0 ? Math.pow(2, index / 2 ** scale) : Math.pow(2, index * 2 ** -scale);
}
