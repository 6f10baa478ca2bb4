import { bucketQuantile, type QuantileBucket } from '../prometheus/quantile';

/**
 * A histogram's increase over one interval, per `le`: the increase of each cumulative bucket
 * counter (`x_bucket{le="..."}`), the last one the +Inf bucket. Counts are not forced to be
 * monotonic here: PromQL sums the increases of the bucket series first and only then, inside
 * `histogram_quantile`, raises a count lower than the one below it, and the figures must be the
 * same as PromQL's.
 */
export interface BucketIncrease {
  /** Finite upper bounds in ms, ascending. */
  boundsMs: readonly number[];
  /** Increase of the cumulative count at each bound, then at +Inf (length boundsMs.length + 1). */
  cumulative: readonly number[];
}

/** Seconds per slot: the same as the latency sketches', so a window covers the same requests. */
export const BUCKET_SLOT_SECONDS = 10;
/** Slots kept: 15 minutes. */
export const BUCKET_SLOTS = 90;
/**
 * Distinct `le` values kept per slot. A layout is usually 10 to 30 bounds; the cap keeps a sender
 * that changes its bounds every scrape from growing a slot without limit.
 */
export const MAX_LES_PER_SLOT = 128;

/** First and last slot of a window of `windowSec` seconds ending at `nowSec` (see WindowedSeries.window). */
export function windowSlotRange(nowSec: number, windowSec: number, slotSeconds: number, historySeconds: number): { firstSlot: number; lastSlot: number } {
  const now = Math.floor(nowSec);
  const w = Math.max(1, Math.min(historySeconds, Math.floor(windowSec)));
  const lastSlot = Math.floor(now / slotSeconds);
  const firstSlot = Math.min(lastSlot, Math.ceil((now - w + 1) / slotSeconds));
  return { firstSlot, lastSlot };
}

/**
 * Per 10-second slot, the summed bucket increases of a route's histograms (every series of the
 * route: status codes, instances), keyed by `le`. A window's quantile is `histogram_quantile` over
 * the sum of its slots, which is PromQL's
 * `histogram_quantile(q, sum by (le) (increase(x_bucket[window])))` over the same scrapes, exactly
 * (PromQL also extrapolates `increase` to the window's edges; when every bucket series was scraped
 * at the same times that scales all buckets alike and leaves every quantile unchanged).
 * Memory: at most BUCKET_SLOTS slots of at most MAX_LES_PER_SLOT (le, count) pairs.
 */
export class BucketIncreaseSlots {
  private readonly les: (Float64Array | undefined)[] = new Array(BUCKET_SLOTS);
  private readonly incs: (Float64Array | undefined)[] = new Array(BUCKET_SLOTS);
  private readonly slotOf = new Float64Array(BUCKET_SLOTS).fill(-1);
  /** Increases refused because a slot already held MAX_LES_PER_SLOT distinct bounds. */
  refused = 0;

  /** Adds one interval's increase at `nowSec`. False when refused (malformed, or too many bounds). */
  add(nowSec: number, inc: BucketIncrease): boolean {
    const n = inc.boundsMs.length;
    if (inc.cumulative.length !== n + 1) return false;
    for (let i = 0; i < n; i++) if (!Number.isFinite(inc.boundsMs[i]) || (i > 0 && !(inc.boundsMs[i] > inc.boundsMs[i - 1]))) return false;
    for (const c of inc.cumulative) if (!Number.isFinite(c)) return false;
    const slot = Math.floor(Math.floor(nowSec) / BUCKET_SLOT_SECONDS);
    const j = slot % BUCKET_SLOTS;
    if (this.slotOf[j] > slot) return false;
    if (this.slotOf[j] !== slot) {
      this.slotOf[j] = slot;
      this.les[j] = undefined;
      this.incs[j] = undefined;
    }
    const les = this.les[j];
    const counts = this.incs[j];
    if (!les || !counts) {
      const l = new Float64Array(n + 1);
      for (let i = 0; i < n; i++) l[i] = inc.boundsMs[i];
      l[n] = Infinity;
      if (l.length > MAX_LES_PER_SLOT) {
        this.refused++;
        return false;
      }
      this.les[j] = l;
      this.incs[j] = Float64Array.from(inc.cumulative);
      return true;
    }
    if (sameLayout(les, inc.boundsMs)) {
      for (let i = 0; i <= n; i++) counts[i] += inc.cumulative[i];
      return true;
    }
    // Another layout in the same slot (buckets added, or two instances with different bounds):
    // the union of the bounds, each le's increase summed, as `sum by (le)` does.
    const merged = mergeByLe(les, counts, inc);
    if (merged.les.length > MAX_LES_PER_SLOT) {
      this.refused++;
      return false;
    }
    this.les[j] = merged.les;
    this.incs[j] = merged.counts;
    return true;
  }

