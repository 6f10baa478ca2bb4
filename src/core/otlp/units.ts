import type { HistogramValue, MetricPoint } from '../model';
import { isServerError } from '../semconv';

/** Milliseconds per unit, for the UCUM time units OTel instruments use. */
const MS_PER: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Duration metrics whose unit is conventionally fixed, for senders that leave `unit` empty: the old
 * HTTP conventions measured in milliseconds, the stable ones in seconds.
 */
const DEFAULT_UNIT: Record<string, string> = {
  'http.server.duration': 'ms',
  'http.client.duration': 'ms',
  'http.server.request.duration': 's',
  'http.client.request.duration': 's',
};

/** The factor that turns a value of this metric into milliseconds, or undefined when it is not a duration. */
export function msFactor(unit: string | undefined, metricName?: string): number | undefined {
  const u = unit || (metricName ? DEFAULT_UNIT[metricName] : undefined);
  return u ? MS_PER[u] : undefined;
}

/**
 * A duration histogram with its bounds and sum in milliseconds (counts unchanged), whatever unit the
 * sender used; undefined when the point is not a histogram of a time unit.
 */
export function histogramToMs(point: MetricPoint): HistogramValue | undefined {
  const h = point.histogram;
  if (!h) return undefined;
  const f = msFactor(point.unit, point.name);
  if (f === undefined) return undefined;
  if (f === 1) return h;
  return { bounds: h.bounds.map((b) => b * f), counts: h.counts, sum: h.sum * f, count: h.count };
}

/** The latency histograms of HTTP servers, stable and old names. */
export const HTTP_SERVER_DURATION_METRICS: ReadonlySet<string> = new Set(['http.server.request.duration', 'http.server.duration']);

export interface HttpServerDuration {
  service: string;
  method: string;
  /** The route template (`http.route`); a raw path is never taken for one. */
  route: string;
  statusCode?: number;
  /** 5xx, or `error.type` set: what a server span would call an error. */
  error: boolean;
  histogramMs: HistogramValue;
}

/**
 * The route-statistics view of an HTTP server duration histogram point (either generation), in
 * milliseconds; undefined for any other point or one without a route template.
 */
export function httpServerDuration(point: MetricPoint): HttpServerDuration | undefined {
  if (point.kind !== 'histogram' || !HTTP_SERVER_DURATION_METRICS.has(point.name)) return undefined;
  const a = point.attributes;
  const route = a['http.route'];
  const method = a['http.request.method'] ?? a['http.method'];
  if (typeof route !== 'string' || route === '' || typeof method !== 'string' || method === '') return undefined;
  const histogramMs = histogramToMs(point);
  if (!histogramMs) return undefined;
  const rawStatus = a['http.response.status_code'] ?? a['http.status_code'];
  const statusCode = typeof rawStatus === 'number' ? rawStatus : typeof rawStatus === 'string' && /^\d{3}$/.test(rawStatus) ? Number(rawStatus) : undefined;
  const out: HttpServerDuration = {
    service: point.resource.serviceName,
    method: method.toUpperCase(),
    route,
    error: isServerError(statusCode) || (typeof a['error.type'] === 'string' && a['error.type'] !== ''),
    histogramMs,
  };
  if (statusCode !== undefined) out.statusCode = statusCode;
  return out;
}
