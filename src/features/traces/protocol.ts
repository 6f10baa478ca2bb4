/**
 * The messages between the extension host and the trace panel (a route's traces and the
 * waterfall of one trace). Both ends check what they receive with the guards below.
 */
import { isBool, isNum, isObj, isOptStr, isSpanId, isStr, isTraceId } from '../../shared/guards';

export interface RouteRef {
  service: string;
  method: string;
  route: string;
}

export interface TraceFilter {
  errorsOnly: boolean;
  /** Only requests slower than the route's p95 over the statistics window. */
  slowOnly: boolean;
  /** Only requests received in the last this many seconds; 0 for every request kept. */
  rangeSec: number;
}

export const RANGES = [0, 60, 300, 900] as const;

export const DEFAULT_FILTER: TraceFilter = { errorsOnly: false, slowOnly: false, rangeSec: 0 };

export interface TraceListRow {
  traceId: string;
  startMs: number;
  receivedMs: number;
  durationMs: number;
  statusCode?: number;
  error: boolean;
  /** Milliseconds the process spent stopped in a debugger during the request. */
  pausedMs?: number;
  /** Database and cache calls the request made itself (its client spans with a db.system), absent when none. */
  queries?: number;
  /** Other calls out of it (HTTP and any other client span), absent when none. */
  calls?: number;
}

/** "3 queries · 1 call": what a listed request made, or '' when it made no call out. */
export function callsLabel(r: Pick<TraceListRow, 'queries' | 'calls'>): string {
  const parts: string[] = [];
  if (r.queries) parts.push(`${r.queries} ${r.queries === 1 ? 'query' : 'queries'}`);
  if (r.calls) parts.push(`${r.calls} ${r.calls === 1 ? 'call' : 'calls'}`);
  return parts.join(' · ');
}

export interface StackFrameView {
  file: string;
  line: number;
  function: string;
}

export interface ExceptionView {
  type: string;
  message: string;
  /** Innermost frame last. */
  frames: StackFrameView[];
  stacktrace?: string;
}

export type AttrPair = [key: string, value: string];

export interface SpanView {
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** Index into TraceView.services. */
  service: number;
  kind: string;
  /** Milliseconds from the start of the trace. */
  offsetMs: number;
  durationMs: number;
  /** The part of durationMs not covered by any child span (children overlapping each other count once). */
  selfMs: number;
  /** What a client span did, readable: its statement (db.query.text) or URL (url.full), when it has one. */
  detail?: string;
  status: 'unset' | 'ok' | 'error';
  statusMessage?: string;
  /** Nesting level, 0 for a root. */
  depth: number;
  /** Number of direct children (0: a leaf). */
  children: number;
  attributes: AttrPair[];
  events: { name: string; offsetMs: number; attributes: AttrPair[] }[];
  exception?: ExceptionView;
  code?: StackFrameView;
}

export interface LogView {
  offsetMs: number;
  timeMs: number;
  severity: string;
  body: string;
  service: string;
  spanId?: string;
  exception?: ExceptionView;
  code?: StackFrameView;
}

/** What the trace's analysis says (docs/findings.md): the critical path, the hot span, the findings. */
export interface TraceAnalysisPart {
  /** Critical-path segments, ms from the start of the trace, chronological. */
  criticalPath: { spanId: string; offsetMs: number; durationMs: number }[];
  /** The span holding the most time on the critical path: selected when the trace opens. */
  hotSpanId: string;
  findings: { kind: 'n+1' | 'slow-query'; text: string; spanIds: string[]; code?: StackFrameView }[];
}

export interface TraceView {
  traceId: string;
  startMs: number;
  durationMs: number;
  services: string[];
  /** Depth first, children by start time: the order of the waterfall's rows. */
  spans: SpanView[];
  logs: LogView[];
  /** Spans whose parent is not in the store (not received yet, or dropped). */
  orphans: number;
  analysis?: TraceAnalysisPart;
  /** When the traced process was stopped in a debugger (breakpoint, stepping): not latency. */
  pauses?: PauseView[];
}

