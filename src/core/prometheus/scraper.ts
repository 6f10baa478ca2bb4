/**
 * Scrapes Prometheus /metrics targets on an interval and delivers what they expose to the store:
 * metric points (deltas for counters and histograms), route statistics from HTTP latency
 * histograms, and exemplars that link buckets to traces.
 *
 * A failed scrape (refused, timed out, too large, not an exposition, OpenMetrics cut short) marks
 * the target down and changes nothing else: the store keeps what earlier scrapes delivered, and the
 * per-series baselines stay, so the first good scrape afterwards counts everything that happened
 * in between exactly once.
 */
import { performance } from 'node:perf_hooks';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Counters } from '../counters';
import { Emitter } from '../events';
import { silentLogger, type Logger } from '../log';
import type { MetricPoint, Resource } from '../model';
import type { TelemetrySink } from '../sink';
import type { RouteKey } from '../stats/routeStats';
import { ExpositionTracker } from './convert';
import { fetchExposition, ScrapeError } from './fetch';
import { parseExposition, type ExpositionFormat, type Exemplar, type Labels, type ParseError, type ParseResult } from './parser';
import { isRouteMetric, RouteDeriver, routeOfSeries, type RouteHistogramRecorder } from './routes';

export const DEFAULT_SCRAPE_INTERVAL_MS = 5_000;
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_SERIES_PER_TARGET = 100_000;

export interface ScrapeTargetConfig {
  url: string;
  /** Service name for what this target exposes (default: the `job`, else the URL's host:port). */
  service?: string;
  /** Prometheus-style job name; used as the service name when `service` is not given. */
  job?: string;
  /** Overrides the scraper's interval for this target. */
  intervalMs?: number;
  /** Overrides the scraper's timeout for this target. */
  timeoutMs?: number;
}

export type TargetState = 'pending' | 'up' | 'down';

export interface TargetHealth {
  /** As configured: the key for removeTarget. */
  url: string;
  /** The URL without any user name or password, for display and logs. */
  displayUrl: string;
  service: string;
  /** `pending` until the first scrape finishes. */
  state: TargetState;
  up: boolean;
  lastError?: string;
  /** When the last scrape started (epoch ms). */
  lastScrapeMs?: number;
  lastSuccessMs?: number;
  /** HTTP time of the last scrape. */
  durationMs?: number;
  /** Parsing, conversion and delivery to the store after the body arrived. */
  processMs?: number;
  /** Series in the last good exposition. */
  series: number;
  samples: number;
  bytes: number;
  format?: ExpositionFormat;
  /** Malformed lines in the last good exposition (they were skipped). */
  parseErrors: number;
  firstParseErrors: ParseError[];
  /** Routes the last good exposition has HTTP latency histograms for. */
  routes: number;
  consecutiveFailures: number;
  scrapes: number;
  intervalMs: number;
}

export interface ExemplarRef {
  service: string;
  target: string;
  /** The family name (histogram) or sample name (counter). */
  metric: string;
  /** The series' labels (without `le`). */
  labels: Labels;
  /** The bucket's upper bound, for histogram exemplars. */
  le?: number;
  value: number;
  timestampMs?: number;
  traceId?: string;
  spanId?: string;
  exemplarLabels: Labels;
  /** When Routelens first saw this exemplar. */
  seenMs: number;
  /** The route, when the metric is one of the HTTP latency histograms. */
  route?: RouteKey;
}

export interface PrometheusScraperOptions {
  sink: TelemetrySink;
  /**
   * Where route observations go (the store). Leave it out when `sink` already derives them (the
   * runtime's sink does), or every request would be counted twice.
   */
  routes?: RouteHistogramRecorder;
  log?: Logger;
  counters?: Counters;
  intervalMs?: number;
  /** Per request; default the interval, at most 10 s. */
  timeoutMs?: number;
  maxBodyBytes?: number;
  /** Above this, a scrape fails as a whole (like Prometheus' sample_limit). */
  maxSeriesPerTarget?: number;
  maxExemplars?: number;
  now?: () => number;
}

interface TargetRec {
  config: ScrapeTargetConfig;
  url?: URL;
  resource: Resource;
  health: TargetHealth;
  tracker: ExpositionTracker;
  deriver: RouteDeriver;
  addedMs: number;
  hasBaseline: boolean;
  timer?: NodeJS.Timeout;
  inflight?: Promise<void>;
  removed: boolean;
  lastExemplar: Map<string, string>;
}

const TRACE_ID_KEYS = ['trace_id', 'traceId', 'traceID', 'trace.id', 'TraceId'];
const SPAN_ID_KEYS = ['span_id', 'spanId', 'spanID', 'span.id', 'SpanId'];

