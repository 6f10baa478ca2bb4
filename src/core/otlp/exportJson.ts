/**
 * The internal model back to OTLP JSON (Export*ServiceRequest objects, one per line in a file), for
 * Export Data and the window-reload snapshot. Importing such a file goes through the same decoder
 * as the OTLP/HTTP receiver, so a round trip proves both directions.
 */
import type { Attributes, AttrValue, ExceptionInfo, LogRecord, MetricPoint, Resource, Severity, Span } from '../model';

type Json = Record<string, unknown>;

function anyValue(v: AttrValue): Json {
  if (v === null) return {};
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  return { kvlistValue: { values: keyValues(v) } };
}

function keyValues(a: Attributes): Json[] {
  return Object.keys(a).map((key) => ({ key, value: anyValue(a[key]) }));
}

/** Epoch ms (with fractions) to a nanosecond decimal string, exact to the microsecond. */
export function msToNanos(ms: number): string {
  const us = Math.round(ms * 1000);
  return us === 0 ? '0' : `${us}000`;
}

/** OTLP's enum numbers for the model's span kinds, statuses and severities (JSON and protobuf share them). */
export const KIND: Record<Span['kind'], number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
export const STATUS: Record<Span['status'], number> = { unset: 0, ok: 1, error: 2 };
export const SEVERITY: Record<Severity, number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

/** Python-style traceback text, which the decoder's stack parser reads back into frames. */
function stacktraceOf(ex: ExceptionInfo): string {
  if (ex.stacktrace) return ex.stacktrace;
  const frames = ex.frames.map((f) => `  File "${f.file}", line ${f.line}, in ${f.function}`);
  return ['Traceback (most recent call last):', ...frames, `${ex.type}: ${ex.message}`].join('\n');
}

/** An exception as the OTLP `exception` event's attributes. */
export function exceptionAttributes(ex: ExceptionInfo): Attributes {
  return { 'exception.type': ex.type, 'exception.message': ex.message, 'exception.stacktrace': stacktraceOf(ex) };
}

function groupByResource<T extends { resource: Resource }>(items: T[]): [Resource, T[]][] {
  const groups = new Map<string, [Resource, T[]]>();
  for (const item of items) {
    const key = JSON.stringify(item.resource.attributes) + '\u0000' + item.resource.serviceName;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = [item.resource, []]));
    g[1].push(item);
  }
  return [...groups.values()];
}

function resourceJson(r: Resource): Json {
  const attrs: Attributes = { ...r.attributes };
  attrs['service.name'] ??= r.serviceName;
  return { attributes: keyValues(attrs) };
}

const SCOPE = { name: 'routelens-export' };

export function tracesRequest(spans: Span[]): Json {
  return {
    resourceSpans: groupByResource(spans).map(([resource, list]) => ({
      resource: resourceJson(resource),
      scopeSpans: [
        {
          scope: SCOPE,
          spans: list.map((s) => {
            const events = s.events.map((e) => ({ timeUnixNano: msToNanos(e.timeMs), name: e.name, attributes: keyValues(e.attributes) }));
            if (s.exception && !s.events.some((e) => e.name === 'exception')) {
              events.push({ timeUnixNano: msToNanos(s.endMs), name: 'exception', attributes: keyValues(exceptionAttributes(s.exception)) });
            }
            const out: Json = {
              traceId: s.traceId,
              spanId: s.spanId,
              name: s.name,
              kind: KIND[s.kind],
              startTimeUnixNano: msToNanos(s.startMs),
              endTimeUnixNano: msToNanos(s.endMs),
              attributes: keyValues(s.attributes),
              events,
              links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: keyValues(l.attributes) })),
              status: { code: STATUS[s.status], ...(s.statusMessage ? { message: s.statusMessage } : {}) },
            };
            if (s.parentSpanId) out.parentSpanId = s.parentSpanId;
            return out;
          }),
        },
      ],
    })),
  };
}

export function logsRequest(logs: LogRecord[]): Json {
  return {
    resourceLogs: groupByResource(logs).map(([resource, list]) => ({
      resource: resourceJson(resource),
      scopeLogs: [
        {
          scope: SCOPE,
          logRecords: list.map((l) => {
            const attrs: Attributes = { ...l.attributes };
            if (l.exception && attrs['exception.type'] === undefined) Object.assign(attrs, exceptionAttributes(l.exception));
            if (l.code && attrs['code.file.path'] === undefined && attrs['code.filepath'] === undefined) {
              Object.assign(attrs, { 'code.file.path': l.code.file, 'code.line.number': l.code.line, 'code.function.name': l.code.function });
            }
            const out: Json = {
              timeUnixNano: msToNanos(l.timeMs),
              severityNumber: l.severityNumber ?? SEVERITY[l.severity],
              severityText: l.severity.toUpperCase(),
              body: { stringValue: l.body },
              attributes: keyValues(attrs),
            };
            if (l.traceId) out.traceId = l.traceId;
            if (l.spanId) out.spanId = l.spanId;
            return out;
          }),
        },
      ],
    })),
  };
}

export function metricsRequest(points: MetricPoint[]): Json {
  return {
    resourceMetrics: groupByResource(points).map(([resource, list]) => ({
      resource: resourceJson(resource),
      scopeMetrics: [
        {
          scope: SCOPE,
          metrics: list.map((p) => {
            const base: Json = { timeUnixNano: msToNanos(p.timeMs), attributes: keyValues(p.attributes) };
            if (p.startMs !== undefined) base.startTimeUnixNano = msToNanos(p.startMs);
            const m: Json = { name: p.name, ...(p.unit ? { unit: p.unit } : {}) };
            if (p.kind === 'gauge') m.gauge = { dataPoints: [{ ...base, asDouble: p.value ?? 0 }] };
            else if (p.kind === 'sum') m.sum = { aggregationTemporality: 1, isMonotonic: !!p.monotonic, dataPoints: [{ ...base, asDouble: p.value ?? 0 }] };
            else if (p.kind === 'histogram' && p.histogram) {
              const h = p.histogram;
              m.histogram = { aggregationTemporality: 1, dataPoints: [{ ...base, count: String(h.count), ...(Number.isFinite(h.sum) ? { sum: h.sum } : {}), bucketCounts: h.counts.map(String), explicitBounds: h.bounds }] };
            } else if (p.kind === 'summary' && p.summary) {
              const s = p.summary;
              m.summary = { dataPoints: [{ ...base, count: String(s.count), sum: s.sum, quantileValues: s.quantiles }] };
            }
            return m;
          }),
        },
      ],
    })),
  };
}

/** One JSON line per request kind present, at most `chunk` items per line. */
export function toOtlpJsonLines(data: { spans: Span[]; logs: LogRecord[]; metrics: MetricPoint[] }, chunk = 1000): string {
  const lines: string[] = [];
  for (let i = 0; i < data.spans.length; i += chunk) lines.push(JSON.stringify(tracesRequest(data.spans.slice(i, i + chunk))));
  for (let i = 0; i < data.logs.length; i += chunk) lines.push(JSON.stringify(logsRequest(data.logs.slice(i, i + chunk))));
  for (let i = 0; i < data.metrics.length; i += chunk) lines.push(JSON.stringify(metricsRequest(data.metrics.slice(i, i + chunk))));
  return lines.join('\n') + (lines.length ? '\n' : '');
}
