/**
 * Observed figures per route handler of one file: the telemetry routes that the index matches to
 * a handler of this file are merged (a handler may serve several methods or services), so a lens
 * shows exactly what that function did.
 */
import type { RouteKey } from '../stats/routeStats';
import { LatencySketch } from '../stats/sketch';
import type { ErrorGroup, TelemetryStore } from '../store/store';
import type { RouteIndex } from './routeIndex';
import type { DetectedRoute } from './types';

export interface HandlerStats {
  handler: DetectedRoute;
  /** The telemetry routes that feed this handler (for "show traces"). */
  keys: RouteKey[];
  count: number;
  /** Seconds the figures cover (the window, aligned to the latency slots; see WindowedSeries.window). */
  seconds: number;
  /** Seconds the rate is measured over: `seconds`, or less for a route younger than the window. */
  rateSeconds: number;
  rps: number;
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Requests stopped in a debugger part of the time: in `count`, kept out of the percentiles. */
  paused: number;
  sketch: LatencySketch;
  errors: ErrorGroup[];
}

export function handlerStatsForFile(uri: string, index: RouteIndex, store: TelemetryStore, windowSec: number, nowMs = Date.now()): HandlerStats[] {
  const handlers = index.routesOf(uri);
  const byHandler = new Map<DetectedRoute, { keys: RouteKey[]; count: number; errors: number; paused: number; seconds: number; covered: number; sketch: LatencySketch }>();
  if (handlers.length === 0) return [];
  for (const entry of store.routeEntries()) {
    const summary = entry.key;
    const m = index.match(summary.method, summary.route, entry.code);
    if (!m || m.uri !== uri) continue;
    const w = entry.series.window(nowMs / 1000, windowSec);
    const acc = byHandler.get(m.handler);
    if (!acc) {
      // Most handlers have one route: use its window sketch as is, merge only when a second comes.
      byHandler.set(m.handler, { keys: [{ service: summary.service, method: summary.method, route: summary.route }], count: w.count, errors: w.errors, paused: w.paused, seconds: w.seconds, covered: w.covered, sketch: w.sketch });
      continue;
    }
    acc.keys.push({ service: summary.service, method: summary.method, route: summary.route });
    acc.count += w.count;
    acc.errors += w.errors;
    acc.paused += w.paused;
    acc.seconds = Math.max(acc.seconds, w.seconds);
    acc.covered = Math.max(acc.covered, w.covered);
    acc.sketch.merge(w.sketch);
  }
  // Error groups by route, so each handler looks up only its own.
  const groupsByRoute = new Map<string, ErrorGroup[]>();
  for (const g of store.errorGroups()) {
    if (!g.route) continue;
    const list = groupsByRoute.get(g.route) ?? [];
    list.push(g);
    groupsByRoute.set(g.route, list);
  }
  return handlers.map((handler) => {
    const acc = byHandler.get(handler);
    const keys = acc?.keys ?? [];
    const q = (p: number) => (acc && acc.sketch.count ? acc.sketch.quantile(p) : null);
    const errors = keys.flatMap((k) => (groupsByRoute.get(k.route) ?? []).filter((g) => (!g.method || g.method === k.method) && k.service === g.service));
    return {
      handler,
      keys,
      count: acc?.count ?? 0,
      seconds: acc?.covered ?? 0,
      rateSeconds: acc?.seconds ?? 0,
      rps: acc && acc.seconds ? acc.count / acc.seconds : 0,
      errorRate: acc && acc.count ? acc.errors / acc.count : 0,
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      p99Ms: q(0.99),
      paused: acc?.paused ?? 0,
      sketch: acc?.sketch ?? new LatencySketch(),
      errors,
    };
  });
}

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(0)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function formatRps(r: number): string {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(r >= 1 ? 1 : 2);
}

/**
 * `p50 12 ms · p95 48 ms · 3.1 req/s · 2.0% errors` (and `· 1 paused` when requests were stopped
 * at a breakpoint), or `no traffic yet`.
 */
export function lensTitle(s: HandlerStats, everSeen: boolean): string {
  if (s.count === 0) return everSeen ? 'no requests in the window' : 'no traffic yet';
  const rest = `${formatRps(s.rps)} req/s · ${(s.errorRate * 100).toFixed(1)}% errors${s.paused ? ` · ${s.paused} paused` : ''}`;
  if (s.p50Ms === null || s.p95Ms === null) return `${s.paused} paused, no latency yet · ${rest}`;
  return `p50 ${formatMs(s.p50Ms)} · p95 ${formatMs(s.p95Ms)} · ${rest}`;
}

/** The hover's first line: `189 requests in the last 57 s · p50 … · p95 … · p99 … · 2.0% errors`. */
export function hoverHeadline(s: HandlerStats): string {
  const q = (v: number | null) => (v === null ? '–' : formatMs(v));
  const paused = s.paused ? ` · ${s.paused} paused at a breakpoint (counted, not in the percentiles)` : '';
  return `${s.count} requests in the last ${s.seconds} s · p50 ${q(s.p50Ms)} · p95 ${q(s.p95Ms)} · p99 ${q(s.p99Ms)} · ${(s.errorRate * 100).toFixed(1)}% errors${paused}`;
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
