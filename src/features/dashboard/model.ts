/**
 * The dashboard's view model: pure functions from the store to the state the webview draws. No
 * vscode here, so it is tested and benchmarked in plain Node.
 */
import type { CodeLocation } from '../../core/model';
import type { MetricSeries, RequestRef, TelemetryStore } from '../../core/store/store';
import { BUCKET_SLOT_SECONDS, observationsOf, quantileOf, sumByLe, type BucketIncreaseSlots } from '../../core/stats/bucketSlots';
import { histogramFeeds, seriesOf, totalsOf } from '../../core/stats/totals';
import { LatencySketch } from '../../core/stats/sketch';
import { SKETCH_SLOT_SECONDS, type RouteSummary, type WindowedSeries } from '../../core/stats/routeStats';
import type { BreakdownBar, ChartSeries, ChartsData, CollectorView, ErrorRow, ForwardView, MapEdgeRow, MetricRow, MetricsView, PinnedMetric, RemoteFigures, RouteRow, DashboardState, RemoteView, TargetRow, TestRow, TraceRow, UpstreamView } from './protocol';
import { routeChangeCell } from '../../core/runs/annotate';
import type { ForwarderState } from '../../core/forward/forwarder';
import type { RemoteRoute, RemoteRouteFigures, RemoteState } from '../../core/remote/remotePrometheus';

/** What the route table needs of a remote Prometheus source (core/remote/remotePrometheus.ts). */
export interface RemoteRouteSource {
  figures(method: string, route: string): RemoteRouteFigures | undefined;
  allRoutes(): readonly RemoteRoute[];
  state(): Pick<RemoteState, 'asOfMs'>;
}

export interface DashboardInput {
  collector: CollectorView;
  windowSec: number;
  /** The chosen service; ignored (all services) when it is not among those seen. */
  service: string | null;
  paused: boolean;
  nowMs: number;
  /** The remote Prometheus source, when one is configured: rows gain its figures. */
  remote?: RemoteRouteSource;
}

/** Buckets per chart: enough to read a trend in a narrow sidebar, few enough to post 4 times a second. */
export const CHART_POINTS = 60;
export const SPARK_SECONDS = 60;
export const MAX_ERRORS = 50;
export const MAX_TESTS = 20;
export const MAX_TRACES = 12;
export const MAX_MAP_EDGES = 40;
/** A route needs this many requests in the window before "slower than its p95" means something. */
export const MIN_REQUESTS_FOR_SLOW = 20;
export const MEMORY_METRIC = 'process.memory.usage';
export const CPU_METRIC = 'process.cpu.utilization';

/**
 * What changes only once a second (every figure is per second or per 10-second slot): the route
 * rows, the slow and failed list and the charts. Kept between updates, so the four updates a
 * second cost one full computation, not four.
 */
export interface DashboardCache {
  key: string;
  seq: number;
  summaries: RouteSummary[];
  routes: RouteRow[];
  traces: TraceRow[];
  charts: ChartsData;
  serviceMap: MapEdgeRow[];
}

export function buildDashboardState(store: TelemetryStore, input: DashboardInput, cache: { current?: DashboardCache; generation?: number } = {}): DashboardState {
  const services = store.serviceList().map((s) => s.name);
  const service = input.service !== null && services.includes(input.service) ? input.service : null;
  const scope = service ?? undefined;
  const nowSec = input.nowMs / 1000;
  const key = `${Math.floor(nowSec)}|${input.windowSec}|${service}|${cache.generation ?? 0}|${input.remote ? (input.remote.state().asOfMs ?? 0) : '-'}`;
  let heavy = cache.current;
  if (!heavy || heavy.key !== key) {
    const summaries = store.routeSummaries(input.windowSec, scope);
    heavy = {
      key,
      seq: (heavy?.seq ?? 0) + 1,
      summaries,
      routes: input.remote ? withRemoteRows(routeRows(store, summaries, nowSec), input.remote) : routeRows(store, summaries, nowSec),
      traces: slowAndFailed(store, summaries, input.nowMs, input.windowSec),
      charts: buildCharts(store, seriesOf(store, summaries, service, services), service, input.windowSec, input.nowMs, histogramFeeds(store, summaries, service, services)),
      serviceMap: serviceMapRows(store, input.windowSec, service),
    };
    cache.current = heavy;
  }
  return {
    collector: input.collector,
    services,
    service,
    windowSec: input.windowSec,
    paused: input.paused,
    nowMs: input.nowMs,
    seq: heavy.seq,
    routes: heavy.routes,
    errors: errorRows(store, scope),
    tests: testRows(store, scope),
    traces: heavy.traces,
    charts: heavy.charts,
    totals: totalsOf(seriesOf(store, heavy.summaries, service, services), nowSec, input.windowSec, histogramFeeds(store, heavy.summaries, service, services)),
    serviceMap: heavy.serviceMap,
  };
}

