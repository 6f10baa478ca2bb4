/**
 * Run detection and per-run statistics, fed by the store with every span and log it takes in.
 *
 * A run is one lifetime of the process that serves a service:
 * - the Python agent and OTLP senders with `service.instance.id` name their process: a new
 *   instance is a new run (a reload after a code change starts a new process, so a new run);
 * - instances of one service that started within WORKER_START_WINDOW_MS of the run's start (and
 *   have the same parent process, when both say) are the workers of one server and share the run;
 * - a sender without an instance id starts a new run after a pause of traffic longer than
 *   `pauseMs`;
 * - a reloader's watcher or a worker server's master sends nothing (the agent mutes it), so it is
 *   never a run.
 * A run ends when the next run of its service starts.
 */
import { Emitter } from '../events';
import type { CodeLocation, LogRecord, Resource, Span } from '../model';
import { durationMs } from '../model';
import { isServerError } from '../semconv';
import { wasPaused } from '../findings/insights';
import { errorFingerprint, innermostAppFrame } from '../stats/errorGroups';
import { MAX_STAT_DURATION_MS } from '../store/store';
import { testIdOf } from '../store/testTraffic';
import { compareRuns, type RunComparison } from './compare';
import { MAX_ERROR_GROUPS_PER_RUN, MAX_INSTANCES_PER_RUN, Run, type RunLabel, type RunRoute, type RunSource } from './run';
import { decodeTrace, encodeTrace, MAX_SAMPLE_BYTES_PER_RUN, SAMPLE_TRACES_PER_ROUTE } from './sampleTraces';

/** Instances of a service starting this close to the run's start are workers of the same server. */
export const WORKER_START_WINDOW_MS = 3_000;
export const DEFAULT_PAUSE_MS = 5 * 60_000;
export const DEFAULT_RUNS_PER_SERVICE = 20;
/** Traces whose client spans are summed by kind, waiting for their server span. */
const MAX_PENDING_TRACES = 5_000;
const MAX_SERVICES = 200;

export interface RunTrackerOptions {
  now?: () => number;
  pauseMs?: number;
  /** Runs kept in memory per service (the database keeps its own bound). */
  runsPerService?: number;
}

export interface RunsChange {
  service: string;
  /** A run started (the previous one of the service ended). */
  started: boolean;
}

export class RunTracker {
  private readonly now: () => number;
  pauseMs: number;
  runsPerService: number;
  /** Per service, oldest first. */
  private readonly byService = new Map<string, Run[]>();
  private readonly byInstance = new Map<string, Run>();
  private readonly pins = new Map<string, string>();
  private readonly pending = new Map<string, { db: number; http: number }>();
  private readonly change = new Emitter<RunsChange>();
  /** Labels the editor gives a run as it starts (git commit and dirty state). */
  labeler: ((service: string) => RunLabel | undefined) | undefined;
  private seq = 0;
  private readonly cache = new Map<string, { key: string; value: RunComparison; at: number; pinnedId: string | undefined }>();

  constructor(opts: RunTrackerOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.pauseMs = opts.pauseMs ?? DEFAULT_PAUSE_MS;
    this.runsPerService = opts.runsPerService ?? DEFAULT_RUNS_PER_SERVICE;
  }

  onDidChange(listener: (e: RunsChange) => void): { dispose(): void } {
    return this.change.on(listener);
  }

  // ---- ingestion -------------------------------------------------------------------------------

