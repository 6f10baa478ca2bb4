/**
 * One run: one lifetime of the process (or of the workers started together) that serves a
 * service. Per route it keeps what a comparison with another run needs, after the run has ended:
 * counts, errors, the whole run's latency sketch, the time by kind where spans carry it, and a
 * bounded sample of traces (the slowest and the failed ones); per run, the error groups.
 */
import type { CodeLocation } from '../model';
import { LatencySketch, type EncodedSketch } from '../stats/sketch';
import type { EncodedTrace } from './sampleTraces';

/** Requests of a run a trace sample keeps per route: this many slowest and this many failed. */
export const SAMPLE_PER_ROUTE = 5;
export const MAX_ROUTES_PER_RUN = 2_000;
export const MAX_ERROR_GROUPS_PER_RUN = 200;
export const MAX_INSTANCES_PER_RUN = 64;

export type RunSource = 'agent' | 'otlp' | 'traffic';

/** Where the workspace stood when the run started, when git can tell (set by the editor). */
export interface RunLabel {
  commit?: string;
  dirty?: boolean;
  /** Files changed in the workspace (against the commit), at most a few. */
  changed?: string[];
}

export interface TraceSample {
  traceId: string;
  spanId: string;
  durationMs: number;
  error: boolean;
  statusCode?: number;
  endMs: number;
}

/** Milliseconds summed over a route's requests, by where they went (client spans of the request). */
export interface KindTotals {
  db: number;
  http: number;
  /** Requests whose client spans were seen (the denominator for a mean per request). */
  requests: number;
}

export class RunRoute {
  count = 0;
  errors = 0;
  /** Requests stopped at a breakpoint part of the time: counted, latency not taken. */
  paused = 0;
  sumMs = 0;
  readonly sketch: LatencySketch;
  kinds: KindTotals = { db: 0, http: 0, requests: 0 };
  slowest: TraceSample[] = [];
  failed: TraceSample[] = [];
  /**
   * The spans of the slowest few requests (sampleTraces.ts), by trace id, captured while the
   * store still had them. A run read back from the database has them there, not here.
   */
  readonly traces = new Map<string, EncodedTrace>();
  code?: CodeLocation;

  constructor(
    readonly method: string,
    readonly route: string,
    sketch?: LatencySketch,
  ) {
    this.sketch = sketch ?? new LatencySketch();
  }

  record(sample: TraceSample, paused: boolean, kinds?: { db: number; http: number }): void {
    this.count++;
    if (sample.error) this.errors++;
    if (paused) {
      this.paused++;
    } else {
      this.sketch.add(sample.durationMs);
      this.sumMs += sample.durationMs;
      // A paused request's duration says nothing about the code: it stays out of the sample too.
      insertSlowest(this.slowest, sample);
    }
    if (sample.error) {
      this.failed.push(sample);
      if (this.failed.length > SAMPLE_PER_ROUTE) this.failed.shift();
    }
    if (kinds && !paused) {
      this.kinds.db += kinds.db;
      this.kinds.http += kinds.http;
      this.kinds.requests++;
    }
  }
}

function insertSlowest(list: TraceSample[], s: TraceSample): void {
  if (list.length >= SAMPLE_PER_ROUTE && s.durationMs <= list[list.length - 1].durationMs) return;
  let i = list.length;
  while (i > 0 && list[i - 1].durationMs < s.durationMs) i--;
  list.splice(i, 0, s);
  if (list.length > SAMPLE_PER_ROUTE) list.pop();
}

export interface RunErrorGroup {
  fingerprint: string;
  type: string;
  message: string;
  count: number;
  firstSeenMs: number;
  route?: string;
  method?: string;
  location?: CodeLocation;
  traceId?: string;
}

export class Run {
  /** When the run's data last changed (for the background writer). */
  revision = 1;
  endMs: number | undefined;
  lastSeenMs: number;
  requests = 0;
  errors = 0;
  readonly instances: string[] = [];
  readonly routes = new Map<string, RunRoute>();
  readonly errorGroups = new Map<string, RunErrorGroup>();
  label: RunLabel | undefined;
  /** The parent process of the run's first instance, when it said (workers share it). */
  parentPid: number | undefined;
  /** Routes and error groups refused because a bound was reached. */
  dropped = 0;
  /** Bytes of the sample traces this run holds in memory (bounded by MAX_SAMPLE_BYTES_PER_RUN). */
  traceBytes = 0;

  constructor(
    readonly id: string,
    readonly service: string,
    readonly startMs: number,
    readonly source: RunSource,
  ) {
    this.lastSeenMs = startMs;
  }

  get ended(): boolean {
    return this.endMs !== undefined;
  }

