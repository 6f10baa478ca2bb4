/**
 * The internal model to OTLP protobuf Export*ServiceRequest bytes, for forwarding upstream.
 *
 * Written directly with a protobuf writer (field numbers from opentelemetry-proto) rather than
 * through message objects: it is the forwarder's hot path, and 64-bit nanosecond times must stay
 * exact, which plain JavaScript numbers cannot carry.
 *
 * Each item goes under the resource it arrived with and the scope it arrived with: OTLP receivers
 * keep the scope as the `otel.scope.name` / `otel.scope.version` attributes, which are taken back
 * out here. Items with no scope (the native agent, Prometheus scrapes) get one named after their
 * source (see scopeFor and docs/forwarding.md).
 */
import * as protobuf from 'protobufjs';
import type { Attributes, AttrValue, LogRecord, MetricPoint, Resource, Span } from '../model';
import { exceptionAttributes, KIND, SEVERITY, STATUS } from '../otlp/exportJson';

type Writer = protobuf.Writer;

const VARINT = 0;
const FIXED64 = 1;
const LDELIM = 2;

function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

/** Epoch ms (with fractions) as a fixed64 nanosecond value, exact to the microsecond. */
export function nanosBits(ms: number): { low: number; high: number } {
  const us = Math.round(ms * 1000);
  if (!(us > 0)) return { low: 0, high: 0 };
  // us * 1000 overflows 2^53; split us into two 26-bit halves so every product stays exact.
  const usHigh = Math.floor(us / 0x4000000);
  const usLow = us - usHigh * 0x4000000;
  const lowProduct = usLow * 1000; // < 2^36
  const highProduct = usHigh * 1000; // value = highProduct * 2^26 + lowProduct
  // highProduct * 2^26 = (highProduct >> 6) * 2^32 + (highProduct & 63) * 2^26
  let low = (highProduct % 64) * 0x4000000 + lowProduct;
  let high = Math.floor(highProduct / 64);
  high += Math.floor(low / 0x100000000);
  low = low % 0x100000000;
  return { low: low >>> 0, high: high >>> 0 };
}

function writeFixed64(w: Writer, field: number, ms: number): void {
  const bits = nanosBits(ms);
  if (bits.low === 0 && bits.high === 0) return;
  w.uint32(tag(field, FIXED64)).fixed64(bits as unknown as number);
}

function writeString(w: Writer, field: number, s: string | undefined): void {
  if (s) w.uint32(tag(field, LDELIM)).string(s);
}

const HEX = /^[0-9a-f]+$/;

function writeHexId(w: Writer, field: number, hex: string | undefined, len: number): void {
  if (!hex || hex.length !== len * 2 || !HEX.test(hex)) return;
  w.uint32(tag(field, LDELIM)).bytes(Buffer.from(hex, 'hex'));
}

function writeAnyValue(w: Writer, v: AttrValue, depth = 0): void {
  if (v === null) return;
  if (typeof v === 'string') w.uint32(tag(1, LDELIM)).string(v);
  else if (typeof v === 'boolean') w.uint32(tag(2, VARINT)).bool(v);
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) w.uint32(tag(3, VARINT)).int64(v);
    else w.uint32(tag(4, FIXED64)).double(v);
  } else if (Array.isArray(v)) {
    w.uint32(tag(5, LDELIM)).fork();
    for (const x of v) {
      w.uint32(tag(1, LDELIM)).fork();
      if (depth < 8) writeAnyValue(w, x, depth + 1);
      w.ldelim();
    }
    w.ldelim();
  } else {
    w.uint32(tag(6, LDELIM)).fork();
    writeKeyValues(w, 1, v, depth + 1);
    w.ldelim();
  }
}

function writeKeyValue(w: Writer, field: number, key: string, v: AttrValue, depth = 0): void {
  w.uint32(tag(field, LDELIM)).fork();
  w.uint32(tag(1, LDELIM)).string(key);
  w.uint32(tag(2, LDELIM)).fork();
  if (depth < 8) writeAnyValue(w, v, depth);
  w.ldelim();
  w.ldelim();
}

const SCOPE_KEYS = new Set(['otel.scope.name', 'otel.scope.version']);

function writeKeyValues(w: Writer, field: number, a: Attributes, depth = 0, skipScope = false): void {
  for (const key in a) {
    if (skipScope && SCOPE_KEYS.has(key)) continue;
    const v = a[key];
    if (v === undefined) continue;
    writeKeyValue(w, field, key, v, depth);
  }
}

export interface Scope {
  name: string;
  version: string;
}

/**
 * The scope an item came with: the OTLP scope kept in its attributes, else one named after the
 * source (`routelens-python` and its version for the native agent, from the resource's
 * telemetry.sdk.*; `routelens.prometheus` for scraped metrics; `routelens` otherwise).
 */
