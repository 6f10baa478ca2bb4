/**
 * Decoding and validation of the native WebSocket protocol (docs/protocol.md). Every item is
 * checked on its own: a bad item is rejected with a reason, the good items of the batch are kept.
 */
import type { Attributes, AttrValue, ExceptionInfo, LogRecord, MetricPoint, Resource, Severity, Span, SpanEvent, SpanKind, StackFrame, StatusCode } from '../model';
import { exceptionFromEvents, resolveCode, resolveException, resolveHttp } from '../semconv';

export const PROTOCOL_VERSION = 1;
export const MAX_STRING = 16 * 1024;
const MAX_ATTRIBUTES = 256;
const MAX_EVENTS = 128;
const MAX_FRAMES = 256;
const MAX_INSTANCE = 256;

export type NativeMessage =
  | { type: 'hello'; resource: Resource }
  | {
      type: 'batch';
      /** The sending agent instance (unique per process life); with seq, the key of duplicate detection. */
      instance?: string;
      seq?: number;
      spans: unknown[];
      requests?: RequestColumns;
      calls?: CallColumns;
      logs: unknown[];
      metrics: unknown[];
      dropped: { spans: number; logs: number; metrics: number };
      /** Batches (and their items) the agent sent but gave up waiting for an ack for, since its last report. */
      givenUp: { batches: number; spans: number; logs: number; metrics: number };
    }
  | { type: 'announce'; prometheus: string[] };

/**
 * The compact form of plain server spans (docs/protocol.md, "requests"): what repeats across
 * requests (name, kind, status, route and handler attributes) is sent once per batch as a shape,
 * and each request is a row of columns.
 */
export interface RequestColumns {
  /** The shared members of the rows' spans, by shape number. */
  shapes: Record<string, unknown>;
  t0: number;
  /** The per-process parts of the rows' ids: 24 hex characters of trace id, 8 of span id. */
  ids: { trace: string; span: string };
  /** Each row's sequence number: a column, or (seq0) the first of consecutive numbers. */
  seq: unknown[] | { first: number };
  start: unknown[];
  dur: unknown[];
  shape: unknown[];
  path: unknown[];
}

/**
 * The compact form of client spans made directly under a numbered span (docs/protocol.md,
 * "calls"): each call's shape (name, kind, attributes, and the name of its one own value) is
 * sent once per batch, and each call is a row naming its parent by sequence number and itself
 * by its index under the request.
 */
export interface CallColumns {
  shapes: Record<string, unknown>;
  t0: number;
  ids: { trace: string; span: string };
  parent: unknown[];
  n: unknown[];
  start: unknown[];
  dur: unknown[];
  shape: unknown[];
  /** Each row's own value (the attribute its shape's `value` names), or null; optional. */
  value?: unknown[];
  /** Trace ids of parents whose trace id is not the one their number gives, by parent number. */
  traces: Record<string, unknown>;
}

