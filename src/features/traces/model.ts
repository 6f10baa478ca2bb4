/**
 * The trace panel's view model: a route's trace list and the waterfall rows of one trace, built
 * from the store by pure functions (no vscode), so they are tested in plain Node.
 */
import type { Attributes, AttrValue, ExceptionInfo, LogRecord, PauseBand, Span } from '../../core/model';
import type { TelemetryStore } from '../../core/store/store';
import type { AttrPair, ExceptionView, LogView, PauseView, RouteRef, SpanView, TraceAnalysisPart, TraceFilter, TraceListRow, TraceView } from './protocol';
import { analyseTraceView } from '../../core/findings/insights';

/** Requests listed per route: the store keeps at most this many per route anyway. */
export const MAX_LIST = 200;
/** Log records shown with a trace. */
export const MAX_TRACE_LOGS = 500;
/** Longest attribute value sent to the panel; the rest is cut with a marker. */
export const MAX_VALUE_CHARS = 4096;

export function traceListRows(store: TelemetryStore, route: RouteRef, filter: TraceFilter, p95Ms: number | null, nowMs: number): { rows: TraceListRow[]; total: number } {
  const all = store.routeRequestsOf(route, { limit: MAX_LIST });
  const since = filter.rangeSec > 0 ? nowMs - filter.rangeSec * 1000 : -Infinity;
  const rows: TraceListRow[] = [];
  for (const r of all) {
    if (r.receivedMs < since) continue;
    if (filter.errorsOnly && !r.error) continue;
    // A paused request's duration is mostly time in the debugger: never "slow".
    if (filter.slowOnly && (p95Ms === null || !(r.durationMs > p95Ms) || r.pausedMs)) continue;
    const row: TraceListRow = { traceId: r.traceId, startMs: r.startMs, receivedMs: r.receivedMs, durationMs: r.durationMs, error: r.error };
    if (r.statusCode !== undefined) row.statusCode = r.statusCode;
    if (r.pausedMs) row.pausedMs = r.pausedMs;
    const made = callsOfRequest(store.trace(r.traceId), r.spanId);
    if (made.queries > 0) row.queries = made.queries;
    if (made.calls > 0) row.calls = made.calls;
    rows.push(row);
  }
  return { rows, total: all.length };
}

/**
 * The calls one request made itself: client spans of the trace whose nearest server span above
 * them is the request's span (so a downstream service's queries are that service's, not this
 * request's). A summary span of calls folded past the agent's per-request limit counts as its
 * `routelens.folded.count`. Spans whose chain breaks (a parent not received yet) are not counted.
 */
export function callsOfRequest(spans: Span[], requestSpanId: string): { queries: number; calls: number } {
  const byId = new Map<string, Span>();
  for (const s of spans) byId.set(s.spanId, s);
  let queries = 0;
  let calls = 0;
  for (const s of spans) {
    if (s.kind !== 'client') continue;
    let parentId = s.parentSpanId;
    let owner: Span | undefined;
    // Bounded by the trace's size, so a cycle in the data cannot loop.
    for (let steps = 0; parentId !== undefined && steps <= spans.length; steps++) {
      const parent = byId.get(parentId);
      if (!parent) break;
      if (parent.kind === 'server') {
        owner = parent;
        break;
      }
      parentId = parent.parentSpanId;
    }
    if (owner?.spanId !== requestSpanId) continue;
    const folded = s.attributes['routelens.folded.count'];
    const n = typeof folded === 'number' && Number.isFinite(folded) && folded >= 1 ? Math.floor(folded) : 1;
    if (s.attributes['db.system.name'] !== undefined || s.attributes['db.system'] !== undefined) queries += n;
    else calls += n;
  }
  return { queries, calls };
}

/** The route a trace belongs to: its outermost server span with a route template. */
export function routeOfTrace(spans: Span[]): RouteRef | null {
  const servers = spans.filter((s) => s.kind === 'server' && s.http?.route).sort((a, b) => a.startMs - b.startMs);
  const best = servers.find((s) => !s.parentSpanId) ?? servers[0];
  return best?.http?.route ? { service: best.resource.serviceName, method: best.http.method, route: best.http.route } : null;
}

