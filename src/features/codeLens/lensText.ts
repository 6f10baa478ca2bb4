/**
 * The text of a handler's CodeLens and hover, from the figures the core derives
 * (src/core/routes/handlerStats.ts). Plain strings, no editor API: unit-tested in Node.
 */
import { formatMs, formatRps } from '../../core/format';
import type { HandlerStats } from '../../core/routes/handlerStats';
import type { RouteKey } from '../../core/stats/routeStats';
import type { TelemetryStore } from '../../core/store/store';

/** What the lens appends to figures that are not measured requests. */
export const FROM_BUCKETS_TAG = 'from histogram buckets';
export const MIXED_TAG = 'partly from histogram buckets';

/**
 * `p50 12 ms · p95 48 ms · 3.1 req/s · 2.0% errors` (and `· 1 paused` when requests were stopped
 * at a breakpoint), or `no traffic yet`; `method` prefixes the method (`POST · p50 …`) when one
 * handler has a lens per method. Quantiles interpolated inside histogram buckets say so.
 */
export function lensTitle(s: HandlerStats, everSeen: boolean, method?: string): string {
  const prefix = method ? `${method} · ` : '';
  if (s.count === 0) return prefix + (everSeen ? 'no requests in the window' : 'no traffic yet');
  const tag = s.source === 'metrics' ? ` · ${FROM_BUCKETS_TAG}` : s.source === 'mixed' ? ` · ${MIXED_TAG}` : '';
  const rest = `${formatRps(s.rps)} req/s · ${(s.errorRate * 100).toFixed(1)}% errors${s.paused ? ` · ${s.paused} paused` : ''}${tag}`;
  if (s.p50Ms === null || s.p95Ms === null) return `${prefix}${s.paused} paused, no latency yet · ${rest}`;
  return `${prefix}p50 ${formatMs(s.p50Ms)} · p95 ${formatMs(s.p95Ms)} · ${rest}`;
}

/** The hover's first line: `189 requests in the last 57 s · p50 … · p95 … · p99 … · 2.0% errors`. */
export function hoverHeadline(s: HandlerStats): string {
  const q = (v: number | null) => (v === null ? '–' : formatMs(v));
  const paused = s.paused ? ` · ${s.paused} paused at a breakpoint (counted, not in the percentiles)` : '';
  return `${s.count} requests in the last ${s.seconds} s · p50 ${q(s.p50Ms)} · p95 ${q(s.p95Ms)} · p99 ${q(s.p99Ms)} · ${(s.errorRate * 100).toFixed(1)}% errors${paused}`;
}

/** The hover's note on where the quantiles come from, or '' for measured requests. */
export function hoverSourceNote(s: HandlerStats): string {
  if (s.source === 'metrics') return 'p50/p95/p99 are interpolated inside histogram buckets (PromQL histogram_quantile over the window\'s bucket increase), not measured per request.';
  if (s.source === 'mixed') return 'Some routes of this handler report histograms only: their requests are placed inside histogram buckets, so p50/p95/p99 are approximate.';
  return '';
}

/** A small text histogram of the latency sketch: eight log-spaced bins between min and max. */
export function histogramText(s: HandlerStats): string {
  const buckets = s.sketch.buckets();
  if (!buckets.length) return '';
  const lo = Math.max(0.01, s.sketch.min);
  const hi = Math.max(lo * 1.0001, s.sketch.max);
  const n = lo === hi ? 1 : 8;
  const edges = Array.from({ length: n + 1 }, (_, i) => lo * Math.pow(hi / lo, i / n));
  const counts = new Array(n).fill(0);
  for (const [a, b, c] of buckets) {
    const mid = Math.sqrt(Math.max(a, 1e-3) * b);
    let i = edges.findIndex((e, k) => k > 0 && mid <= e) - 1;
    if (i < 0) i = mid < lo ? 0 : n - 1;
    counts[i] += c;
  }
  const max = Math.max(...counts);
  const width = 24;
  return counts
    .map((c, i) => `${`≤ ${formatMs(edges[i + 1])}`.padStart(10)} ${'█'.repeat(Math.round((c / max) * width)).padEnd(width)} ${c}`)
    .join('\n');
}

/**
 * The hover's line on where a handler's time goes, from its routes' recently analysed requests:
 * `Time per request: postgresql shop 31 ms (62%), own code 14 ms (28%), payments 5 ms (10%)`.
 */
export function breakdownLine(store: TelemetryStore, keys: RouteKey[]): string | undefined {
  const sums = new Map<string, number>();
  let total = 0;
  let requests = 0;
  for (const k of keys) {
    const b = store.insights.breakdown(k);
    if (!b) continue;
    requests += b.requests;
    total += b.meanMs * b.requests;
    for (const t of b.byTarget) sums.set(t.target, (sums.get(t.target) ?? 0) + t.meanMs * b.requests);
  }
  if (!requests || total <= 0) return undefined;
  const parts = [...sums].sort((a, b) => b[1] - a[1]).slice(0, 4);
  return `Time per request: ${parts.map(([target, ms]) => `${target} ${formatMs(ms / requests)} (${Math.round((ms / total) * 100)}%)`).join(', ')}`;
}
