import { InsightsEngine } from '../findings/insights';
import { Counters } from '../counters';
import { Emitter } from '../events';
import type { AttrValue, ExceptionInfo, LogRecord, MetricPoint, PauseBand, Resource, Span } from '../model';
import { durationMs, PAUSE_BANDS_ATTRIBUTE, PAUSED_MS_ATTRIBUTE } from '../model';
import { isServerError } from '../semconv';
import type { TelemetrySink } from '../sink';
import { BucketIncreaseSlots, type BucketIncrease } from '../stats/bucketSlots';
import { ErrorGroups, spanError, type ErrorGroup } from '../stats/errorGroups';
import { RouteEntry, routeKeyString, WindowedSeries, type RouteKey, type RouteSummary } from '../stats/routeStats';
import { LogIndex, routeOf, type IndexedLog, type LogQuery, type TraceFacts } from './logIndex';
import { RunTracker } from '../runs/tracker';
import { PauseLedger } from './pauses';
import { RingBuffer } from './ringBuffer';
import { TestTraffic, testIdOf } from './testTraffic';

export interface StoreLimits {
  maxSpans: number;
  maxLogs: number;
  /** Approximate bytes held by raw spans and logs together. */
  maxBytes: number;
  maxRoutes: number;
  maxErrorGroups: number;
  maxMetricSeries: number;
  /** Recent requests remembered per route, for its trace list. */
  tracesPerRoute: number;
  /** Services remembered (name, resource, last seen); the one seen longest ago is forgotten first. */
  maxServices: number;
}

export const DEFAULT_LIMITS: StoreLimits = {
  maxSpans: 20_000,
  maxLogs: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxRoutes: 2_000,
  maxErrorGroups: 500,
  maxMetricSeries: 2_000,
  tracesPerRoute: 200,
  maxServices: 1_000,
};

export interface StoreChange {
  spans: number;
  logs: number;
  metrics: number;
  errorsChanged: boolean;
  cleared: boolean;
}

export interface RequestRef {
  traceId: string;
  spanId: string;
  startMs: number;
  durationMs: number;
  statusCode?: number;
  error: boolean;
  receivedMs: number;
  /** Milliseconds of it the process spent stopped in a debugger (absent when none). */
  pausedMs?: number;
}

export interface ServiceInfo {
  name: string;
  resource: Resource;
  lastSeenMs: number;
  spans: number;
  logs: number;
}

export interface MetricSeries {
  key: string;
  name: string;
  unit?: string;
  kind: MetricPoint['kind'];
  service: string;
  attributes: Record<string, AttrValue>;
  points: RingBuffer<{ t: number; v: number }>;
  last?: MetricPoint;
}

interface StoredSpan {
  span: Span;
  bytes: number;
}

/**
 * The bounded store: raw recent spans and logs for drill-down (ring buffers, oldest dropped first,
 * drops counted), incremental route statistics, error groups, metric series, and one typed change
 * stream that consumers subscribe to and throttle themselves.
 */
export class TelemetryStore implements TelemetrySink {
  readonly limits: StoreLimits;
  readonly counters: Counters;
  private readonly change = new Emitter<StoreChange>();
  private spanRing: RingBuffer<StoredSpan>;
  private logRing: LogIndex;
  /** Route and outcome of recent requests by trace id, for the log filters (bounded, oldest out). */
  private readonly traceFacts = new Map<string, TraceFacts>();
  private bytes = 0;
  private readonly traces = new Map<string, Span[]>();
  private readonly routes = new Map<string, RouteEntry>();
  private readonly routeRequests = new Map<string, RingBuffer<RequestRef>>();
  private readonly serviceSeries = new Map<string, WindowedSeries>();
  private readonly services = new Map<string, ServiceInfo>();
  private readonly errors: ErrorGroups;
  private readonly metrics = new Map<string, MetricSeries>();
  /** Test-client requests (`test.case.name`): kept out of the route figures, summed per test. */
  readonly testTraffic = new TestTraffic();
  private readonly now: () => number;
  /** Critical paths, time breakdowns and findings, derived from the spans as their traces settle. */
  readonly insights: InsightsEngine;
  /** When debugged processes were stopped at breakpoints, as the editor reported it. */
  readonly pauses = new PauseLedger();
  /** Runs (process lifetimes) of each service, their per-route figures and the comparison with a baseline. */
  readonly runs: RunTracker;

