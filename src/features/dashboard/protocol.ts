/**
 * The messages between the extension host and the dashboard webview (the Routelens view in the side bar). Both ends import this module;
 * each checks what it receives with the guards below, since a webview message is untrusted input
 * and a webview must not trust a message it did not expect either.
 */
import { isBool, isNum, isNumOrNull, isObj, isOptNum, isOptStr, isStr, isTraceId } from '../../shared/guards';
import type { Figures, RemoteFigures, Totals } from '../../core/stats/figures';

export interface RouteRow extends Figures {
  service: string;
  method: string;
  route: string;
  /** Requests in the window stopped in a debugger part of the time: in `count`, not in the percentiles. */
  paused?: number;
  hasCode: boolean;
  /** p50/p95/p99 are interpolated inside Prometheus/OTLP histogram buckets, not measured per request. */
  fromBuckets: boolean;
  /** Requests per second over the last 60 seconds, oldest first (sparkline). */
  spark: number[];
  /**
   * Milliseconds per request by where the time went (own code, databases, HTTP, downstream
   * services), over the route's recently analysed requests; absent before one was analysed.
   */
  breakdown?: BreakdownBar;
  /** The significant change since the baseline run (latency delta in ms, and as text); absent when none. */
  change?: { deltaMs: number; text: string };
  /** The route's figures from the remote Prometheus (the table's other source); absent when it has none. */
  remote?: RemoteFigures;
  /** Known only to the remote Prometheus: no local requests (service is empty). */
  remoteOnly?: boolean;
}

export type { RemoteFigures } from '../../core/stats/figures';

/**
 * The rows as the remote source gives them: its figures in place of the local ones (no local
 * sparkline, breakdown or run change), remote-only routes included; a route the remote source has
 * no figures for shows dashes.
 */
export function remoteRows(routes: readonly RouteRow[]): RouteRow[] {
  return routes.map((r) => {
    const f = r.remote;
    return {
      service: r.service,
      method: r.method,
      route: r.route,
      count: r.count,
      rps: f ? f.rps : 0,
      errorRate: f ? f.errorRate : 0,
      p50Ms: f ? f.p50Ms : null,
      p95Ms: f ? f.p95Ms : null,
      p99Ms: f ? f.p99Ms : null,
      hasCode: r.hasCode,
      fromBuckets: true,
      spark: [],
      ...(f ? { remote: f } : {}),
      ...(r.remoteOnly ? { remoteOnly: true } : {}),
    };
  });
}

/** Forwarding to an upstream OpenTelemetry Collector, as the dashboard shows it. */
export interface ForwardView {
  /**
   * idle, ok, retrying, failing: the forwarder's own state; off: configured but not running (a bad
   * URL; `lastError` says why); elsewhere: it runs in the window that owns the collector.
   */
  state: 'idle' | 'ok' | 'retrying' | 'failing' | 'off' | 'elsewhere';
  endpoint: string;
  protocol: string;
  sent: number;
  queued: number;
  /** Dropped because the queue was full, plus dropped after a final failure. */
  dropped: number;
  retries: number;
  lastError?: string;
}

/** The remote Prometheus source of route figures. */
export interface RemoteView {
  /** What the figures are called (routelens.remotePrometheus.label, e.g. `prod`). */
  label: string;
  url: string;
  state: 'pending' | 'ok' | 'error';
  error?: string;
  routes: number;
  rangeS: number;
  asOfMs?: number;
}

/** What goes beyond this machine; each part only when configured. */
export interface UpstreamView {
  forward?: ForwardView;
  remote?: RemoteView;
}

export interface BreakdownBar {
  code: number;
  db: number;
  http: number;
  service: number;
  /** The three largest destinations by name, for the tooltip: `postgresql shop 31 ms`. */
  top: { kind: 'code' | 'db' | 'http' | 'service'; target: string; meanMs: number }[];
}

/** One call edge of the service map over the window. */
export interface MapEdgeRow {
  from: string;
  toKind: 'db' | 'http' | 'service';
  to: string;
  rps: number;
  p95Ms: number | null;
  errorRate: number;
}

export interface ErrorRow {
  fingerprint: string;
  service: string;
  type: string;
  message: string;
  count: number;
  lastSeenMs: number;
  route?: string;
  where?: string;
  traceId?: string;
}

/** Requests a test client made while one test ran (test traffic, kept out of the route figures). */
export interface TestRow {
  id: string;
  service: string;
  requests: number;
  errors: number;
  slowestMs: number;
  slowestTraceId: string;
  lastSeenMs: number;
}

