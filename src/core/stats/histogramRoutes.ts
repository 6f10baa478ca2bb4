/**
 * Routes from histograms: the HTTP server-duration histograms (OTLP's, and the common Prometheus
 * exporters') turned into route statistics for routes that send metrics but no spans. The one
 * place this is derived, so the owner window, its viewers and `routelens serve` agree.
 */
import type { MetricPoint } from '../model';
import { httpServerDuration } from '../otlp';
import { cumulativeIncreaseOf, RouteDeriver } from '../prometheus/routes';
import type { TelemetrySink } from '../sink';
import type { TelemetryStore } from '../store/store';
import { observationsFromHistogram } from './histogramObservations';

/**
 * The store as a sink, plus the HTTP server-duration histograms turned into route statistics for
 * routes that send metrics but no spans (the store ignores them once spans arrive for a route).
 */
export function metricsAwareSink(store: TelemetryStore): TelemetrySink {
  // Prometheus HTTP histograms (scraped here, or relayed to a viewer window) become route
  // statistics in the same place, so owner and viewers derive the same figures.
  const prometheusRoutes = new RouteDeriver();
  return {
    addSpans: (spans) => store.addSpans(spans),
    addLogs: (logs) => store.addLogs(logs),
    addMetrics: (points: MetricPoint[]) => {
      store.addMetrics(points);
      for (const p of points) {
        const d = httpServerDuration(p);
        if (!d) continue;
        const obs = observationsFromHistogram(d.histogramMs).map((o) => ({ ...o, error: d.error }));
        const buckets = { boundsMs: d.histogramMs.bounds, cumulative: cumulativeIncreaseOf(d.histogramMs) };
        if (obs.length) store.recordRouteHistogram({ service: d.service, method: d.method, route: d.route }, obs, buckets);
      }
      for (const r of prometheusRoutes.derive(points)) if (r.observations.length) store.recordRouteHistogram(r.key, r.observations, r.buckets);
    },
  };
}
