/**
 * Findings and time breakdowns, derived incrementally from the spans the store receives.
 *
 * A trace is analysed once it has settled (no new span for SETTLE_MS): its parts arrive from
 * several processes at different moments. Each server span with a route in it is one request of
 * that route; its critical path gives the time by destination, and its own calls give the N+1 and
 * slow-query findings. Everything is bounded: the traces waiting to settle, the requests kept per
 * route for the breakdown, the findings kept.
 */
import { performance } from 'node:perf_hooks';
import { PAUSED_MS_ATTRIBUTE, type CodeLocation, type Span } from '../model';
import { WindowedSeries, type RouteKey } from '../stats/routeStats';
import { callOf, type CallInfo } from './calls';
import { analyseRequest, type BreakdownPart, type DestinationKind, type RequestAnalysis } from './requestAnalysis';

export const SETTLE_MS = 2000;
const MAX_PENDING_TRACES = 5000;
/** CPU per process() call, in ms. */
const PROCESS_BUDGET_MS = 4;
/** Requests per route the breakdown and the dominance finding are computed over. */
const RECENT_REQUESTS = 200;
/** A finding goes away once this many later requests of its route no longer show it. */
export const CLEAR_AFTER_REQUESTS = 5;
/** A destination holding at least this share of a route's time, over at least MIN_REQUESTS_DOMINANT requests, dominates it. */
export const DOMINANT_SHARE = 0.5;
export const MIN_REQUESTS_DOMINANT = 5;
const DOMINANT_OVER = 50;
const MAX_FINDINGS = 500;
/** Caller-to-destination edges kept for the service map. */
const MAX_EDGES = 200;
const MAX_EXAMPLES = 5;
/** Destinations kept per route; the rest are summed into "other". */
const MAX_TARGETS = 16;

export type FindingKind = 'n+1' | 'slow-query' | 'dominant-downstream';

export interface Finding {
  /** Stable while the finding lasts: kind, route, operation and line. */
  id: string;
  kind: FindingKind;
  service: string;
  method: string;
  route: string;
  /** The line that made the calls (null for a dominance finding, or when the sender gave none). */
  location: CodeLocation | null;
  destination: { kind: DestinationKind; target: string };
  /** The statement or `METHOD /path` (for N+1 and slow queries). */
  operation?: string;
  /** Requests of the route that showed it, since it was first seen. */
  requests: number;
  /** N+1: calls per request (the latest request that showed it). */
  callsPerRequest?: number;
  /** Milliseconds it cost per request that showed it (mean). */
  msPerRequest: number;
  /** Its share of those requests' duration (mean, 0 to 1). */
  share: number;
  exampleTraceIds: string[];
  firstSeenMs: number;
  lastSeenMs: number;
  /** One line for a person: `12 × SELECT … per request (48 ms, 61% of the request)`. */
  message: string;
}

export interface MapEdge {
  from: string;
  to: { kind: 'db' | 'http' | 'service'; target: string };
  count: number;
  rps: number;
  errorRate: number;
  p95Ms: number | null;
}

export interface ServiceMap {
  /** Services that sent spans, and the databases and hosts they call. */
  nodes: { kind: 'service' | 'db' | 'http'; name: string }[];
  edges: MapEdge[];
}

export interface RouteBreakdown {
  /** Requests analysed (the most recent, up to RECENT_REQUESTS). */
  requests: number;
  meanMs: number;
  byKind: Record<DestinationKind, number>;
  /** Milliseconds per request by destination: mean, p95, and the mean share of the request. */
  byTarget: { kind: DestinationKind; target: string; meanMs: number; p95Ms: number; share: number }[];
}

interface FindingState extends Finding {
  /** The route's request sequence number when it was last seen. */
  lastSeq: number;
  sumMs: number;
  sumShare: number;
}

