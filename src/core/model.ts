/**
 * The one internal model every source (native WebSocket agent, OTLP/HTTP, OTLP/gRPC, Prometheus,
 * debug output) maps into. Nothing downstream of the decoders knows which protocol a record came in by.
 *
 * Times are Unix epoch milliseconds as floating point numbers (sub-millisecond precision kept).
 */

export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export interface Resource {
  /** `service.name`; "unknown_service" when the sender gave none. */
  serviceName: string;
  /** `service.instance.id`, when known. */
  instanceId?: string;
  /** `process.pid`, when known. */
  pid?: number;
  /** SDK or agent that produced the data, e.g. "routelens-python/0.1.0" or "opentelemetry/js". */
  sdk?: string;
  attributes: Attributes;
}

export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type StatusCode = 'unset' | 'ok' | 'error';

export interface StackFrame {
  file: string;
  line: number;
  function: string;
}

export interface ExceptionInfo {
  type: string;
  message: string;
  /** Innermost frame last, as Python prints tracebacks. */
  frames: StackFrame[];
  /** The raw stack trace text, when the sender gave one. */
  stacktrace?: string;
}

export interface SpanEvent {
  name: string;
  timeMs: number;
  attributes: Attributes;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  attributes: Attributes;
}

export interface CodeLocation {
  file: string;
  line: number;
  function: string;
}

/** HTTP facts resolved at the edge from either generation of the semantic conventions. */
export interface HttpInfo {
  method: string;
  /** The route template (`/items/{item_id}`), never the raw path. */
  route?: string;
  statusCode?: number;
  path?: string;
}

export interface Span {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: SpanKind;
  startMs: number;
  endMs: number;
  status: StatusCode;
  statusMessage?: string;
  attributes: Attributes;
  events: SpanEvent[];
  links: SpanLink[];
  resource: Resource;
  http?: HttpInfo;
  code?: CodeLocation;
  exception?: ExceptionInfo;
  /**
   * Milliseconds of this span its process spent stopped in a debugger (breakpoint, stepping), and
   * when: set by the store on arrival; such a duration is not latency. Kept in the span's
   * attributes too (PAUSED_MS_ATTRIBUTE, PAUSE_BANDS_ATTRIBUTE), so exports and snapshots keep it.
   */
  pausedMs?: number;
  pauses?: PauseBand[];
}

/** A stretch of time a debugged process spent stopped. */
export interface PauseBand {
  startMs: number;
  endMs: number;
}

export const PAUSED_MS_ATTRIBUTE = 'routelens.debug.paused_ms';
/** Flat [start, end, start, end, ...] epoch milliseconds. */
export const PAUSE_BANDS_ATTRIBUTE = 'routelens.debug.pauses';

export type Severity = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogRecord {
  timeMs: number;
  severity: Severity;
  /** Original severity number (1-24, OTLP scale) when known. */
  severityNumber?: number;
  body: string;
  attributes: Attributes;
  resource: Resource;
  traceId?: string;
  spanId?: string;
  /** Where the log call was made. */
  code?: CodeLocation;
  exception?: ExceptionInfo;
}

export type MetricKind = 'gauge' | 'sum' | 'histogram' | 'summary';

export interface HistogramValue {
  /** Upper bounds, ascending, without +Inf. */
  bounds: number[];
  /** Per-bucket (non-cumulative) counts; length bounds.length + 1 (the last is the +Inf bucket). */
  counts: number[];
  sum: number;
  count: number;
  /**
   * For a delta histogram whose bucket increases are not monotonic (one bucket series reset while
   * another did not, or a bucket added since the last scrape): the increase of each cumulative
   * bucket (then +Inf) as PromQL's `increase` gives it, before `counts` raised each to the one
   * below. Route quantiles sum these over a window first, as PromQL does.
   */
  cumulativeIncrease?: number[];
}

export interface SummaryValue {
  quantiles: { quantile: number; value: number }[];
  sum: number;
  count: number;
}

export interface MetricPoint {
  name: string;
  unit?: string;
  kind: MetricKind;
  /** For sums: the value is a delta over [startMs, timeMs] (cumulative inputs are converted at the edge). */
  monotonic?: boolean;
  timeMs: number;
  startMs?: number;
  attributes: Attributes;
  resource: Resource;
  value?: number;
  histogram?: HistogramValue;
  summary?: SummaryValue;
}

export function isHex(s: string, len: number): boolean {
  return s.length === len && /^[0-9a-f]+$/.test(s);
}

export function emptyResource(serviceName = 'unknown_service'): Resource {
  return { serviceName, attributes: {} };
}

export function durationMs(span: Span): number {
  return Math.max(0, span.endMs - span.startMs);
}