  constructor(limits: Partial<StoreLimits> = {}, opts: { counters?: Counters; now?: () => number } = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.counters = opts.counters ?? new Counters();
    this.now = opts.now ?? Date.now;
    this.errors = new ErrorGroups(this.counters, () => this.limits.maxErrorGroups);
    this.insights = new InsightsEngine((traceId) => this.trace(traceId), { now: this.now });
    this.runs = new RunTracker({ now: this.now });
    this.spanRing = this.newSpanRing();
    this.logRing = this.newLogRing();
  }

  /**
   * New bounds, applied at once: the rings are rebuilt keeping the newest spans and logs that fit
   * (what no longer fits is dropped oldest first and counted, as at any bound); route statistics,
   * error groups and metrics are kept.
   */
  setLimits(limits: Partial<StoreLimits>): void {
    Object.assign(this.limits, limits);
    const spans = this.spanRing;
    this.spanRing = this.newSpanRing();
    for (const s of spans) this.spanRing.push(s);
    this.logRing.resize(this.limits.maxLogs);
    this.enforceBytes();
    this.change.fire({ spans: 0, logs: 0, metrics: 0, errorsChanged: false, cleared: false });
  }

  onDidChange(listener: (e: StoreChange) => void): { dispose(): void } {
    return this.change.on(listener);
  }

  // ---- ingestion -------------------------------------------------------------------------------

  /**
   * Spans are placed in the statistics at their own end time, live or not (a snapshot, an import,
   * another window's history or an agent's backlog alike).
   */
  addSpans(spans: Span[]): void {
    if (spans.length === 0) return;
    const now = this.now();
    let errorsChanged = false;
    for (const span of spans) {
      // Statistics go by when the request happened, not when its data arrived: an agent that
      // buffered while no collector listened delivers a backlog that must fill its own seconds.
      // A clock ahead of ours is taken as now.
      const received = eventTimeMs(span.endMs, now);
      this.markPaused(span, now);
      const bytes = estimateSpanBytes(span);
      this.bytes += bytes;
      this.spanRing.push({ span, bytes });
      let list = this.traces.get(span.traceId);
      if (!list) this.traces.set(span.traceId, (list = []));
      list.push(span);
      this.touchService(span.resource, received, 'spans');
      if (span.kind === 'server' && span.http?.route) this.recordRequest(span, received);
      if (span.exception && this.errors.record(spanError(span), received)) errorsChanged = true;
    }
    this.enforceBytes();
    this.insights.observe(spans);
    this.runs.observeSpans(spans);
    this.insights.process(now);
    this.counters.inc('store.spans', spans.length);
    this.change.fire({ spans: spans.length, logs: 0, metrics: 0, errorsChanged, cleared: false });
  }

  addLogs(logs: LogRecord[], historical = false): void {
    if (logs.length === 0) return;
    const now = this.now();
    let errorsChanged = false;
    for (const log of logs) {
      const received = historical ? Math.min(now, log.timeMs) : now;
      const bytes = estimateLogBytes(log);
      this.bytes += bytes;
      this.logRing.push(log, bytes);
      this.touchService(log.resource, received, 'logs');
      const isErrorLevel = log.severity === 'error' || log.severity === 'fatal';
      if (log.exception || isErrorLevel || log.severity === 'warn') {
        if (this.errors.recordLog(log, received)) errorsChanged = true;
      }
    }
    this.enforceBytes();
    this.runs.observeLogs(logs);
    this.counters.inc('store.logs', logs.length);
    this.change.fire({ spans: 0, logs: logs.length, metrics: 0, errorsChanged, cleared: false });
  }

