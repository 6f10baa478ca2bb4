/**
 * The read-only query API (docs/api.md): what other windows, the command-line viewer and tests read.
 * The caller has already checked the token and the method.
 */
import { analyseTraceView, type FindingKind } from '../findings/insights';
import { severityFromText, type AttrFilter, type LogQuery } from '../store/logIndex';
import { summarizeRun } from '../runs/compare';
import type { TelemetryStore } from '../store/store';
import type { ProcessSnapshot } from './processStats';

export interface QueryResult {
  status: number;
  body: unknown;
}

interface CollectorInfo {
  readonly counters: { snapshot(): Record<string, number> };
  readonly connectionCount: number;
  readonly port: number;
  readonly process?: { snapshot(): ProcessSnapshot };
  readonly sockets?: { readonly size: number; readonly highWater: number };
  /** The forwarder's state and the remote Prometheus figures, when configured (core/upstream.ts). */
  readonly upstream?: QueryExtensions;
}

/** What the runtime adds to the query API beyond the store: /api/v1/stats fields, remote route figures. */
export interface QueryExtensions {
  stats(): Record<string, unknown>;
  /** Adds `remote` to the local routes and appends routes known only remotely. */
  routes?(local: Record<string, unknown>[]): Record<string, unknown>[];
}

function intParam(params: URLSearchParams, name: string, def: number, min: number, max: number): number | { error: string } {
  const raw = params.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) return { error: `${name} must be a number from ${min} to ${max}` };
  return Math.floor(n);
}

const bad = (message: string): QueryResult => ({ status: 400, body: { error: 'bad_request', message } });

export function handleQuery(path: string, params: URLSearchParams, store: TelemetryStore, collector: CollectorInfo): QueryResult {
  const service = params.get('service') || undefined;
  switch (path) {
    case '/api/v1/routes': {
      if (params.get('window') === 'run') return runRoutes(params, store);
      if (params.get('compare')) return bad('compare needs window=run');
      const window = intParam(params, 'window', 60, 1, 900);
      if (typeof window !== 'number') return bad(window.error);
      const local = store.routeSummaries(window, service).map((r) => ({ ...r, breakdown: store.insights.breakdown(r) ?? null }));
      const routes = collector.upstream?.routes ? collector.upstream.routes(local) : local;
      return { status: 200, body: { window, routes } };
    }
    case '/api/v1/runs': {
      const services = service ? [service] : store.runs.services();
      const runs = services.flatMap((name) => {
        const pinned = store.runs.pinned(name);
        return store.runs.runs(name).map((r) => summarizeRun(r, r.id === pinned));
      });
      runs.sort((a, b) => b.startMs - a.startMs);
      return { status: 200, body: { runs, pinned: Object.fromEntries(services.map((name) => [name, store.runs.pinned(name) ?? null])) } };
    }
    case '/api/v1/insights': {
      const kind = params.get('kind') || undefined;
      if (kind && !['n+1', 'slow-query', 'dominant-downstream'].includes(kind)) return bad('kind must be n+1, slow-query or dominant-downstream');
      return { status: 200, body: { insights: store.insights.list({ service, route: params.get('route') || undefined, kind: kind as FindingKind | undefined }) } };
    }
    case '/api/v1/services':
      return { status: 200, body: { services: store.serviceList().map((s) => ({ name: s.name, lastSeenMs: s.lastSeenMs, spans: s.spans, logs: s.logs, resource: s.resource.attributes })) } };
    case '/api/v1/traces': {
      const limit = intParam(params, 'limit', 50, 1, 1000);
      if (typeof limit !== 'number') return bad(limit.error);
      const minMs = params.get('minDurationMs');
      const minDurationMs = minMs ? Number(minMs) : undefined;
      if (minDurationMs !== undefined && !Number.isFinite(minDurationMs)) return bad('minDurationMs must be a number');
      const errorsOnly = params.get('errorsOnly') === 'true';
      const method = params.get('method');
      const route = params.get('route');
      if ((method || route) && !(method && route && service)) return bad('filtering by route needs service, method and route');
      const traces = method && route && service
        ? store.routeRequestsOf({ service, method, route }, { limit, errorsOnly, minDurationMs }).map((r) => ({ ...r, service, method, route }))
        : store.recentRequests({ limit, errorsOnly, minDurationMs, service });
      return { status: 200, body: { traces } };
    }
    case '/api/v1/tests':
      return { status: 200, body: { tests: store.testTraffic.summaries(service) } };
    case '/api/v1/errors':
      return { status: 200, body: { errors: store.errorGroups(service) } };
    case '/api/v1/logs': {
      const limit = intParam(params, 'limit', 200, 1, 5000);
      if (typeof limit !== 'number') return bad(limit.error);
      const q = logQueryFromParams(params);
      if ('error' in q) return bad(q.error);
      const logs = store.queryLogs(q, limit).map((l) => {
        const r = store.logRoute(l);
        return r ? { ...l, route: r.route, method: r.method || undefined } : l;
      });
      return { status: 200, body: { logs } };
    }
    case '/api/v1/stats':
      return {
        status: 200,
        body: {
          port: collector.port,
          connections: collector.connectionCount,
          sockets: collector.sockets ? { open: collector.sockets.size, highWater: collector.sockets.highWater } : undefined,
          store: store.sizes(),
          counters: collector.counters.snapshot(),
          process: collector.process?.snapshot(),
          ...collector.upstream?.stats(),
        },
      };
    default: {
      const m = /^\/api\/v1\/traces\/([0-9a-f]{32})$/.exec(path);
      if (m) {
        const spans = store.trace(m[1]);
        if (spans.length === 0) return { status: 404, body: { error: 'not_found', message: 'no spans of that trace are in the store' } };
        return { status: 200, body: { traceId: m[1], spans, logs: store.logs({ traceId: m[1], limit: 1000 }), analysis: analyseTraceView(spans) ?? null } };
      }
      return { status: 404, body: { error: 'not_found', message: `no query endpoint at ${path.slice(0, 200)}` } };
    }
  }
}