export class PrometheusScraper {
  private readonly sink: TelemetrySink;
  private readonly routes: RouteHistogramRecorder | undefined;
  private readonly log: Logger;
  private readonly counters: Counters | undefined;
  private intervalMs: number;
  private readonly timeoutMs: number | undefined;
  private readonly maxBodyBytes: number;
  private readonly maxSeries: number;
  private readonly maxExemplars: number;
  private readonly now: () => number;
  private readonly targetsByUrl = new Map<string, TargetRec>();
  /** URLs agents announced: kept when the configured list is replaced. */
  private readonly announced = new Set<string>();
  private readonly changed = new Emitter<TargetHealth[]>();
  private readonly exemplarRing: ExemplarRef[] = [];
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  private disposed = false;

  constructor(opts: PrometheusScraperOptions) {
    this.sink = opts.sink;
    this.routes = opts.routes;
    this.log = opts.log ?? silentLogger;
    this.counters = opts.counters;
    this.intervalMs = clampInterval(opts.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS);
    this.timeoutMs = opts.timeoutMs;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxSeries = opts.maxSeriesPerTarget ?? DEFAULT_MAX_SERIES_PER_TARGET;
    this.maxExemplars = opts.maxExemplars ?? 1_000;
    this.now = opts.now ?? Date.now;
  }

  // ---- targets ---------------------------------------------------------------------------------

  /**
   * Replaces the configured target list: new URLs start, missing ones stop, kept ones keep their
   * state. Targets that agents announced (addTarget with `announced`) are not part of that list
   * and stay.
   */
  setTargets(targets: readonly (string | ScrapeTargetConfig)[]): void {
    const wanted = new Map<string, ScrapeTargetConfig>();
    for (const t of targets) {
      const c = normalizeConfig(t);
      if (c && !wanted.has(c.url)) wanted.set(c.url, c);
    }
    let changed = false;
    for (const url of [...this.targetsByUrl.keys()]) {
      if (!wanted.has(url) && !this.announced.has(url)) changed = this.remove(url) || changed;
    }
    for (const c of wanted.values()) changed = this.upsert(c) || changed;
    if (changed) this.fireChange();
  }

  /** Adds or updates one target; `announced` marks one an agent asked for, which setTargets keeps. */
  addTarget(target: string | ScrapeTargetConfig, opts: { announced?: boolean } = {}): void {
    const c = normalizeConfig(target);
    if (!c) return;
    if (opts.announced) this.announced.add(c.url);
    if (this.upsert(c)) this.fireChange();
  }

  removeTarget(url: string): boolean {
    const ok = this.remove(url.trim());
    if (ok) this.fireChange();
    return ok;
  }

  /** Health of every target, in the order they were added. */
  targets(): TargetHealth[] {
    return [...this.targetsByUrl.values()].map((t) => ({ ...t.health, firstParseErrors: [...t.health.firstParseErrors] }));
  }

  health(url: string): TargetHealth | undefined {
    const t = this.targetsByUrl.get(url.trim());
    return t ? { ...t.health } : undefined;
  }

  /** Fires with every target's health after each scrape and when the target list changes. */
  onDidChangeHealth(listener: (targets: TargetHealth[]) => void): { dispose(): void } {
    return this.changed.on(listener);
  }

  /** Changes the default interval; targets without their own interval follow from their next scrape. */
  setIntervalMs(ms: number): void {
    const next = clampInterval(ms);
    if (next === this.intervalMs) return;
    this.intervalMs = next;
    for (const t of this.targetsByUrl.values()) {
      if (t.config.intervalMs !== undefined) continue;
      t.health.intervalMs = next;
      if (!t.inflight) this.schedule(t, next);
    }
  }

  /** Scrapes one target (or all) now; resolves when done. Never rejects. */
  async scrapeNow(url?: string): Promise<void> {
    const list = url === undefined ? [...this.targetsByUrl.values()] : [this.targetsByUrl.get(url.trim())].filter((t): t is TargetRec => !!t);
    await Promise.all(list.map((t) => this.scrapeTarget(t)));
  }

  /** Exemplars seen (newest first), optionally for one service, metric or route. */
  exemplars(filter: { service?: string; metric?: string; route?: RouteKey; limit?: number } = {}): ExemplarRef[] {
    const out: ExemplarRef[] = [];
    const limit = filter.limit ?? 100;
    for (let i = this.exemplarRing.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.exemplarRing[i];
      if (filter.service && e.service !== filter.service) continue;
      if (filter.metric && e.metric !== filter.metric) continue;
      if (filter.route && (!e.route || e.route.service !== filter.route.service || e.route.method !== filter.route.method || e.route.route !== filter.route.route)) continue;
      out.push(e);
    }
    return out;
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.targetsByUrl.values()) {
      t.removed = true;
      clearTimeout(t.timer);
    }
    this.targetsByUrl.clear();
    this.changed.dispose();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ---- internals -------------------------------------------------------------------------------

