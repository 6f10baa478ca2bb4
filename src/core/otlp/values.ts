/**
 * Leaf conversions shared by the protobuf and JSON paths. Both arrive as plain object trees with the
 * same lowerCamelCase keys (protobufjs names fields that way, and so does OTLP/JSON); they differ
 * only at the leaves, which is what these helpers absorb:
 *
 *   field            protobuf (protobufjs)                     OTLP/JSON
 *   trace/span ids   Buffer                                    hex string
 *   other bytes      Buffer                                    base64 string
 *   64-bit integers  Long                                      decimal string or number
 *   doubles          number                                    number, or "NaN"/"Infinity"/"-Infinity"
 *   oneof members    an own property (plus a `value` discriminator  the one key present
 *                    where the schema keeps a oneof)
 *   unset fields     prototype defaults ('' / 0 / null / [])   absent
 */
import type { Attributes, AttrValue, Resource } from '../model';

/** An item (span, log record, data point) that cannot be accepted; the message is the reason given back. */
export class OtlpItemError extends Error {}

/** The request as a whole is malformed: answered with 400 / INVALID_ARGUMENT and nothing is kept. */
export class OtlpMalformedError extends Error {}

export type Obj = Record<string, unknown>;

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

const EMPTY: readonly unknown[] = Object.freeze([]);
const hasOwn = Object.prototype.hasOwnProperty;
const MAX_DEPTH = 32;
const TWO_32 = 4294967296;

function isLong(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && typeof (v as LongLike).low === 'number' && typeof (v as LongLike).high === 'number';
}

/** A nested message; absent is undefined. `fail` picks which error a type mismatch raises. */
export function obj(v: unknown, what: string, fail: typeof OtlpItemError = OtlpItemError): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && !Array.isArray(v)) return v as Obj;
  throw new fail(`${what} is not an object`);
}

export function list(v: unknown, what: string, fail: typeof OtlpItemError = OtlpItemError): readonly unknown[] {
  if (v === undefined || v === null) return EMPTY;
  if (Array.isArray(v)) return v;
  throw new fail(`${what} is not an array`);
}

/**
 * Longest string kept, as in the native protocol. The body limit alone would let one request carry
 * a 15 MiB route or service name, and names are kept outside the store's byte budget (route and
 * service tables, error groups, metric series keys): 2,000 such routes would hold gigabytes.
 */
export const MAX_STRING = 16 * 1024;

export function clip(s: string): string {
  return s.length > MAX_STRING ? s.slice(0, MAX_STRING) + '…' : s;
}

export function str(v: unknown, what: string): string {
  if (typeof v === 'string') return clip(v);
  if (v === undefined || v === null) return '';
  throw new OtlpItemError(`${what} is not a string`);
}

/** An enum or small integer (JSON may also name an enum value; `names` maps those). */
export function int(v: unknown, what: string, names?: Record<string, number>): number {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v;
  } else if (v === undefined || v === null) {
    return 0;
  } else if (typeof v === 'string') {
    if (names && hasOwn.call(names, v)) return names[v];
    if (/^-?\d{1,10}$/.test(v)) return Number(v);
  }
  throw new OtlpItemError(`${what} is not an integer`);
}

/**
 * An unsigned 64-bit count (bucket counts, totals). Counts above 2^53 lose exactness as numbers; no
 * realistic counter gets there.
 */
export function u64(v: unknown, what: string): number {
  if (isLong(v)) return (v.high >>> 0) * TWO_32 + (v.low >>> 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0) return v;
  } else if (typeof v === 'string') {
    if (/^\d{1,20}$/.test(v)) return Number(v);
  } else if (v === undefined || v === null) {
    return 0;
  }
  throw new OtlpItemError(`${what} is not an unsigned integer`);
}

/** A signed 64-bit integer value; exact when it fits a double's integer range. */
export function i64(v: unknown, what: string): number {
  if (isLong(v)) return v.unsigned ? (v.high >>> 0) * TWO_32 + (v.low >>> 0) : v.high * TWO_32 + (v.low >>> 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v;
  } else if (typeof v === 'string') {
    if (/^-?\d{1,20}$/.test(v)) return Number(v);
  } else if (v === undefined || v === null) {
    return 0;
  }
  throw new OtlpItemError(`${what} is not an integer`);
}