interface RouteState {
  key: RouteKey;
  seq: number;
  /** Ids of this route's findings. */
  findingIds: Set<string>;
  /** The most recent requests: duration and breakdown parts. */
  recent: { durationMs: number; parts: BreakdownPart[] }[];
  next: number;
  /** Running sums over the last DOMINANT_OVER requests, for the dominance finding. */
  dom: { total: number; byTarget: Map<string, { kind: DestinationKind; target: string; ms: number }> };
}

function routeKeyOf(span: Span): RouteKey | undefined {
  if (span.kind !== 'server' || !span.http?.route) return undefined;
  return { service: span.resource.serviceName, method: span.http.method, route: span.http.route };
}

const rk = (k: RouteKey) => `${k.service}\u0000${k.method}\u0000${k.route}`;

/**
 * A request that waited at a breakpoint has a duration that says nothing about the code: it never
 * makes or clears findings, nor counts in the breakdown.
 */
export function wasPaused(span: Span): boolean {
  if ((span.pausedMs ?? 0) > 0) return true;
  const p = span.attributes[PAUSED_MS_ATTRIBUTE];
  return typeof p === 'number' && p > 0;
}

function shortOp(op: string): string {
  return op.length > 80 ? `${op.slice(0, 77)}…` : op;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
const ms = (x: number) => (x >= 100 ? `${Math.round(x)} ms` : `${x.toFixed(1)} ms`);

export class InsightsEngine {
  private readonly pending = new Map<string, number>();
  private readonly routes = new Map<string, RouteState>();
  private readonly findings = new Map<string, FindingState>();
  private readonly edges = new Map<string, { from: string; to: MapEdge['to']; series: WindowedSeries }>();
  /** Counters: analysed requests and traces, and what bounds dropped. */
  readonly stats = { traces: 0, requests: 0, pausedSkipped: 0, droppedPending: 0, droppedFindings: 0 };

  constructor(
    private readonly getTrace: (traceId: string) => Span[],
    private readonly opts: { now?: () => number; slowQueryMs?: () => number } = {},
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Notes the traces of newly stored spans; they are analysed once they settle. */
  observe(spans: Span[]): void {
    const now = this.now();
    for (const s of spans) {
      if (this.pending.has(s.traceId)) this.pending.delete(s.traceId);
      else if (this.pending.size >= MAX_PENDING_TRACES) {
        // Under a load the analysis cannot keep up with, the oldest waiting trace goes unanalysed
        // (counted): findings become a sample, ingest never slows down.
        const [oldest] = this.pending.keys();
        this.pending.delete(oldest);
        this.stats.droppedPending++;
      }
      this.pending.set(s.traceId, now);
    }
  }

  /**
   * Analyses the traces that have settled (a Map keeps insertion order: oldest first), for at most
   * `budgetMs` of CPU so a burst never stalls the caller (the extension host's event loop); what is
   * left waits for the next call.
   */
  process(now = this.now(), budgetMs = PROCESS_BUDGET_MS): number {
    let n = 0;
    const t0 = performance.now();
    for (const [traceId, last] of this.pending) {
      if (now - last < SETTLE_MS) break;
      this.pending.delete(traceId);
      this.analyseTrace(traceId);
      n++;
      if ((n & 15) === 0 && performance.now() - t0 > budgetMs) break;
    }
    return n;
  }

  /** Analyses every waiting trace now (tests, import, shutdown). */
  flush(): void {
    for (const traceId of [...this.pending.keys()]) {
      this.pending.delete(traceId);
      this.analyseTrace(traceId);
    }
  }

  clear(): void {
    this.pending.clear();
    this.edges.clear();
    this.routes.clear();
    this.findings.clear();
  }

  private analyseTrace(traceId: string): void {
    const spans = this.getTrace(traceId);
    if (!spans.length) return;
    this.stats.traces++;
    this.recordEdges(spans);
    for (const s of spans) {
      const key = routeKeyOf(s);
      if (!key) continue;
      if (wasPaused(s)) {
        this.stats.pausedSkipped++;
        continue;
      }
      const a = analyseRequest(spans, s, { slowQueryMs: this.opts.slowQueryMs?.() });
      if (a) this.addRequest(key, a, traceId);
    }
  }

  /** Each call out of a service, as an edge of the service map: to a database, a host, or the service that served it. */
  private recordEdges(spans: Span[]): void {
    let servedBy: Map<string, string> | undefined;
    for (const s of spans) {
      const call = callOf(s);
      if (!call) continue;
      let to: MapEdge['to'] = { kind: call.kind, target: call.target };
      if (call.kind === 'http') {
        if (!servedBy) {
          servedBy = new Map();
          for (const c of spans) if (c.kind === 'server' && c.parentSpanId) servedBy.set(c.parentSpanId, c.resource.serviceName);
        }
        const svc = servedBy.get(s.spanId);
        if (svc && svc !== s.resource.serviceName) to = { kind: 'service', target: svc };
      }
      const k = `${s.resource.serviceName}\u0000${to.kind}\u0000${to.target}`;
      let e = this.edges.get(k);
      if (!e) {
        if (this.edges.size >= MAX_EDGES) continue;
        this.edges.set(k, (e = { from: s.resource.serviceName, to, series: new WindowedSeries() }));
      }
      const failed = s.status === 'error' || (typeof s.attributes['http.response.status_code'] === 'number' && (s.attributes['http.response.status_code'] as number) >= 500);
      e.series.record(Math.min(this.now(), s.endMs) / 1000, Math.max(0, s.endMs - s.startMs), failed);
    }
  }

  /** Services, databases and hosts, and the calls between them over the last `windowSec` seconds. */
  serviceMap(windowSec: number, services: string[] = []): ServiceMap {
    this.process(this.now(), 50);
    const nowSec = this.now() / 1000;
    const nodes = new Map<string, ServiceMap['nodes'][number]>();
    for (const name of services) nodes.set(`service\u0000${name}`, { kind: 'service', name });
    const edges: MapEdge[] = [];
    for (const e of this.edges.values()) {
      const w = e.series.window(nowSec, windowSec);
      if (w.count === 0) continue;
      nodes.set(`service\u0000${e.from}`, { kind: 'service', name: e.from });
      nodes.set(`${e.to.kind}\u0000${e.to.target}`, { kind: e.to.kind, name: e.to.target });
      edges.push({ from: e.from, to: { ...e.to }, count: w.count, rps: round3(w.count / w.seconds), errorRate: round3(w.errors / w.count), p95Ms: round2(w.sketch.quantile(0.95)) });
    }
    edges.sort((a, b) => a.from.localeCompare(b.from) || b.count - a.count);
    const order = { service: 0, db: 1, http: 2 } as const;
    return { nodes: [...nodes.values()].sort((a, b) => order[a.kind] - order[b.kind] || a.name.localeCompare(b.name)), edges };
  }

  private addRequest(key: RouteKey, a: RequestAnalysis, traceId: string): void {
    this.stats.requests++;
    const k = rk(key);
    let r = this.routes.get(k);
    if (!r) this.routes.set(k, (r = { key, seq: 0, findingIds: new Set(), recent: [], next: 0, dom: { total: 0, byTarget: new Map() } }));
    r.seq++;
    const entry = { durationMs: a.durationMs, parts: capParts(a.breakdown) };
    // The request leaving the dominance window (DOMINANT_OVER back) leaves its running sums.
    if (r.recent.length >= DOMINANT_OVER) {
      const len = r.recent.length;
      const out = r.recent[(r.next - DOMINANT_OVER + len * 2) % len];
      addParts(r.dom, out, -1);
    }
    addParts(r.dom, entry, 1);
    if (r.recent.length < RECENT_REQUESTS) r.recent.push(entry);
    else r.recent[r.next] = entry;
    r.next = (r.next + 1) % RECENT_REQUESTS;

    const now = a.request.endMs;
    for (const rep of a.repeated) {
      this.see('n+1', r, rep.call, rep.location, rep.totalMs, a.durationMs, traceId, now, rep.count);
    }
    for (const sl of a.slow) this.see('slow-query', r, sl.call, sl.location, sl.ms, a.durationMs, traceId, now);
    this.updateDominance(r, traceId, now);
    // A finding this route's last requests no longer show has cleared.
    for (const id of r.findingIds) {
      const f = this.findings.get(id);
      if (!f || r.seq - f.lastSeq >= CLEAR_AFTER_REQUESTS) {
        this.findings.delete(id);
        r.findingIds.delete(id);
      }
    }
  }

  private see(kind: FindingKind, r: RouteState, call: CallInfo, location: CodeLocation | null, costMs: number, requestMs: number, traceId: string, now: number, count?: number): void {
    const key = r.key;
    const seq = r.seq;
    const id = `${kind}\u0000${rk(key)}\u0000${call.kind}\u0000${call.target}\u0000${call.operation}\u0000${location ? `${location.file}:${location.line}` : ''}`;
    const share = requestMs > 0 ? Math.min(1, costMs / requestMs) : 0;
    let f = this.findings.get(id);
    if (!f) {
      if (this.findings.size >= MAX_FINDINGS) {
        this.stats.droppedFindings++;
        return;
      }
      f = {
        id,
        kind,
        ...key,
        location,
        destination: { kind: call.kind, target: call.target },
        operation: call.operation,
        requests: 0,
        msPerRequest: 0,
        share: 0,
        exampleTraceIds: [],
        firstSeenMs: now,
        lastSeenMs: now,
        message: '',
        lastSeq: seq,
        sumMs: 0,
        sumShare: 0,
      };
      this.findings.set(id, f);
      r.findingIds.add(id);
    }
    f.requests++;
    f.sumMs += costMs;
    f.sumShare += share;
    f.msPerRequest = f.sumMs / f.requests;
    f.share = f.sumShare / f.requests;
    f.lastSeq = seq;
    f.lastSeenMs = Math.max(f.lastSeenMs, now);
    if (count !== undefined) f.callsPerRequest = count;
    if (!f.exampleTraceIds.includes(traceId)) {
      f.exampleTraceIds.unshift(traceId);
      f.exampleTraceIds.length = Math.min(f.exampleTraceIds.length, MAX_EXAMPLES);
    }
    f.message =
      kind === 'n+1'
        ? `N+1: ${f.callsPerRequest} × ${shortOp(call.operation)} per request on ${key.method} ${key.route} (${ms(f.msPerRequest)}, ${pct(f.share)} of the request)`
        : `Slow query: ${shortOp(call.operation)} takes ${ms(f.msPerRequest)} (${pct(f.share)} of ${key.method} ${key.route})`;
  }

  private updateDominance(r: RouteState, traceId: string, now: number): void {
    const n = Math.min(r.recent.length, DOMINANT_OVER);
    const totalMs = r.dom.total;
    const recent = { length: n };
    const sums = r.dom.byTarget;
    for (const s of sums.values()) {
      const share = totalMs > 0 ? s.ms / totalMs : 0;
      const id = `dominant-downstream\u0000${rk(r.key)}\u0000${s.kind}\u0000${s.target}`;
      const f = this.findings.get(id);
      if (recent.length < MIN_REQUESTS_DOMINANT || share < DOMINANT_SHARE) {
        if (f) {
          this.findings.delete(id);
          r.findingIds.delete(id);
        }
        continue;
      }
      const msPer = s.ms / recent.length;
      const message = `${s.target} takes ${pct(share)} of ${r.key.method} ${r.key.route} (${ms(msPer)} of ${ms(totalMs / recent.length)} per request)`;
      if (f) {
        Object.assign(f, { requests: recent.length, msPerRequest: msPer, share, lastSeenMs: Math.max(f.lastSeenMs, now), lastSeq: r.seq, message });
        if (!f.exampleTraceIds.includes(traceId)) {
          f.exampleTraceIds.unshift(traceId);
          f.exampleTraceIds.length = Math.min(f.exampleTraceIds.length, MAX_EXAMPLES);
        }
      } else if (this.findings.size < MAX_FINDINGS) {
        this.findings.set(id, {
          id,
          kind: 'dominant-downstream',
          ...r.key,
          location: null,
          destination: { kind: s.kind, target: s.target },
          requests: recent.length,
          msPerRequest: msPer,
          share,
          exampleTraceIds: [traceId],
          firstSeenMs: now,
          lastSeenMs: now,
          message,
          lastSeq: r.seq,
          sumMs: 0,
          sumShare: 0,
        });
        r.findingIds.add(id);
      } else this.stats.droppedFindings++;
    }
  }

  /** The current findings, most costly first. */
  list(filter: { service?: string; route?: string; kind?: FindingKind } = {}): Finding[] {
    this.process(this.now(), 50);
    const out: Finding[] = [];
    for (const f of this.findings.values()) {
      if (filter.service && f.service !== filter.service) continue;
      if (filter.route && f.route !== filter.route) continue;
      if (filter.kind && f.kind !== filter.kind) continue;
      const { lastSeq: _l, sumMs: _s, sumShare: _h, ...pub } = f;
      out.push({ ...pub, exampleTraceIds: [...f.exampleTraceIds], location: f.location ? { ...f.location } : null });
    }
    return out.sort((a, b) => b.msPerRequest * b.requests - a.msPerRequest * a.requests || a.id.localeCompare(b.id));
  }

  /** Where the route's recent requests spent their time, or undefined before one was analysed. */
  breakdown(key: RouteKey): RouteBreakdown | undefined {
    this.process(this.now(), 50);
    const r = this.routes.get(rk(key));
    if (!r || r.recent.length === 0) return undefined;
    const n = r.recent.length;
    const byKind: Record<DestinationKind, number> = { code: 0, db: 0, http: 0, service: 0 };
    const perTarget = new Map<string, { kind: DestinationKind; target: string; values: number[]; shares: number[] }>();
    let total = 0;
    r.recent.forEach((req, i) => {
      total += req.durationMs;
      for (const p of req.parts) {
        byKind[p.kind] += p.ms;
        const k = `${p.kind}\u0000${p.target}`;
        let t = perTarget.get(k);
        if (!t) perTarget.set(k, (t = { kind: p.kind, target: p.target, values: new Array(n).fill(0), shares: new Array(n).fill(0) }));
        t.values[i] += p.ms;
        t.shares[i] += req.durationMs > 0 ? p.ms / req.durationMs : 0;
      }
    });
    for (const k of Object.keys(byKind) as DestinationKind[]) byKind[k] = round2(byKind[k] / n);
    const byTarget = [...perTarget.values()]
      .map((t) => {
        const sorted = [...t.values].sort((a, b) => a - b);
        return {
          kind: t.kind,
          target: t.target,
          meanMs: round2(t.values.reduce((a, b) => a + b, 0) / n),
          p95Ms: round2(sorted[Math.max(0, Math.ceil(0.95 * n) - 1)]),
          share: round3(t.shares.reduce((a, b) => a + b, 0) / n),
        };
      })
      .sort((a, b) => b.meanMs - a.meanMs);
    return { requests: n, meanMs: round2(total / n), byKind, byTarget };
  }
}

function addParts(dom: RouteState['dom'], req: { durationMs: number; parts: BreakdownPart[] }, sign: 1 | -1): void {
  dom.total += sign * req.durationMs;
  for (const p of req.parts) {
    if (p.kind === 'code') continue;
    const k = `${p.kind}\u0000${p.target}`;
    const s = dom.byTarget.get(k);
    if (s) {
      s.ms += sign * p.ms;
      if (s.ms <= 1e-9) dom.byTarget.delete(k);
    } else if (sign > 0) dom.byTarget.set(k, { kind: p.kind, target: p.target, ms: p.ms });
  }
}

/** At most MAX_TARGETS destinations per request; the smallest are summed into `other`. */
function capParts(parts: BreakdownPart[]): BreakdownPart[] {
  if (parts.length <= MAX_TARGETS) return parts.map((p) => ({ ...p }));
  const kept = parts.slice(0, MAX_TARGETS - 1).map((p) => ({ ...p }));
  const rest = parts.slice(MAX_TARGETS - 1);
  const byKind = new Map<DestinationKind, number>();
  for (const p of rest) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + p.ms);
  for (const [kind, msSum] of byKind) kept.push({ kind, target: 'other', ms: msSum });
  return kept;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

export interface TraceAnalysisView {
  /** The request the analysis is of: the outermost server span, else the root span. */
  requestSpanId: string;
  /** Chronological critical-path segments (span id, start, end; ms since the epoch, skew-corrected). */
  criticalPath: { spanId: string; startMs: number; endMs: number }[];
  /** The span that holds the most time on the critical path: the place to look first. */
  hotSpanId: string;
  /** Per span: self time and time on the critical path, in ms. */
  spans: Record<string, { selfMs: number; pathMs: number; shiftMs: number }>;
  breakdown: BreakdownPart[];
  /** N+1 patterns and slow statements seen in this trace, per request of it. */
  findings: { kind: 'n+1' | 'slow-query'; route: string; operation: string; target: string; location: CodeLocation | null; count: number; ms: number; spanIds: string[] }[];
}

/** The analysis the trace panel and the query API show for one trace. */
export function analyseTraceView(spans: Span[], opts: { slowQueryMs?: number } = {}): TraceAnalysisView | undefined {
  if (!spans.length) return undefined;
  const ids = new Set(spans.map((s) => s.spanId));
  const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId)).sort((a, b) => a.startMs - b.startMs || b.endMs - a.endMs);
  const requests = spans.filter((s) => routeKeyOf(s));
  const byId = new Map(spans.map((s) => [s.spanId, s] as const));
  const depth = (s: Span) => {
    let d = 0;
    for (let p = s.parentSpanId ? byId.get(s.parentSpanId) : undefined; p && d < spans.length; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) d++;
    return d;
  };
  const outer = requests.length ? requests.reduce((a, b) => (depth(b) < depth(a) ? b : a)) : roots[0];
  // Every span in a parent cycle (a malformed trace): there is no request to take apart.
  if (!outer) return undefined;
  // The waterfall shows the whole trace: analyse from its root, which contains the request.
  const top = roots.find((r) => r.traceId === outer.traceId) ?? outer;
  const whole = analyseRequest(spans, top, opts);
  if (!whole) return undefined;
  const view: TraceAnalysisView = {
    requestSpanId: outer.spanId,
    criticalPath: whole.path.segments,
    hotSpanId: whole.path.hotSpanId,
    spans: {},
    breakdown: whole.breakdown,
    findings: [],
  };
  const shift = new Map<string, number>();
  const stack = [whole.path.root];
  while (stack.length) {
    const t = stack.pop()!;
    shift.set(t.span.spanId, t.shiftMs);
    stack.push(...t.children);
  }
  for (const [id, self] of whole.path.selfMs) view.spans[id] = { selfMs: round2(self), pathMs: round2(whole.path.pathMs.get(id) ?? 0), shiftMs: round2(shift.get(id) ?? 0) };
  for (const req of requests) {
    const a = req === top ? whole : analyseRequest(spans, req, opts);
    if (!a) continue;
    for (const r of a.repeated) view.findings.push({ kind: 'n+1', route: `${req.http!.method} ${req.http!.route}`, operation: r.call.operation, target: r.call.target, location: r.location, count: r.count, ms: round2(r.totalMs), spanIds: r.spanIds });
    for (const sl of a.slow) view.findings.push({ kind: 'slow-query', route: `${req.http!.method} ${req.http!.route}`, operation: sl.call.operation, target: sl.call.target, location: sl.location, count: 1, ms: round2(sl.ms), spanIds: [sl.spanId] });
  }
  return view;
}
