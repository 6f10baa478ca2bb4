import type { Figures } from './figures';
import type { CodeLocation } from '../model';
import type { QuantileBucket } from '../prometheus/quantile';
import { BucketIncreaseSlots, observationsOf, quantileOf } from './bucketSlots';
import { LatencySketch } from './sketch';

/** Seconds of per-second history kept (15 minutes). */
export const HISTORY_SECONDS = 900;
/** Latency sketches are kept per slot of this many seconds; window quantiles have this granularity. */
export const SKETCH_SLOT_SECONDS = 10;
const SKETCH_SLOTS = HISTORY_SECONDS / SKETCH_SLOT_SECONDS;

/**
 * Per-second counts and errors plus slotted latency sketches for one series (a route or a whole
 * service), over the last 15 minutes, in fixed memory. Time is when the request happened (the
 * span's end, never later than its arrival), so a backlog delivered late fills the seconds it
 * belongs to; what is older than the history counts in `total` only.
 */
export class WindowedSeries {
  private readonly counts = new Float64Array(HISTORY_SECONDS);
  private readonly errors = new Float64Array(HISTORY_SECONDS);
  /** Requests that spent part of their time stopped in a debugger: counted, latency not taken. */
  private readonly paused = new Float64Array(HISTORY_SECONDS);
  private readonly secondOf = new Float64Array(HISTORY_SECONDS).fill(-1);
  private readonly sketches: (LatencySketch | undefined)[] = new Array(SKETCH_SLOTS);
  private readonly slotOf = new Float64Array(SKETCH_SLOTS).fill(-1);
  /** The newest slot written to; the sketches of all others are compacted. */
  private openSlot = -1;
  readonly total = new LatencySketch();
  totalErrors = 0;
  totalPaused = 0;
  firstSecond = -1;
  lastSecond = -1;

  /**
   * One request (or `weight` of them). A paused one (stopped at a breakpoint part of the time)
   * counts as a request and an error as usual, but its duration stays out of every sketch: the
   * time a developer looked at the debugger is not the route's latency.
   */
  record(nowSec: number, durationMs: number, isError: boolean, weight = 1, paused = false): void {
    const sec = Math.floor(nowSec);
    if (paused) this.totalPaused += weight;
    else this.total.add(durationMs, weight);
    if (isError) this.totalErrors += weight;
    if (this.firstSecond < 0 || sec < this.firstSecond) this.firstSecond = sec;
    this.lastSecond = Math.max(this.lastSecond, sec);
    const i = sec % HISTORY_SECONDS;
    // Data older than what a slot already holds (a restored snapshot, say) is past the history.
    if (this.secondOf[i] > sec) return;
    if (this.secondOf[i] !== sec) {
      this.secondOf[i] = sec;
      this.counts[i] = 0;
      this.errors[i] = 0;
      this.paused[i] = 0;
    }
    this.counts[i] += weight;
    if (isError) this.errors[i] += weight;
    if (paused) {
      this.paused[i] += weight;
      return;
    }
    const slot = Math.floor(sec / SKETCH_SLOT_SECONDS);
    const j = slot % SKETCH_SLOTS;
    if (this.slotOf[j] > slot) return;
    if (slot > this.openSlot) {
      // A new slot opens: the others take values only from late data, so they are compacted.
      this.compactClosedSlots();
      this.openSlot = slot;
    }
    if (this.slotOf[j] !== slot || !this.sketches[j]) {
      this.slotOf[j] = slot;
      this.sketches[j] = new LatencySketch();
    }
    this.sketches[j]!.add(durationMs, weight);
  }

  /**
   * Closed slots hold their sketches in compact form: a slot of a route with latencies from 1 to
   * 800 ms has about 670 buckets, 5.3 KiB as float64 (8 KiB with the growth headroom) but 0.7 to
   * 1.3 KiB as the 8- or 16-bit counts it needs, and the 15-minute history keeps 90 of them.
   */
  private compactClosedSlots(): void {
    for (let j = 0; j < SKETCH_SLOTS; j++) if (this.slotOf[j] !== this.openSlot) this.sketches[j]?.compact();
  }

  /** Bytes of this series' arrays: per-second history, slot sketches and the all-time sketch. */
  bytes(): number {
    let n = this.counts.byteLength + this.errors.byteLength + this.paused.byteLength + this.secondOf.byteLength + this.slotOf.byteLength + this.total.bucketBytes;
    for (const sk of this.sketches) n += sk?.bucketBytes ?? 0;
    return n;
  }

