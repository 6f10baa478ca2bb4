/**
 * Route statistics from the HTTP latency histograms that common exporters publish, for routes that
 * send no traces. Each scrape's bucket deltas per (service, method, route) give the store two
 * things (`recordRouteHistogram`); the store ignores both for a route that has spans, so nothing
 * is counted twice:
 * - the bucket increase itself, summed over the route's series. The route's p50/p95/p99 are
 *   `histogram_quantile` over the sum of these across the window, the figures PromQL gives;
 * - weighted observations, for the request and error counts and the hover's small histogram.
 *   A bucket (lo, hi] with c new observations gets min(c, 32) points (whole weights summing to c)
 *   at lo + (hi - lo) * u, with u from a low-discrepancy sequence (u_n = frac(1/2 + n * phi), phi
 *   the golden ratio) that continues from scrape to scrape for that route and bucket; the lowest
 *   bucket starts at 0 when its bound is positive (else its points sit on its bound), and the
 *   +Inf bucket's points sit on the highest finite bound, both as PromQL answers.
 */
import type { AttrValue, HistogramValue, MetricPoint } from '../model';
import type { BucketIncrease } from '../stats/bucketSlots';
import type { RouteKey } from '../stats/routeStats';

export interface RouteObservation {
  valueMs: number;
  count: number;
  error: boolean;
}

export interface RouteHistogramRecorder {
  recordRouteHistogram(key: RouteKey, observations: RouteObservation[], buckets?: BucketIncrease): boolean;
}

/** What one scrape adds to a route: counted observations, and the bucket increase its quantiles come from. */
export interface DerivedRoute {
  key: RouteKey;
  observations: RouteObservation[];
  /** The scrape's increase per bucket (bounds in ms), summed over the route's series. */
  buckets: BucketIncrease;
  exporter: string;
}

/** Increase of each cumulative bucket (then +Inf) of a delta histogram, as PromQL's `increase` has it. */
export function cumulativeIncreaseOf(h: HistogramValue): number[] {
  if (h.cumulativeIncrease && h.cumulativeIncrease.length === h.counts.length) return h.cumulativeIncrease;
  const out = new Array<number>(h.counts.length);
  let acc = 0;
  for (let i = 0; i < h.counts.length; i++) out[i] = acc += h.counts[i];
  return out;
}

export interface RouteMetricSpec {
  /** Which exporter writes it, for documentation and diagnostics. */
  exporter: string;
  /** Histogram family names (as they appear in the exposition). */
  metrics: string[];
  /** Labels holding the route template (the first present wins). */
  route: string[];
  method: string[];
  status: string[];
  /** Multiplier from the histogram's unit to milliseconds. */
  toMs: number;
  /** Route label values that stand for "no route matched" and are skipped. */
  ignoreRoutes?: string[];
  /** A counter with a status label, for errors when the histogram has none. */
  errorCounter?: { metrics: string[]; route: string[]; method: string[]; status: string[] };
}

/** The HTTP server histograms Routelens reads route latency from. */
export const ROUTE_METRICS: RouteMetricSpec[] = [
  {
    // prometheus-fastapi-instrumentator: {handler, method}; express-prom-bundle: {method, path, status_code}.
    exporter: 'prometheus-fastapi-instrumentator / express-prom-bundle',
    metrics: ['http_request_duration_seconds'],
    route: ['handler', 'path'],
    method: ['method'],
    status: ['status', 'status_code'],
    toMs: 1000,
    // The instrumentator groups requests that matched no route under handler="none".
    ignoreRoutes: ['none'],
    errorCounter: { metrics: ['http_requests_total'], route: ['handler', 'path'], method: ['method'], status: ['status', 'status_code'] },
  },
  {
    // prometheus_flask_exporter labels the route with the name of its `group_by` setting.
    exporter: 'prometheus_flask_exporter',
    metrics: ['flask_http_request_duration_seconds'],
    route: ['url_rule', 'path', 'endpoint'],
    method: ['method'],
    status: ['status'],
    toMs: 1000,
  },
  {
    exporter: 'django-prometheus',
    metrics: ['django_http_requests_latency_seconds_by_view_method'],
    route: ['view'],
    method: ['method'],
    status: [],
    toMs: 1000,
    errorCounter: {
      metrics: ['django_http_responses_total_by_status_view_method_total', 'django_http_responses_total_by_status_view_method'],
      route: ['view'],
      method: ['method'],
      status: ['status'],
    },
  },
  {
    // OpenTelemetry `http.server.request.duration` (seconds) as a Prometheus exporter names it.
    // Dotted UTF-8 names are left to the OTLP path (otlp/units.ts), which already reads them.
    exporter: 'OpenTelemetry http.server.request.duration',
    metrics: ['http_server_request_duration_seconds'],
    route: ['http_route'],
    method: ['http_request_method'],
    status: ['http_response_status_code'],
    toMs: 1000,
  },
  {
    // The older OpenTelemetry `http.server.duration`, in milliseconds.
    exporter: 'OpenTelemetry http.server.duration (old conventions)',
    metrics: ['http_server_duration_milliseconds', 'http_server_duration'],
    route: ['http_route'],
    method: ['http_method'],
    status: ['http_status_code'],
    toMs: 1,
  },
];