/** A request worth a look: it failed, or it was slower than its route's p95. */
export interface TraceRow {
  traceId: string;
  service: string;
  method: string;
  route: string;
  durationMs: number;
  statusCode?: number;
  error: boolean;
  slow: boolean;
  receivedMs: number;
}

/**
 * One chart's data, in the shape uPlot takes: `t` in seconds, then one array per line. Null is a
 * gap (no requests in that bucket, so no latency and no error rate).
 */
export interface ChartSeries {
  t: number[];
  lines: (number | null)[][];
}

export interface ChartsData {
  /** The x range every chart shows, in seconds, so all of them slide together. */
  fromSec: number;
  toSec: number;
  /** Width of a bucket of the request and error charts. */
  stepSec: number;
  requests: ChartSeries;
  /** p50, p95, p99 in milliseconds, per 10-second latency slot. */
  latency: ChartSeries;
  /** Share of requests that failed, 0..1. */
  errors: ChartSeries;
  /** Resident memory in bytes, summed over the selected services' processes; absent without data. */
  memory?: ChartSeries;
  /** CPU as a share of one core, summed likewise. */
  cpu?: ChartSeries;
}

export interface CollectorView {
  state: 'starting' | 'listening' | 'viewer' | 'portInUse' | 'error' | 'stopped';
  endpoint: string;
  message?: string;
}

export type { Totals } from '../../core/stats/figures';

/** A Prometheus target's health, as the scraper last saw it. */
export interface TargetRow {
  url: string;
  service: string;
  state: 'pending' | 'up' | 'down';
  lastError?: string;
  durationMs?: number;
  series: number;
}

/** One metric series matching the explorer's search. */
export interface MetricRow {
  key: string;
  name: string;
  service: string;
  /** `label="value"` pairs, for telling series of one metric apart. */
  labels: string;
  unit?: string;
  last: number | null;
  pinned: boolean;
}

export interface PinnedMetric {
  key: string;
  title: string;
  unit?: string;
  chart: ChartSeries | null;
}

/** The metrics explorer: target health, a search over every metric series, pinned live charts. */
export interface MetricsView {
  filter: string;
  targets: TargetRow[];
  matches: MetricRow[];
  /** Series matching the filter, of which `matches` holds the first few. */
  total: number;
  pinned: PinnedMetric[];
}

export interface DashboardState {
  collector: CollectorView;
  services: string[];
  /** The service the figures are for; null for all of them. */
  service: string | null;
  windowSec: number;
  paused: boolean;
  /** The host's clock when the state was built, so "12 s ago" is measured against one clock. */
  nowMs: number;
  /**
   * Changes when the routes, the slow and failed list and the charts were computed afresh (at
   * most once a second); between two such states the webview can leave them alone.
   */
  seq: number;
  routes: RouteRow[];
  errors: ErrorRow[];
  traces: TraceRow[];
  /** Test runs, most recent first (absent from hosts that do not send them). */
  tests?: TestRow[];
  charts: ChartsData;
  totals: Totals;
  /** Calls between services, databases and hosts over the window (the service map). */
  serviceMap: MapEdgeRow[];
  metrics?: MetricsView;
  /** Forwarding and the remote Prometheus; absent when neither is configured. */
  upstream?: UpstreamView;
}

export type HostToDashboard = { type: 'state'; state: DashboardState };

export type DashboardToHost =
  | { type: 'ready' }
  | { type: 'openRoute'; service: string; method: string; route: string }
  | { type: 'openError'; fingerprint: string }
  | { type: 'openTrace'; traceId: string }
  | { type: 'setWindow'; seconds: number }
  | { type: 'setService'; service: string | null }
  | { type: 'metricFilter'; text: string }
  | { type: 'pinMetric'; key: string; pinned: boolean }
  | { type: 'command'; command: DashboardCommand };

export const DASHBOARD_COMMANDS = [
  'copyEndpoint',
  'restartCollector',
  'clearData',
  'showLogs',
  'togglePause',
  'debugHelp',
  'copyAgentEnv',
  'prometheusSettings',
] as const;
export type DashboardCommand = (typeof DASHBOARD_COMMANDS)[number];
export const WINDOWS = [60, 300, 900] as const;

export { isTraceId };

