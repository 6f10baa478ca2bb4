/**
 * Random valid inputs for each protocol: native-protocol messages, OTLP export requests (as OTLP/JSON
 * objects, convertible to the protobuf form) and Prometheus / OpenMetrics expositions. The mutators
 * start from these, so most mutated cases get past the first parsing step and reach the decoders.
 */
import { unicodeString, type Rng } from './random';

type Obj = Record<string, unknown>;

const ROUTES = ['/items/{item_id}', '/users/{id}/orders', '/', '/health', '/api/v1/search', '/files/{path:path}'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const SERVICES = ['orders-api', 'users', 'billing', 'unknown_service'];

function text(rng: Rng, pool: readonly string[]): string {
  return rng.chance(0.85) ? rng.pick(pool) : unicodeString(rng, 32);
}

/** Ids are occasionally all zeros or of the wrong length: valid inputs need not be perfect. */
function id(rng: Rng, bytes: number): string {
  if (rng.chance(0.01)) return '0'.repeat(bytes * 2);
  return rng.hex(bytes);
}

function nowMs(rng: Rng): number {
  return 1_700_000_000_000 + rng.int(100_000_000) + (rng.chance(0.3) ? rng.int(1000) / 1000 : 0);
}

// ---- native protocol ---------------------------------------------------------------------------

function nativeAttributes(rng: Rng, server: boolean): Obj {
  const a: Obj = {};
  if (server) {
    const method = rng.pick(METHODS);
    a[rng.chance(0.5) ? 'http.request.method' : 'http.method'] = method;
    a['http.route'] = text(rng, ROUTES);
    a[rng.chance(0.5) ? 'http.response.status_code' : 'http.status_code'] = rng.pick([200, 201, 204, 400, 404, 500, 503]);
    a['url.path'] = '/items/' + rng.int(1000);
  }
  if (rng.chance(0.5)) {
    a['code.file.path'] = '/srv/app/main.py';
    a['code.line.number'] = rng.int(500);
    a['code.function.name'] = 'main.handler';
  }
  for (let i = rng.size(5); i > 0; i--) a[unicodeString(rng, 10) || 'k'] = rng.pick<unknown>([unicodeString(rng), rng.int(100), rng.chance(0.5), [1, 'a', true]]);
  return a;
}

function nativeException(rng: Rng): Obj {
  const frames = Array.from({ length: rng.size(12) }, (_, i) => ({
    file: rng.chance(0.7) ? '/srv/app/main.py' : '/usr/lib/python3.12/site-packages/starlette/routing.py',
    line: rng.int(800),
    function: `f${i}`,
  }));
  return { type: rng.pick(['ValueError', 'KeyError', 'ZeroDivisionError']), message: unicodeString(rng, 40), frames, stacktrace: 'Traceback (most recent call last):\n  ...' };
}

export function nativeSpan(rng: Rng): Obj {
  const server = rng.chance(0.6);
  const start = nowMs(rng);
  const s: Obj = {
    traceId: id(rng, 16),
    spanId: id(rng, 8),
    name: server ? `${rng.pick(METHODS)} ${rng.pick(ROUTES)}` : unicodeString(rng, 20) || 'work',
    kind: server ? 'server' : rng.pick(['internal', 'client', 'producer', 'consumer']),
    startMs: start,
    endMs: start + rng.int(5000) * (rng.chance(0.2) ? 0.001 : 1),
    status: rng.pick(['unset', 'ok', 'error']),
    attributes: nativeAttributes(rng, server),
  };
  if (rng.chance(0.5)) s.parentSpanId = id(rng, 8);
  if (rng.chance(0.2)) s.statusMessage = unicodeString(rng);
  if (rng.chance(0.2)) s.events = Array.from({ length: rng.size(4) }, () => ({ name: 'event', timeMs: start + 1, attributes: { a: 1 } }));
  if (rng.chance(0.15)) s.exception = nativeException(rng);
  return s;
}

export function nativeLog(rng: Rng): Obj {
  const l: Obj = {
    timeMs: nowMs(rng),
    severity: rng.pick(['trace', 'debug', 'info', 'warn', 'error', 'fatal']),
    body: unicodeString(rng, 80),
    attributes: { 'logger.name': 'app', ...(rng.chance(0.3) ? { 'code.file.path': '/srv/app/db.py', 'code.line.number': 7 } : {}) },
  };
  if (rng.chance(0.5)) {
    l.traceId = id(rng, 16);
    l.spanId = id(rng, 8);
  }
  if (rng.chance(0.1)) l.exception = nativeException(rng);
  return l;
}

export function nativeMetric(rng: Rng): Obj {
  const m: Obj = {
    name: rng.pick(['process.memory.usage', 'process.cpu.utilization', 'python.gc.collections', 'custom.' + unicodeString(rng, 8)]),
    kind: rng.pick(['gauge', 'sum']),
    value: rng.chance(0.5) ? rng.int(1e9) : rng.float(),
    timeMs: nowMs(rng),
    attributes: rng.chance(0.5) ? { generation: rng.int(3) } : {},
  };
  if (rng.chance(0.5)) m.unit = rng.pick(['By', '1', 's', 'ms']);
  if (rng.chance(0.3)) m.monotonic = rng.chance(0.5);
  return m;
}

export function nativeHello(rng: Rng): Obj {
  const resource: Obj = { 'service.name': text(rng, SERVICES), 'process.pid': rng.int(99999), 'telemetry.sdk.name': 'routelens-python', 'telemetry.sdk.version': '0.1.0' };
  if (rng.chance(0.5)) resource['service.instance.id'] = rng.hex(4);
  return { v: 1, type: 'hello', resource };
}

export function nativeBatch(rng: Rng, seq = rng.int(1e6)): Obj {
  const b: Obj = { v: 1, type: 'batch', seq };
  if (rng.chance(0.8)) b.spans = Array.from({ length: rng.size(30) }, () => nativeSpan(rng));
  if (rng.chance(0.5)) b.logs = Array.from({ length: rng.size(20) }, () => nativeLog(rng));
  if (rng.chance(0.4)) b.metrics = Array.from({ length: rng.size(20) }, () => nativeMetric(rng));
  if (rng.chance(0.3)) b.requests = nativeRequests(rng);
  if (rng.chance(0.2)) b.dropped = { spans: rng.int(10), logs: rng.int(10), metrics: 0 };
  return b;
}

/** The compact `requests` columns of plain server spans, as the Python agent sends them. */
export function nativeRequests(rng: Rng): Obj {
  const forms = Array.from({ length: 1 + rng.int(4) }, () => {
    const route = rng.pick(ROUTES);
    const method = rng.pick(METHODS);
    return {
      name: `${method} ${route}`,
      kind: 'server',
      ...(rng.chance(0.2) ? { status: 'error' } : {}),
      attributes: { 'http.route': route, 'http.request.method': method, 'http.response.status_code': rng.pick([200, 201, 404, 500]) },
    };
  });
  const shapes = Object.fromEntries(forms.map((f, i) => [String(i * 3), f]));
  const n = rng.size(30);
  const t0 = Math.floor(nowMs(rng) * 1000);
  return {
    ids: { trace: id(rng, 12), span: id(rng, 4) },
    shapes,
    t0,
    ...(rng.chance(0.5) ? { seq0: rng.int(1e9) } : { seq: Array.from({ length: n }, () => rng.int(1e9)) }),
    start: Array.from({ length: n }, () => rng.int(200_000)),
    dur: Array.from({ length: n }, () => rng.int(5_000_000)),
    shape: Array.from({ length: n }, () => rng.int(forms.length) * 3 + (rng.chance(0.05) ? 1 : 0)),
    path: Array.from({ length: n }, () => unicodeString(rng, 30) || '/'),
  };
}

export function nativeMessage(rng: Rng): Obj {
  return rng.weighted<() => Obj>([
    [2, () => nativeHello(rng)],
    [12, () => nativeBatch(rng)],
    // Not a loopback URL: the collector would scrape an announced loopback one, and a fuzz run must
    // not send requests to whatever else listens on this machine.
    [1, () => ({ v: 1, type: 'announce', prometheus: ['http://routelens-fuzz.invalid/metrics'] })],
  ])();
}

// ---- OTLP (JSON form; see toProtoObject for protobuf) ------------------------------------------

function nanos(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.floor((ms % 1) * 1e6))).toString();
}