const BY_METRIC = new Map<string, RouteMetricSpec>();
for (const spec of ROUTE_METRICS) for (const m of spec.metrics) BY_METRIC.set(m, spec);
const ERROR_COUNTERS = new Map<string, RouteMetricSpec>();
for (const spec of ROUTE_METRICS) for (const m of spec.errorCounter?.metrics ?? []) ERROR_COUNTERS.set(m, spec);

function label(attrs: Record<string, AttrValue>, names: string[]): string | undefined {
  for (const n of names) {
    const v = attrs[n];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** 5xx, in the forms exporters write it: "500", "5xx", "503.0". */
export function isServerErrorStatus(status: string | undefined): boolean {
  if (!status) return false;
  const c = status.charCodeAt(0);
  if (c !== 53) return false; // '5'
  if (status.length === 3 && (status[1] === 'x' || status[1] === 'X')) return true;
  const n = Number(status);
  return Number.isFinite(n) && n >= 500 && n < 600;
}

/** Whether a histogram family is one of the HTTP latency metrics routes are read from. */
export function isRouteMetric(name: string): boolean {
  return BY_METRIC.has(name);
}

/** The route a series of a known HTTP metric describes, or undefined. Used to tie exemplars to routes too. */
export function routeOfSeries(metric: string, attrs: Record<string, AttrValue>, service: string): RouteKey | undefined {
  const spec = BY_METRIC.get(metric);
  if (!spec) return undefined;
  const route = label(attrs, spec.route);
  const method = label(attrs, spec.method);
  if (!route || !method || spec.ignoreRoutes?.includes(route)) return undefined;
  return { service, method: method.toUpperCase(), route };
}

const PHI = 0.6180339887498949;
const MAX_POINTS_PER_BUCKET = 32;

interface Merged {
  key: RouteKey;
  bounds: number[];
  toMs: number;
  counts: number[];
  errors: number[];
  /** Summed increase of each cumulative bucket (unforced, see HistogramValue.cumulativeIncrease). */
  cumulative: number[];
  /** Whether any series of the route had a status label. */
  statusKnown: boolean;
}

/**
 * Turns a scrape's delta points into route observations. Keeps, per route and bucket, where its
 * placement sequence stands, so successive scrapes continue it.
 */
export class RouteDeriver {
  private readonly seq = new Map<string, number>();
  private readonly maxSequences: number;

  constructor(opts: { maxSequences?: number } = {}) {
    this.maxSequences = opts.maxSequences ?? 50_000;
  }

  /** Observations per route from one scrape's points (deltas, as ExpositionTracker emits them). */
  derive(points: readonly MetricPoint[]): DerivedRoute[] {
    const merged = new Map<string, Merged & { exporter: string }>();
    const errTotals = new Map<string, { total: number; errors: number }>();
    for (const p of points) {
      if (p.kind === 'histogram' && p.histogram) {
        const spec = BY_METRIC.get(p.name);
        if (!spec) continue;
        const key = routeOfSeries(p.name, p.attributes, p.resource.serviceName);
        if (!key) continue;
        const h = p.histogram;
        if (h.count <= 0) continue;
        const status = label(p.attributes, spec.status);
        const isErr = isServerErrorStatus(status);
        const mk = `${key.service}\u0000${key.method}\u0000${key.route}\u0000${h.bounds.join(',')}`;
        let m = merged.get(mk);
        if (!m) {
          m = {
            key,
            bounds: h.bounds,
            toMs: spec.toMs,
            counts: new Array(h.counts.length).fill(0),
            errors: new Array(h.counts.length).fill(0),
            cumulative: new Array(h.counts.length).fill(0),
            statusKnown: false,
            exporter: spec.exporter,
          };
          merged.set(mk, m);
        }
        if (status !== undefined) m.statusKnown = true;
        const cum = cumulativeIncreaseOf(h);
        for (let i = 0; i < h.counts.length; i++) {
          m.counts[i] += h.counts[i];
          m.cumulative[i] += cum[i];
          if (isErr) m.errors[i] += h.counts[i];
        }
      } else if (p.kind === 'sum' && p.value !== undefined && p.value > 0) {
        const spec = ERROR_COUNTERS.get(p.name);
        const ec = spec?.errorCounter;
        if (!spec || !ec) continue;
        const route = label(p.attributes, ec.route);
        const method = label(p.attributes, ec.method);
        if (!route || !method) continue;
        const rk = `${p.resource.serviceName}\u0000${method.toUpperCase()}\u0000${route}`;
        let t = errTotals.get(rk);
        if (!t) errTotals.set(rk, (t = { total: 0, errors: 0 }));
        t.total += p.value;
        if (isServerErrorStatus(label(p.attributes, ec.status))) t.errors += p.value;
      }
    }
    const out: DerivedRoute[] = [];
    for (const m of merged.values()) {
      // Without a status on the histogram, the share of 5xx responses comes from the companion
      // counter of the same scrape, spread over the route's buckets in proportion.
      let share = 0;
      if (!m.statusKnown) {
        const t = errTotals.get(`${m.key.service}\u0000${m.key.method}\u0000${m.key.route}`);
        if (t && t.total > 0) share = Math.min(1, t.errors / t.total);
      }
      out.push({ key: m.key, observations: this.spread(m, share), buckets: { boundsMs: m.bounds.map((b) => b * m.toMs), cumulative: m.cumulative }, exporter: m.exporter });
    }
    return out;
  }

  private spread(m: Merged, share: number): RouteObservation[] {
    const obs: RouteObservation[] = [];
    const nb = m.bounds.length;
    const routeId = `${m.key.service}\u0000${m.key.method}\u0000${m.key.route}\u0000`;
    const errors = errorsPerBucket(m, share);
    for (let b = 0; b < m.counts.length; b++) {
      const c = m.counts[b];
      if (!(c > 0)) continue;
      const e = Math.min(c, errors[b]);
      let fixed: number | undefined;
      let lo = 0;
      let hi = 0;
      if (b === nb) {
        // The +Inf bucket: PromQL answers with the highest finite bound (no bound: no latency known).
        fixed = nb > 0 ? m.bounds[nb - 1] : NaN;
      } else {
        hi = m.bounds[b];
        lo = b > 0 ? m.bounds[b - 1] : 0;
        if (b === 0 && hi <= 0) fixed = hi;
      }
      if (fixed !== undefined) {
        if (c - e > 0) obs.push({ valueMs: fixed * m.toMs, count: c - e, error: false });
        if (e > 0) obs.push({ valueMs: fixed * m.toMs, count: e, error: true });
        continue;
      }
      const points = Math.max(1, Math.min(MAX_POINTS_PER_BUCKET, Math.round(c)));
      const whole = Number.isInteger(c) && Number.isInteger(e);
      const sk = routeId + hi;
      let n = this.seq.get(sk) ?? 0;
      // Whole counts get whole weights, so the route's request and error counts add up exactly.
      // Errors take whole points spread evenly among them; at most a couple are split to match.
      const ws = new Array<number>(points);
      const es = new Array<number>(points).fill(0);
      if (whole) {
        let given = 0;
        for (let k = 0; k < points; k++) {
          ws[k] = Math.floor(((k + 1) * c) / points) - given;
          given += ws[k];
        }
        const q = Math.round((e / c) * points);
        let sum = 0;
        for (let k = 0; k < points; k++) {
          if (Math.floor(((k + 1) * q) / points) > Math.floor((k * q) / points)) {
            es[k] = ws[k];
            sum += ws[k];
          }
        }
        for (let k = points - 1; k >= 0 && sum > e; k--) {
          const cut = Math.min(es[k], sum - e);
          es[k] -= cut;
          sum -= cut;
        }
        for (let k = points - 1; k >= 0 && sum < e; k--) {
          const add = Math.min(ws[k] - es[k], e - sum);
          es[k] += add;
          sum += add;
        }
      } else {
        for (let k = 0; k < points; k++) {
          ws[k] = c / points;
          es[k] = (e / c) * ws[k];
        }
      }
      for (let k = 0; k < points; k++, n++) {
        const x = 0.5 + n * PHI;
        const valueMs = (lo + (hi - lo) * (x - Math.floor(x))) * m.toMs;
        if (ws[k] - es[k] > 0) obs.push({ valueMs, count: ws[k] - es[k], error: false });
        if (es[k] > 0) obs.push({ valueMs, count: es[k], error: true });
      }
      if (this.seq.size >= this.maxSequences && !this.seq.has(sk)) this.seq.clear();
      this.seq.set(sk, n);
    }
    return obs;
  }
}

/**
 * 5xx responses per bucket: from 5xx histogram series when the histogram has a status label, else
 * the route's 5xx share (from the companion counter) spread over the buckets in proportion to
 * their counts, in whole requests by the largest remainder, so a 10% error rate over 15 sparse
 * buckets does not round away to nothing.
 */
function errorsPerBucket(m: Merged, share: number): number[] {
  if (m.statusKnown) return m.errors;
  const out = new Array<number>(m.counts.length).fill(0);
  if (!(share > 0)) return out;
  let total = 0;
  for (const c of m.counts) total += c;
  const allWhole = m.counts.every((c) => Number.isInteger(c));
  if (!allWhole) return m.counts.map((c) => c * share);
  const target = Math.round(total * share);
  const exact = m.counts.map((c) => c * share);
  let given = 0;
  for (let b = 0; b < out.length; b++) {
    out[b] = Math.min(m.counts[b], Math.floor(exact[b]));
    given += out[b];
  }
  const order = exact.map((x, b) => [x - Math.floor(x), b] as const).sort((a, b) => b[0] - a[0]);
  for (const [, b] of order) {
    if (given >= target) break;
    if (out[b] < m.counts[b]) {
      out[b]++;
      given++;
    }
  }
  return out;
}
