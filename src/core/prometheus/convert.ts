/**
 * Parsed expositions of one target → MetricPoints of the internal model, scrape after scrape.
 *
 * Counters and histograms are cumulative on the wire; the model wants what happened between two
 * scrapes, so this keeps the previous value of every series and emits differences:
 * - counters become delta sums (`monotonic`), histograms per-scrape delta HistogramValues;
 * - a value that went down, or a new `_created` time, is a restart: the delta is the whole value;
 *   each histogram bucket is judged on its own, as PromQL's `increase` judges each bucket series,
 *   and a bucket added to a histogram's layout counts from its second scrape on;
 * - the first time a series is seen, its value only becomes the baseline when it may hold history
 *   from before Routelens was watching (counting that as "now" would show a burst of traffic that
 *   never happened). It is counted whole when it cannot: the target had already been scraped
 *   without it (so it started since), or its `_created` time is after watching began;
 * - gauges, unknown/untyped, info and stateset samples are gauges; summaries pass through with
 *   their own quantiles and cumulative sum/count (as OTLP summaries do); gauge histograms are
 *   current counts, not deltas.
 */
import type { Attributes, HistogramValue, MetricPoint, Resource } from '../model';
import type { MetricFamily, ParseResult, Series } from './parser';
import { counterDelta } from './rate';

export interface ConvertContext {
  resource: Resource;
  /** When this scrape was taken, epoch ms. */
  scrapeMs: number;
  /** An earlier scrape of this target succeeded: a series absent from it has started since. */
  hasBaseline: boolean;
  /** When watching the target began (epoch ms). */
  watchStartMs: number;
}

export interface ConvertStats {
  points: number;
  baselines: number;
  resets: number;
  layoutChanges: number;
}

interface SeriesState {
  seenMs: number;
  createdMs?: number;
  value?: number;
  bounds?: number[];
  cum?: number[];
  sum?: number;
}

/** Series not seen for this long are forgotten (their last values no longer matter). */
const DEFAULT_STALE_MS = 10 * 60_000;

const UNIT_SUFFIXES: [string, string][] = [
  ['_seconds', 's'],
  ['_milliseconds', 'ms'],
  ['_bytes', 'By'],
  ['_ratio', '1'],
  ['_celsius', 'Cel'],
];

/** The unit a family declares (`# UNIT`) or, by Prometheus naming conventions, its name implies. */
export function unitOf(fam: MetricFamily): string | undefined {
  if (fam.unit) return fam.unit;
  let name = fam.name;
  if (name.endsWith('_total')) name = name.slice(0, -6);
  for (const [suffix, unit] of UNIT_SUFFIXES) if (name.endsWith(suffix)) return unit;
  return undefined;
}

export class ExpositionTracker {
  private states = new Map<string, SeriesState>();
  private readonly staleMs: number;

  constructor(opts: { staleMs?: number } = {}) {
    this.staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  }

  get size(): number {
    return this.states.size;
  }

  clear(): void {
    this.states.clear();
  }

  convert(parsed: ParseResult, ctx: ConvertContext): { points: MetricPoint[]; stats: ConvertStats } {
    const points: MetricPoint[] = [];
    const stats: ConvertStats = { points: 0, baselines: 0, resets: 0, layoutChanges: 0 };
    for (const fam of parsed.families) {
      const unit = unitOf(fam);
      for (const s of fam.series) {
        const p = this.point(fam, s, unit, ctx, stats);
        if (p) points.push(p);
      }
    }
    this.sweep(ctx.scrapeMs);
    stats.points = points.length;
    return { points, stats };
  }