/**
 * Orders spans depth first with children by start time, the order in which the waterfall lists
 * them. Spans whose parent is missing are shown as roots. Iterative, so a 2,000-level chain cannot
 * overflow the stack, and each span is placed once even if the data has a cycle.
 */
export function buildTraceView(traceId: string, spans: Span[], logs: LogRecord[]): TraceView | null {
  if (spans.length === 0 && logs.length === 0) return null;
  const byId = new Map<string, Span>();
  for (const s of spans) if (!byId.has(s.spanId)) byId.set(s.spanId, s);
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  let orphans = 0;
  for (const s of byId.values()) {
    const parent = s.parentSpanId && s.parentSpanId !== s.spanId ? byId.get(s.parentSpanId) : undefined;
    if (!parent) {
      if (s.parentSpanId) orphans++;
      roots.push(s);
      continue;
    }
    let list = children.get(parent.spanId);
    if (!list) children.set(parent.spanId, (list = []));
    list.push(s);
  }
  const byStart = (a: Span, b: Span) => a.startMs - b.startMs || a.name.localeCompare(b.name);
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);

  let start = Infinity;
  let end = -Infinity;
  for (const s of byId.values()) {
    start = Math.min(start, s.startMs);
    end = Math.max(end, s.endMs);
  }
  for (const l of logs) {
    start = Math.min(start, l.timeMs);
    end = Math.max(end, l.timeMs);
  }

  const services: string[] = [];
  const serviceIndex = (name: string): number => {
    let i = services.indexOf(name);
    if (i < 0) i = services.push(name) - 1;
    return i;
  };

  const ordered: SpanView[] = [];
  const placed = new Set<string>();
  const visit = (root: Span) => {
    const stack: [Span, number][] = [[root, 0]];
    while (stack.length) {
      const [s, depth] = stack.pop()!;
      if (placed.has(s.spanId)) continue;
      placed.add(s.spanId);
      const kids = children.get(s.spanId) ?? [];
      ordered.push(spanView(s, depth, kids, start, serviceIndex));
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
    }
  };
  for (const r of roots) visit(r);
  // Spans only reachable through a cycle (a malformed trace): list them rather than lose them.
  for (const s of [...byId.values()].sort(byStart)) if (!placed.has(s.spanId)) visit(s);

  const sortedLogs = [...logs].sort((a, b) => a.timeMs - b.timeMs).slice(-MAX_TRACE_LOGS);
  const view: TraceView = {
    traceId,
    startMs: start,
    durationMs: Math.max(0, end - start),
    services,
    spans: ordered,
    logs: sortedLogs.map((l) => logView(l, start)),
    orphans,
  };
  const analysis = spans.length ? analysisPart(spans, start) : undefined;
  if (analysis) view.analysis = analysis;
  const pauses = pauseViews(byId.values(), start);
  if (pauses.length) view.pauses = pauses;
  return view;
}

/** The debugger stops the trace's spans overlapped, merged into one list of bands on its time axis. */
export function pauseViews(spans: Iterable<Span>, traceStart: number): PauseView[] {
  const bands: PauseBand[] = [];
  for (const s of spans) for (const b of s.pauses ?? []) bands.push(b);
  bands.sort((a, b) => a.startMs - b.startMs);
  const merged: PauseBand[] = [];
  for (const b of bands) {
    const last = merged[merged.length - 1];
    if (last && b.startMs <= last.endMs) last.endMs = Math.max(last.endMs, b.endMs);
    else merged.push({ ...b });
  }
  return merged.slice(0, 100).map((b) => ({ offsetMs: b.startMs - traceStart, durationMs: b.endMs - b.startMs }));
}