export function isDashboardToHost(m: unknown): m is DashboardToHost {
  if (!isObj(m) || !isStr(m.type)) return false;
  switch (m.type) {
    case 'ready':
      return true;
    case 'openRoute':
      return isStr(m.service) && isStr(m.method) && isStr(m.route);
    case 'openError':
      return isStr(m.fingerprint);
    case 'openTrace':
      return isTraceId(m.traceId);
    case 'setWindow':
      return isNum(m.seconds) && (WINDOWS as readonly number[]).includes(m.seconds);
    case 'setService':
      return m.service === null || isStr(m.service);
    case 'metricFilter':
      return isStr(m.text) && m.text.length <= 200;
    case 'pinMetric':
      return isStr(m.key) && m.key.length <= 4096 && typeof m.pinned === 'boolean';
    case 'command':
      return isStr(m.command) && (DASHBOARD_COMMANDS as readonly string[]).includes(m.command);
    default:
      return false;
  }
}

const DEST_KINDS: readonly string[] = ['code', 'db', 'http', 'service'];

function isBreakdownBar(b: unknown): b is BreakdownBar {
  return isObj(b) && isNum(b.code) && isNum(b.db) && isNum(b.http) && isNum(b.service) && Array.isArray(b.top) && b.top.every((t) => isObj(t) && isStr(t.kind) && DEST_KINDS.includes(t.kind) && isStr(t.target) && isNum(t.meanMs));
}

function isMapEdgeRow(e: unknown): e is MapEdgeRow {
  return isObj(e) && isStr(e.from) && isStr(e.toKind) && DEST_KINDS.includes(e.toKind) && e.toKind !== 'code' && isStr(e.to) && isNum(e.rps) && isNumOrNull(e.p95Ms) && isNum(e.errorRate);
}

function isRouteRow(r: unknown): r is RouteRow {
  return (
    isObj(r) &&
    (r.paused === undefined || isNum(r.paused)) &&
    isStr(r.service) &&
    isStr(r.method) &&
    isStr(r.route) &&
    isNum(r.count) &&
    isNum(r.rps) &&
    isNum(r.errorRate) &&
    isNumOrNull(r.p50Ms) &&
    isNumOrNull(r.p95Ms) &&
    isNumOrNull(r.p99Ms) &&
    isBool(r.hasCode) &&
    Array.isArray(r.spark) &&
    r.spark.every(isNum) &&
    (r.breakdown === undefined || isBreakdownBar(r.breakdown)) &&
    (r.change === undefined || (isObj(r.change) && isNum(r.change.deltaMs) && isStr(r.change.text))) &&
    (r.remote === undefined || isRemoteFigures(r.remote)) &&
    (r.remoteOnly === undefined || isBool(r.remoteOnly))
  );
}

export function isRemoteFigures(f: unknown): f is RemoteFigures {
  return isObj(f) && isNumOrNull(f.p50Ms) && isNumOrNull(f.p95Ms) && isNumOrNull(f.p99Ms) && isNum(f.rps) && isNum(f.errorRate) && isNum(f.rangeS) && isNum(f.asOfMs);
}

const FORWARD_STATES: readonly string[] = ['idle', 'ok', 'retrying', 'failing', 'off', 'elsewhere'];
const REMOTE_STATES: readonly string[] = ['pending', 'ok', 'error'];

export function isForwardView(f: unknown): f is ForwardView {
  return isObj(f) && isStr(f.state) && FORWARD_STATES.includes(f.state) && isStr(f.endpoint) && isStr(f.protocol) && isNum(f.sent) && isNum(f.queued) && isNum(f.dropped) && isNum(f.retries) && isOptStr(f.lastError);
}

export function isRemoteView(r: unknown): r is RemoteView {
  return isObj(r) && isStr(r.label) && isStr(r.url) && isStr(r.state) && REMOTE_STATES.includes(r.state) && isOptStr(r.error) && isNum(r.routes) && isNum(r.rangeS) && isOptNum(r.asOfMs);
}

export function isUpstreamView(u: unknown): u is UpstreamView {
  return isObj(u) && (u.forward === undefined || isForwardView(u.forward)) && (u.remote === undefined || isRemoteView(u.remote));
}

function isErrorRow(e: unknown): e is ErrorRow {
  return isObj(e) && isStr(e.fingerprint) && isStr(e.service) && isStr(e.type) && isStr(e.message) && isNum(e.count) && isNum(e.lastSeenMs) && isOptStr(e.route) && isOptStr(e.where) && (e.traceId === undefined || isTraceId(e.traceId));
}