  /** Seconds from the start to the end (or to the last request, while running); at least 1. */
  durationSec(): number {
    return Math.max(1, ((this.endMs ?? this.lastSeenMs) - this.startMs) / 1000);
  }

  routeOf(method: string, route: string): RunRoute | undefined {
    const k = `${method} ${route}`;
    let r = this.routes.get(k);
    if (!r) {
      if (this.routes.size >= MAX_ROUTES_PER_RUN) {
        this.dropped++;
        return undefined;
      }
      this.routes.set(k, (r = new RunRoute(method, route)));
    }
    return r;
  }

  touch(): void {
    this.revision++;
  }
}

// ---- plain form (the database row's JSON) ---------------------------------------------------

export interface StoredRoute {
  method: string;
  route: string;
  count: number;
  errors: number;
  paused: number;
  sumMs: number;
  sketch: EncodedSketch;
  kinds: KindTotals;
  slowest: TraceSample[];
  failed: TraceSample[];
  code?: CodeLocation;
}

export interface StoredRun {
  id: string;
  service: string;
  startMs: number;
  endMs?: number;
  lastSeenMs: number;
  source: RunSource;
  requests: number;
  errors: number;
  instances: string[];
  label?: RunLabel;
  routes: StoredRoute[];
  errorGroups: RunErrorGroup[];
}

export function runToStored(run: Run): StoredRun {
  return {
    id: run.id,
    service: run.service,
    startMs: run.startMs,
    ...(run.endMs !== undefined ? { endMs: run.endMs } : {}),
    lastSeenMs: run.lastSeenMs,
    source: run.source,
    requests: run.requests,
    errors: run.errors,
    instances: [...run.instances],
    ...(run.label ? { label: run.label } : {}),
    routes: [...run.routes.values()].map((r) => ({
      method: r.method,
      route: r.route,
      count: r.count,
      errors: r.errors,
      paused: r.paused,
      sumMs: r.sumMs,
      sketch: r.sketch.encode(),
      kinds: { ...r.kinds },
      slowest: r.slowest,
      failed: r.failed,
      ...(r.code ? { code: r.code } : {}),
    })),
    errorGroups: [...run.errorGroups.values()],
  };
}

/** A run back from its plain form; throws on a malformed one (a damaged database). */
export function runFromStored(s: StoredRun): Run {
  const str = (x: unknown) => typeof x === 'string';
  const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (!s || !str(s.id) || !str(s.service) || !num(s.startMs) || !num(s.lastSeenMs) || !Array.isArray(s.routes) || !Array.isArray(s.errorGroups)) throw new Error('malformed run');
  const source: RunSource = s.source === 'otlp' || s.source === 'traffic' ? s.source : 'agent';
  const run = new Run(s.id, s.service, s.startMs, source);
  run.endMs = num(s.endMs) ? s.endMs : undefined;
  run.lastSeenMs = s.lastSeenMs;
  run.requests = num(s.requests) ? s.requests : 0;
  run.errors = num(s.errors) ? s.errors : 0;
  if (Array.isArray(s.instances)) run.instances.push(...s.instances.filter(str).slice(0, MAX_INSTANCES_PER_RUN));
  if (s.label && typeof s.label === 'object') run.label = s.label;
  for (const r of s.routes.slice(0, MAX_ROUTES_PER_RUN)) {
    if (!r || !str(r.method) || !str(r.route)) throw new Error('malformed run route');
    const route = new RunRoute(r.method, r.route, LatencySketch.decode(r.sketch));
    route.count = num(r.count) ? r.count : 0;
    route.errors = num(r.errors) ? r.errors : 0;
    route.paused = num(r.paused) ? r.paused : 0;
    route.sumMs = num(r.sumMs) ? r.sumMs : 0;
    if (r.kinds && num(r.kinds.db) && num(r.kinds.http) && num(r.kinds.requests)) route.kinds = { db: r.kinds.db, http: r.kinds.http, requests: r.kinds.requests };
    route.slowest = Array.isArray(r.slowest) ? r.slowest.slice(0, SAMPLE_PER_ROUTE) : [];
    route.failed = Array.isArray(r.failed) ? r.failed.slice(0, SAMPLE_PER_ROUTE) : [];
    if (r.code) route.code = r.code;
    run.routes.set(`${r.method} ${r.route}`, route);
  }
  for (const g of s.errorGroups.slice(0, MAX_ERROR_GROUPS_PER_RUN)) {
    if (!g || !str(g.fingerprint) || !str(g.type)) throw new Error('malformed run error group');
    run.errorGroups.set(g.fingerprint, g);
  }
  return run;
}
