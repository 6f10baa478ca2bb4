/**
 * The spans of a run's sample traces, kept with the run so that a previous run's slowest requests
 * can still be opened after the store has dropped them (or after a restart of VS Code).
 *
 * Bounded three ways: the slowest few requests per route, a number of spans per trace (the
 * request's own server spans, failed spans and the longest others go first), and bytes (per
 * trace and per run). The encoding is compact: one resource table per trace, times relative to
 * the trace's start, long attribute values cut, then raw deflate.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { AttrValue, Attributes, Resource, Span } from '../model';

/** Slowest requests per route whose spans a run keeps. */
export const SAMPLE_TRACES_PER_ROUTE = 3;
/** Spans kept per sample trace. */
export const MAX_SPANS_PER_SAMPLE = 200;
/** Largest encoded sample trace; a bigger one keeps fewer spans. */
export const MAX_SAMPLE_TRACE_BYTES = 48 * 1024;
/** Encoded sample traces kept per run (past it, later routes keep their refs only). */
export const MAX_SAMPLE_BYTES_PER_RUN = 512 * 1024;
/** Longest attribute value kept in a sample trace. */
export const MAX_SAMPLE_VALUE_CHARS = 512;
const MAX_EVENTS_PER_SPAN = 16;
const FORMAT = 1;

export interface EncodedTrace {
  bytes: Uint8Array;
  /** Spans in the encoding. */
  spans: number;
  /** Spans of the trace left out to stay within the bounds. */
  dropped: number;
}

/** The spans most worth keeping come first: server spans, then failed ones, then the longest. */
function byWorth(a: Span, b: Span): number {
  const rank = (s: Span) => (s.kind === 'server' ? 0 : s.status === 'error' || s.exception ? 1 : 2);
  return rank(a) - rank(b) || b.endMs - b.startMs - (a.endMs - a.startMs) || a.startMs - b.startMs;
}

function cutValue(v: AttrValue): AttrValue {
  if (typeof v === 'string') return v.length > MAX_SAMPLE_VALUE_CHARS ? `${v.slice(0, MAX_SAMPLE_VALUE_CHARS)}…` : v;
  if (Array.isArray(v)) return (v as unknown[]).slice(0, 32).map((x) => (typeof x === 'string' && x.length > MAX_SAMPLE_VALUE_CHARS ? `${x.slice(0, MAX_SAMPLE_VALUE_CHARS)}…` : x)) as AttrValue;
  return v;
}

function cutAttrs(a: Attributes): Attributes {
  const out: Attributes = {};
  let n = 0;
  for (const [k, v] of Object.entries(a)) {
    if (n++ >= 128) break;
    out[k] = cutValue(v);
  }
  return out;
}

/** Encodes a trace's spans within the bounds; undefined for no spans. */
export function encodeTrace(spans: Span[], maxSpans = MAX_SPANS_PER_SAMPLE, maxBytes = MAX_SAMPLE_TRACE_BYTES): EncodedTrace | undefined {
  if (spans.length === 0) return undefined;
  const ordered = [...spans].sort(byWorth);
  let keep = Math.min(maxSpans, ordered.length);
  for (;;) {
    const bytes = pack(ordered.slice(0, keep));
    if (bytes.length <= maxBytes || keep === 1) {
      if (bytes.length > maxBytes) return undefined;
      return { bytes, spans: keep, dropped: spans.length - keep };
    }
    keep = Math.max(1, Math.floor(keep / 2));
  }
}