function isTestRow(t: unknown): t is TestRow {
  return isObj(t) && isStr(t.id) && isStr(t.service) && isNum(t.requests) && isNum(t.errors) && isNum(t.slowestMs) && isTraceId(t.slowestTraceId) && isNum(t.lastSeenMs);
}

function isTraceRow(t: unknown): t is TraceRow {
  return isObj(t) && isTraceId(t.traceId) && isStr(t.service) && isStr(t.method) && isStr(t.route) && isNum(t.durationMs) && (t.statusCode === undefined || isNum(t.statusCode)) && isBool(t.error) && isBool(t.slow) && isNum(t.receivedMs);
}

export function isChartSeries(s: unknown): s is ChartSeries {
  if (!isObj(s) || !Array.isArray(s.t) || !Array.isArray(s.lines)) return false;
  const n = s.t.length;
  return s.t.every(isNum) && s.lines.every((l) => Array.isArray(l) && l.length === n && l.every(isNumOrNull));
}

function isCharts(c: unknown): c is ChartsData {
  return (
    isObj(c) &&
    isNum(c.fromSec) &&
    isNum(c.toSec) &&
    isNum(c.stepSec) &&
    isChartSeries(c.requests) &&
    isChartSeries(c.latency) &&
    isChartSeries(c.errors) &&
    (c.memory === undefined || isChartSeries(c.memory)) &&
    (c.cpu === undefined || isChartSeries(c.cpu))
  );
}

function isTargetRow(t: unknown): t is TargetRow {
  return isObj(t) && isStr(t.url) && isStr(t.service) && (t.state === 'pending' || t.state === 'up' || t.state === 'down') && isOptStr(t.lastError) && isOptNum(t.durationMs) && isNum(t.series);
}

function isMetricRow(r: unknown): r is MetricRow {
  return isObj(r) && isStr(r.key) && isStr(r.name) && isStr(r.service) && isStr(r.labels) && isOptStr(r.unit) && isNumOrNull(r.last) && isBool(r.pinned);
}

function isPinnedMetric(p: unknown): p is PinnedMetric {
  return isObj(p) && isStr(p.key) && isStr(p.title) && isOptStr(p.unit) && (p.chart === null || isChartSeries(p.chart));
}

export function isMetricsView(m: unknown): m is MetricsView {
  return (
    isObj(m) &&
    isStr(m.filter) &&
    Array.isArray(m.targets) &&
    m.targets.every(isTargetRow) &&
    Array.isArray(m.matches) &&
    m.matches.every(isMetricRow) &&
    isNum(m.total) &&
    Array.isArray(m.pinned) &&
    m.pinned.every(isPinnedMetric)
  );
}

const COLLECTOR_STATES: readonly string[] = ['starting', 'listening', 'viewer', 'portInUse', 'error', 'stopped'];

export function isDashboardState(s: unknown): s is DashboardState {
  if (!isObj(s)) return false;
  const c = s.collector;
  const t = s.totals;
  return (
    isObj(c) &&
    isStr(c.state) &&
    COLLECTOR_STATES.includes(c.state) &&
    isStr(c.endpoint) &&
    isOptStr(c.message) &&
    Array.isArray(s.services) &&
    s.services.every(isStr) &&
    (s.service === null || isStr(s.service)) &&
    isNum(s.windowSec) &&
    isBool(s.paused) &&
    isNum(s.nowMs) &&
    isNum(s.seq) &&
    Array.isArray(s.routes) &&
    s.routes.every(isRouteRow) &&
    Array.isArray(s.errors) &&
    s.errors.every(isErrorRow) &&
    Array.isArray(s.traces) &&
    s.traces.every(isTraceRow) &&
    (s.tests === undefined || (Array.isArray(s.tests) && s.tests.every(isTestRow))) &&
    isCharts(s.charts) &&
    isObj(t) &&
    isNum(t.rps) &&
    isNumOrNull(t.p50Ms) &&
    isNumOrNull(t.p95Ms) &&
    isNumOrNull(t.p99Ms) &&
    isNum(t.errorRate) &&
    isNum(t.requests) &&
    Array.isArray(s.serviceMap) &&
    s.serviceMap.every(isMapEdgeRow) &&
    (s.metrics === undefined || isMetricsView(s.metrics)) &&
    (s.upstream === undefined || isUpstreamView(s.upstream))
  );
}

export function isHostToDashboard(m: unknown): m is HostToDashboard {
  return isObj(m) && m.type === 'state' && isDashboardState(m.state);
}