export class ProtocolError extends Error {
  constructor(
    readonly code: 'bad_json' | 'bad_message' | 'unsupported_version' | 'unknown_type' | 'no_hello' | 'too_many_items',
    message: string,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one text frame into a message, or throws a ProtocolError that says what is wrong. */
export function parseMessage(text: string, maxBatchItems: number): NativeMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError('bad_json', `message is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(raw)) throw new ProtocolError('bad_message', 'message must be a JSON object');
  if (raw.v === undefined) throw new ProtocolError('bad_message', 'message has no "v" (protocol version)');
  if (raw.v !== PROTOCOL_VERSION) throw new ProtocolError('unsupported_version', `protocol version ${describe(raw.v)} is not supported; this collector speaks version ${PROTOCOL_VERSION}`);
  if (typeof raw.type !== 'string') throw new ProtocolError('bad_message', 'message has no string "type"');
  switch (raw.type) {
    case 'hello': {
      if (!isObj(raw.resource)) throw new ProtocolError('bad_message', 'hello needs a "resource" object');
      return { type: 'hello', resource: toResource(raw.resource) };
    }
    case 'batch': {
      const spans = optArray(raw, 'spans');
      const logs = optArray(raw, 'logs');
      const metrics = optArray(raw, 'metrics');
      const requests = raw.requests === undefined ? undefined : toRequestColumns(raw.requests);
      const calls = raw.calls === undefined ? undefined : toCallColumns(raw.calls);
      const n = spans.length + (requests ? requests.shape.length : 0) + (calls ? calls.shape.length : 0) + logs.length + metrics.length;
      if (n > maxBatchItems) throw new ProtocolError('too_many_items', `batch has ${n} items; at most ${maxBatchItems} are allowed`);
      const d = isObj(raw.dropped) ? raw.dropped : {};
      const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
      const seq = typeof raw.seq === 'number' && Number.isFinite(raw.seq) ? raw.seq : undefined;
      let instance: string | undefined;
      if (raw.instance !== undefined) {
        if (typeof raw.instance !== 'string' || raw.instance === '' || raw.instance.length > MAX_INSTANCE) throw new ProtocolError('bad_message', `"instance" must be a non-empty string of at most ${MAX_INSTANCE} characters`);
        if (seq === undefined || !Number.isSafeInteger(seq) || seq < 1) throw new ProtocolError('bad_message', 'a batch with "instance" needs "seq", a positive integer');
        instance = raw.instance;
      }
      const g = isObj(raw.givenUp) ? raw.givenUp : {};
      return {
        type: 'batch',
        ...(instance !== undefined ? { instance } : {}),
        seq,
        spans,
        ...(requests ? { requests } : {}),
        ...(calls ? { calls } : {}),
        logs,
        metrics,
        dropped: { spans: count(d.spans), logs: count(d.logs), metrics: count(d.metrics) },
        givenUp: { batches: count(g.batches), spans: count(g.spans), logs: count(g.logs), metrics: count(g.metrics) },
      };
    }
    case 'announce': {
      const urls = Array.isArray(raw.prometheus) ? raw.prometheus.filter((u): u is string => typeof u === 'string') : [];
      return { type: 'announce', prometheus: urls };
    }
    default:
      throw new ProtocolError('unknown_type', `unknown message type ${JSON.stringify(raw.type).slice(0, 64)}; expected hello, batch or announce`);
  }
}

/**
 * A short rendering of a sender's value for an error message. Not JSON.stringify: a value nested
 * thousands of levels deep would overflow the stack there and turn a plain refusal into an
 * internal error.
 */
function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 32));
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

/** The columns of a `requests` member, checked for shape only; each row is validated as a span later. */
function toRequestColumns(v: unknown): RequestColumns {
  const bad = (what: string): never => {
    throw new ProtocolError('bad_message', `"requests" ${what}`);
  };
  if (!isObj(v)) bad('must be an object');
  const o = v as Obj;
  if (!isObj(o.shapes)) bad('needs a "shapes" object');
  const arrays = ['start', 'dur', 'shape', 'path'] as const;
  for (const key of arrays) if (!Array.isArray(o[key])) bad(`needs a "${key}" array`);
  const ids = o.ids;
  if (!isObj(ids) || typeof ids.trace !== 'string' || !/^[0-9a-f]{24}$/.test(ids.trace) || typeof ids.span !== 'string' || !/^[0-9a-f]{8}$/.test(ids.span)) {
    bad('needs "ids" with "trace" (24 lowercase hex characters) and "span" (8)');
  }
  if (typeof o.t0 !== 'number' || !Number.isFinite(o.t0)) bad('needs a finite "t0" number');
  const n = (o.shape as unknown[]).length;
  let seq: RequestColumns['seq'];
  if (o.seq0 !== undefined) {
    if (typeof o.seq0 !== 'number' || !Number.isSafeInteger(o.seq0) || o.seq0 < 0) bad('"seq0" must be a non-negative integer');
    seq = { first: o.seq0 as number };
  } else if (Array.isArray(o.seq)) {
    seq = o.seq;
  } else {
    bad('needs a "seq" array or a "seq0" number');
  }
  for (const key of ['seq', 'start', 'dur', 'path'] as const) {
    const col = key === 'seq' ? seq! : o[key];
    if (Array.isArray(col) && col.length !== n) bad(`columns differ in length: "${key}" has ${col.length} rows, "shape" has ${n}`);
  }
  const { trace, span } = ids as { trace: string; span: string };
  return { shapes: o.shapes as Record<string, unknown>, t0: o.t0 as number, ids: { trace, span }, seq: seq!, start: o.start as unknown[], dur: o.dur as unknown[], shape: o.shape as unknown[], path: o.path as unknown[] };
}

const HEX24 = /^[0-9a-f]{24}$/;
const HEX8 = /^[0-9a-f]{8}$/;

/** The columns of a `calls` member, checked for shape only; each row is validated as a span later. */
function toCallColumns(v: unknown): CallColumns {
  const bad = (what: string): never => {
    throw new ProtocolError('bad_message', `"calls" ${what}`);
  };
  if (!isObj(v)) bad('must be an object');
  const o = v as Obj;
  if (!isObj(o.shapes)) bad('needs a "shapes" object');
  for (const key of ['parent', 'n', 'start', 'dur', 'shape'] as const) if (!Array.isArray(o[key])) bad(`needs a "${key}" array`);
  const ids = o.ids;
  if (!isObj(ids) || typeof ids.trace !== 'string' || !HEX24.test(ids.trace) || typeof ids.span !== 'string' || !HEX8.test(ids.span)) {
    bad('needs "ids" with "trace" (24 lowercase hex characters) and "span" (8)');
  }
  if (typeof o.t0 !== 'number' || !Number.isFinite(o.t0)) bad('needs a finite "t0" number');
  if (o.value !== undefined && !Array.isArray(o.value)) bad('"value" must be an array');
  if (o.traces !== undefined && !isObj(o.traces)) bad('"traces" must be an object');
  const n = (o.shape as unknown[]).length;
  for (const key of ['parent', 'n', 'start', 'dur', 'value'] as const) {
    const col = o[key];
    if (Array.isArray(col) && col.length !== n) bad(`columns differ in length: "${key}" has ${col.length} rows, "shape" has ${n}`);
  }
  const { trace, span } = ids as { trace: string; span: string };
  return {
    shapes: o.shapes as Record<string, unknown>,
    t0: o.t0 as number,
    ids: { trace, span },
    parent: o.parent as unknown[],
    n: o.n as unknown[],
    start: o.start as unknown[],
    dur: o.dur as unknown[],
    shape: o.shape as unknown[],
    ...(o.value !== undefined ? { value: o.value as unknown[] } : {}),
    traces: (o.traces ?? {}) as Record<string, unknown>,
  };
}

function optArray(o: Obj, key: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ProtocolError('bad_message', `"${key}" must be an array`);
  return v;
}

export function toResource(attrsIn: Obj): Resource {
  const attributes = toAttributes(attrsIn);
  const name = attributes['service.name'];
  const pid = attributes['process.pid'];
  const sdkName = attributes['telemetry.sdk.name'];
  const sdkVersion = attributes['telemetry.sdk.version'];
  const r: Resource = { serviceName: typeof name === 'string' && name ? name : 'unknown_service', attributes };
  if (typeof attributes['service.instance.id'] === 'string') r.instanceId = attributes['service.instance.id'] as string;
  if (typeof pid === 'number') r.pid = pid;
  if (typeof sdkName === 'string') r.sdk = typeof sdkVersion === 'string' ? `${sdkName}/${sdkVersion}` : sdkName;
  return r;
}

class ItemError extends Error {}

function fail(msg: string): never {
  throw new ItemError(msg);
}

function clip(s: string): string {
  return s.length > MAX_STRING ? s.slice(0, MAX_STRING) + '…' : s;
}

function reqString(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(`${key} must be a string`);
  return clip(v);
}

function optString(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(`${key} must be a string`);
  return clip(v);
}

function reqTime(o: Obj, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${key} must be a finite, non-negative number of epoch milliseconds`);
  return v;
}

function hexId(o: Obj, key: string, len: number, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (required) fail(`${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length !== len || !/^[0-9a-f]+$/.test(v)) fail(`${key} must be ${len} lowercase hex characters`);
  if (/^0+$/.test(v)) fail(`${key} must not be all zeros`);
  return v;
}

function toValue(v: unknown, depth = 0): AttrValue | undefined {
  if (typeof v === 'string') return clip(v);
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v;
  if (v === null) return null;
  if (Array.isArray(v) && depth < 2) return v.slice(0, 128).map((x) => toValue(x, depth + 1) ?? null);
  return undefined;
}

export function toAttributes(v: unknown): Attributes {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) fail('attributes must be an object');
  const out: Attributes = {};
  let n = 0;
  for (const k of Object.keys(v)) {
    if (++n > MAX_ATTRIBUTES) break;
    const val = toValue(v[k]);
    if (val === undefined) continue;
    // JSON.parse makes "__proto__" an ordinary key; assigning it would swap the object's prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
    else out[clip(k)] = val;
  }
  return out;
}

const KINDS: SpanKind[] = ['internal', 'server', 'client', 'producer', 'consumer'];
const STATUSES: StatusCode[] = ['unset', 'ok', 'error'];
const SEVERITIES: Severity[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function toException(v: unknown): ExceptionInfo | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) fail('exception must be an object');
  const frames: StackFrame[] = [];
  if (v.frames !== undefined) {
    if (!Array.isArray(v.frames)) fail('exception.frames must be an array');
    for (const f of v.frames.slice(-MAX_FRAMES)) {
      if (!isObj(f)) fail('exception.frames items must be objects');
      const line = f.line;
      frames.push({
        file: reqString(f, 'file'),
        line: typeof line === 'number' && Number.isFinite(line) ? Math.max(0, Math.trunc(line)) : 0,
        function: optString(f, 'function') ?? '',
      });
    }
  }
  const stacktrace = optString(v, 'stacktrace');
  return { type: optString(v, 'type') ?? 'Exception', message: optString(v, 'message') ?? '', frames, ...(stacktrace ? { stacktrace } : {}) };
}

function toSpan(v: unknown, resource: Resource): Span {
  if (!isObj(v)) fail('span must be an object');
  const traceId = hexId(v, 'traceId', 32, true)!;
  const spanId = hexId(v, 'spanId', 16, true)!;
  const parentSpanId = hexId(v, 'parentSpanId', 16, false);
  const name = reqString(v, 'name');
  const startMs = reqTime(v, 'startMs');
  const endMs = reqTime(v, 'endMs');
  if (endMs < startMs) fail('endMs is before startMs');
  const kind = (optString(v, 'kind') ?? 'internal') as SpanKind;
  if (!KINDS.includes(kind)) fail(`kind must be one of ${KINDS.join(', ')}`);
  const status = (optString(v, 'status') ?? 'unset') as StatusCode;
  if (!STATUSES.includes(status)) fail(`status must be one of ${STATUSES.join(', ')}`);
  const attributes = toAttributes(v.attributes);
  const events: SpanEvent[] = [];
  if (v.events !== undefined) {
    if (!Array.isArray(v.events)) fail('events must be an array');
    for (const e of v.events.slice(0, MAX_EVENTS)) {
      if (!isObj(e)) fail('events items must be objects');
      events.push({ name: reqString(e, 'name'), timeMs: reqTime(e, 'timeMs'), attributes: toAttributes(e.attributes) });
    }
  }
  const span: Span = { traceId, spanId, name, kind, startMs, endMs, status, attributes, events, links: [], resource };
  if (parentSpanId) span.parentSpanId = parentSpanId;
  const statusMessage = optString(v, 'statusMessage');
  if (statusMessage) span.statusMessage = statusMessage;
  const http = resolveHttp(attributes, kind === 'server' ? name : undefined);
  if (http) span.http = http;
  const code = resolveCode(attributes);
  if (code) span.code = code;
  const ex = toException(v.exception) ?? exceptionFromEvents(events);
  if (ex) span.exception = ex;
  return span;
}

function toLog(v: unknown, resource: Resource): LogRecord {
  if (!isObj(v)) fail('log must be an object');
  const severity = reqString(v, 'severity') as Severity;
  if (!SEVERITIES.includes(severity)) fail(`severity must be one of ${SEVERITIES.join(', ')}`);
  const attributes = toAttributes(v.attributes);
  const log: LogRecord = { timeMs: reqTime(v, 'timeMs'), severity, body: reqString(v, 'body'), attributes, resource };
  const traceId = hexId(v, 'traceId', 32, false);
  const spanId = hexId(v, 'spanId', 16, false);
  if (traceId) log.traceId = traceId;
  if (spanId) log.spanId = spanId;
  const code = resolveCode(attributes);
  if (code) log.code = code;
  const ex = toException(v.exception) ?? resolveException(attributes);
  if (ex) log.exception = ex;
  return log;
}

function toMetric(v: unknown, resource: Resource): MetricPoint {
  if (!isObj(v)) fail('metric must be an object');
  const name = reqString(v, 'name');
  const kind = reqString(v, 'kind');
  if (kind !== 'gauge' && kind !== 'sum') fail('kind must be gauge or sum');
  const value = v.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('value must be a finite number');
  const p: MetricPoint = { name, kind, value, timeMs: reqTime(v, 'timeMs'), attributes: toAttributes(v.attributes), resource };
  const unit = optString(v, 'unit');
  if (unit) p.unit = unit;
  if (typeof v.monotonic === 'boolean') p.monotonic = v.monotonic;
  return p;
}

export interface DecodedBatch {
  spans: Span[];
  logs: LogRecord[];
  metrics: MetricPoint[];
  rejected: { spans: number; logs: number; metrics: number };
  errors: string[];
}

/** Validates each item of a batch; errors name the item (`spans[3]: ...`). */
export function decodeBatch(msg: Extract<NativeMessage, { type: 'batch' }>, resource: Resource): DecodedBatch {
  const out: DecodedBatch = { spans: [], logs: [], metrics: [], rejected: { spans: 0, logs: 0, metrics: 0 }, errors: [] };
  const run = <T>(items: unknown[], label: 'spans' | 'logs' | 'metrics', f: (v: unknown, r: Resource) => T, into: T[]) => {
    items.forEach((item, i) => {
      try {
        into.push(f(item, resource));
      } catch (e) {
        if (!(e instanceof ItemError)) throw e;
        out.rejected[label]++;
        out.errors.push(`${label}[${i}]: ${e.message}`);
      }
    });
  };
  run(msg.spans, 'spans', toSpan, out.spans);
  if (msg.requests) decodeRequests(msg.requests, resource, out);
  if (msg.calls) decodeCalls(msg.calls, resource, out);
  run(msg.logs, 'logs', toLog, out.logs);
  run(msg.metrics, 'metrics', toMetric, out.metrics);
  return out;
}

/** A row's shape (of `requests` or `calls`): its number must name an object in shapes. */
function rowShape(shapes: Record<string, unknown>, s: unknown): Obj {
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || !Object.hasOwn(shapes, String(s))) fail(`shape ${describe(s)} is not a number in shapes`);
  const form = shapes[String(s)];
  if (!isObj(form)) fail(`shapes["${s}"] must be an object`);
  return form as Obj;
}

/** A row's start (microseconds after t0) and duration (microseconds), checked. */
function rowTimes(st: unknown, d: unknown): [number, number] {
  if (typeof st !== 'number' || !Number.isFinite(st)) fail('start must be a finite number of microseconds after t0');
  if (typeof d !== 'number' || !Number.isFinite(d) || d < 0) fail('dur must be a finite, non-negative number of microseconds');
  return [st as number, d as number];
}

/** Multiplier that spreads request sequence numbers over the first 8 hex digits of their ids. */
const SEQ_MIX = 2654435761;

/** Expands each row of the compact `requests` columns into a span, validated as any span is. */
function decodeRequests(cols: RequestColumns, resource: Resource, out: DecodedBatch): void {
  const { shapes, t0, ids, seq, start, dur, shape, path } = cols;
  for (let i = 0; i < shape.length; i++) {
    try {
      const s = shape[i];
      const form = rowShape(shapes, s);
      const [st, d] = rowTimes(start[i], dur[i]);
      const p = path[i];
      if (typeof p !== 'string') fail('path must be a string');
      const n = Array.isArray(seq) ? seq[i] : seq.first + i;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail('seq must be a non-negative integer');
      // The row's ids: its mixed sequence number, then the per-process parts (docs/protocol.md).
      const head = seqHead(n);
      const attrs = form.attributes;
      if (attrs !== undefined && !isObj(attrs)) fail(`shapes["${s}"].attributes must be an object`);
      const startUs = t0 + st;
      out.spans.push(
        toSpan(
          {
            traceId: head + ids.trace,
            spanId: head + ids.span,
            name: form.name,
            kind: form.kind,
            status: form.status,
            startMs: startUs / 1000,
            endMs: (startUs + d) / 1000,
            attributes: { ...(attrs as Obj | undefined), 'url.path': p },
          },
          resource,
        ),
      );
    } catch (e) {
      if (!(e instanceof ItemError)) throw e;
      out.rejected.spans++;
      out.errors.push(`requests[${i}]: ${e.message}`);
    }
  }
}

/** The first 8 hex digits of the ids of the span numbered seq and of the calls under it. */
function seqHead(seq: number): string {
  return (Math.imul(seq % 0x1_0000_0000, SEQ_MIX) >>> 0).toString(16).padStart(8, '0');
}

/** Expands each row of the compact `calls` columns into a client span, validated as any span is. */
function decodeCalls(cols: CallColumns, resource: Resource, out: DecodedBatch): void {
  const { shapes, t0, ids, parent, n, start, dur, shape, value, traces } = cols;
  const spanPart = parseInt(ids.span, 16);
  for (let i = 0; i < shape.length; i++) {
    try {
      const s = shape[i];
      const form = rowShape(shapes, s);
      const [st, d] = rowTimes(start[i], dur[i]);
      const seq = parent[i];
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) fail('parent must be a non-negative integer');
      const k = n[i];
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k >= 0x1_0000_0000) fail('n must be an integer from 1 to 2^32 - 1');
      const attrs = form.attributes;
      if (attrs !== undefined && !isObj(attrs)) fail(`shapes["${s}"].attributes must be an object`);
      const attributes: Obj = { ...(attrs as Obj | undefined) };
      const own = value?.[i];
      if (own !== undefined && own !== null) {
        if (typeof form.value !== 'string' || form.value === '') fail(`a value needs shapes["${s}"].value, the attribute it is`);
        attributes[form.value as string] = own;
      }
      const head = seqHead(seq as number);
      const explicit = Object.hasOwn(traces, String(seq)) ? traces[String(seq)] : undefined;
      const startUs = t0 + st;
      out.spans.push(
        toSpan(
          {
            traceId: explicit ?? head + ids.trace,
            spanId: head + ((spanPart ^ Math.imul(k as number, SEQ_MIX)) >>> 0).toString(16).padStart(8, '0'),
            parentSpanId: head + ids.span,
            name: form.name,
            kind: form.kind,
            status: form.status,
            startMs: startUs / 1000,
            endMs: (startUs + d) / 1000,
            attributes,
          },
          resource,
        ),
      );
    } catch (e) {
      if (!(e instanceof ItemError)) throw e;
      out.rejected.spans++;
      out.errors.push(`calls[${i}]: ${e.message}`);
    }
  }
}