export function anyValue(rng: Rng, depth = 0): Obj {
  const kinds: (readonly [number, () => Obj])[] = [
    [5, () => ({ stringValue: unicodeString(rng, 30) })],
    [2, () => ({ intValue: rng.chance(0.8) ? String(rng.int(1e6)) : rng.pick(['9223372036854775807', '-9223372036854775808', '18446744073709551615', 42]) })],
    [2, () => ({ doubleValue: rng.chance(0.9) ? rng.float() * 1000 : rng.pick(['NaN', 'Infinity', '-Infinity', 1e308]) })],
    [1, () => ({ boolValue: rng.chance(0.5) })],
    [1, () => ({ bytesValue: rng.bytes(rng.size(16)).toString('base64') })],
    [1, () => ({})],
  ];
  if (depth < 3) {
    kinds.push([1, () => ({ arrayValue: { values: Array.from({ length: rng.size(4) }, () => anyValue(rng, depth + 1)) } })]);
    kinds.push([1, () => ({ kvlistValue: { values: keyValues(rng, rng.size(4), depth + 1) } })]);
  }
  return rng.weighted(kinds)();
}

function kv(key: string, value: Obj): Obj {
  return { key, value };
}

function keyValues(rng: Rng, n: number, depth = 0): Obj[] {
  return Array.from({ length: n }, () => kv(unicodeString(rng, 12) || 'k', anyValue(rng, depth)));
}