/**
 * Nanoseconds since the epoch to epoch milliseconds. Split so the integer part stays exact: the only
 * rounding is the final double, whose resolution at today's dates is about 0.24 µs.
 */
export function nanosToMs(v: unknown, what: string): number {
  if (isLong(v)) {
    const hi = v.high >>> 0;
    // 2^32 ns = 4294 ms + 967296 ns, so both products stay below 2^53.
    return hi * 4294 + (hi * 967296 + (v.low >>> 0)) / 1e6;
  }
  if (typeof v === 'string') {
    if (!/^\d{1,20}$/.test(v)) throw new OtlpItemError(`${what} is not a timestamp`);
    if (v.length <= 6) return Number(v) / 1e6;
    return Number(v.slice(0, -6)) + Number(v.slice(-6)) / 1e6;
  }
  if (typeof v === 'number') {
    if (Number.isFinite(v) && v >= 0) return v / 1e6;
  } else if (v === undefined || v === null) {
    return 0;
  }
  throw new OtlpItemError(`${what} is not a timestamp`);
}

/** A double; JSON spells the non-finite ones as strings. Non-finite values pass through for the caller to judge. */
export function dbl(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  } else if (v === undefined || v === null) {
    return 0;
  }
  throw new OtlpItemError(`${what} is not a number`);
}

export function optDbl(v: unknown, what: string): number | undefined {
  return v === undefined || v === null ? undefined : dbl(v, what);
}

const HEX = /^[0-9a-fA-F]*$/;
const ZEROS: Record<number, string> = { 16: '0'.repeat(32), 8: '0'.repeat(16) };

/**
 * A trace or span id as lowercase hex; '' when absent or all zero (the spec's "invalid id", which
 * callers treat as absent or reject). Wrong lengths throw.
 */
export function id(v: unknown, bytes: 16 | 8, json: boolean, what: string): string {
  let hex: string;
  if (json) {
    if (v === undefined || v === null || v === '') return '';
    if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX.test(v)) {
      throw new OtlpItemError(`invalid ${what}`);
    }
    hex = v.toLowerCase();
  } else {
    const b = v as Uint8Array | null | undefined;
    if (!b || b.length === 0) return '';
    if (b.length !== bytes) throw new OtlpItemError(`invalid ${what}`);
    hex = Buffer.isBuffer(b) ? b.toString('hex') : Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
  }
  return hex === ZEROS[bytes] ? '' : hex;
}

function bytesToString(v: unknown, json: boolean): string {
  if (json) return typeof v === 'string' ? clip(v) : '';
  const b = v as Uint8Array;
  if (!b || typeof b.length !== 'number') return '';
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
  return clip(buf.subarray(0, (MAX_STRING / 4) * 3 + 3).toString('base64'));
}

/**
 * Attribute values repeat endlessly across spans ("GET", "http", the route template, the host), and
 * each decoded copy would be its own string in the store. Short values are shared through a small
 * table instead; the table is dropped whole when full, so a high-cardinality value (a raw path, an
 * id) cannot grow it without bound.
 */
const INTERN_MAX_LENGTH = 64;
const INTERN_MAX_ENTRIES = 8192;
let interned = new Map<string, string>();

export function intern(s: string): string {
  if (s.length > INTERN_MAX_LENGTH) return s;
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size >= INTERN_MAX_ENTRIES) interned = new Map();
  interned.set(s, s);
  return s;
}

