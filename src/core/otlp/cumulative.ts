import type { AttrValue, HistogramValue, MetricPoint } from '../model';
import { diffExp, expToExplicit, type ExpHistogram } from './exphist';

export interface CumulativeToDeltaOptions {
  /** Series remembered at most; the least recently updated is forgotten first. */
  maxSeries?: number;
  /** Series that started at or after this instant are counted from their first point (see `convert`). */
  startedAtMs?: number;
}

interface SeriesState {
  timeMs: number;
  value: number;
  hist?: HistogramValue;
  exp?: ExpHistogram;
}

/** Outcome counters, for the collector's own health figures. */
export interface CumulativeStats {
  baselines: number;
  resets: number;
  outOfOrder: number;
  evicted: number;
}

/**
 * Turns cumulative sums and histograms into deltas, one series at a time.
 *
 * A series is resource + scope + metric name + kind + point attributes + the point's start time.
 * Keeping the start time in the identity matters: several worker processes that share one resource
 * (gunicorn workers without `service.instance.id`) then stay separate series instead of looking like
 * a reset on every export, and a restarted process (new start time) is simply a new series.
 *
 * The first point of a series is emitted whole (a delta over [start, time]) only when the series
 * started after this converter did: then nothing before it was missed. A series that was already
 * running when Routelens started only sets a baseline; counting its history as "now" would show a
 * burst of traffic that never happened.
 *
 * Within a series, a value that goes down (any bucket or the count, for histograms) is a reset the
 * sender did not signal with a new start time: the new cumulative value is all new, so it is the
 * delta. Points older than the last one seen are dropped.
 */
export class CumulativeToDelta {
  readonly startedAtMs: number;
  private readonly maxSeries: number;
  private readonly series = new Map<string, SeriesState>();
  readonly stats: CumulativeStats = { baselines: 0, resets: 0, outOfOrder: 0, evicted: 0 };

  constructor(opts: CumulativeToDeltaOptions = {}) {
    this.maxSeries = Math.max(1, opts.maxSeries ?? 10_000);
    this.startedAtMs = opts.startedAtMs ?? Date.now();
  }

  get size(): number {
    return this.series.size;
  }

  /**
   * The delta for a cumulative point of `seriesKey`, or undefined when it only sets a baseline.
   * Exponential histograms pass their exponential form too: differences are taken bucket index by
   * bucket index there, since their explicit rendering changes layout as the range grows.
   */
  convert(seriesKey: string, point: MetricPoint, exp?: ExpHistogram): MetricPoint | undefined {
    const key = `${seriesKey}\u0000${point.startMs ?? 0}`;
    const prev = this.series.get(key);
    if (prev && point.timeMs <= prev.timeMs) {
      this.stats.outOfOrder++;
      return undefined;
    }
    const next: SeriesState = { timeMs: point.timeMs, value: point.value ?? 0 };
    if (exp) next.exp = exp;
    else if (point.histogram) next.hist = point.histogram;
    this.remember(key, next);

    if (!prev) {
      const start = point.startMs ?? 0;
      if (start > 0 && start >= this.startedAtMs) return point;
      this.stats.baselines++;
      return undefined;
    }
    if (exp) return this.expDelta(prev, point, exp);
    if (point.histogram) return this.histogramDelta(prev, point, point.histogram);
    const value = point.value ?? 0;
    if (value < prev.value) {
      this.stats.resets++;
      return { ...point, startMs: prev.timeMs };
    }
    return { ...point, startMs: prev.timeMs, value: value - prev.value };
  }

  private histogramDelta(prev: SeriesState, point: MetricPoint, h: HistogramValue): MetricPoint | undefined {
    const p = prev.hist;
    if (!p || !sameBounds(p.bounds, h.bounds)) {
      // New bucket layout under the same start time: no difference can be taken, so this point is
      // the new baseline.
      this.stats.baselines++;
      return undefined;
    }
    let reset = h.count < p.count;
    const counts = new Array<number>(h.counts.length);
    for (let i = 0; i < h.counts.length && !reset; i++) {
      counts[i] = h.counts[i] - p.counts[i];
      if (counts[i] < 0) reset = true;
    }
    if (reset) {
      this.stats.resets++;
      return { ...point, startMs: prev.timeMs };
    }
    return {
      ...point,
      startMs: prev.timeMs,
      histogram: { bounds: h.bounds, counts, sum: h.sum - p.sum, count: h.count - p.count },
    };
  }

  private expDelta(prev: SeriesState, point: MetricPoint, exp: ExpHistogram): MetricPoint | undefined {
    if (!prev.exp) {
      this.stats.baselines++;
      return undefined;
    }
    const d = diffExp(exp, prev.exp);
    if (!d) {
      this.stats.resets++;
      return { ...point, startMs: prev.timeMs };
    }
    return { ...point, startMs: prev.timeMs, histogram: expToExplicit(d) };
  }

  private remember(key: string, state: SeriesState): void {
    // Re-inserting moves the key to the end, so Map order is least recently updated first.
    this.series.delete(key);
    this.series.set(key, state);
    while (this.series.size > this.maxSeries) {
      const oldest = this.series.keys().next().value as string;
      this.series.delete(oldest);
      this.stats.evicted++;
    }
  }
}

function sameBounds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A deterministic text for attributes (key order does not matter), used in series identities. */
export function attributesKey(v: AttrValue | Record<string, AttrValue>): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(attributesKey).join(',')}]`;
  const keys = Object.keys(v).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out += ',';
    out += `${JSON.stringify(keys[i])}:${attributesKey((v as Record<string, AttrValue>)[keys[i]])}`;
  }
  return `${out}}`;
}