  observeSpans(spans: Span[]): void {
    const now = this.now();
    const touched = new Set<Run>();
    // Client spans first: a request's database and HTTP calls usually arrive in its batch.
    for (const span of spans) {
      if (span.kind !== 'client') continue;
      const kind = span.attributes['db.system'] !== undefined || span.attributes['db.system.name'] !== undefined ? 'db' : span.http ? 'http' : undefined;
      if (!kind) continue;
      let p = this.pending.get(span.traceId);
      if (!p) {
        if (this.pending.size >= MAX_PENDING_TRACES) this.pending.delete(this.pending.keys().next().value as string);
        this.pending.set(span.traceId, (p = { db: 0, http: 0 }));
      }
      p[kind] += Math.min(durationMs(span), MAX_STAT_DURATION_MS);
    }
    for (const span of spans) {
      const isRequest = span.kind === 'server' && !!span.http?.route;
      if (!isRequest && !span.exception) continue;
      if (testIdOf(span) !== undefined) continue;
      const at = eventTime(span.endMs, now);
      const run = this.runFor(span.resource, Math.min(span.startMs, at), at);
      if (!run) continue;
      touched.add(run);
      if (isRequest) {
        const http = span.http!;
        const error = span.status === 'error' || isServerError(http.statusCode);
        run.requests++;
        if (error) run.errors++;
        const route = run.routeOf(http.method, http.route!);
        if (route) {
          const kinds = this.pending.get(span.traceId);
          if (kinds) this.pending.delete(span.traceId);
          route.record({ traceId: span.traceId, spanId: span.spanId, durationMs: Math.min(durationMs(span), MAX_STAT_DURATION_MS), error, statusCode: http.statusCode, endMs: at }, wasPaused(span), kinds);
          if (span.code) route.code = span.code;
        }
      }
      if (span.exception) {
        const ex = span.exception;
        const frame = innermostAppFrame(ex.frames) ?? span.code;
        this.recordError(run, errorFingerprint(span.resource.serviceName, ex.type, frame, span.name), ex.type, ex.message, at, { route: span.http?.route, method: span.http?.method, location: frame, traceId: span.traceId });
      }
    }
    for (const r of touched) r.touch();
  }

  observeLogs(logs: LogRecord[]): void {
    const now = this.now();
    const touched = new Set<Run>();
    for (const log of logs) {
      const ex = log.exception;
      if (!ex) continue;
      const at = Math.min(now, log.timeMs);
      const run = this.runFor(log.resource, at, at);
      if (!run) continue;
      const frame = innermostAppFrame(ex.frames) ?? log.code;
      const fp = errorFingerprint(log.resource.serviceName, ex.type, frame, ex.type);
      // A logged traceback of a request whose span already reported it is the same failure.
      const seen = run.errorGroups.get(fp);
      if (seen && log.traceId && seen.traceId === log.traceId) continue;
      this.recordError(run, fp, ex.type, ex.message || log.body, at, { location: frame, traceId: log.traceId });
      touched.add(run);
    }
    for (const r of touched) r.touch();
  }

  private recordError(run: Run, fingerprint: string, type: string, message: string, at: number, extra: { route?: string; method?: string; location?: CodeLocation; traceId?: string }): void {
    const g = run.errorGroups.get(fingerprint);
    if (g) {
      if (extra.traceId && g.traceId === extra.traceId) return;
      g.count++;
      g.message = message.slice(0, 2000);
      if (extra.traceId) g.traceId = extra.traceId;
      g.route ??= extra.route;
      g.method ??= extra.method;
      return;
    }
    if (run.errorGroups.size >= MAX_ERROR_GROUPS_PER_RUN) {
      run.dropped++;
      return;
    }
    run.errorGroups.set(fingerprint, { fingerprint, type, message: message.slice(0, 2000), count: 1, firstSeenMs: at, ...stripUndefined(extra) });
  }