  private upsert(c: ScrapeTargetConfig): boolean {
    if (this.disposed) return false;
    const existing = this.targetsByUrl.get(c.url);
    if (existing) {
      const before = JSON.stringify(existing.config);
      if (before === JSON.stringify(c)) return false;
      const intervalChanged = existing.config.intervalMs !== c.intervalMs;
      existing.config = c;
      existing.resource = this.resourceOf(c, existing.url);
      existing.health.service = existing.resource.serviceName;
      existing.health.intervalMs = this.intervalOf(existing);
      if (intervalChanged && !existing.inflight) this.schedule(existing, existing.health.intervalMs);
      return true;
    }
    let url: URL | undefined;
    let invalid: string | undefined;
    try {
      url = new URL(c.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        invalid = `only http and https targets can be scraped, not ${url.protocol}`;
        url = undefined;
      }
    } catch {
      invalid = 'not a valid URL';
    }
    const resource = this.resourceOf(c, url);
    const rec: TargetRec = {
      config: c,
      url,
      resource,
      tracker: new ExpositionTracker(),
      deriver: new RouteDeriver(),
      addedMs: this.now(),
      hasBaseline: false,
      removed: false,
      lastExemplar: new Map(),
      health: {
        url: c.url,
        displayUrl: redact(url) ?? c.url,
        service: resource.serviceName,
        state: invalid ? 'down' : 'pending',
        up: false,
        series: 0,
        samples: 0,
        bytes: 0,
        parseErrors: 0,
        firstParseErrors: [],
        routes: 0,
        consecutiveFailures: 0,
        scrapes: 0,
        intervalMs: 0,
      },
    };
    rec.health.intervalMs = this.intervalOf(rec);
    if (invalid) rec.health.lastError = invalid;
    this.targetsByUrl.set(c.url, rec);
    if (url) this.schedule(rec, 0);
    else this.log.warn(`target ${JSON.stringify(c.url.slice(0, 200))}: ${invalid}`);
    return true;
  }

  private remove(url: string): boolean {
    const t = this.targetsByUrl.get(url);
    if (!t) return false;
    t.removed = true;
    clearTimeout(t.timer);
    this.targetsByUrl.delete(url);
    this.announced.delete(url);
    return true;
  }

  private intervalOf(t: TargetRec): number {
    return t.config.intervalMs !== undefined ? clampInterval(t.config.intervalMs) : this.intervalMs;
  }

  private resourceOf(c: ScrapeTargetConfig, url: URL | undefined): Resource {
    const instance = url?.host ?? c.url;
    const serviceName = c.service || c.job || instance;
    const attributes: Resource['attributes'] = { 'service.name': serviceName, 'service.instance.id': instance, 'prometheus.target': redact(url) ?? c.url };
    if (c.job) attributes['prometheus.job'] = c.job;
    return { serviceName, instanceId: instance, sdk: 'prometheus', attributes };
  }

  private schedule(t: TargetRec, delayMs: number): void {
    clearTimeout(t.timer);
    if (this.disposed || t.removed || !t.url) return;
    t.timer = setTimeout(() => {
      t.timer = undefined;
      const started = performance.now();
      void this.scrapeTarget(t).then(() => {
        const spent = performance.now() - started;
        this.schedule(t, Math.max(0, this.intervalOf(t) - spent));
      });
    }, delayMs);
    t.timer.unref?.();
  }

  private scrapeTarget(t: TargetRec): Promise<void> {
    if (!t.url || t.removed) return Promise.resolve();
    t.inflight ??= this.scrapeOnce(t).finally(() => {
      t.inflight = undefined;
    });
    return t.inflight;
  }