const fmt = (ms: number) => (ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`);

/** The critical path, hot span and findings of the trace, on the waterfall's time axis. */
function analysisPart(spans: Span[], traceStart: number): TraceAnalysisPart | undefined {
  const a = analyseTraceView(spans);
  if (!a) return undefined;
  return {
    criticalPath: a.criticalPath.map((c) => ({ spanId: c.spanId, offsetMs: c.startMs - traceStart, durationMs: c.endMs - c.startMs })),
    hotSpanId: a.hotSpanId,
    findings: a.findings.map((f) => {
      const op = f.operation.length > 90 ? `${f.operation.slice(0, 87)}…` : f.operation;
      const text = f.kind === 'n+1' ? `N+1: ${f.count} × ${op} on ${f.route} (${fmt(f.ms)})` : `Slow query: ${op} (${fmt(f.ms)}) on ${f.route}`;
      const out: TraceAnalysisPart['findings'][number] = { kind: f.kind, text, spanIds: f.spanIds.slice(0, 200) };
      if (f.location) out.code = { file: f.location.file, line: f.location.line, function: f.location.function };
      return out;
    }),
  };
}

/**
 * A span's own time: its duration less the union of its children's intervals (clipped to the span),
 * so parallel children are not subtracted twice and a child that outlives its parent (a call
 * left running, clocks of two machines) takes no more than the overlap.
 */
export function selfTimeMs(s: Span, children: readonly Span[]): number {
  const duration = Math.max(0, s.endMs - s.startMs);
  if (children.length === 0) return duration;
  const intervals = children
    .map((c) => [Math.max(s.startMs, c.startMs), Math.min(s.endMs, c.endMs)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let from = -Infinity;
  let to = -Infinity;
  for (const [a, b] of intervals) {
    if (a > to) {
      if (to > from) covered += to - from;
      from = a;
      to = b;
    } else if (b > to) {
      to = b;
    }
  }
  if (to > from) covered += to - from;
  return Math.max(0, duration - covered);
}

/** The statement or URL of a client span, both generations of the conventions. */
function spanDetail(s: Span): string | undefined {
  const a = s.attributes;
  for (const key of ['db.query.text', 'db.statement', 'url.full', 'http.url']) {
    const value = a[key];
    if (typeof value === 'string' && value) return clip(value);
  }
  return undefined;
}

function spanView(s: Span, depth: number, kids: readonly Span[], traceStart: number, serviceIndex: (n: string) => number): SpanView {
  const v: SpanView = {
    spanId: s.spanId,
    name: s.name,
    service: serviceIndex(s.resource.serviceName),
    kind: s.kind,
    offsetMs: s.startMs - traceStart,
    durationMs: Math.max(0, s.endMs - s.startMs),
    selfMs: selfTimeMs(s, kids),
    status: s.status,
    depth,
    children: kids.length,
    attributes: attrPairs(s.attributes),
    events: s.events.map((e) => ({ name: e.name, offsetMs: e.timeMs - traceStart, attributes: attrPairs(e.attributes) })),
  };
  if (s.parentSpanId) v.parentSpanId = s.parentSpanId;
  const detail = spanDetail(s);
  if (detail !== undefined) v.detail = detail;
  if (s.statusMessage) v.statusMessage = s.statusMessage;
  if (s.exception) v.exception = exceptionView(s.exception);
  if (s.code) v.code = { file: s.code.file, line: s.code.line, function: s.code.function };
  return v;
}

function logView(l: LogRecord, traceStart: number): LogView {
  const v: LogView = { offsetMs: l.timeMs - traceStart, timeMs: l.timeMs, severity: l.severity, body: clip(l.body), service: l.resource.serviceName };
  if (l.spanId) v.spanId = l.spanId;
  if (l.exception) v.exception = exceptionView(l.exception);
  if (l.code) v.code = { file: l.code.file, line: l.code.line, function: l.code.function };
  return v;
}

export function exceptionView(e: ExceptionInfo): ExceptionView {
  const v: ExceptionView = { type: e.type, message: clip(e.message), frames: e.frames.map((f) => ({ file: f.file, line: f.line, function: f.function })) };
  if (e.stacktrace) v.stacktrace = clip(e.stacktrace, MAX_VALUE_CHARS * 4);
  return v;
}

export function attrPairs(a: Attributes): AttrPair[] {
  return Object.keys(a)
    .sort()
    .map((k) => [k, clip(attrText(a[k]))]);
}

export function attrText(v: AttrValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function clip(s: string, max = MAX_VALUE_CHARS): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}