  /** The run a record of this resource belongs to, starting one when it is the first of a new run. */
  private runFor(resource: Resource, startMs: number, at: number): Run | undefined {
    const service = resource.serviceName;
    const instance = resource.instanceId;
    const runs = this.byService.get(service);
    const current = runs?.[runs.length - 1];
    if (instance) {
      const key = `${service}\u0000${instance}`;
      const known = this.byInstance.get(key);
      if (known) {
        known.lastSeenMs = Math.max(known.lastSeenMs, at);
        return known;
      }
      const started = processStart(resource) ?? startMs;
      const source: RunSource = resource.sdk?.startsWith('routelens') ? 'agent' : 'otlp';
      let run: Run;
      const parent = parentPid(resource);
      const sameParent = parent === undefined || current?.parentPid === undefined || parent === current.parentPid;
      if (current && !current.ended && current.source !== 'traffic' && sameParent && Math.abs(started - current.startMs) <= WORKER_START_WINDOW_MS && current.instances.length < MAX_INSTANCES_PER_RUN) {
        run = current; // another worker of the same server
      } else {
        run = this.startRun(service, started, source);
        run.parentPid = parent;
      }
      run.instances.push(instance);
      this.byInstance.set(key, run);
      run.lastSeenMs = Math.max(run.lastSeenMs, at);
      return run;
    }
    if (current && !current.ended && current.source === 'traffic' && at - current.lastSeenMs <= this.pauseMs) {
      current.lastSeenMs = Math.max(current.lastSeenMs, at);
      return current;
    }
    const run = this.startRun(service, startMs, 'traffic');
    run.lastSeenMs = Math.max(run.lastSeenMs, at);
    return run;
  }

  private startRun(service: string, startMs: number, source: RunSource): Run {
    let runs = this.byService.get(service);
    if (!runs) {
      if (this.byService.size >= MAX_SERVICES) this.forgetService();
      this.byService.set(service, (runs = []));
    }
    const previous = runs[runs.length - 1];
    if (previous && !previous.ended) {
      previous.endMs = Math.max(previous.startMs, previous.lastSeenMs);
      previous.touch();
    }
    const run = new Run(newRunId(startMs, ++this.seq), service, startMs, source);
    try {
      run.label = this.labeler?.(service);
    } catch {
      // A label is a nicety: a run without one is still a run.
    }
    runs.push(run);
    this.trim(service);
    this.change.fire({ service, started: true });
    return run;
  }

  private trim(service: string): void {
    const runs = this.byService.get(service);
    if (!runs) return;
    const pinned = this.pins.get(service);
    while (runs.length > Math.max(2, this.runsPerService)) {
      const i = runs.findIndex((r) => r.id !== pinned);
      const [gone] = runs.splice(i, 1);
      for (const [k, r] of this.byInstance) if (r === gone) this.byInstance.delete(k);
    }
  }

  private forgetService(): void {
    let oldest: string | undefined;
    let oldestMs = Infinity;
    for (const [name, runs] of this.byService) {
      const last = runs[runs.length - 1]?.lastSeenMs ?? 0;
      if (last < oldestMs) {
        oldest = name;
        oldestMs = last;
      }
    }
    if (oldest === undefined) return;
    const runs = this.byService.get(oldest) ?? [];
    this.byService.delete(oldest);
    for (const [k, r] of this.byInstance) if (runs.includes(r)) this.byInstance.delete(k);
  }

  // ---- sample traces ---------------------------------------------------------------------------

  /** Where the spans of a sample trace kept on disk are read (set by the database's owner). */
  traceLoader: ((traceId: string) => Uint8Array | undefined) | undefined;
  private readonly capturedAt = new Map<string, number>();