  private async scrapeOnce(t: TargetRec): Promise<void> {
    const startedMs = this.now();
    const t0 = performance.now();
    let durationMs = 0;
    try {
      const timeoutMs = t.config.timeoutMs ?? this.timeoutMs ?? Math.min(10_000, Math.max(1_000, this.intervalOf(t)));
      const res = await fetchExposition(t.url!, {
        timeoutMs,
        maxBodyBytes: this.maxBodyBytes,
        agents: { http: this.httpAgent, https: this.httpsAgent },
      });
      durationMs = performance.now() - t0;
      if (t.removed) return;
      const t1 = performance.now();
      const parsed = parseExposition(res.body, { format: formatOf(res.contentType), keepSamples: false });
      const problem = this.rejectReason(parsed);
      if (problem) throw new ScrapeError(problem);
      this.ingest(t, parsed, startedMs, durationMs);
      const processMs = performance.now() - t1;
      this.succeeded(t, parsed, res.bytes, startedMs, durationMs, processMs, countRoutes(parsed, t.resource.serviceName));
    } catch (e) {
      if (t.removed) return;
      durationMs ||= performance.now() - t0;
      this.failed(t, e, startedMs, durationMs);
    }
  }

  private rejectReason(parsed: ParseResult): string | undefined {
    if (parsed.format === 'openmetrics' && !parsed.eof) return 'OpenMetrics body without # EOF: the response was cut short';
    if (parsed.sampleCount === 0 && parsed.errorCount > 0) {
      const e = parsed.errors[0];
      return `not a metrics exposition (${parsed.errorCount} malformed lines; line ${e.line}: ${e.message})`;
    }
    if (parsed.seriesCount > this.maxSeries) return `${parsed.seriesCount} series, over the limit of ${this.maxSeries} per target`;
    return undefined;
  }

  /** Delivers one good exposition. */
  private ingest(t: TargetRec, parsed: ParseResult, scrapeMs: number, durationMs: number): void {
    const { points, stats } = t.tracker.convert(parsed, { resource: t.resource, scrapeMs, hasBaseline: t.hasBaseline, watchStartMs: t.addedMs });
    points.push(...this.scrapeGauges(t, scrapeMs, 1, durationMs, parsed.sampleCount));
    this.sink.addMetrics(points);
    this.counters?.inc('prometheus.points', points.length);
    if (stats.resets) this.counters?.inc('prometheus.resets', stats.resets);
    if (this.routes) {
      for (const r of t.deriver.derive(points)) if (r.observations.length) this.routes.recordRouteHistogram(r.key, r.observations, r.buckets);
    }
    this.collectExemplars(t, parsed);
    t.hasBaseline = true;
  }

  /** The series Prometheus itself records for every scrape, so charts show when a target was down. */
  private scrapeGauges(t: TargetRec, timeMs: number, up: number, durationMs: number, samples: number): MetricPoint[] {
    const g = (name: string, value: number, unit?: string): MetricPoint => {
      const p: MetricPoint = { name, kind: 'gauge', timeMs, attributes: {}, resource: t.resource, value };
      if (unit) p.unit = unit;
      return p;
    };
    const out = [g('up', up)];
    if (up) out.push(g('scrape_duration_seconds', durationMs / 1000, 's'), g('scrape_samples_scraped', samples));
    return out;
  }

  private collectExemplars(t: TargetRec, parsed: ParseResult): void {
    const seenMs = this.now();
    for (const fam of parsed.families) {
      for (const s of fam.series) {
        if (s.exemplar) this.exemplar(t, s.sampleName ?? fam.name, s.labels, undefined, s.exemplar, s.key, seenMs);
        if (s.buckets) for (const b of s.buckets) if (b.exemplar) this.exemplar(t, fam.name, s.labels, b.le, b.exemplar, s.key, seenMs);
      }
    }
  }

  private exemplar(t: TargetRec, metric: string, labels: Labels, le: number | undefined, ex: Exemplar, seriesKey: string, seenMs: number): void {
    const key = `${metric}\u0000${seriesKey}\u0000${le ?? ''}`;
    const traceId = pick(ex.labels, TRACE_ID_KEYS);
    const spanId = pick(ex.labels, SPAN_ID_KEYS);
    // The exposition repeats the latest exemplar on every scrape: keep it once.
    const ident = `${traceId ?? ''}\u0000${spanId ?? ''}\u0000${ex.value}\u0000${ex.timestampMs ?? ''}`;
    if (t.lastExemplar.get(key) === ident) return;
    if (t.lastExemplar.size >= 20_000) t.lastExemplar.clear();
    t.lastExemplar.set(key, ident);
    const ref: ExemplarRef = { service: t.resource.serviceName, target: t.health.displayUrl, metric, labels, value: ex.value, exemplarLabels: ex.labels, seenMs };
    if (le !== undefined) ref.le = le;
    if (ex.timestampMs !== undefined) ref.timestampMs = ex.timestampMs;
    if (traceId) ref.traceId = normalizeId(traceId);
    if (spanId) ref.spanId = normalizeId(spanId);
    const route = routeOfSeries(metric, labels, t.resource.serviceName);
    if (route) ref.route = route;
    this.exemplarRing.push(ref);
    if (this.exemplarRing.length > this.maxExemplars) this.exemplarRing.splice(0, this.exemplarRing.length - this.maxExemplars);
  }