export function scopeFor(attrs: Attributes, resource: Resource): Scope {
  const name = attrs['otel.scope.name'];
  if (typeof name === 'string') {
    const version = attrs['otel.scope.version'];
    return { name, version: typeof version === 'string' ? version : '' };
  }
  const sdk = resource.attributes['telemetry.sdk.name'];
  if (typeof sdk === 'string' && sdk) {
    const version = resource.attributes['telemetry.sdk.version'];
    return { name: sdk, version: typeof version === 'string' ? version : '' };
  }
  if (resource.attributes['prometheus.target'] !== undefined) return { name: 'routelens.prometheus', version: '' };
  return { name: 'routelens', version: '' };
}

/** Groups items by resource (object identity first, then by content) and then by scope, keeping order. */
function group<T extends { resource: Resource; attributes: Attributes }>(items: T[]): { resource: Resource; scopes: { scope: Scope; items: T[] }[] }[] {
  const byResource = new Map<Resource | string, { resource: Resource; scopes: Map<string, { scope: Scope; items: T[] }> }>();
  const byKey = new Map<string, { resource: Resource; scopes: Map<string, { scope: Scope; items: T[] }> }>();
  for (const item of items) {
    let g = byResource.get(item.resource);
    if (!g) {
      const key = item.resource.serviceName + '\u0000' + JSON.stringify(item.resource.attributes);
      g = byKey.get(key);
      if (!g) byKey.set(key, (g = { resource: item.resource, scopes: new Map() }));
      byResource.set(item.resource, g);
    }
    const scope = scopeFor(item.attributes, item.resource);
    const sk = scope.name + '\u0000' + scope.version;
    let s = g.scopes.get(sk);
    if (!s) g.scopes.set(sk, (s = { scope, items: [] }));
    s.items.push(item);
  }
  return [...byKey.values()].map((g) => ({ resource: g.resource, scopes: [...g.scopes.values()] }));
}

function writeResource(w: Writer, r: Resource): void {
  w.uint32(tag(1, LDELIM)).fork();
  const attrs = r.attributes;
  if (attrs['service.name'] === undefined) writeKeyValue(w, 1, 'service.name', r.serviceName);
  writeKeyValues(w, 1, attrs);
  w.ldelim();
}

function writeScope(w: Writer, s: Scope): void {
  w.uint32(tag(1, LDELIM)).fork();
  writeString(w, 1, s.name);
  writeString(w, 2, s.version);
  w.ldelim();
}

function writeSpan(w: Writer, s: Span): void {
  w.uint32(tag(2, LDELIM)).fork();
  writeHexId(w, 1, s.traceId, 16);
  writeHexId(w, 2, s.spanId, 8);
  writeHexId(w, 4, s.parentSpanId, 8);
  writeString(w, 5, s.name);
  w.uint32(tag(6, VARINT)).int32(KIND[s.kind] ?? 1);
  writeFixed64(w, 7, s.startMs);
  writeFixed64(w, 8, s.endMs);
  writeKeyValues(w, 9, s.attributes, 0, true);
  let hasExceptionEvent = false;
  for (const e of s.events) {
    if (e.name === 'exception') hasExceptionEvent = true;
    w.uint32(tag(11, LDELIM)).fork();
    writeFixed64(w, 1, e.timeMs);
    writeString(w, 2, e.name);
    writeKeyValues(w, 3, e.attributes);
    w.ldelim();
  }
  // The native agent sends exceptions as a field; in OTLP they are an `exception` event.
  if (s.exception && !hasExceptionEvent) {
    w.uint32(tag(11, LDELIM)).fork();
    writeFixed64(w, 1, s.endMs);
    writeString(w, 2, 'exception');
    writeKeyValues(w, 3, exceptionAttributes(s.exception));
    w.ldelim();
  }
  for (const l of s.links) {
    w.uint32(tag(13, LDELIM)).fork();
    writeHexId(w, 1, l.traceId, 16);
    writeHexId(w, 2, l.spanId, 8);
    writeKeyValues(w, 4, l.attributes);
    w.ldelim();
  }
  const code = STATUS[s.status] ?? 0;
  if (code || s.statusMessage) {
    w.uint32(tag(15, LDELIM)).fork();
    writeString(w, 2, s.statusMessage);
    if (code) w.uint32(tag(3, VARINT)).int32(code);
    w.ldelim();
  }
  w.ldelim();
}

/** ExportTraceServiceRequest bytes for these spans. */
export function encodeTraces(spans: Span[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const g of group(spans)) {
    w.uint32(tag(1, LDELIM)).fork();
    writeResource(w, g.resource);
    for (const s of g.scopes) {
      w.uint32(tag(2, LDELIM)).fork();
      writeScope(w, s.scope);
      for (const span of s.items) writeSpan(w, span);
      w.ldelim();
    }
    w.ldelim();
  }
  return w.finish();
}