function pack(spans: Span[]): Uint8Array {
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const resources: Resource[] = [];
  const resIndex = new Map<Resource, number>();
  const rows = spans.map((s) => {
    let r = resIndex.get(s.resource);
    if (r === undefined) {
      r = resources.length;
      resources.push({ ...s.resource, attributes: cutAttrs(s.resource.attributes) });
      resIndex.set(s.resource, r);
    }
    const row: Record<string, unknown> = { i: s.spanId, n: s.name.slice(0, MAX_SAMPLE_VALUE_CHARS), k: s.kind, s: s.startMs - t0, d: s.endMs - s.startMs, st: s.status, a: cutAttrs(s.attributes), r };
    if (s.parentSpanId) row.p = s.parentSpanId;
    if (s.statusMessage) row.m = s.statusMessage.slice(0, MAX_SAMPLE_VALUE_CHARS);
    if (s.events.length) row.e = s.events.slice(0, MAX_EVENTS_PER_SPAN).map((e) => ({ n: e.name, t: e.timeMs - t0, a: cutAttrs(e.attributes) }));
    if (s.http) row.h = s.http;
    if (s.code) row.c = s.code;
    if (s.exception) row.x = { ...s.exception, message: s.exception.message.slice(0, 4 * MAX_SAMPLE_VALUE_CHARS), frames: s.exception.frames.slice(-50), ...(s.exception.stacktrace ? { stacktrace: s.exception.stacktrace.slice(-8 * MAX_SAMPLE_VALUE_CHARS) } : {}) };
    if (s.pausedMs) row.pm = s.pausedMs;
    if (s.pauses?.length) row.pb = s.pauses;
    return row;
  });
  return deflateRawSync(Buffer.from(JSON.stringify({ v: FORMAT, t: spans[0].traceId, t0, r: resources, s: rows })));
}

const isStr = (x: unknown): x is string => typeof x === 'string';
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const KINDS = new Set(['internal', 'server', 'client', 'producer', 'consumer']);
const STATUSES = new Set(['unset', 'ok', 'error']);

/** The spans back from their encoding; throws on a malformed value (a damaged database row). */
export function decodeTrace(bytes: Uint8Array): Span[] {
  let doc: unknown;
  try {
    doc = JSON.parse(inflateRawSync(bytes, { maxOutputLength: 64 * 1024 * 1024 }).toString('utf8'));
  } catch (e) {
    throw new Error(`malformed sample trace: ${(e as Error).message}`);
  }
  if (!isObj(doc) || doc.v !== FORMAT || !isStr(doc.t) || !isNum(doc.t0) || !Array.isArray(doc.r) || !Array.isArray(doc.s)) throw new Error('malformed sample trace');
  const traceId = doc.t;
  const t0 = doc.t0;
  const resources = doc.r.map((r): Resource => {
    if (!isObj(r) || !isStr(r.serviceName) || !isObj(r.attributes)) throw new Error('malformed sample trace resource');
    return r as unknown as Resource;
  });
  return doc.s.map((row): Span => {
    if (!isObj(row) || !isStr(row.i) || !isStr(row.n) || !isStr(row.k) || !KINDS.has(row.k) || !isNum(row.s) || !isNum(row.d) || !isStr(row.st) || !STATUSES.has(row.st) || !isObj(row.a) || !isNum(row.r) || !resources[row.r]) throw new Error('malformed sample trace span');
    const span: Span = {
      traceId,
      spanId: row.i,
      name: row.n,
      kind: row.k as Span['kind'],
      startMs: t0 + row.s,
      endMs: t0 + row.s + row.d,
      status: row.st as Span['status'],
      attributes: row.a as Attributes,
      events: Array.isArray(row.e) ? row.e.filter((e): e is { n: string; t: number; a: Attributes } => isObj(e) && isStr(e.n) && isNum(e.t) && isObj(e.a)).map((e) => ({ name: e.n, timeMs: t0 + e.t, attributes: e.a })) : [],
      links: [],
      resource: resources[row.r],
    };
    if (isStr(row.p)) span.parentSpanId = row.p;
    if (isStr(row.m)) span.statusMessage = row.m;
    if (isObj(row.h) && isStr(row.h.method)) span.http = row.h as unknown as Span['http'];
    if (isObj(row.c) && isStr(row.c.file) && isNum(row.c.line)) span.code = row.c as unknown as Span['code'];
    if (isObj(row.x) && isStr(row.x.type) && isStr(row.x.message) && Array.isArray(row.x.frames)) span.exception = row.x as unknown as Span['exception'];
    if (isNum(row.pm)) span.pausedMs = row.pm;
    if (Array.isArray(row.pb)) span.pauses = row.pb as Span['pauses'];
    return span;
  });
}
