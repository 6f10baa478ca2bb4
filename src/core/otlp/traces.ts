import type { Resource, Span, SpanEvent, SpanKind, SpanLink, StatusCode } from '../model';
import { exceptionFromEvents, resolveCode, resolveHttp } from '../semconv';
import {
  addScope,
  attributes,
  id,
  int,
  nanosToMs,
  list,
  mapNested,
  obj,
  OtlpItemError,
  str,
  type Mapped,
  type Obj,
  type Scope,
} from './values';

// Index = the OTLP enum number. UNSPECIFIED (0) is read as INTERNAL, as the spec allows receivers to.
const KINDS: SpanKind[] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
const KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUSES: StatusCode[] = ['unset', 'ok', 'error'];
const STATUS_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/** An ExportTraceServiceRequest (decoded protobuf or parsed OTLP/JSON) to spans. */
export function mapTraces(request: unknown, json: boolean): Mapped<Span> {
  return mapNested(request, json, { resources: 'resourceSpans', scopes: 'scopeSpans', items: 'spans' }, (v, resource, scope) => mapSpan(v, resource, scope, json));
}

function mapSpan(v: unknown, resource: Resource, scope: Scope, json: boolean): Span {
  const s = obj(v, 'span');
  if (!s) throw new OtlpItemError('span is null');
  const traceId = id(s.traceId, 16, json, 'trace id');
  if (!traceId) throw new OtlpItemError('invalid trace id');
  const spanId = id(s.spanId, 8, json, 'span id');
  if (!spanId) throw new OtlpItemError('invalid span id');
  const parentSpanId = id(s.parentSpanId, 8, json, 'parent span id');
  const startMs = nanosToMs(s.startTimeUnixNano, 'start time');
  const endMs = nanosToMs(s.endTimeUnixNano, 'end time');
  if (startMs <= 0 || endMs <= 0) throw new OtlpItemError('missing start or end time');
  if (endMs < startMs) throw new OtlpItemError('end before start');
  const name = str(s.name, 'name');
  const kindNum = int(s.kind, 'kind', KIND_NAMES);
  const kind = KINDS[kindNum] ?? 'internal';
  const status = obj(s.status, 'status');
  const attrs = addScope(attributes(s.attributes, json), scope);

  const eventsIn = list(s.events, 'events');
  const events: SpanEvent[] = new Array(eventsIn.length);
  for (let i = 0; i < eventsIn.length; i++) {
    const e = obj(eventsIn[i], 'event') ?? {};
    const t = nanosToMs(e.timeUnixNano, 'event time');
    events[i] = { name: str(e.name, 'event name'), timeMs: t > 0 ? t : startMs, attributes: attributes(e.attributes, json) };
  }
  const linksIn = list(s.links, 'links');
  const links: SpanLink[] = [];
  for (let i = 0; i < linksIn.length; i++) {
    const l = obj(linksIn[i], 'link') ?? {};
    const linkTrace = id(l.traceId, 16, json, 'link trace id');
    const linkSpan = id(l.spanId, 8, json, 'link span id');
    // A link without a valid context points nowhere; it is dropped, not the span.
    if (linkTrace && linkSpan) links.push({ traceId: linkTrace, spanId: linkSpan, attributes: attributes(l.attributes, json) });
  }

  const span: Span = {
    traceId,
    spanId,
    name,
    kind,
    startMs,
    endMs,
    status: 'unset',
    attributes: attrs,
    events,
    links,
    resource,
  };
  if (parentSpanId) span.parentSpanId = parentSpanId;
  if (status) {
    span.status = STATUSES[int((status as Obj).code, 'status code', STATUS_NAMES)] ?? 'unset';
    const message = str((status as Obj).message, 'status message');
    if (message) span.statusMessage = message;
  }
  // The `{method} {route}` span-name fallback is a server-span convention; other kinds only
  // resolve from attributes.
  const http = resolveHttp(attrs, kind === 'server' ? name : undefined);
  if (http) span.http = http;
  const code = resolveCode(attrs);
  if (code) span.code = code;
  const exception = exceptionFromEvents(events);
  if (exception) span.exception = exception;
  return span;
}