function writeLog(w: Writer, l: LogRecord): void {
  w.uint32(tag(2, LDELIM)).fork();
  writeFixed64(w, 1, l.timeMs);
  w.uint32(tag(2, VARINT)).int32(l.severityNumber ?? SEVERITY[l.severity] ?? 9);
  writeString(w, 3, l.severity.toUpperCase());
  w.uint32(tag(5, LDELIM)).fork();
  w.uint32(tag(1, LDELIM)).string(l.body);
  w.ldelim();
  writeKeyValues(w, 6, l.attributes, 0, true);
  if (l.exception && l.attributes['exception.type'] === undefined) writeKeyValues(w, 6, exceptionAttributes(l.exception));
  if (l.code && l.attributes['code.file.path'] === undefined && l.attributes['code.filepath'] === undefined) {
    writeKeyValues(w, 6, { 'code.file.path': l.code.file, 'code.line.number': l.code.line, 'code.function.name': l.code.function });
  }
  writeHexId(w, 9, l.traceId, 16);
  writeHexId(w, 10, l.spanId, 8);
  w.ldelim();
}

/** ExportLogsServiceRequest bytes for these log records. */
export function encodeLogs(logs: LogRecord[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const g of group(logs)) {
    w.uint32(tag(1, LDELIM)).fork();
    writeResource(w, g.resource);
    for (const s of g.scopes) {
      w.uint32(tag(2, LDELIM)).fork();
      writeScope(w, s.scope);
      for (const l of s.items) writeLog(w, l);
      w.ldelim();
    }
    w.ldelim();
  }
  return w.finish();
}

const DELTA = 1;

function writePointTimes(w: Writer, p: MetricPoint): void {
  if (p.startMs !== undefined) writeFixed64(w, 2, p.startMs);
  writeFixed64(w, 3, p.timeMs);
}

function writeMetric(w: Writer, p: MetricPoint): void {
  w.uint32(tag(2, LDELIM)).fork();
  writeString(w, 1, p.name);
  writeString(w, 3, p.unit);
  if (p.kind === 'gauge' || p.kind === 'sum') {
    w.uint32(tag(p.kind === 'gauge' ? 5 : 7, LDELIM)).fork();
    w.uint32(tag(1, LDELIM)).fork();
    writeKeyValues(w, 7, p.attributes, 0, true);
    writePointTimes(w, p);
    w.uint32(tag(4, FIXED64)).double(p.value ?? 0);
    w.ldelim();
    if (p.kind === 'sum') {
      // Sums in the model are deltas over [startMs, timeMs] (cumulative inputs were converted on arrival).
      w.uint32(tag(2, VARINT)).int32(DELTA);
      if (p.monotonic) w.uint32(tag(3, VARINT)).bool(true);
    }
    w.ldelim();
  } else if (p.kind === 'histogram' && p.histogram) {
    const h = p.histogram;
    w.uint32(tag(9, LDELIM)).fork();
    w.uint32(tag(1, LDELIM)).fork();
    writeKeyValues(w, 9, p.attributes, 0, true);
    writePointTimes(w, p);
    w.uint32(tag(4, FIXED64)).fixed64(h.count);
    if (Number.isFinite(h.sum)) w.uint32(tag(5, FIXED64)).double(h.sum);
    if (h.counts.length) {
      w.uint32(tag(6, LDELIM)).fork();
      for (const c of h.counts) w.fixed64(Math.max(0, Math.round(c)));
      w.ldelim();
    }
    if (h.bounds.length) {
      w.uint32(tag(7, LDELIM)).fork();
      for (const b of h.bounds) w.double(b);
      w.ldelim();
    }
    w.ldelim();
    w.uint32(tag(2, VARINT)).int32(DELTA);
    w.ldelim();
  } else if (p.kind === 'summary' && p.summary) {
    const s = p.summary;
    w.uint32(tag(11, LDELIM)).fork();
    w.uint32(tag(1, LDELIM)).fork();
    writeKeyValues(w, 7, p.attributes, 0, true);
    writePointTimes(w, p);
    w.uint32(tag(4, FIXED64)).fixed64(s.count);
    w.uint32(tag(5, FIXED64)).double(s.sum);
    for (const q of s.quantiles) {
      w.uint32(tag(6, LDELIM)).fork();
      w.uint32(tag(1, FIXED64)).double(q.quantile);
      w.uint32(tag(2, FIXED64)).double(q.value);
      w.ldelim();
    }
    w.ldelim();
    w.ldelim();
  }
  w.ldelim();
}

/** ExportMetricsServiceRequest bytes for these points (one Metric per point). */
export function encodeMetrics(points: MetricPoint[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const g of group(points)) {
    w.uint32(tag(1, LDELIM)).fork();
    writeResource(w, g.resource);
    for (const s of g.scopes) {
      w.uint32(tag(2, LDELIM)).fork();
      writeScope(w, s.scope);
      for (const p of s.items) writeMetric(w, p);
      w.ldelim();
    }
    w.ldelim();
  }
  return w.finish();
}