/** The service map's edges, those of the chosen service (calling or called) when one is chosen. */
export function serviceMapRows(store: TelemetryStore, windowSec: number, service: string | null): MapEdgeRow[] {
  return store.insights
    .serviceMap(windowSec)
    .edges.filter((e) => !service || e.from === service || (e.to.kind === 'service' && e.to.target === service))
    .slice(0, MAX_MAP_EDGES)
    .map((e) => ({ from: e.from, toKind: e.to.kind, to: e.to.target, rps: e.rps, p95Ms: e.p95Ms, errorRate: e.errorRate }));
}

/** The route's breakdown for its row's stacked bar. */
export function breakdownBar(store: TelemetryStore, r: RouteSummary): BreakdownBar | undefined {
  const b = store.insights.breakdown(r);
  if (!b) return undefined;
  return { ...b.byKind, top: b.byTarget.slice(0, 3).map((t) => ({ kind: t.kind, target: t.target, meanMs: t.meanMs })) };
}

export function routeRows(store: TelemetryStore, summaries: RouteSummary[], nowSec: number): RouteRow[] {
  const routes: RouteRow[] = new Array(summaries.length);
  for (let i = 0; i < summaries.length; i++) {
    const r = summaries[i];
    const entry = store.route(r);
    routes[i] = {
      service: r.service,
      method: r.method,
      route: r.route,
      count: r.count,
      rps: r.rps,
      errorRate: r.errorRate,
      p50Ms: r.p50Ms,
      p95Ms: r.p95Ms,
      p99Ms: r.p99Ms,
      ...(r.paused ? { paused: r.paused } : {}),
      hasCode: r.code !== null,
      fromBuckets: r.source === 'metrics',
      spark: entry ? entry.series.perSecond(nowSec, SPARK_SECONDS).counts : [],
    };
    const bar = breakdownBar(store, r);
    if (bar) routes[i].breakdown = bar;
    const change = routeChangeCell(store.runs, r);
    if (change) routes[i].change = change;
  }
  return routes;
}

const remoteFigures = (f: RemoteRouteFigures): RemoteFigures => ({ p50Ms: f.p50Ms, p95Ms: f.p95Ms, p99Ms: f.p99Ms, rps: f.rps, errorRate: f.errorRate, rangeS: f.rangeS, asOfMs: f.asOfMs });

/**
 * The rows with the remote Prometheus figures: a local row gains `remote` when the remote source
 * has figures for its method and route (or its route alone, for exporters without a method
 * label), and the routes known only remotely follow as `remoteOnly` rows with no local figures.
 */
export function withRemoteRows(rows: RouteRow[], remote: RemoteRouteSource): RouteRow[] {
  const matched = new Set<string>();
  const matchedRoutes = new Set<string>();
  const out = rows.map((r) => {
    const f = remote.figures(r.method, r.route);
    if (!f) return r;
    matched.add(`${r.method.toUpperCase()} ${r.route}`);
    matchedRoutes.add(r.route);
    return { ...r, remote: remoteFigures(f) };
  });
  for (const r of remote.allRoutes()) {
    if (matched.has(`${r.method} ${r.route}`) || (r.method === '' && matchedRoutes.has(r.route))) continue;
    out.push({ service: '', method: r.method, route: r.route, count: 0, rps: 0, errorRate: 0, p50Ms: null, p95Ms: null, p99Ms: null, hasCode: false, fromBuckets: false, spark: [], remote: remoteFigures(r), remoteOnly: true });
  }
  return out;
}

const sum3 = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);

/**
 * The forwarder's state for the dashboard. `configured` is the endpoint from the settings; the
 * forwarder exists only in the window that owns the collector (`owner`), and not when its URL was
 * refused (`error`).
 */