export interface PauseView {
  /** Milliseconds from the start of the trace. */
  offsetMs: number;
  durationMs: number;
}

export interface TracesMessage {
  type: 'traces';
  route: RouteRef | null;
  filter: TraceFilter;
  /** The route's p95 over the statistics window, what "slower than p95" compares with. */
  p95Ms: number | null;
  windowSec: number;
  rows: TraceListRow[];
  /** Requests of the route kept in the store, before filtering. */
  total: number;
  /** Set in a compare panel: which run its traces are from (its list is that run's sample, unfiltered). */
  caption?: string;
}

export interface TraceMessage {
  type: 'trace';
  traceId: string | null;
  /** Null when no trace is chosen, or the chosen one is no longer in the store. */
  trace: TraceView | null;
}

export type HostToTrace = TracesMessage | TraceMessage;

/** What the webview saves with setState and the serializer hands back after a reload. */
export interface TracePanelState {
  route: RouteRef | null;
  traceId: string | null;
  filter: TraceFilter;
  spanId?: string | null;
}

export type TraceToHost =
  | { type: 'ready' }
  | { type: 'selectTrace'; traceId: string }
  | { type: 'setFilter'; filter: TraceFilter }
  /** Opens a span's or a log record's source: frame -1 is its code location, else a stack frame. */
  | { type: 'openSource'; owner: 'span' | 'log'; id: string; frame: number }
  /** Opens the chat with a question about the shown trace and the Routelens tools to answer it. */
  | { type: 'askCopilot'; traceId: string }
  /** Opens the log view filtered by the trace. */
  | { type: 'openLogs'; traceId: string };

export const isTraceIdString = isTraceId;
export const isSpanIdString = isSpanId;

export function isRouteRef(r: unknown): r is RouteRef {
  return isObj(r) && isStr(r.service) && isStr(r.method) && isStr(r.route);
}

export function isTraceFilter(f: unknown): f is TraceFilter {
  return isObj(f) && isBool(f.errorsOnly) && isBool(f.slowOnly) && isNum(f.rangeSec) && (RANGES as readonly number[]).includes(f.rangeSec);
}

export function isTracePanelState(s: unknown): s is TracePanelState {
  return (
    isObj(s) &&
    (s.route === null || isRouteRef(s.route)) &&
    (s.traceId === null || isTraceIdString(s.traceId)) &&
    isTraceFilter(s.filter) &&
    (s.spanId === undefined || s.spanId === null || isSpanIdString(s.spanId))
  );
}

export function isTraceToHost(m: unknown): m is TraceToHost {
  if (!isObj(m) || !isStr(m.type)) return false;
  switch (m.type) {
    case 'ready':
      return true;
    case 'selectTrace':
      return isTraceIdString(m.traceId);
    case 'setFilter':
      return isTraceFilter(m.filter);
    case 'openSource':
      return (m.owner === 'span' || m.owner === 'log') && isStr(m.id) && m.id.length <= 64 && Number.isInteger(m.frame) && (m.frame as number) >= -1;
    case 'askCopilot':
    case 'openLogs':
      return isTraceIdString(m.traceId);
    default:
      return false;
  }
}

function isFrame(f: unknown): f is StackFrameView {
  return isObj(f) && isStr(f.file) && isNum(f.line) && isStr(f.function);
}

function isException(e: unknown): e is ExceptionView {
  return isObj(e) && isStr(e.type) && isStr(e.message) && Array.isArray(e.frames) && e.frames.every(isFrame) && isOptStr(e.stacktrace);
}

function isPairs(a: unknown): a is AttrPair[] {
  return Array.isArray(a) && a.every((p) => Array.isArray(p) && p.length === 2 && isStr(p[0]) && isStr(p[1]));
}