  addMetrics(points: MetricPoint[]): void {
    if (points.length === 0) return;
    const received = this.now();
    for (const p of points) {
      this.touchService(p.resource, received);
      const key = metricKey(p);
      let series = this.metrics.get(key);
      if (!series) {
        if (this.metrics.size >= this.limits.maxMetricSeries) {
          this.counters.inc('store.dropped.metricSeries');
          continue;
        }
        series = {
          key,
          name: p.name,
          unit: p.unit,
          kind: p.kind,
          service: p.resource.serviceName,
          attributes: p.attributes,
          points: new RingBuffer(900),
        };
        this.metrics.set(key, series);
      }
      series.last = p;
      const v = p.value ?? p.histogram?.sum ?? p.summary?.sum;
      if (v !== undefined && Number.isFinite(v)) series.points.push({ t: p.timeMs, v });
    }
    this.counters.inc('store.metrics', points.length);
    this.change.fire({ spans: 0, logs: 0, metrics: points.length, errorsChanged: false, cleared: false });
  }

  /**
   * Requests counted from a latency histogram (Prometheus or OTLP metrics) for a route with no
   * spans. Once spans arrive for a route, histogram observations for it are ignored, so a request
   * is never counted twice. `observations` feed the request and error counts; `buckets`, the
   * interval's increase per bucket, feed the route's quantiles, which are then PromQL's
   * `histogram_quantile` over the window's summed increase.
   */
  recordRouteHistogram(key: RouteKey, observations: { valueMs: number; count: number; error: boolean }[], buckets?: BucketIncrease): boolean {
    const k = routeKeyString(key);
    let entry = this.routes.get(k);
    if (entry && entry.source === 'spans' && entry.series.total.count > 0) return false;
    if (!entry) {
      entry = this.newRoute(key);
      if (!entry) return false;
      entry.source = 'metrics';
    }
    const nowSec = this.now() / 1000;
    for (const o of observations) if (o.count > 0) entry.series.record(nowSec, statDuration(o.valueMs), o.error, o.count);
    if (buckets) {
      entry.buckets ??= new BucketIncreaseSlots();
      if (!entry.buckets.add(nowSec, buckets)) this.counters.inc('store.refused.routeBuckets');
    }
    entry.lastSeenMs = this.now();
    return true;
  }

  /**
   * A debugger stopped process `pid` at `atMs` (a breakpoint, a step): requests of that process
   * that overlap the stop are marked paused and their latency kept out of the statistics.
   */
  debuggerPaused(pid: number, atMs = this.now()): void {
    this.pauses.paused(pid, atMs);
    this.counters.inc('store.debugger.pauses');
  }

  /** The debugger let process `pid` run again at `atMs`. */
  debuggerResumed(pid: number, atMs = this.now()): void {
    this.pauses.resumed(pid, atMs);
  }

  clear(): void {
    this.insights.clear();
    this.spanRing = this.newSpanRing();
    this.logRing.clear();
    this.traceFacts.clear();
    this.bytes = 0;
    this.traces.clear();
    this.routes.clear();
    this.routeRequests.clear();
    this.serviceSeries.clear();
    this.services.clear();
    this.errors.clear();
    this.metrics.clear();
    this.testTraffic.clear();
    this.change.fire({ spans: 0, logs: 0, metrics: 0, errorsChanged: true, cleared: true });
  }

  // ---- queries ---------------------------------------------------------------------------------

  routeSummaries(windowSec: number, service?: string): RouteSummary[] {
    const now = this.now();
    const out: RouteSummary[] = [];
    for (const r of this.routes.values()) {
      if (service && r.key.service !== service) continue;
      out.push(r.summarize(now, windowSec));
    }
    return out.sort((a, b) => b.count - a.count || a.route.localeCompare(b.route) || a.method.localeCompare(b.method));
  }