  /**
   * Keeps the spans of each run's slowest few requests per route, from the store while it still
   * has them (`lookup`: the store's trace). Only runs changed since the last call are looked at;
   * a trace that gained spans is taken again. Returns how many runs changed.
   */
  captureSampleTraces(lookup: (traceId: string) => Span[]): number {
    let changed = 0;
    for (const run of this.allRuns()) {
      if (this.capturedAt.get(run.id) === run.revision) continue;
      let touched = false;
      for (const route of run.routes.values()) {
        const wanted = new Set(route.slowest.slice(0, SAMPLE_TRACES_PER_ROUTE).map((x) => x.traceId));
        for (const [id, t] of route.traces) {
          if (wanted.has(id)) continue;
          route.traces.delete(id);
          run.traceBytes -= t.bytes.length;
          touched = true;
        }
        for (const id of wanted) {
          // A run at its bound takes no more (and encodes none only to throw it away).
          if (!route.traces.has(id) && run.traceBytes >= MAX_SAMPLE_BYTES_PER_RUN * 0.98) continue;
          const spans = lookup(id);
          if (spans.length === 0) continue;
          const had = route.traces.get(id);
          if (had && had.spans + had.dropped >= spans.length) continue;
          const enc = encodeTrace(spans);
          if (!enc) continue;
          const grow = enc.bytes.length - (had?.bytes.length ?? 0);
          if (run.traceBytes + grow > MAX_SAMPLE_BYTES_PER_RUN) continue;
          route.traces.set(id, enc);
          run.traceBytes += grow;
          touched = true;
        }
      }
      if (touched) {
        run.touch();
        changed++;
      }
      this.capturedAt.set(run.id, run.revision);
    }
    return changed;
  }

  /**
   * The spans of a trace one of the runs kept in its sample (in memory, else through the
   * database), with its run and route; undefined when no run has it or its value is damaged.
   */
  sampleTrace(traceId: string): { run: Run; route: RunRoute; spans: Span[] } | undefined {
    for (const run of [...this.allRuns()].reverse()) {
      for (const route of run.routes.values()) {
        const kept = route.traces.get(traceId);
        if (!kept && !route.slowest.some((x) => x.traceId === traceId)) continue;
        try {
          const bytes = kept?.bytes ?? this.traceLoader?.(traceId);
          const spans = bytes ? decodeTrace(bytes) : [];
          return spans.length ? { run, route, spans } : undefined;
        } catch {
          return undefined;
        }
      }
    }
    return undefined;
  }

  // ---- history ---------------------------------------------------------------------------------

  /**
   * Runs read back from disk (after a window reload or a restart). They are all ended: a process
   * that still sends after the reload continues as a new run only if its instance is new, so its
   * instances are remembered to keep it in the same run.
   */
  restore(runs: Run[], pins: Record<string, string> = {}): void {
    const grouped = new Map<string, Run[]>();
    for (const r of runs) {
      if (this.find(r.id)) continue;
      let list = grouped.get(r.service);
      if (!list) grouped.set(r.service, (list = []));
      list.push(r);
    }
    for (const [service, list] of grouped) {
      // A run seen since the start whose processes are all in a restored run is that run, seen
      // again through spans restored from the store's snapshot: the restored one holds it whole.
      const restoredInstances = new Set(list.flatMap((r) => r.instances));
      const seen = this.byService.get(service) ?? [];
      const live = seen.filter((r) => !(r.instances.length > 0 && r.instances.every((i) => restoredInstances.has(i))));
      for (const r of seen) if (!live.includes(r)) for (const [k, v] of this.byInstance) if (v === r) this.byInstance.delete(k);
      const merged = [...list, ...live].sort((a, b) => a.startMs - b.startMs);
      // Every restored run but the newest overall ended when the next one started.
      for (let i = 0; i < merged.length - 1; i++) if (merged[i].endMs === undefined) merged[i].endMs = Math.max(merged[i].startMs, merged[i].lastSeenMs);
      this.byService.set(service, merged);
      for (const r of list) for (const inst of r.instances) if (!this.byInstance.has(`${service}\u0000${inst}`)) this.byInstance.set(`${service}\u0000${inst}`, r);
    }
    for (const [service, id] of Object.entries(pins)) if (this.find(id)) this.pins.set(service, id);
    for (const service of grouped.keys()) {
      this.trim(service);
      this.change.fire({ service, started: false });
    }
  }

  services(): string[] {
    return [...this.byService.keys()].sort();
  }

