/**
 * The query API's routes with the remote Prometheus figures: each local route gains `remote` when
 * the remote server has figures for it (same method and route template; by template alone when the
 * exporter has no method label), and routes known only remotely are listed after the local ones,
 * with no local requests.
 */
import type { RemotePrometheus } from './remotePrometheus';

export function withRemoteFigures(local: Record<string, unknown>[], remote: Pick<RemotePrometheus, 'figures' | 'allRoutes'>): Record<string, unknown>[] {
  const matched = new Set<string>();
  const out = local.map((r) => {
    const method = String(r.method ?? '');
    const route = String(r.route ?? '');
    const f = remote.figures(method, route);
    if (!f) return r;
    matched.add(`${method.toUpperCase()} ${route}`);
    matched.add(` ${route}`);
    const { p50Ms, p95Ms, p99Ms, rps, errorRate, rangeS, asOfMs } = f;
    return { ...r, remote: { p50Ms, p95Ms, p99Ms, rps, errorRate, rangeS, asOfMs } };
  });
  for (const r of remote.allRoutes()) {
    if (matched.has(`${r.method} ${r.route}`) || (r.method === '' && [...matched].some((k) => k.endsWith(` ${r.route}`)))) continue;
    const { p50Ms, p95Ms, p99Ms, rps, errorRate, rangeS, asOfMs } = r;
    out.push({
      service: null,
      method: r.method,
      route: r.route,
      count: 0,
      rps: 0,
      errorRate: 0,
      p50Ms: null,
      p95Ms: null,
      p99Ms: null,
      paused: 0,
      code: null,
      source: 'remote',
      lastSeenMs: null,
      breakdown: null,
      remote: { p50Ms, p95Ms, p99Ms, rps, errorRate, rangeS, asOfMs },
    });
  }
  return out;
}
