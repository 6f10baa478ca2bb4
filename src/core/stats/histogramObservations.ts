import type { HistogramValue } from '../model';

/** Representative points per bucket: enough that quantiles follow the linear interpolation PromQL uses. */
const POINTS_PER_BUCKET = 16;

/**
 * Turns a delta histogram (bounds in ms, per-bucket counts) into weighted observations for the
 * route statistics' sketch. Each bucket's count is spread evenly across the bucket (the same
 * assumption `histogram_quantile` makes), as at most 16 weighted points; the first bucket starts
 * at 0 and the +Inf bucket sits at the highest finite bound, as PromQL answers for it.
 */
export function observationsFromHistogram(h: HistogramValue): { valueMs: number; count: number }[] {
  const out: { valueMs: number; count: number }[] = [];
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i];
    if (!(c > 0)) continue;
    if (i >= h.bounds.length) {
      out.push({ valueMs: h.bounds.length ? h.bounds[h.bounds.length - 1] : h.count ? h.sum / h.count : 0, count: c });
      continue;
    }
    const lo = i === 0 ? Math.min(0, h.bounds[0]) : h.bounds[i - 1];
    const hi = h.bounds[i];
    const n = Math.min(POINTS_PER_BUCKET, Math.ceil(c));
    for (let j = 0; j < n; j++) out.push({ valueMs: lo + ((hi - lo) * (j + 0.5)) / n, count: c / n });
  }
  return out;
}