export function forwardView(configured: { endpoint: string; protocol: string }, f: ForwarderState | undefined, owner: boolean, error?: string): ForwardView {
  if (!f) return { state: owner ? 'off' : 'elsewhere', endpoint: configured.endpoint, protocol: configured.protocol, sent: 0, queued: 0, dropped: 0, retries: 0, ...(owner && error ? { lastError: error } : {}) };
  return {
    state: f.state,
    endpoint: f.endpoint,
    protocol: f.protocol,
    sent: sum3(f.sent),
    queued: sum3(f.queued),
    dropped: sum3(f.dropped) + sum3(f.failed),
    retries: f.retries,
    ...(f.lastError ? { lastError: f.lastError.message } : {}),
  };
}

export function remoteView(label: string, r: RemoteState): RemoteView {
  return { label, url: r.url, state: r.state, ...(r.error ? { error: r.error } : {}), routes: r.routes, rangeS: r.rangeS, ...(r.asOfMs ? { asOfMs: r.asOfMs } : {}) };
}

/** The dashboard's "beyond this machine" part; undefined when neither side is configured. */
export function upstreamView(forward: ForwardView | undefined, remote: RemoteView | undefined): UpstreamView | undefined {
  if (!forward && !remote) return undefined;
  return { ...(forward ? { forward } : {}), ...(remote ? { remote } : {}) };
}

export function testRows(store: TelemetryStore, service?: string): TestRow[] {
  return store
    .testTraffic.summaries(service)
    .slice(0, MAX_TESTS)
    .map((t) => ({ id: t.id, service: t.service, requests: t.requests, errors: t.errors, slowestMs: t.slowestMs, slowestTraceId: t.slowestTraceId, lastSeenMs: t.lastSeenMs }));
}

export function errorRows(store: TelemetryStore, service?: string): ErrorRow[] {
  return store
    .errorGroups(service)
    .slice(0, MAX_ERRORS)
    .map((g) => ({
      fingerprint: g.fingerprint,
      service: g.service,
      type: g.type,
      message: g.message,
      count: g.count,
      lastSeenMs: g.lastSeenMs,
      route: g.route ? `${g.method ?? ''} ${g.route}`.trim() : undefined,
      where: g.location ? where(g.location) : undefined,
      traceId: g.traceId,
    }));
}

/**
 * The requests worth opening, newest first: those that failed, and those slower than their
 * route's p95 over the window (only for routes with enough requests for a p95 to mean something).
 */
export function slowAndFailed(store: TelemetryStore, summaries: RouteSummary[], nowMs: number, windowSec: number): TraceRow[] {
  const since = nowMs - windowSec * 1000;
  const out: TraceRow[] = [];
  const seen = new Set<string>();
  // Keeps only the newest MAX_TRACES: a candidate older than the oldest kept one is not even built.
  let oldestKept = -Infinity;
  const add = (r: RouteSummary, q: RequestRef, slow: boolean) => {
    if (q.receivedMs < since || q.receivedMs < oldestKept || seen.has(q.traceId)) return;
    seen.add(q.traceId);
    out.push({ traceId: q.traceId, service: r.service, method: r.method, route: r.route, durationMs: round(q.durationMs, 3), statusCode: q.statusCode, error: q.error, slow, receivedMs: q.receivedMs });
    if (out.length >= MAX_TRACES * 4) {
      out.sort((a, b) => b.receivedMs - a.receivedMs).length = MAX_TRACES;
      oldestKept = out[out.length - 1].receivedMs;
    }
  };
  for (const r of summaries) {
    if (r.count === 0 || r.source !== 'spans') continue;
    const slowFrom = r.count >= MIN_REQUESTS_FOR_SLOW && r.p95Ms !== null ? r.p95Ms * 1.01 : undefined;
    if (r.errorRate > 0) for (const q of store.routeRequestsOf(r, { limit: MAX_TRACES, errorsOnly: true })) add(r, q, slowFrom !== undefined && q.durationMs > slowFrom);
    if (slowFrom !== undefined) for (const q of store.routeRequestsOf(r, { limit: MAX_TRACES, minDurationMs: slowFrom })) add(r, q, true);
  }
  return out.sort((a, b) => b.receivedMs - a.receivedMs).slice(0, MAX_TRACES);
}

/** Bucket width of the request and error charts: 1 s over a minute, 5 s over 5 min, 15 s over 15 min. */
export function chartStep(windowSec: number): number {
  return Math.max(1, Math.round(windowSec / CHART_POINTS));
}