  /** Every route with statistics, without computing any (cheap: for matching routes to handlers). */
  routeEntries(): IterableIterator<RouteEntry> {
    return this.routes.values();
  }

  route(key: RouteKey): RouteEntry | undefined {
    return this.routes.get(routeKeyString(key));
  }

  /** Recent requests of a route, newest first. */
  routeRequestsOf(key: RouteKey, opts: { limit?: number; errorsOnly?: boolean; minDurationMs?: number } = {}): RequestRef[] {
    const ring = this.routeRequests.get(routeKeyString(key));
    if (!ring) return [];
    return ring.newest(opts.limit ?? 100, (r) => (!opts.errorsOnly || r.error) && slowEnough(r, opts.minDurationMs));
  }

  trace(traceId: string): Span[] {
    return [...(this.traces.get(traceId) ?? [])].sort((a, b) => a.startMs - b.startMs);
  }

  /** Server requests across all routes, newest first: the slow and failed ones for the dashboard. */
  recentRequests(opts: { limit?: number; errorsOnly?: boolean; minDurationMs?: number; service?: string } = {}): (RequestRef & RouteKey)[] {
    const out: (RequestRef & RouteKey)[] = [];
    for (const [k, ring] of this.routeRequests) {
      const entry = this.routes.get(k);
      if (!entry || (opts.service && entry.key.service !== opts.service)) continue;
      for (const r of ring.newest(opts.limit ?? 50, (x) => (!opts.errorsOnly || x.error) && slowEnough(x, opts.minDurationMs))) {
        out.push({ ...r, ...entry.key });
      }
    }
    return out.sort((a, b) => b.receivedMs - a.receivedMs).slice(0, opts.limit ?? 50);
  }

  errorGroups(service?: string): ErrorGroup[] {
    return this.errors.list(service);
  }

  dismissAllErrors(): void {
    this.errors.clear();
    this.change.fire({ spans: 0, logs: 0, metrics: 0, errorsChanged: true, cleared: false });
  }

  dismissError(fingerprint: string): boolean {
    const ok = this.errors.dismiss(fingerprint);
    if (ok) this.change.fire({ spans: 0, logs: 0, metrics: 0, errorsChanged: true, cleared: false });
    return ok;
  }

  logs(opts: { limit?: number; traceId?: string; minSeverity?: LogRecord['severity']; service?: string } = {}): LogRecord[] {
    return this.queryLogs({ traceId: opts.traceId, minSeverity: opts.minSeverity, service: opts.service }, opts.limit ?? 200);
  }

  /** The newest `limit` records matching the query, newest first. */
  queryLogs(q: LogQuery, limit = 200): LogRecord[] {
    const seqs = this.logRing.match(q, this.factsOf, { limit });
    const out: LogRecord[] = [];
    for (let i = seqs.length - 1; i >= 0; i--) out.push(this.logRing.get(seqs[i])!.log);
    return out;
  }

  /**
   * Sequence numbers of the records matching the query, oldest first (the newest `limit`; from
   * `afterSeq` on when given). With logAt() and logSeqRange(), what a log view pages through.
   */
  matchLogs(q: LogQuery, opts: { limit?: number; afterSeq?: number } = {}): number[] {
    return this.logRing.match(q, this.factsOf, opts);
  }

  logAt(seq: number): IndexedLog | undefined {
    return this.logRing.get(seq);
  }

  /** The first sequence number still held and the one the next record gets. */
  logSeqRange(): { first: number; next: number } {
    return { first: this.logRing.first, next: this.logRing.next };
  }

  /**
   * Whether another source (an agent, an SDK) already delivered what this debug-console record
   * says: the same severity and body (or the same exception) within `windowMs` of it.
   */
  hasTwinOf(log: LogRecord, windowMs: number): boolean {
    return !!this.logRing.findTwin(log, (e) => e.log.attributes['log.source'] !== 'debug-console' && Math.abs(e.log.timeMs - log.timeMs) <= windowMs);
  }