  /**
   * Count, errors and latency sketch over the last `windowSec` seconds ending at `nowSec`
   * (inclusive), all from the same requests. Latency is kept per slot of SKETCH_SLOT_SECONDS, so
   * the window starts at the first slot boundary inside it: it covers `seconds` seconds, between
   * `windowSec - SKETCH_SLOT_SECONDS + 1` and `windowSec` (fewer for a series younger than that).
   * The count is of those seconds too, so a histogram of the sketch adds up to it less `paused`
   * (requests stopped in a debugger, counted but kept out of the sketch). `covered` is that span
   * in seconds; `seconds`, the divisor for rates, is shorter for a younger series.
   */
  window(nowSec: number, windowSec: number): { count: number; errors: number; paused: number; sketch: LatencySketch; seconds: number; covered: number } {
    const now = Math.floor(nowSec);
    const w = Math.max(1, Math.min(HISTORY_SECONDS, Math.floor(windowSec)));
    const lastSlot = Math.floor(now / SKETCH_SLOT_SECONDS);
    const firstSlot = Math.min(lastSlot, Math.ceil((now - w + 1) / SKETCH_SLOT_SECONDS));
    const start = firstSlot * SKETCH_SLOT_SECONDS;
    let count = 0;
    let errors = 0;
    let paused = 0;
    for (let s = start; s <= now; s++) {
      const i = ((s % HISTORY_SECONDS) + HISTORY_SECONDS) % HISTORY_SECONDS;
      if (this.secondOf[i] === s) {
        count += this.counts[i];
        errors += this.errors[i];
        paused += this.paused[i];
      }
    }
    const sketch = new LatencySketch();
    for (let slot = firstSlot; slot <= lastSlot; slot++) {
      const j = ((slot % SKETCH_SLOTS) + SKETCH_SLOTS) % SKETCH_SLOTS;
      const sk = this.sketches[j];
      if (sk && this.slotOf[j] === slot) sketch.merge(sk);
    }
    // A series that started inside the window is measured over the time it has existed.
    const covered = now - start + 1;
    const lived = this.firstSecond < 0 ? covered : Math.max(1, now - Math.max(start, this.firstSecond) + 1);
    return { count, errors, paused, sketch, seconds: Math.min(covered, lived), covered };
  }

  /** Per-second counts and errors for the last `seconds` seconds, oldest first. */
  perSecond(nowSec: number, seconds: number): { counts: number[]; errors: number[] } {
    const now = Math.floor(nowSec);
    const n = Math.max(1, Math.min(HISTORY_SECONDS, Math.floor(seconds)));
    const counts: number[] = new Array(n).fill(0);
    const errors: number[] = new Array(n).fill(0);
    for (let k = 0; k < n; k++) {
      const s = now - n + 1 + k;
      const i = ((s % HISTORY_SECONDS) + HISTORY_SECONDS) % HISTORY_SECONDS;
      if (this.secondOf[i] === s) {
        counts[k] = this.counts[i];
        errors[k] = this.errors[i];
      }
    }
    return { counts, errors };
  }

  /** Quantiles per sketch slot for the last `seconds` seconds, oldest first (NaN where no data). */
  perSlotQuantiles(nowSec: number, seconds: number, qs: number[]): { slotStartSec: number; values: number[] }[] {
    const now = Math.floor(nowSec);
    const firstSlot = Math.floor((now - seconds + 1) / SKETCH_SLOT_SECONDS);
    const lastSlot = Math.floor(now / SKETCH_SLOT_SECONDS);
    const out: { slotStartSec: number; values: number[] }[] = [];
    for (let slot = firstSlot; slot <= lastSlot; slot++) {
      const j = ((slot % SKETCH_SLOTS) + SKETCH_SLOTS) % SKETCH_SLOTS;
      const sk = this.sketches[j];
      const live = sk && this.slotOf[j] === slot;
      out.push({ slotStartSec: slot * SKETCH_SLOT_SECONDS, values: qs.map((q) => (live ? sk!.quantile(q) : NaN)) });
    }
    return out;
  }
}

export interface RouteKey {
  service: string;
  method: string;
  route: string;
}

export interface RouteSummary extends RouteKey, Figures {
  /** Requests in the window that were stopped in a debugger part of the time (in `count`, not in the percentiles). */
  paused: number;
  code: CodeLocation | null;
  /**
   * Where the figures came from: spans, or Prometheus/OTLP histograms when no spans came. With
   * 'metrics', p50/p95/p99 are interpolated inside histogram buckets (PromQL's histogram_quantile
   * over the window's bucket increase), not measured from requests.
   */
  source: 'spans' | 'metrics';
  lastSeenMs: number;
}

export class RouteEntry {
  readonly series = new WindowedSeries();
  code: CodeLocation | undefined;
  lastSeenMs = 0;
  source: 'spans' | 'metrics' = 'spans';
  /** Bucket increases per slot, for routes fed by histograms: their quantiles are PromQL's. */
  buckets: BucketIncreaseSlots | undefined;
  constructor(readonly key: RouteKey) {}

  /** The window's summed bucket increase, when this route's figures come from histograms. */
  windowBuckets(nowMs: number, windowSec: number): QuantileBucket[] | undefined {
    return this.source === 'metrics' && this.buckets ? this.buckets.windowBuckets(nowMs / 1000, windowSec) : undefined;
  }

  summarize(nowMs: number, windowSec: number): RouteSummary {
    const w = this.series.window(nowMs / 1000, windowSec);
    const buckets = this.windowBuckets(nowMs, windowSec);
    const q = (p: number): number | null => {
      if (buckets) return observationsOf(buckets) > 0 ? finiteOrNull(quantileOf(p, buckets)) : null;
      return w.sketch.count ? round3(w.sketch.quantile(p)) : null;
    };
    return {
      ...this.key,
      count: w.count,
      rps: round3(w.count / w.seconds),
      errorRate: w.count ? round3(w.errors / w.count) : 0,
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      p99Ms: q(0.99),
      paused: w.paused,
      code: this.code ?? null,
      source: this.source,
      lastSeenMs: this.lastSeenMs,
    };
  }
}

export function routeKeyString(k: RouteKey): string {
  return `${k.service}\u0000${k.method}\u0000${k.route}`;
}

/** Bucket quantiles are shown unrounded (they are PromQL's figures); NaN (no data) is null. */
function finiteOrNull(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
