/**
 * Observed figures per route handler of one file: the telemetry routes that the index matches to
 * a handler of this file are merged (a handler may serve several methods or services), so a lens
 * shows exactly what that function did.
 */
import type { Figures } from '../stats/figures';
import { observationsOf, quantileOf, sumByLe } from '../stats/bucketSlots';
import type { RouteEntry, RouteKey } from '../stats/routeStats';
import { LatencySketch } from '../stats/sketch';
import type { ErrorGroup } from '../stats/errorGroups';
import type { TelemetryStore } from '../store/store';
import type { RouteIndex } from './routeIndex';
import type { DetectedRoute } from './types';

export interface HandlerStats extends Figures {
  handler: DetectedRoute;
  /** The telemetry routes that feed this handler (for "show traces"). */
  keys: RouteKey[];
  /** Seconds the figures cover (the window, aligned to the latency slots; see WindowedSeries.window). */
  seconds: number;
  /** Seconds the rate is measured over: `seconds`, or less for a route younger than the window. */
  rateSeconds: number;
  /** Requests stopped in a debugger part of the time: in `count`, kept out of the percentiles. */
  paused: number;
  /**
   * Where the quantiles come from: 'spans' (measured requests), 'metrics' (interpolated inside
   * histogram buckets, PromQL's histogram_quantile), 'mixed' (both kinds of route feed this
   * handler; the quantiles merge the request sketches and are approximate for the histogram part).
   */
  source: 'spans' | 'metrics' | 'mixed';
  sketch: LatencySketch;
  errors: ErrorGroup[];
}

interface Feed {
  entry: RouteEntry;
  window: ReturnType<RouteEntry['series']['window']>;
}

/**
 * A handler fed by one route shows that route's summary as it is, the same figures as the routes
 * table and /api/v1/routes. Several routes (methods, services) are combined: counts add up, and
 * the quantiles are of all their requests together: a merge of the sketches for spans, the sum of
 * the bucket increases by `le` for histograms (as PromQL's `sum by (le)`).
 */
export function handlerStatsForFile(uri: string, index: RouteIndex, store: TelemetryStore, windowSec: number, nowMs = Date.now()): HandlerStats[] {
  // One lens per function and method: a function registered under several URLs (an alias rule,
  // a blueprint mounted twice) is one handler whose figures add up, not several lenses.
  const canonical = new Map<string, DetectedRoute>();
  const handlers: DetectedRoute[] = [];
  for (const h of index.routesOf(uri)) {
    const k = handlerIdentity(h);
    if (canonical.has(k)) continue;
    canonical.set(k, h);
    handlers.push(h);
  }
  if (handlers.length === 0) return [];
  const byHandler = new Map<DetectedRoute, Feed[]>();
  const languages = new Map<string, string>();
  for (const svc of store.serviceList()) {
    const lang = svc.resource.attributes['telemetry.sdk.language'];
    if (typeof lang === 'string') languages.set(svc.name, lang);
  }
  for (const entry of store.routeEntries()) {
    const m = index.match(entry.key.method, entry.key.route, entry.code, { service: entry.key.service, language: languages.get(entry.key.service) });
    if (!m || m.uri !== uri) continue;
    const feed = { entry, window: entry.series.window(nowMs / 1000, windowSec) };
    const handler = canonical.get(handlerIdentity(m.handler)) ?? m.handler;
    const list = byHandler.get(handler);
    if (list) list.push(feed);
    else byHandler.set(handler, [feed]);
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
    const feeds = byHandler.get(handler) ?? [];
    const keys = feeds.map((f) => ({ service: f.entry.key.service, method: f.entry.key.method, route: f.entry.key.route }));
    const errors = keys.flatMap((k) => (groupsByRoute.get(k.route) ?? []).filter((g) => (!g.method || g.method === k.method) && k.service === g.service));
    return { handler, keys, errors, ...combine(feeds, nowMs, windowSec) };
  });
}

function handlerIdentity(h: DetectedRoute): string {
  return `${h.line}\u0000${h.method}\u0000${h.handlerName}\u0000${h.className ?? ''}`;
}

function combine(feeds: Feed[], nowMs: number, windowSec: number): Omit<HandlerStats, 'handler' | 'keys' | 'errors'> {
  if (feeds.length === 0) return { count: 0, seconds: 0, rateSeconds: 0, rps: 0, errorRate: 0, p50Ms: null, p95Ms: null, p99Ms: null, paused: 0, source: 'spans', sketch: new LatencySketch() };
  if (feeds.length === 1) {
    const r = feeds[0].entry.summarize(nowMs, windowSec);
    const w = feeds[0].window;
    return { count: r.count, seconds: w.covered, rateSeconds: w.seconds, rps: r.rps, errorRate: r.errorRate, p50Ms: r.p50Ms, p95Ms: r.p95Ms, p99Ms: r.p99Ms, paused: r.paused, source: r.source, sketch: w.sketch };
  }
  let count = 0;
  let errs = 0;
  let paused = 0;
  let seconds = 0;
  let covered = 0;
  const sketch = new LatencySketch();
  for (const f of feeds) {
    count += f.window.count;
    errs += f.window.errors;
    paused += f.window.paused;
    seconds = Math.max(seconds, f.window.seconds);
    covered = Math.max(covered, f.window.covered);
    sketch.merge(f.window.sketch);
  }
  const sources = new Set(feeds.map((f) => f.entry.source));
  const source = sources.size > 1 ? 'mixed' : feeds[0].entry.source;
  let q: (p: number) => number | null;
  if (source === 'metrics') {
    const buckets = sumByLe(feeds.map((f) => f.entry.windowBuckets(nowMs, windowSec) ?? []));
    q = (p) => (observationsOf(buckets) > 0 ? nullIfNaN(quantileOf(p, buckets)) : null);
  } else {
    // Requests paused at a breakpoint are counted but not in the sketch: it may hold fewer.
    q = (p) => (sketch.count ? round3(sketch.quantile(p)) : null);
  }
  return { count, seconds: covered, rateSeconds: seconds, rps: seconds ? round3(count / seconds) : 0, errorRate: count ? round3(errs / count) : 0, p50Ms: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99), paused, source, sketch };
}

function nullIfNaN(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * Handlers whose function also serves another method with its own lens in the same place (the
 * same name and line): their lens titles must name the method, or a GET figure could not be told
 * from a POST one.
 */
export function methodsSharingHandler(handlers: readonly DetectedRoute[]): Set<DetectedRoute> {
  const byPlace = new Map<string, DetectedRoute[]>();
  for (const h of handlers) {
    const k = `${h.decoratorLine}\u0000${h.line}\u0000${h.handlerName}`;
    const list = byPlace.get(k);
    if (list) list.push(h);
    else byPlace.set(k, [h]);
  }
  const out = new Set<DetectedRoute>();
  for (const list of byPlace.values()) if (new Set(list.map((h) => h.method)).size > 1) for (const h of list) out.add(h);
  return out;
}