  /** Runs of a service, newest first. */
  runs(service: string): Run[] {
    return [...(this.byService.get(service) ?? [])].reverse();
  }

  allRuns(): Run[] {
    return [...this.byService.values()].flat();
  }

  find(id: string): Run | undefined {
    for (const runs of this.byService.values()) for (const r of runs) if (r.id === id) return r;
    return undefined;
  }

  latest(service: string): Run | undefined {
    const runs = this.byService.get(service);
    return runs?.[runs.length - 1];
  }

  /** What the run is compared with: the pinned baseline of its service, else the run before it. */
  baselineOf(run: Run): { run: Run; pinned: boolean } | undefined {
    const pinnedId = this.pins.get(run.service);
    if (pinnedId && pinnedId !== run.id) {
      const p = this.find(pinnedId);
      if (p) return { run: p, pinned: true };
    }
    const runs = this.byService.get(run.service) ?? [];
    const i = runs.indexOf(run);
    return i > 0 ? { run: runs[i - 1], pinned: false } : undefined;
  }

  pin(runId: string): Run | undefined {
    const run = this.find(runId);
    if (!run) return undefined;
    this.pins.set(run.service, run.id);
    run.touch();
    this.change.fire({ service: run.service, started: false });
    return run;
  }

  unpin(service: string): boolean {
    const ok = this.pins.delete(service);
    if (ok) this.change.fire({ service, started: false });
    return ok;
  }

  pinned(service: string): string | undefined {
    return this.pins.get(service);
  }

  pinsSnapshot(): Record<string, string> {
    return Object.fromEntries(this.pins);
  }

  /**
   * The service's latest run (running or ended) against its baseline; cached until either
   * changes. `runId` compares that run instead.
   */
  comparison(service: string, runId?: string): RunComparison | undefined {
    const run = runId ? this.find(runId) : this.latest(service);
    if (!run || run.service !== service) return undefined;
    const base = this.baselineOf(run);
    const pinnedId = this.pins.get(service);
    const key = `${run.id}:${run.revision}|${base?.run.id ?? ''}:${base?.run.revision ?? 0}|${pinnedId ?? ''}`;
    const hit = this.cache.get(run.id);
    const now = this.now();
    if (hit && hit.key === key) return hit.value;
    // While requests stream in, every batch changes the run: the comparison (a few ms for hundreds
    // of routes) is recomputed at most once a second for the same run and baseline.
    const sameRuns = hit && hit.value.baseline?.id === base?.run.id && hit.pinnedId === pinnedId;
    if (sameRuns && now - hit.at < 1000) return hit.value;
    const value = compareRuns(run, base?.run, base?.pinned ?? false, pinnedId);
    if (this.cache.size > 50) this.cache.clear();
    this.cache.set(run.id, { key, value, at: now, pinnedId });
    return value;
  }

  /** Forgets every run (Clear Data keeps them: runs are history, not live figures). */
  clear(): void {
    const services = [...this.byService.keys()];
    this.byService.clear();
    this.byInstance.clear();
    this.pins.clear();
    this.pending.clear();
    for (const service of services) this.change.fire({ service, started: false });
  }
}

/** The process's start from its resource (`process.creation.time`, ISO 8601 or epoch ms), if given. */
function processStart(resource: Resource): number | undefined {
  const v = resource.attributes['process.creation.time'];
  const t = typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(t) && t > 0 ? t : undefined;
}

function parentPid(resource: Resource): number | undefined {
  const v = resource.attributes['process.parent_pid'];
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

function eventTime(endMs: number, now: number): number {
  return Number.isFinite(endMs) && endMs > 0 ? Math.min(now, endMs) : now;
}

function newRunId(startMs: number, seq: number): string {
  return `${Math.floor(startMs).toString(36)}-${seq.toString(36)}-${Math.floor(Math.random() * 0xffffff).toString(36)}`;
}

function stripUndefined<T extends object>(o: T): T {
  const out = {} as T;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