  private succeeded(t: TargetRec, parsed: ParseResult, bytes: number, startedMs: number, durationMs: number, processMs: number, routes: number): void {
    const h = t.health;
    const wasUp = h.state === 'up';
    if (!wasUp) this.log.info(`target ${t.health.displayUrl} is up (${parsed.seriesCount} series, ${parsed.format})`);
    if (parsed.errorCount > 0 && h.parseErrors === 0) {
      const e = parsed.errors[0];
      this.log.warn(`target ${t.health.displayUrl}: ${parsed.errorCount} malformed lines skipped (line ${e.line}: ${e.message})`);
    }
    h.state = 'up';
    h.up = true;
    delete h.lastError;
    h.lastScrapeMs = startedMs;
    h.lastSuccessMs = startedMs;
    h.durationMs = round2(durationMs);
    h.processMs = round2(processMs);
    h.series = parsed.seriesCount;
    h.samples = parsed.sampleCount;
    h.bytes = bytes;
    h.format = parsed.format;
    h.parseErrors = parsed.errorCount;
    h.firstParseErrors = parsed.errors.slice(0, 5);
    h.routes = routes;
    h.consecutiveFailures = 0;
    h.scrapes++;
    this.counters?.inc('prometheus.scrapes.ok');
    this.fireChange();
  }

  private failed(t: TargetRec, e: unknown, startedMs: number, durationMs: number): void {
    const h = t.health;
    const message = e instanceof Error ? e.message : String(e);
    if (h.state !== 'down' || h.lastError !== message) this.log.warn(`target ${t.health.displayUrl} is down: ${message}`);
    h.state = 'down';
    h.up = false;
    h.lastError = message;
    h.lastScrapeMs = startedMs;
    h.durationMs = round2(durationMs);
    h.consecutiveFailures++;
    h.scrapes++;
    this.counters?.inc('prometheus.scrapes.failed');
    try {
      this.sink.addMetrics(this.scrapeGauges(t, startedMs, 0, durationMs, 0));
    } catch (err) {
      this.log.error(`target ${t.health.displayUrl}: could not record its up gauge: ${(err as Error).message}`);
    }
    this.fireChange();
  }

  private fireChange(): void {
    if (!this.disposed) this.changed.fire(this.targets());
  }
}

function countRoutes(parsed: ParseResult, service: string): number {
  const seen = new Set<string>();
  for (const fam of parsed.families) {
    if (fam.type !== 'histogram' || !isRouteMetric(fam.name)) continue;
    for (const s of fam.series) {
      const r = routeOfSeries(fam.name, s.labels, service);
      if (r) seen.add(`${r.method} ${r.route}`);
    }
  }
  return seen.size;
}

function clampInterval(ms: number): number {
  return Number.isFinite(ms) ? Math.max(100, Math.min(3_600_000, ms)) : DEFAULT_SCRAPE_INTERVAL_MS;
}

function normalizeConfig(t: string | ScrapeTargetConfig): ScrapeTargetConfig | undefined {
  const c: ScrapeTargetConfig = typeof t === 'string' ? { url: t } : { ...t };
  if (typeof c.url !== 'string') return undefined;
  c.url = c.url.trim();
  if (!c.url) return undefined;
  for (const k of ['service', 'job'] as const) {
    if (typeof c[k] !== 'string' || !c[k]!.trim()) delete c[k];
    else c[k] = c[k]!.trim();
  }
  for (const k of ['intervalMs', 'timeoutMs'] as const) if (typeof c[k] !== 'number' || !Number.isFinite(c[k])) delete c[k];
  return c;
}

/** The format the Content-Type names; the body decides when it names neither. */
export function formatOf(contentType: string): ExpositionFormat | 'auto' {
  const ct = contentType.toLowerCase();
  if (ct.startsWith('application/openmetrics-text')) return 'openmetrics';
  if (ct.startsWith('text/plain')) return 'text';
  return 'auto';
}

function pick(labels: Labels, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = labels[k];
    if (v) return v;
  }
  return undefined;
}

/** Trace and span ids as the store keys them: lowercase hex. */
function normalizeId(id: string): string {
  return /^[0-9a-fA-F]+$/.test(id) ? id.toLowerCase() : id;
}

function redact(url: URL | undefined): string | undefined {
  if (!url) return undefined;
  if (!url.username && !url.password) return url.toString();
  const u = new URL(url.toString());
  u.username = '';
  u.password = '';
  return u.toString();
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