function otlpResource(rng: Rng): Obj {
  return {
    attributes: [
      kv('service.name', { stringValue: text(rng, SERVICES) }),
      kv('telemetry.sdk.name', { stringValue: 'opentelemetry' }),
      kv('telemetry.sdk.language', { stringValue: 'python' }),
      ...(rng.chance(0.5) ? [kv('process.pid', { intValue: String(rng.int(99999)) })] : []),
      ...keyValues(rng, rng.size(3)),
    ],
  };
}

function scope(rng: Rng): Obj {
  return rng.chance(0.8) ? { name: 'opentelemetry.instrumentation.fastapi', version: '0.48b0' } : { name: unicodeString(rng), version: '', attributes: keyValues(rng, 1) };
}

function otlpSpan(rng: Rng): Obj {
  const server = rng.chance(0.6);
  const start = nowMs(rng);
  const method = rng.pick(METHODS);
  const attrs: Obj[] = server
    ? [
        kv(rng.chance(0.5) ? 'http.request.method' : 'http.method', { stringValue: method }),
        kv('http.route', { stringValue: text(rng, ROUTES) }),
        kv(rng.chance(0.5) ? 'http.response.status_code' : 'http.status_code', { intValue: String(rng.pick([200, 404, 500])) }),
      ]
    : [];
  const span: Obj = {
    traceId: id(rng, 16),
    spanId: id(rng, 8),
    name: server ? `${method} ${rng.pick(ROUTES)}` : unicodeString(rng, 20),
    kind: server ? 2 : rng.pick([0, 1, 3, 4, 5]),
    startTimeUnixNano: nanos(start),
    endTimeUnixNano: nanos(start + rng.int(3000)),
    attributes: [...attrs, ...keyValues(rng, rng.size(4))],
    status: { code: rng.pick([0, 1, 2]), message: rng.chance(0.2) ? unicodeString(rng) : '' },
  };
  if (rng.chance(0.5)) span.parentSpanId = id(rng, 8);
  if (rng.chance(0.2)) {
    span.events = [
      {
        timeUnixNano: nanos(start + 1),
        name: 'exception',
        attributes: [
          kv('exception.type', { stringValue: 'ValueError' }),
          kv('exception.message', { stringValue: unicodeString(rng) }),
          kv('exception.stacktrace', { stringValue: 'Traceback (most recent call last):\n  File "/srv/app/main.py", line 12, in read_item\n    raise ValueError()\nValueError' }),
        ],
      },
    ];
  }
  if (rng.chance(0.1)) span.links = [{ traceId: id(rng, 16), spanId: id(rng, 8), attributes: [] }];
  return span;
}

function otlpLog(rng: Rng): Obj {
  const t = nowMs(rng);
  const r: Obj = {
    timeUnixNano: rng.chance(0.9) ? nanos(t) : '0',
    observedTimeUnixNano: nanos(t),
    severityNumber: rng.int(25),
    severityText: rng.pick(['INFO', 'WARNING', 'ERROR', 'CRITICAL', '']),
    body: anyValue(rng),
    attributes: keyValues(rng, rng.size(4)),
  };
  if (rng.chance(0.5)) {
    r.traceId = id(rng, 16);
    r.spanId = id(rng, 8);
  }
  if (rng.chance(0.1)) r.eventName = 'app.event';
  return r;
}

function numberPoint(rng: Rng, start: number): Obj {
  const p: Obj = { attributes: keyValues(rng, rng.size(2)), startTimeUnixNano: nanos(start), timeUnixNano: nanos(start + 1000 + rng.int(60_000)) };
  if (rng.chance(0.5)) p.asDouble = rng.float() * 100;
  else p.asInt = String(rng.int(1e6));
  return p;
}