/** Splits a `q` text into terms: words, and "quoted phrases" kept whole; lowercased. */
export function searchTerms(q: string): string[] {
  const terms: string[] = [];
  const re = /"([^"]*)"?|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(q)) !== null) {
    const t = (m[1] ?? m[2]).toLowerCase();
    if (t) terms.push(t);
  }
  return terms;
}

/** The /api/v1/logs filters (docs/api.md) as a store query, or what is wrong with them. */
export function logQueryFromParams(params: URLSearchParams): LogQuery | { error: string } {
  const q: LogQuery = {};
  const level = params.get('level');
  if (level) {
    const names = level.split(',').map((s) => s.trim()).filter(Boolean);
    const sevs = names.map(severityFromText);
    const wrong = names.find((_, i) => !sevs[i]);
    if (wrong !== undefined) return { error: `level must be trace, debug, info, warn, error or fatal (or a comma-separated list), not ${JSON.stringify(wrong.slice(0, 40))}` };
    if (sevs.length === 1) q.minSeverity = sevs[0];
    else q.severities = sevs as NonNullable<LogQuery['severities']>;
  }
  const service = params.get('service');
  if (service) q.service = service;
  const route = params.get('route');
  if (route) q.route = route;
  const text = params.get('q');
  if (text) {
    if (text.length > 1000) return { error: 'q is limited to 1000 characters' };
    q.terms = searchTerms(text);
  }
  const traceId = params.get('traceId');
  if (traceId) {
    if (!/^[0-9a-fA-F]{32}$/.test(traceId)) return { error: 'traceId must be 32 hex digits' };
    q.traceId = traceId.toLowerCase();
  }
  for (const name of ['sinceMs', 'untilMs'] as const) {
    const raw = params.get(name);
    if (raw === null || raw === '') continue;
    const n = Number(raw);
    if (!Number.isFinite(n)) return { error: `${name} must be a number (Unix epoch milliseconds)` };
    q[name] = n;
  }
  const failed = params.get('failed');
  if (failed !== null && failed !== '') {
    if (failed !== 'true' && failed !== 'false') return { error: 'failed must be true or false' };
    q.failedOnly = failed === 'true';
  }
  const attrs: AttrFilter[] = [];
  for (const [key, value] of params) {
    if (!key.startsWith('attr.')) continue;
    // `attr.status!=200` arrives as the parameter `attr.status!` with the value `200`.
    const negate = key.endsWith('!');
    const name = key.slice(5, negate ? -1 : undefined);
    if (!name) return { error: 'attr. needs an attribute name: attr.KEY=VALUE or attr.KEY!=VALUE' };
    if (attrs.length >= 20) return { error: 'at most 20 attr. filters' };
    attrs.push({ key: name, value, negate });
  }
  if (attrs.length) q.attrs = attrs;
  return q;
}

/**
 * `/api/v1/routes?window=run&service=S`: the figures of the service's latest run (running or
 * ended), or of `run=ID`; with `compare=baseline` each route gains `baseline` (the same figures
 * in the baseline run, or null for a new route) and `change` (only the significant differences).
 */
function runRoutes(params: URLSearchParams, store: TelemetryStore): QueryResult {
  const service = params.get('service');
  if (!service) return bad('window=run needs service');
  const compare = params.get('compare');
  if (compare && compare !== 'baseline') return bad('compare must be baseline');
  const runId = params.get('run') || undefined;
  const c = store.runs.comparison(service, runId);
  if (!c) return { status: 404, body: { error: 'not_found', message: runId ? 'no such run of that service' : 'no run of that service yet' } };
  const routes = c.routes.map((r) => {
    const { baseline, change, ...figures } = r;
    return compare ? { service, ...figures, baseline, change } : { service, ...figures };
  });
  const body: Record<string, unknown> = { window: 'run', run: c.run, routes };
  if (compare) Object.assign(body, { baseline: c.baseline, baselineKind: c.baselineKind, newRoutes: c.newRoutes, goneRoutes: c.goneRoutes, newErrorGroups: c.newErrorGroups });
  return { status: 200, body };
}