/** Attribute keys are sender-controlled: `__proto__` must become a plain key, not a prototype swap. */
function setKey(target: Record<string, AttrValue>, key: string, value: AttrValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * AnyValue to an attribute value. Bytes become base64 text; integers beyond 2^53 become their exact
 * decimal text; non-finite doubles become "NaN" / "Infinity" / "-Infinity" so they survive JSON
 * serialization downstream; an empty AnyValue is null.
 */
export function anyValue(v: unknown, json: boolean, depth = 0): AttrValue {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object') throw new OtlpItemError('attribute value is not an object');
  const o = v as Obj;
  if (depth > MAX_DEPTH) return '[nested too deep]';
  if (json) {
    if (o.stringValue !== undefined) return intern(str(o.stringValue, 'stringValue'));
    if (o.intValue !== undefined) return intValue(o.intValue);
    if (o.doubleValue !== undefined) return finiteOrText(dbl(o.doubleValue, 'doubleValue'));
    if (o.boolValue !== undefined) {
      if (typeof o.boolValue !== 'boolean') throw new OtlpItemError('boolValue is not a boolean');
      return o.boolValue;
    }
    if (o.arrayValue !== undefined) return arrayValue(o.arrayValue, json, depth);
    if (o.kvlistValue !== undefined) return kvlistValue(o.kvlistValue, json, depth);
    if (o.bytesValue !== undefined) return bytesToString(o.bytesValue, json);
    return null;
  }
  // Decoded members are own properties; unset ones only show prototype defaults. Should a sender
  // set several (invalid for a oneof), the first in this order wins.
  if (hasOwn.call(o, 'stringValue')) return intern(clip(o.stringValue as string));
  if (hasOwn.call(o, 'intValue')) return intValue(o.intValue);
  if (hasOwn.call(o, 'doubleValue')) return finiteOrText(o.doubleValue as number);
  if (hasOwn.call(o, 'boolValue')) return o.boolValue as boolean;
  if (hasOwn.call(o, 'arrayValue')) return arrayValue(o.arrayValue, json, depth);
  if (hasOwn.call(o, 'kvlistValue')) return kvlistValue(o.kvlistValue, json, depth);
  if (hasOwn.call(o, 'bytesValue')) return bytesToString(o.bytesValue, json);
  return null;
}

function intValue(v: unknown): number | string {
  if (isLong(v)) {
    const n = v.high * TWO_32 + (v.low >>> 0);
    return Number.isSafeInteger(n) ? n : (v as { toString(): string }).toString();
  }
  const n = i64(v, 'intValue');
  return Number.isSafeInteger(n) ? n : String(v);
}

function finiteOrText(n: number): number | string {
  return Number.isFinite(n) ? n : String(n);
}

function arrayValue(v: unknown, json: boolean, depth: number): AttrValue[] {
  const a = obj(v, 'arrayValue');
  const values = list(a?.values, 'arrayValue.values');
  const out: AttrValue[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = anyValue(values[i], json, depth + 1);
  return out;
}

function kvlistValue(v: unknown, json: boolean, depth: number): { [key: string]: AttrValue } {
  const kv = obj(v, 'kvlistValue');
  return attributesInto({}, kv?.values, json, depth + 1);
}

function attributesInto(target: Attributes, v: unknown, json: boolean, depth: number): Attributes {
  const kvs = list(v, 'attributes');
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i] as Obj | null;
    if (kv === null || typeof kv !== 'object') throw new OtlpItemError('attribute is not an object');
    const key = kv.key;
    if (typeof key !== 'string') throw new OtlpItemError('attribute key is not a string');
    setKey(target, clip(key), anyValue(kv.value, json, depth));
  }
  return target;
}

/** KeyValue list to attributes (a repeated key keeps its last value). */
export function attributes(v: unknown, json: boolean): Attributes {
  return attributesInto({}, v, json, 0);
}

/** Adds the instrumentation scope as `otel.scope.name` / `otel.scope.version`, the names exporters use for it. */
export function addScope(attrs: Attributes, scope: Scope): Attributes {
  if (scope.name && attrs['otel.scope.name'] === undefined) attrs['otel.scope.name'] = scope.name;
  if (scope.version && attrs['otel.scope.version'] === undefined) attrs['otel.scope.version'] = scope.version;
  return attrs;
}

export interface Scope {
  name: string;
  version: string;
}

