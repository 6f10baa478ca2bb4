/**
 * The totals of a scope (every service, or one): requests per second, p50/p95/p99 and the error
 * rate over the statistics window, each request counted once. The dashboard's headline and the
 * status bar read the same figure from here.
 */
import type { TelemetryStore } from '../store/store';
import { observationsOf, quantileOf, sumByLe, type BucketIncreaseSlots } from './bucketSlots';
import type { Totals } from './figures';
import type { RouteSummary, WindowedSeries } from './routeStats';
import { LatencySketch } from './sketch';

/**
 * Series that together count every request once: each service's own series (spans), plus routes
 * whose figures come from metrics (Prometheus or OTLP histograms), which the service series do
 * not include.
 */
export function seriesOf(store: TelemetryStore, summaries: RouteSummary[], service: string | null, services: string[]): WindowedSeries[] {
  const out: WindowedSeries[] = [];
  for (const name of service === null ? services : [service]) {
    const s = store.serviceSeriesOf(name);
    if (s) out.push(s);
  }
  for (const r of summaries) {
    if (r.source !== 'metrics') continue;
    const entry = store.route(r);
    if (entry) out.push(entry.series);
  }
  return out;
}

/**
 * The bucket increases of every route in scope, when all of its requests come from histograms
 * (no spans at all, every route with buckets): then the totals and the latency chart are PromQL's
 * `histogram_quantile` over their sum by `le`, the same kind of figure as each route's row.
 */
export function histogramFeeds(store: TelemetryStore, summaries: RouteSummary[], service: string | null, services: string[]): BucketIncreaseSlots[] | undefined {
  for (const name of service === null ? services : [service]) if (store.serviceSeriesOf(name)) return undefined;
  const out: BucketIncreaseSlots[] = [];
  for (const r of summaries) {
    const slots = r.source === 'metrics' ? store.route(r)?.buckets : undefined;
    if (!slots) return undefined;
    out.push(slots);
  }
  return out.length ? out : undefined;
}

export function totalsOf(series: WindowedSeries[], nowSec: number, windowSec: number, feeds?: BucketIncreaseSlots[]): Totals {
  const sketch = new LatencySketch();
  let requests = 0;
  let errors = 0;
  let rps = 0;
  for (const s of series) {
    const w = s.window(nowSec, windowSec);
    requests += w.count;
    errors += w.errors;
    rps += w.count / w.seconds;
    sketch.merge(w.sketch);
  }
  const buckets = feeds ? sumByLe(feeds.map((f) => f.windowBuckets(nowSec, windowSec))) : undefined;
  const q = (p: number): number | null => {
    if (buckets) return observationsOf(buckets) > 0 ? round(quantileOf(p, buckets), 2) : null;
    return requests ? round(sketch.quantile(p), 2) : null;
  };
  return { rps: round(rps, 2), p50Ms: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99), errorRate: requests ? round(errors / requests, 4) : 0, requests };
}

/** The most recent test runs' requests (store.testTraffic), without their route lists. */

/** The totals of every service (or `service` alone) in the store, over the window ending now. */
export function storeTotals(store: TelemetryStore, windowSec: number, nowSec = Date.now() / 1000, service: string | null = null): Totals {
  const services = store.serviceList().map((s) => s.name);
  const summaries = store.routeSummaries(windowSec);
  return totalsOf(seriesOf(store, summaries, service, services), nowSec, windowSec, histogramFeeds(store, summaries, service, services));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