function isSpanView(s: unknown): s is SpanView {
  return (
    isObj(s) &&
    isSpanIdString(s.spanId) &&
    isOptStr(s.parentSpanId) &&
    isStr(s.name) &&
    isNum(s.service) &&
    isStr(s.kind) &&
    isNum(s.offsetMs) &&
    isNum(s.durationMs) &&
    isNum(s.selfMs) &&
    isOptStr(s.detail) &&
    (s.status === 'unset' || s.status === 'ok' || s.status === 'error') &&
    isOptStr(s.statusMessage) &&
    isNum(s.depth) &&
    isNum(s.children) &&
    isPairs(s.attributes) &&
    Array.isArray(s.events) &&
    s.events.every((e) => isObj(e) && isStr(e.name) && isNum(e.offsetMs) && isPairs(e.attributes)) &&
    (s.exception === undefined || isException(s.exception)) &&
    (s.code === undefined || isFrame(s.code))
  );
}

function isLogView(l: unknown): l is LogView {
  return (
    isObj(l) &&
    isNum(l.offsetMs) &&
    isNum(l.timeMs) &&
    isStr(l.severity) &&
    isStr(l.body) &&
    isStr(l.service) &&
    isOptStr(l.spanId) &&
    (l.exception === undefined || isException(l.exception)) &&
    (l.code === undefined || isFrame(l.code))
  );
}

export function isTraceView(t: unknown): t is TraceView {
  return (
    isObj(t) &&
    isTraceIdString(t.traceId) &&
    isNum(t.startMs) &&
    isNum(t.durationMs) &&
    Array.isArray(t.services) &&
    t.services.every(isStr) &&
    Array.isArray(t.spans) &&
    t.spans.every(isSpanView) &&
    Array.isArray(t.logs) &&
    t.logs.every(isLogView) &&
    isNum(t.orphans) &&
    (t.analysis === undefined || isAnalysis(t.analysis)) &&
    (t.pauses === undefined || (Array.isArray(t.pauses) && t.pauses.every((p) => isObj(p) && isNum(p.offsetMs) && isNum(p.durationMs))))
  );
}

function isAnalysis(a: unknown): a is TraceAnalysisPart {
  return (
    isObj(a) &&
    Array.isArray(a.criticalPath) &&
    a.criticalPath.every((c) => isObj(c) && isSpanIdString(c.spanId) && isNum(c.offsetMs) && isNum(c.durationMs)) &&
    isSpanIdString(a.hotSpanId) &&
    Array.isArray(a.findings) &&
    a.findings.every((f) => isObj(f) && (f.kind === 'n+1' || f.kind === 'slow-query') && isStr(f.text) && Array.isArray(f.spanIds) && f.spanIds.every(isSpanIdString) && (f.code === undefined || isFrame(f.code)))
  );
}

function isListRow(r: unknown): r is TraceListRow {
  return isObj(r) && isTraceIdString(r.traceId) && isNum(r.startMs) && isNum(r.receivedMs) && isNum(r.durationMs) && (r.statusCode === undefined || isNum(r.statusCode)) && isBool(r.error) && (r.pausedMs === undefined || isNum(r.pausedMs)) && (r.queries === undefined || isNum(r.queries)) && (r.calls === undefined || isNum(r.calls));
}

export function isHostToTrace(m: unknown): m is HostToTrace {
  if (!isObj(m)) return false;
  if (m.type === 'traces') {
    return (m.route === null || isRouteRef(m.route)) && isTraceFilter(m.filter) && (m.p95Ms === null || isNum(m.p95Ms)) && isNum(m.windowSec) && Array.isArray(m.rows) && m.rows.every(isListRow) && isNum(m.total) && isOptStr(m.caption);
  }
  if (m.type === 'trace') {
    return (m.traceId === null || isTraceIdString(m.traceId)) && (m.trace === null || isTraceView(m.trace));
  }
  return false;
}