  /** The summed increase per le over the window's slots (the slots WindowedSeries.window covers). */
  windowBuckets(nowSec: number, windowSec: number): QuantileBucket[] {
    const { firstSlot, lastSlot } = windowSlotRange(nowSec, windowSec, BUCKET_SLOT_SECONDS, BUCKET_SLOT_SECONDS * BUCKET_SLOTS);
    return this.sumSlots(firstSlot, lastSlot);
  }

  /** The summed increase per le over slots [firstSlot, lastSlot]. */
  sumSlots(firstSlot: number, lastSlot: number): QuantileBucket[] {
    const sum = new Map<number, number>();
    for (let slot = firstSlot; slot <= lastSlot; slot++) {
      const j = ((slot % BUCKET_SLOTS) + BUCKET_SLOTS) % BUCKET_SLOTS;
      const les = this.les[j];
      const counts = this.incs[j];
      if (!les || !counts || this.slotOf[j] !== slot) continue;
      for (let i = 0; i < les.length; i++) sum.set(les[i], (sum.get(les[i]) ?? 0) + counts[i]);
    }
    return [...sum].map(([upperBound, count]) => ({ upperBound, count }));
  }

  /** Quantiles per slot over the last `seconds` seconds, oldest first (NaN where a slot has none). */
  perSlotQuantiles(nowSec: number, seconds: number, qs: number[]): { slotStartSec: number; values: number[] }[] {
    const now = Math.floor(nowSec);
    const firstSlot = Math.floor((now - seconds + 1) / BUCKET_SLOT_SECONDS);
    const lastSlot = Math.floor(now / BUCKET_SLOT_SECONDS);
    const out: { slotStartSec: number; values: number[] }[] = [];
    for (let slot = firstSlot; slot <= lastSlot; slot++) {
      const b = this.sumSlots(slot, slot);
      out.push({ slotStartSec: slot * BUCKET_SLOT_SECONDS, values: qs.map((q) => quantileOf(q, b)) });
    }
    return out;
  }

  bytes(): number {
    let n = this.slotOf.byteLength;
    for (let j = 0; j < BUCKET_SLOTS; j++) n += (this.les[j]?.byteLength ?? 0) + (this.incs[j]?.byteLength ?? 0);
    return n;
  }
}

/** `histogram_quantile(q, buckets)`, NaN when the buckets hold no observations. */
export function quantileOf(q: number, buckets: readonly QuantileBucket[]): number {
  return bucketQuantile(q, buckets).value;
}

/** The +Inf bucket's count of summed buckets: the number of observations. */
export function observationsOf(buckets: readonly QuantileBucket[]): number {
  for (const b of buckets) if (b.upperBound === Infinity) return b.count;
  return 0;
}

/** Sums bucket lists by le (several routes of one handler, as `sum by (le)` across series). */
export function sumByLe(lists: readonly (readonly QuantileBucket[])[]): QuantileBucket[] {
  const sum = new Map<number, number>();
  for (const l of lists) for (const b of l) sum.set(b.upperBound, (sum.get(b.upperBound) ?? 0) + b.count);
  return [...sum].map(([upperBound, count]) => ({ upperBound, count }));
}

function sameLayout(les: Float64Array, bounds: readonly number[]): boolean {
  if (les.length !== bounds.length + 1) return false;
  for (let i = 0; i < bounds.length; i++) if (les[i] !== bounds[i]) return false;
  return true;
}

function mergeByLe(les: Float64Array, counts: Float64Array, inc: BucketIncrease): { les: Float64Array; counts: Float64Array } {
  const sum = new Map<number, number>();
  for (let i = 0; i < les.length; i++) sum.set(les[i], counts[i]);
  for (let i = 0; i < inc.cumulative.length; i++) {
    const le = i < inc.boundsMs.length ? inc.boundsMs[i] : Infinity;
    sum.set(le, (sum.get(le) ?? 0) + inc.cumulative[i]);
  }
  const keys = [...sum.keys()].sort((a, b) => a - b);
  return { les: Float64Array.from(keys), counts: Float64Array.from(keys.map((k) => sum.get(k)!)) };
}
