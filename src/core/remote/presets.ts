/**
 * The metric and label names of the common HTTP server exporters, as a remote Prometheus holds
 * them, and the PromQL Routelens asks it for each route's figures.
 */

export interface RemotePreset {
  name: string;
  /** Histogram base name (the series are `<histogram>_bucket`, `_count`, `_sum`). */
  histogram: string;
  /** Labels that may hold the route (grouped by all; the first non-empty one in a result is the route). */
  route: string[];
  /** Labels that may hold the method ([] when the exporter has none). */
  method: string[];
  /** Status labels on the histogram itself ([] when the status is only on `counter`). */
  status: string[];
  /** A request counter with a status label, for errors when the histogram has no status. */
  counter?: { name: string; status: string };
  /** Seconds (1000) or milliseconds (1) per unit of the histogram. */
  toMs: number;
  /** Route values meaning "no route matched", left out. */
  ignoreRoutes?: string[];
}

export const PRESET_NAMES = ['otel', 'fastapi-instrumentator', 'flask-exporter', 'django-prometheus', 'prom-client'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESETS: Record<PresetName, RemotePreset> = {
  // OpenTelemetry `http.server.request.duration` (seconds), as the Collector's Prometheus exporters
  // and Prometheus' own OTLP receiver name it.
  otel: { name: 'otel', histogram: 'http_server_request_duration_seconds', route: ['http_route'], method: ['http_request_method'], status: ['http_response_status_code'], toMs: 1000 },
  // prometheus-fastapi-instrumentator: http_request_duration_seconds{handler, method}, and
  // http_requests_total{handler, method, status} with the status grouped as "2xx".."5xx".
  'fastapi-instrumentator': {
    name: 'fastapi-instrumentator',
    histogram: 'http_request_duration_seconds',
    route: ['handler'],
    method: ['method'],
    status: [],
    counter: { name: 'http_requests_total', status: 'status' },
    toMs: 1000,
    ignoreRoutes: ['none'],
  },
  // prometheus_flask_exporter: flask_http_request_duration_seconds{method, status, <group_by>},
  // the route label named after its group_by setting (path by default; url_rule, endpoint).
  'flask-exporter': { name: 'flask-exporter', histogram: 'flask_http_request_duration_seconds', route: ['url_rule', 'path', 'endpoint'], method: ['method'], status: ['status'], toMs: 1000 },
  // django-prometheus: latency by view and method; the status only on the responses counter.
  'django-prometheus': {
    name: 'django-prometheus',
    histogram: 'django_http_requests_latency_seconds_by_view_method',
    route: ['view'],
    method: ['method'],
    status: [],
    counter: { name: 'django_http_responses_total_by_status_view_method_total', status: 'status' },
    toMs: 1000,
    // The exposition's own view, which Prometheus' scrapes call.
    ignoreRoutes: ['prometheus-django-metrics'],
  },
  // prom-client (Node) has no HTTP metrics of its own; this is the histogram its documentation and
  // the middlewares built on it (express-prom-bundle) define: http_request_duration_seconds with
  // route (or path), method and status_code (or code).
  'prom-client': { name: 'prom-client', histogram: 'http_request_duration_seconds', route: ['route', 'path'], method: ['method'], status: ['status_code', 'code'], toMs: 1000 },
};

/** A label selector `{a="b", c=~"d"}` (or empty) to its matchers `a="b", c=~"d"`, or an error. */
export function selectorMatchers(selector: string | undefined): string | { error: string } {
  const s = (selector ?? '').trim();
  if (!s) return '';
  if (!s.startsWith('{') || !s.endsWith('}')) return { error: `the selector must be a label selector such as {env="prod", service="orders"}, not ${JSON.stringify(s.slice(0, 80))}` };
  const inner = s.slice(1, -1).trim();
  // Matchers only: label names, operators and quoted values (Prometheus checks the rest).
  const matcher = /\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(,|$)/y;
  let i = 0;
  while (i < inner.length) {
    matcher.lastIndex = i;
    const m = matcher.exec(inner);
    if (!m) return { error: `the selector's matchers must look like label="value" (at ${JSON.stringify(inner.slice(i, i + 40))})` };
    i = matcher.lastIndex;
  }
  return inner.replace(/,\s*$/, '');
}

function sel(matchers: string, extra?: string): string {
  const parts = [matchers, extra].filter(Boolean);
  return parts.length ? `{${parts.join(', ')}}` : '';
}

export interface RouteQueries {
  /** by: the labels the answers are grouped by (route and method). */
  by: string[];
  quantile(q: number): string;
  rps: string;
  /** Rate of failed requests (5xx); divided by `total` for the error rate. */
  errors: string;
  total: string;
}

/** The PromQL for one preset, selector (matchers) and range (`3600s`). */
export function routeQueries(p: RemotePreset, matchers: string, range: string): RouteQueries {
  const by = [...p.route, ...p.method];
  const byList = by.join(', ');
  const fivexx = (label: string) => `${label}=~"5.."`;
  const quantile = (q: number) => `histogram_quantile(${q}, sum by (le, ${byList}) (rate(${p.histogram}_bucket${sel(matchers)}[${range}])))`;
  const rps = `sum by (${byList}) (rate(${p.histogram}_count${sel(matchers)}[${range}]))`;
  let errors: string;
  let total: string;
  if (p.status.length) {
    // One status label per exporter in practice; several candidates are OR-ed.
    errors = p.status.map((s) => `sum by (${byList}) (rate(${p.histogram}_count${sel(matchers, fivexx(s))}[${range}]))`).join(' or ');
    total = rps;
  } else if (p.counter) {
    const routeAndMethod = byList;
    errors = `sum by (${routeAndMethod}) (rate(${p.counter.name}${sel(matchers, fivexx(p.counter.status))}[${range}]))`;
    total = `sum by (${routeAndMethod}) (rate(${p.counter.name}${sel(matchers)}[${range}]))`;
  } else {
    errors = '';
    total = rps;
  }
  return { by, quantile, rps, errors, total };
}

/** A Prometheus duration (`1h`, `30m`, `90s`, `1h30m`, `1d`) in seconds, or undefined. */
export function parseRange(v: string): number | undefined {
  const t = v.trim();
  if (!/^(\d+(ms|[smhdwy]))+$/.test(t)) return undefined;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  for (const m of t.matchAll(/(\d+)(ms|[smhdwy])/g)) total += Number(m[1]) * unit[m[2]];
  return total > 0 ? total : undefined;
}