/** Scopes and resources are shared by all items below them, so their errors condemn the whole request. */
export function scopeOf(v: unknown): Scope {
  const s = obj(v, 'scope', OtlpMalformedError);
  if (!s) return { name: '', version: '' };
  const name = s.name ?? '';
  const version = s.version ?? '';
  if (typeof name !== 'string' || typeof version !== 'string') throw new OtlpMalformedError('scope name/version is not a string');
  return { name: clip(name), version: clip(version) };
}

export function resourceOf(v: unknown, json: boolean): Resource {
  const r = obj(v, 'resource', OtlpMalformedError);
  let attrs: Attributes;
  try {
    attrs = r ? attributes(r.attributes, json) : {};
  } catch (e) {
    throw new OtlpMalformedError(`resource: ${(e as Error).message}`);
  }
  const name = attrs['service.name'];
  const resource: Resource = {
    serviceName: typeof name === 'string' && name !== '' ? name : 'unknown_service',
    attributes: attrs,
  };
  const instance = attrs['service.instance.id'];
  if (typeof instance === 'string' && instance !== '') resource.instanceId = instance;
  const pid = attrs['process.pid'];
  const pidNum = typeof pid === 'number' ? pid : typeof pid === 'string' && /^\d+$/.test(pid) ? Number(pid) : NaN;
  if (Number.isSafeInteger(pidNum) && pidNum > 0) resource.pid = pidNum;
  const sdk = sdkOf(attrs);
  if (sdk) resource.sdk = sdk;
  return resource;
}

/** `telemetry.sdk.{name,language,version}` as "opentelemetry/python/1.27.0" (parts that are missing are left out). */
function sdkOf(attrs: Attributes): string | undefined {
  const parts: string[] = [];
  for (const k of ['telemetry.sdk.name', 'telemetry.sdk.language', 'telemetry.sdk.version']) {
    const v = attrs[k];
    if (typeof v === 'string' && v !== '') parts.push(v);
  }
  return parts.length > 0 ? parts.join('/') : undefined;
}

/** Counts rejected items by reason and renders the partial-success message. */
export class Rejections {
  count = 0;
  readonly reasons = new Map<string, number>();

  add(reason: string): void {
    this.count++;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  message(noun: string): string {
    if (this.count === 0) return '';
    const parts = [...this.reasons.entries()].slice(0, 8).map(([r, n]) => `${r} (${n})`);
    return `rejected ${this.count} ${noun}: ${parts.join(', ')}`;
  }
}

/** What a mapper hands back: the accepted items and what it refused. */
export interface Mapped<T> {
  items: T[];
  rejected: Rejections;
}

export function reasonOf(e: unknown): string {
  if (e instanceof OtlpItemError) return e.message;
  // Stack overflows from absurd nesting and the like: still only this item's fault.
  return 'invalid item';
}

/**
 * The walk every Export*ServiceRequest shares: resource blocks, their scope blocks, their items.
 * Each item is mapped on its own; one that throws is rejected with its reason and the rest kept.
 */
export function mapNested<T>(
  request: unknown,
  json: boolean,
  keys: { resources: string; scopes: string; items: string },
  mapItem: (v: unknown, resource: Resource, scope: Scope) => T,
): Mapped<T> {
  const root = obj(request, 'request', OtlpMalformedError);
  if (!root) throw new OtlpMalformedError('request is not an object');
  const items: T[] = [];
  const rejected = new Rejections();
  for (const rV of list(root[keys.resources], keys.resources, OtlpMalformedError)) {
    const r = obj(rV, `${keys.resources}[]`, OtlpMalformedError);
    if (!r) continue;
    const resource = resourceOf(r.resource, json);
    for (const sV of list(r[keys.scopes], keys.scopes, OtlpMalformedError)) {
      const s = obj(sV, `${keys.scopes}[]`, OtlpMalformedError);
      if (!s) continue;
      const scope = scopeOf(s.scope);
      const entries = list(s[keys.items], keys.items, OtlpMalformedError);
      for (let i = 0; i < entries.length; i++) {
        try {
          items.push(mapItem(entries[i], resource, scope));
        } catch (e) {
          rejected.add(reasonOf(e));
        }
      }
    }
  }
  return { items, rejected };
}