  private point(fam: MetricFamily, s: Series, unit: string | undefined, ctx: ConvertContext, stats: ConvertStats): MetricPoint | undefined {
    const timeMs = s.timestampMs ?? ctx.scrapeMs;
    const base = (name: string, kind: MetricPoint['kind']): MetricPoint => {
      const p: MetricPoint = { name, kind, timeMs, attributes: s.labels as Attributes, resource: ctx.resource };
      if (unit) p.unit = unit;
      return p;
    };
    switch (fam.type) {
      case 'counter': {
        if (s.value === undefined) return undefined;
        const name = s.sampleName ?? fam.name;
        const key = `c\u0000${name}\u0000${s.key}`;
        const prev = this.states.get(key);
        this.states.set(key, { seenMs: ctx.scrapeMs, value: s.value, createdMs: s.createdMs });
        let delta: number;
        let startMs: number;
        if (!prev) {
          if (!this.isNew(s, ctx)) {
            stats.baselines++;
            return undefined;
          }
          delta = Number.isFinite(s.value) ? Math.max(0, s.value) : 0;
          startMs = s.createdMs ?? ctx.watchStartMs;
        } else {
          const d = counterDelta({ t: prev.seenMs, v: prev.value ?? 0, createdMs: prev.createdMs }, { t: timeMs, v: s.value, createdMs: s.createdMs });
          if (d.reset) stats.resets++;
          delta = d.delta;
          startMs = d.reset && s.createdMs !== undefined ? s.createdMs : prev.seenMs;
        }
        const p = base(name, 'sum');
        p.monotonic = true;
        p.value = delta;
        p.startMs = startMs;
        return p;
      }
      case 'histogram':
      case 'gaugehistogram': {
        const layout = histogramLayout(s);
        if (fam.type === 'gaugehistogram') {
          const p = base(fam.name, 'histogram');
          p.histogram = fromCumulative(layout.bounds, layout.cum, s.sum ?? 0);
          return p;
        }
        const key = `h\u0000${fam.name}\u0000${s.key}`;
        const prev = this.states.get(key);
        this.states.set(key, { seenMs: ctx.scrapeMs, bounds: layout.bounds, cum: layout.cum, sum: s.sum, createdMs: s.createdMs });
        let deltaCum: number[];
        let sum: number;
        let startMs: number;
        if (!prev) {
          if (!this.isNew(s, ctx)) {
            stats.baselines++;
            return undefined;
          }
          deltaCum = layout.cum;
          sum = s.sum ?? 0;
          startMs = s.createdMs ?? ctx.watchStartMs;
        } else {
          // Each bucket is its own counter series to PromQL (`x_bucket{le="..."}`), and `increase`
          // handles each on its own: a bucket that went down restarted from zero, so its whole
          // value is new; a bucket not in the last scrape (added since) starts from its first
          // value, which counts nothing yet. A new `_created` time restarts every bucket.
          const restarted = prev.createdMs !== undefined && s.createdMs !== undefined && prev.createdMs !== s.createdMs;
          if (!sameNumbers(prev.bounds!, layout.bounds)) stats.layoutChanges++;
          const prevByLe = new Map<number, number>();
          prev.bounds!.forEach((le, i) => prevByLe.set(le, prev.cum![i]));
          prevByLe.set(Infinity, prev.cum![prev.cum!.length - 1]);
          deltaCum = new Array<number>(layout.cum.length);
          let reset = restarted;
          for (let i = 0; i < layout.cum.length; i++) {
            const before = prevByLe.get(i < layout.bounds.length ? layout.bounds[i] : Infinity);
            const now = layout.cum[i];
            if (restarted) deltaCum[i] = now;
            else if (before === undefined) deltaCum[i] = 0;
            else if (now < before) {
              deltaCum[i] = now;
              reset = true;
            } else deltaCum[i] = now - before;
          }
          if (reset) stats.resets++;
          sum = restarted ? (s.sum ?? 0) : counterDelta(prev.sum ?? 0, s.sum ?? 0).delta;
          startMs = reset && s.createdMs !== undefined ? s.createdMs : prev.seenMs;
        }
        const p = base(fam.name, 'histogram');
        p.histogram = fromCumulative(layout.bounds, deltaCum, sum);
        if (!isMonotonic(deltaCum)) p.histogram.cumulativeIncrease = deltaCum;
        p.startMs = startMs;
        return p;
      }
      case 'summary': {
        if (s.count === undefined && s.sum === undefined && !s.quantiles) return undefined;
        const p = base(fam.name, 'summary');
        p.summary = {
          // A summary with no observations in its window publishes NaN quantiles: "no data".
          quantiles: (s.quantiles ?? []).filter((q) => Number.isFinite(q.value)).map((q) => ({ quantile: q.quantile, value: q.value })),
          sum: s.sum ?? 0,
          count: s.count ?? 0,
        };
        if (s.createdMs !== undefined) p.startMs = s.createdMs;
        return p;
      }
      default: {
        if (s.value === undefined) return undefined;
        const p = base(s.sampleName ?? fam.name, 'gauge');
        p.value = s.value;
        return p;
      }
    }
  }

  private isNew(s: Series, ctx: ConvertContext): boolean {
    // Date.now() has whole milliseconds while `_created` has microseconds: a series created in the
  // same millisecond the target was added, but before it, must not count as new.
  return ctx.hasBaseline || (s.createdMs !== undefined && Math.floor(s.createdMs) > ctx.watchStartMs);
  }

  private sweep(nowMs: number): void {
    const cutoff = nowMs - this.staleMs;
    for (const [k, st] of this.states) if (st.seenMs < cutoff) this.states.delete(k);
  }
}

/** Finite bounds (ascending) and cumulative counts with +Inf last, whatever the exposition omitted. */
export function histogramLayout(s: Series): { bounds: number[]; cum: number[] } {
  const buckets = s.buckets ?? [];
  const bounds: number[] = [];
  const cum: number[] = [];
  let inf: number | undefined;
  for (const b of buckets) {
    if (b.le === Infinity) inf = b.count;
    else {
      bounds.push(b.le);
      cum.push(b.count);
    }
  }
  // The +Inf bucket equals _count; when it is missing, _count stands in for it.
  cum.push(inf ?? s.count ?? (cum.length ? cum[cum.length - 1] : 0));
  return { bounds, cum };
}

/** Per-bucket counts from cumulative ones; a count below its predecessor is raised to it, as PromQL does. */
export function fromCumulative(bounds: number[], cum: number[], sum: number): HistogramValue {
  const counts = new Array<number>(cum.length);
  let m = 0;
  for (let i = 0; i < cum.length; i++) {
    const c = Number.isFinite(cum[i]) ? Math.max(cum[i], m) : m;
    counts[i] = c - m;
    m = c;
  }
  return { bounds, counts, sum: Number.isFinite(sum) ? sum : 0, count: m };
}

function isMonotonic(cum: number[]): boolean {
  for (let i = 1; i < cum.length; i++) if (!(cum[i] >= cum[i - 1])) return false;
  return true;
}

function sameNumbers(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