function histogramPoint(rng: Rng, start: number): Obj {
  const n = rng.size(12);
  const bounds = Array.from({ length: n }, (_, i) => (i + 1) * 5 * (1 + rng.float()));
  bounds.sort((a, b) => a - b);
  const counts = Array.from({ length: n + 1 }, () => rng.int(100));
  const count = counts.reduce((a, b) => a + b, 0);
  return {
    attributes: [kv('http.request.method', { stringValue: rng.pick(METHODS) }), kv('http.route', { stringValue: rng.pick(ROUTES) }), kv('http.response.status_code', { intValue: '200' })],
    startTimeUnixNano: nanos(start),
    timeUnixNano: nanos(start + 1000),
    count: String(count),
    sum: count * 10 * rng.float(),
    bucketCounts: counts.map(String),
    explicitBounds: bounds,
  };
}

function expHistogramPoint(rng: Rng, start: number): Obj {
  const counts = Array.from({ length: rng.size(40) }, () => String(rng.int(50)));
  const total = counts.reduce((a, b) => a + Number(b), 0);
  return {
    attributes: [],
    startTimeUnixNano: nanos(start),
    timeUnixNano: nanos(start + 1000),
    count: String(total),
    sum: total * 3,
    scale: rng.range(-4, 8),
    zeroCount: '0',
    positive: { offset: rng.range(-20, 20), bucketCounts: counts },
  };
}

function otlpMetric(rng: Rng): Obj {
  const start = nowMs(rng);
  const points = <T>(f: (r: Rng, s: number) => T) => Array.from({ length: rng.size(4) + 1 }, () => f(rng, start));
  return rng.weighted<() => Obj>([
    [3, () => ({ name: 'process.memory.usage', unit: 'By', gauge: { dataPoints: points(numberPoint) } })],
    [3, () => ({ name: 'requests', unit: '1', sum: { dataPoints: points(numberPoint), aggregationTemporality: rng.pick([1, 2]), isMonotonic: rng.chance(0.7) } })],
    [
      3,
      () => ({
        name: rng.pick(['http.server.request.duration', 'http.server.duration']),
        unit: rng.pick(['s', 'ms']),
        histogram: { dataPoints: points(histogramPoint), aggregationTemporality: rng.pick([1, 2]) },
      }),
    ],
    [1, () => ({ name: 'latency.exp', unit: 'ms', exponentialHistogram: { dataPoints: points(expHistogramPoint), aggregationTemporality: rng.pick([1, 2]) } })],
    [
      1,
      () => ({
        name: 'summary',
        summary: { dataPoints: [{ startTimeUnixNano: nanos(start), timeUnixNano: nanos(start + 1), count: '3', sum: 1.5, quantileValues: [{ quantile: 0.5, value: 0.4 }, { quantile: 0.99, value: 1 }] }] },
      }),
    ],
  ])();
}

export type OtlpSignalName = 'traces' | 'logs' | 'metrics';

export function otlpRequest(rng: Rng, signal: OtlpSignalName): Obj {
  const resources = rng.size(2) || 1;
  const out: Obj[] = [];
  for (let r = 0; r < resources; r++) {
    const scopes = Array.from({ length: rng.size(2) || 1 }, () => {
      const n = rng.size(10);
      if (signal === 'traces') return { scope: scope(rng), spans: Array.from({ length: n }, () => otlpSpan(rng)) };
      if (signal === 'logs') return { scope: scope(rng), logRecords: Array.from({ length: n }, () => otlpLog(rng)) };
      return { scope: scope(rng), metrics: Array.from({ length: n }, () => otlpMetric(rng)) };
    });
    if (signal === 'traces') out.push({ resource: otlpResource(rng), scopeSpans: scopes });
    else if (signal === 'logs') out.push({ resource: otlpResource(rng), scopeLogs: scopes });
    else out.push({ resource: otlpResource(rng), scopeMetrics: scopes });
  }
  if (signal === 'traces') return { resourceSpans: out };
  if (signal === 'logs') return { resourceLogs: out };
  return { resourceMetrics: out };
}

const HEX_ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * The protobufjs `fromObject` form of an OTLP/JSON object: hex ids become bytes (OTLP/JSON's one
 * departure from the proto3 JSON mapping); everything else protobufjs reads as it is.
 */