  /** The route (method and template) a record belongs to, when its trace's request is known. */
  logRoute(log: LogRecord): { method: string; route: string } | undefined {
    return routeOf(log, this.factsOf);
  }

  /** What the request of a trace says: its route and whether it failed. */
  traceFactsOf(traceId: string): TraceFacts | undefined {
    return this.traceFacts.get(traceId);
  }

  private readonly factsOf = (traceId: string): TraceFacts | undefined => this.traceFacts.get(traceId);

  serviceList(): ServiceInfo[] {
    return [...this.services.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  serviceSeriesOf(service: string): WindowedSeries | undefined {
    return this.serviceSeries.get(service);
  }

  metricSeries(filter?: { name?: string; service?: string }): MetricSeries[] {
    const out: MetricSeries[] = [];
    for (const s of this.metrics.values()) {
      if (filter?.name && s.name !== filter.name) continue;
      if (filter?.service && s.service !== filter.service) continue;
      out.push(s);
    }
    return out;
  }

  sizes(): { spans: number; logs: number; bytes: number; traces: number; routes: number; routeStatsBytes: number; errorGroups: number; metricSeries: number } {
    let routeStatsBytes = 0;
    for (const r of this.routes.values()) routeStatsBytes += r.series.bytes() + (r.buckets?.bytes() ?? 0);
    for (const s of this.serviceSeries.values()) routeStatsBytes += s.bytes();
    return {
      spans: this.spanRing.size,
      logs: this.logRing.size,
      bytes: this.bytes,
      traces: this.traces.size,
      routes: this.routes.size,
      routeStatsBytes,
      errorGroups: this.errors.size,
      metricSeries: this.metrics.size,
    };
  }

  allSpans(): Span[] {
    return [...this.spanRing].map((s) => s.span);
  }
  allLogs(): LogRecord[] {
    return [...this.logRing].map((s) => s.log);
  }

  // ---- internals -------------------------------------------------------------------------------

  private newSpanRing(): RingBuffer<StoredSpan> {
    return new RingBuffer<StoredSpan>(this.limits.maxSpans, (s) => this.evictSpan(s));
  }
  private newLogRing(): LogIndex {
    return new LogIndex(this.limits.maxLogs, (l) => {
      this.bytes -= l.bytes;
      this.counters.inc('store.dropped.logs');
    });
  }

  private evictSpan(s: StoredSpan): void {
    this.bytes -= s.bytes;
    this.counters.inc('store.dropped.spans');
    const list = this.traces.get(s.span.traceId);
    if (!list) return;
    const i = list.indexOf(s.span);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.traces.delete(s.span.traceId);
  }

  /** Oldest raw data goes first, spans and logs alike, until under the byte budget. */
  private enforceBytes(): void {
    while (this.bytes > this.limits.maxBytes && (this.spanRing.size > 0 || this.logRing.size > 0)) {
      const oldestSpan = this.spanRing.peek();
      const oldestLog = this.logRing.peek();
      if (oldestLog && (!oldestSpan || oldestLog.log.timeMs < oldestSpan.span.startMs)) this.logRing.shift();
      else this.spanRing.shift();
    }
  }

  private touchService(resource: Resource, now: number, kind?: 'spans' | 'logs'): void {
    let s = this.services.get(resource.serviceName);
    if (!s) {
      // The name is whatever the sender put in service.name: without a cap, a sender cycling
      // through names would grow this table for as long as it runs.
      if (this.services.size >= this.limits.maxServices) this.forgetOldestService();
      s = { name: resource.serviceName, resource, lastSeenMs: now, spans: 0, logs: 0 };
      this.services.set(resource.serviceName, s);
    }
    s.lastSeenMs = Math.max(s.lastSeenMs, now);
    s.resource = resource;
    if (kind) s[kind]++;
  }

  private forgetOldestService(): void {
    let oldest: string | undefined;
    let oldestMs = Infinity;
    for (const [name, info] of this.services) {
      if (info.lastSeenMs < oldestMs) {
        oldest = name;
        oldestMs = info.lastSeenMs;
      }
    }
    if (oldest !== undefined) this.services.delete(oldest);
    this.counters.inc('store.dropped.services');
  }

  private newRoute(key: RouteKey): RouteEntry | undefined {
    if (this.routes.size >= this.limits.maxRoutes) {
      this.counters.inc('store.dropped.routes');
      return undefined;
    }
    const entry = new RouteEntry(key);
    this.routes.set(routeKeyString(key), entry);
    return entry;
  }

  private noteTraceFacts(traceId: string, facts: TraceFacts): void {
    const had = this.traceFacts.get(traceId);
    // The outermost request of a trace names its route; a failure anywhere in it marks it failed.
    if (had) {
      if (facts.failed && !had.failed) had.failed = true;
      return;
    }
    this.traceFacts.set(traceId, facts);
    const cap = Math.max(this.limits.maxLogs, this.limits.maxSpans);
    if (this.traceFacts.size > cap) {
      const oldest = this.traceFacts.keys().next().value;
      if (oldest !== undefined) this.traceFacts.delete(oldest);
    }
  }

  private recordRequest(span: Span, received: number): void {
    const testId = testIdOf(span);
    if (testId !== undefined) {
      this.testTraffic.record(testId, span, durationMs(span), span.status === 'error' || isServerError(span.http!.statusCode), received);
      return;
    }
    const http = span.http!;
    const key: RouteKey = { service: span.resource.serviceName, method: http.method, route: http.route! };
    const k = routeKeyString(key);
    let entry = this.routes.get(k);
    if (entry && entry.source === 'metrics') {
      // Spans win over histograms: start the route afresh from spans so nothing is counted twice.
      this.routes.delete(k);
      entry = undefined;
    }
    entry ??= this.newRoute(key);
    if (!entry) return;
    const d = durationMs(span);
    const error = span.status === 'error' || isServerError(http.statusCode);
    this.noteTraceFacts(span.traceId, { service: key.service, method: key.method, route: key.route, failed: error });
    const paused = (span.pausedMs ?? 0) > 0;
    entry.series.record(received / 1000, statDuration(d), error, 1, paused);
    entry.lastSeenMs = Math.max(entry.lastSeenMs, received);
    if (span.code) entry.code = span.code;
    let svc = this.serviceSeries.get(key.service);
    if (!svc) this.serviceSeries.set(key.service, (svc = new WindowedSeries()));
    svc.record(received / 1000, statDuration(d), error, 1, paused);
    let reqs = this.routeRequests.get(k);
    if (!reqs) this.routeRequests.set(k, (reqs = new RingBuffer(this.limits.tracesPerRoute)));
    const ref: RequestRef = { traceId: span.traceId, spanId: span.spanId, startMs: span.startMs, durationMs: d, statusCode: http.statusCode, error, receivedMs: received };
    if (paused) ref.pausedMs = span.pausedMs;
    reqs.push(ref);
  }

  /**
   * Marks a span whose process was stopped in a debugger during it: from the pauses the editor
   * reported, else from the attributes an earlier store wrote (an export, a snapshot, the owner
   * window's live stream). The attributes are written so the mark travels with the span.
   */
  private markPaused(span: Span, now: number): void {
    const seen = this.pauses.overlap(span.resource.pid, span.startMs, span.endMs, now);
    const { pausedMs, bands } = seen.pausedMs > 0 ? seen : pausesFromAttributes(span);
    if (!(pausedMs > 0)) return;
    span.pausedMs = pausedMs;
    span.pauses = bands;
    span.attributes = { ...span.attributes, [PAUSED_MS_ATTRIBUTE]: Math.round(pausedMs * 1000) / 1000, [PAUSE_BANDS_ATTRIBUTE]: bands.flatMap((b) => [b.startMs, b.endMs]) };
  }

}

/**
 * Longest duration the latency statistics take in; longer ones count as this. A latency sketch's
 * memory grows with the span of values it holds (a bucket per 1% step from 1 µs up), so one
 * request claiming 10^308 ms next to a fast one made a route's sketch half a megabyte, per
 * 10-second slot: a handful of such spans per route could take gigabytes. A day is beyond any
 * request a dashboard charts, and caps a sketch at about 2,500 buckets.
 */
export const MAX_STAT_DURATION_MS = 86_400_000;

function statDuration(ms: number): number {
  return ms > MAX_STAT_DURATION_MS ? MAX_STAT_DURATION_MS : ms;
}


function metricKey(p: MetricPoint): string {
  const attrs = Object.keys(p.attributes)
    .sort()
    .map((k) => `${k}=${JSON.stringify(p.attributes[k])}`)
    .join(',');
  return `${p.resource.serviceName}|${p.name}|${attrs}`;
}

function valueBytes(v: AttrValue): number {
  if (typeof v === 'string') return v.length * 2;
  if (v === null || typeof v !== 'object') return 8;
  let n = 16;
  if (Array.isArray(v)) for (const x of v) n += valueBytes(x);
  else for (const k of Object.keys(v)) n += k.length * 2 + valueBytes(v[k]);
  return n;
}

function attrsBytes(a: Record<string, AttrValue>): number {
  let n = 0;
  for (const k of Object.keys(a)) n += 32 + k.length * 2 + valueBytes(a[k]);
  return n;
}

function exceptionBytes(e: ExceptionInfo | undefined): number {
  if (!e) return 0;
  return 64 + (e.type.length + e.message.length + (e.stacktrace?.length ?? 0)) * 2 + e.frames.length * 96;
}

export function estimateSpanBytes(s: Span): number {
  let n = 400 + s.name.length * 2 + attrsBytes(s.attributes) + exceptionBytes(s.exception);
  for (const e of s.events) n += 64 + e.name.length * 2 + attrsBytes(e.attributes);
  n += s.links.length * 128;
  return n;
}

export function estimateLogBytes(l: LogRecord): number {
  // The body twice: as given and lowercased for search (see logIndex), plus index entries.
  return 260 + Math.min(l.body.length, 64 * 1024) * 2 + l.body.length * 2 + attrsBytes(l.attributes) * 2 + exceptionBytes(l.exception);
}

/** A paused request is never "slow": its duration is mostly the time someone spent in the debugger. */
function slowEnough(r: RequestRef, minDurationMs: number | undefined): boolean {
  return minDurationMs === undefined || (r.durationMs >= minDurationMs && !r.pausedMs);
}

/** Pause marks a span carries in its attributes, checked (they may come from any sender). */
function pausesFromAttributes(span: Span): { pausedMs: number; bands: PauseBand[] } {
  const none = { pausedMs: 0, bands: [] };
  const flat = span.attributes[PAUSE_BANDS_ATTRIBUTE];
  if (!Array.isArray(flat) || flat.length === 0 || flat.length % 2 !== 0 || flat.length > 200) return none;
  const bands: PauseBand[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const a = flat[i];
    const b = flat[i + 1];
    if (typeof a !== 'number' || typeof b !== 'number' || !(b > a)) return none;
    const startMs = Math.max(a, span.startMs);
    const endMs = Math.min(b, span.endMs);
    if (endMs > startMs) bands.push({ startMs, endMs });
  }
  const pausedMs = bands.reduce((n, x) => n + (x.endMs - x.startMs), 0);
  return pausedMs > 0 ? { pausedMs, bands } : none;
}

/** When a span happened, for statistics: its end, never later than now (clock skew). */
function eventTimeMs(endMs: number, nowMs: number): number {
  return Number.isFinite(endMs) && endMs > 0 ? Math.min(nowMs, endMs) : nowMs;
}