export function buildCharts(store: TelemetryStore, series: WindowedSeries[], service: string | null, windowSec: number, nowMs: number, feeds?: BucketIncreaseSlots[]): ChartsData {
  const step = chartStep(windowSec);
  // The current second is still filling: ending the charts there would draw a dip at the right edge.
  const lastSec = Math.floor(nowMs / 1000) - 1;
  const toSec = lastSec + 1;
  const fromSec = toSec - windowSec;
  const { requests, errors } = requestCharts(series, lastSec, windowSec, step);
  const memory = gaugeChart(store.metricSeries({ name: MEMORY_METRIC, service: service ?? undefined }), fromSec, toSec, step);
  const cpu = gaugeChart(store.metricSeries({ name: CPU_METRIC, service: service ?? undefined }), fromSec, toSec, step);
  const charts: ChartsData = { fromSec, toSec, stepSec: step, requests, latency: latencyChart(series, lastSec, windowSec, feeds), errors };
  if (memory) charts.memory = memory;
  if (cpu) charts.cpu = cpu;
  return charts;
}

/** Requests per second and error rate per bucket; buckets are aligned to the step so they do not shimmer as time passes. */
export function requestCharts(series: WindowedSeries[], lastSec: number, windowSec: number, step: number): { requests: ChartSeries; errors: ChartSeries } {
  const lastBucket = Math.floor(lastSec / step) * step;
  const n = Math.max(1, Math.floor(windowSec / step));
  const firstBucket = lastBucket - (n - 1) * step;
  const span = lastSec - firstBucket + 1;
  const counts = new Float64Array(span);
  const errs = new Float64Array(span);
  for (const s of series) {
    const ps = s.perSecond(lastSec, span);
    for (let i = 0; i < span; i++) {
      counts[i] += ps.counts[i];
      errs[i] += ps.errors[i];
    }
  }
  const t: number[] = [];
  const rps: (number | null)[] = [];
  const rate: (number | null)[] = [];
  for (let b = 0; b < n; b++) {
    const start = firstBucket + b * step;
    const seconds = Math.min(step, lastSec - start + 1);
    let c = 0;
    let e = 0;
    for (let k = 0; k < seconds; k++) {
      c += counts[start - firstBucket + k];
      e += errs[start - firstBucket + k];
    }
    t.push(start);
    rps.push(round(c / seconds, 3));
    rate.push(c > 0 ? round(e / c, 4) : null);
  }
  return { requests: { t, lines: [rps] }, errors: { t, lines: [rate] } };
}

/** p50/p95/p99 per latency slot, merged over the series (exact: sketches merge losslessly). */
export function latencyChart(series: WindowedSeries[], lastSec: number, windowSec: number, feeds?: BucketIncreaseSlots[]): ChartSeries {
  const qs = [0.5, 0.95, 0.99];
  const t: number[] = [];
  const lines: (number | null)[][] = [[], [], []];
  if (feeds) {
    // Routes fed by histograms only: each slot's quantiles from its summed bucket increases.
    const firstSlot = Math.floor((lastSec - windowSec + 1) / BUCKET_SLOT_SECONDS);
    const lastSlot = Math.floor(lastSec / BUCKET_SLOT_SECONDS);
    for (let slot = firstSlot; slot <= lastSlot; slot++) {
      const b = sumByLe(feeds.map((f) => f.sumSlots(slot, slot)));
      t.push(slot * BUCKET_SLOT_SECONDS);
      qs.forEach((q, i) => lines[i].push(observationsOf(b) > 0 ? round(quantileOf(q, b), 2) : null));
    }
    return { t, lines };
  }
  if (series.length === 1) {
    for (const slot of series[0].perSlotQuantiles(lastSec, windowSec, qs)) {
      t.push(slot.slotStartSec);
      slot.values.forEach((v, i) => lines[i].push(Number.isFinite(v) ? round(v, 2) : null));
    }
    return { t, lines };
  }
  const firstSlot = Math.floor((lastSec - windowSec + 1) / SKETCH_SLOT_SECONDS);
  const lastSlot = Math.floor(lastSec / SKETCH_SLOT_SECONDS);
  for (let slot = firstSlot; slot <= lastSlot; slot++) {
    const merged = new LatencySketch();
    // A window of exactly one slot, ending at its last second, is that slot's sketch.
    for (const s of series) merged.merge(s.window(slot * SKETCH_SLOT_SECONDS + SKETCH_SLOT_SECONDS - 1, SKETCH_SLOT_SECONDS).sketch);
    t.push(slot * SKETCH_SLOT_SECONDS);
    qs.forEach((q, i) => lines[i].push(merged.count ? round(merged.quantile(q), 2) : null));
  }
  return { t, lines };
}