export function toProtoObject(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => toProtoObject(x));
  if (v !== null && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v as Obj)) out[k] = toProtoObject(x, k);
    return out;
  }
  if (HEX_ID_KEYS.has(key) && typeof v === 'string') return Buffer.from(v, 'hex');
  // Protobuf strings are UTF-8, where a lone surrogate cannot exist: such a request is refused
  // whole, so valid inputs keep them out (byte mutations still produce invalid UTF-8).
  if (typeof v === 'string' && /[\ud800-\udfff]/.test(v)) return v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  if (typeof v === 'string' && (v === 'NaN' || v === 'Infinity' || v === '-Infinity')) return Number(v);
  return v;
}

// ---- Prometheus / OpenMetrics -----------------------------------------------------------------

function labelValue(rng: Rng): string {
  const raw = rng.chance(0.8) ? rng.pick(['GET', '/items/{id}', '200', 'a b', 'x"y', 'back\\slash', 'line\nbreak']) : unicodeString(rng, 12);
  return raw.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(rng: Rng, extra: string[] = []): string {
  const parts = [...extra];
  const names = ['method', 'handler', 'status', 'le_not', 'code', '__proto__', 'a_b'];
  for (let i = rng.size(3); i > 0; i--) parts.push(`${names.splice(rng.int(names.length), 1)[0]}="${labelValue(rng)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function promNumber(rng: Rng): string {
  return rng.weighted<() => string>([
    [8, () => String(rng.int(100000))],
    [4, () => (rng.float() * 100).toFixed(rng.int(6))],
    [1, () => rng.pick(['NaN', '+Inf', '-Inf', '1e3', '-0', '0x10', '1_000', '.5', '5.', 'Inf'])],
  ])();
}

export function exposition(rng: Rng): string {
  const om = rng.chance(0.4);
  const lines: string[] = [];
  const families = rng.size(8) + 1;
  const used = new Set<string>();
  for (let f = 0; f < families; f++) {
    const type = rng.pick(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
    let name = rng.pick(['http_requests', 'http_request_duration_seconds', 'process_resident_memory_bytes', 'app_' + rng.hex(2)]);
    if (used.has(name)) name = `app_${rng.hex(3)}_${f}`;
    used.add(name);
    const ts = () => (rng.chance(0.2) ? ` ${om ? (1_700_000_000 + rng.int(1000)).toString() : String(1_700_000_000_000 + rng.int(1000))}` : '');
    if (rng.chance(0.7)) lines.push(`# HELP ${name} ${unicodeString(rng, 20).replace(/\n/g, ' ')}`);
    lines.push(`# TYPE ${name} ${type}`);
    if (om && rng.chance(0.3)) lines.push(`# UNIT ${name} seconds`);
    const series = rng.size(4) + 1;
    for (let s = 0; s < series; s++) {
      const lbl = labels(rng);
      const inner = lbl.slice(1, -1);
      const withLe = (le: string) => `{${inner ? inner + ',' : ''}le="${le}"}`;
      switch (type) {
        case 'counter':
          lines.push(`${name}${om || rng.chance(0.5) ? '_total' : ''}${lbl} ${promNumber(rng)}${ts()}${om && rng.chance(0.2) ? ` # {trace_id="${rng.hex(16)}"} 1.0` : ''}`);
          if (rng.chance(0.2)) lines.push(`${name}_created${lbl} ${1_700_000_000 + rng.int(1000)}`);
          break;
        case 'histogram': {
          let cum = 0;
          for (const le of ['0.005', '0.01', '0.1', '1', '10']) {
            cum += rng.int(20);
            lines.push(`${name}_bucket${withLe(le)} ${cum}`);
          }
          lines.push(`${name}_bucket${withLe('+Inf')} ${cum + rng.int(3)}`);
          lines.push(`${name}_sum${lbl} ${(rng.float() * cum).toFixed(3)}`);
          lines.push(`${name}_count${lbl} ${cum}`);
          break;
        }
        case 'summary':
          for (const q of ['0.5', '0.9', '0.99']) lines.push(`${name}{${inner ? inner + ',' : ''}quantile="${q}"} ${promNumber(rng)}`);
          lines.push(`${name}_sum${lbl} ${promNumber(rng)}`);
          lines.push(`${name}_count${lbl} ${rng.int(1000)}`);
          break;
        default:
          lines.push(`${name}${lbl} ${promNumber(rng)}${ts()}`);
      }
    }
  }
  if (om) lines.push('# EOF');
  return lines.join('\n') + (rng.chance(0.9) ? '\n' : '');
}