/** Series shown in the explorer's result list; the rest are counted. */
export const MAX_METRIC_MATCHES = 30;
export const MAX_PINNED = 6;

function labelText(attrs: Record<string, unknown>): string {
  return Object.keys(attrs)
    .filter((k) => !k.startsWith('otel.scope.'))
    .sort()
    .map((k) => `${k}=${JSON.stringify(attrs[k])}`)
    .join(', ');
}

/**
 * The metrics explorer: every metric series whose name, service or labels contain the filter
 * (case-insensitive), target health, and a live chart per pinned series over the last `windowSec`.
 */
export function buildMetricsView(store: TelemetryStore, input: { filter: string; pinned: ReadonlySet<string>; targets: TargetRow[]; nowMs: number; windowSec: number }): MetricsView {
  const f = input.filter.trim().toLowerCase();
  const all = store.metricSeries();
  const rows: MetricRow[] = [];
  let total = 0;
  for (const s of all) {
    const labels = labelText(s.attributes);
    if (f && !`${s.name} ${s.service} ${labels}`.toLowerCase().includes(f)) continue;
    total++;
    if (rows.length >= MAX_METRIC_MATCHES) continue;
    const last = s.last?.value ?? s.last?.histogram?.sum ?? s.last?.summary?.sum;
    rows.push({ key: s.key, name: s.name, service: s.service, labels, ...(s.unit ? { unit: s.unit } : {}), last: last !== undefined && Number.isFinite(last) ? last : null, pinned: input.pinned.has(s.key) });
  }
  rows.sort((a, b) => a.name.localeCompare(b.name) || a.labels.localeCompare(b.labels));
  const toSec = Math.floor(input.nowMs / 1000) + 1;
  const fromSec = toSec - input.windowSec;
  const step = Math.max(1, Math.round(input.windowSec / CHART_POINTS));
  const byKey = new Map(all.map((s) => [s.key, s]));
  const pinned: PinnedMetric[] = [];
  for (const key of input.pinned) {
    const s = byKey.get(key);
    if (!s) continue;
    const labels = labelText(s.attributes);
    pinned.push({ key, title: labels ? `${s.name} {${labels}}` : s.name, ...(s.unit ? { unit: s.unit } : {}), chart: gaugeChart([s], fromSec, toSec, step) ?? null });
  }
  return { filter: input.filter, targets: input.targets, matches: rows, total, pinned };
}

/**
 * A gauge (memory, CPU) per bucket: each series' last value in the bucket, summed over series
 * (several processes of one service). A series that skipped a bucket keeps its previous value for
 * a few seconds, so a late report does not draw a dip. Undefined when no series has a point.
 */
export function gaugeChart(series: MetricSeries[], fromSec: number, toSec: number, step: number): ChartSeries | undefined {
  if (series.length === 0) return undefined;
  const n = Math.max(1, Math.ceil((toSec - fromSec) / step));
  const holdBuckets = Math.max(1, Math.ceil(5 / step));
  const sum: (number | null)[] = new Array(n).fill(null);
  let any = false;
  for (const s of series) {
    const last: (number | null)[] = new Array(n).fill(null);
    for (const p of s.points) {
      const sec = p.t / 1000;
      if (sec < fromSec || sec >= toSec) continue;
      last[Math.floor((sec - fromSec) / step)] = p.v;
    }
    let held: number | null = null;
    let age = 0;
    for (let i = 0; i < n; i++) {
      if (last[i] !== null) {
        held = last[i];
        age = 0;
      } else if (held !== null && ++age > holdBuckets) held = null;
      const v = last[i] ?? held;
      if (v === null) continue;
      any = true;
      sum[i] = (sum[i] ?? 0) + v;
    }
  }
  if (!any) return undefined;
  const t: number[] = [];
  for (let i = 0; i < n; i++) t.push(fromSec + i * step);
  return { t, lines: [sum.map((v) => (v === null ? null : round(v, 4)))] };
}

function where(loc: CodeLocation): string {
  const i = Math.max(loc.file.lastIndexOf('/'), loc.file.lastIndexOf('\\'));
  return `${i >= 0 ? loc.file.slice(i + 1) : loc.file}:${loc.line}`;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
