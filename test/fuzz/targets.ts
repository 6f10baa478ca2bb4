/**
 * The fuzz targets: each feeds random valid and mutated inputs to one entry point, classifies what
 * happened, and checks at the end that the collector counted every rejection it made.
 *
 * In-process targets call the decoders directly (fast: the 100k-case bench runs). The network
 * targets go through a real collector (startRuntime) and compare each reply with what the in-process
 * decoder predicts for the same input, so the transport, the counting and the replies are checked
 * too.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { WebSocket } from 'ws';
import { decodeBatch, parseMessage, ProtocolError } from '../../src/core/collector/nativeProtocol';
import { Counters } from '../../src/core/counters';
import { silentLogger } from '../../src/core/log';
import type { LogRecord, MetricPoint, Resource, Span } from '../../src/core/model';
import { OtlpIngest, type OtlpSignal } from '../../src/core/otlp/ingest';
import { otlpTypes } from '../../src/core/otlp/schema';
import { OtlpMalformedError } from '../../src/core/otlp/values';
import { ExpositionTracker } from '../../src/core/prometheus/convert';
import { parseExposition } from '../../src/core/prometheus/parser';
import { startRuntime, type Runtime } from '../../src/core/runtime';
import { metricsAwareSink } from '../../src/core/stats/histogramRoutes';
import type { TelemetrySink } from '../../src/core/sink';
import { TelemetryStore, type StoreLimits } from '../../src/core/store/store';
import { exposition, nativeHello, nativeMessage, otlpRequest, toProtoObject } from './generators';
import { mutateBytes, mutateJson, mutateText, toJsonText } from './mutate';
import { Rng } from './random';
import { mismatches, reasonKey, type CaseOutcome, type FuzzTarget } from './runner';

/** Small on purpose: the store fills within the warm-up, after which memory must stay flat. */
export const FUZZ_LIMITS: Partial<StoreLimits> = { maxSpans: 2000, maxLogs: 2000, maxBytes: 8 * 1024 * 1024, maxRoutes: 200, maxErrorGroups: 100, maxMetricSeries: 500 };
const MAX_BATCH_ITEMS = 10_000;
const SIGNALS: OtlpSignal[] = ['traces', 'logs', 'metrics'];
const FUZZ_MAX_MESSAGE = 256 * 1024;
const FUZZ_MAX_BODY = 1024 * 1024;

const accepted = (n: number): CaseOutcome => ({ reasons: ['accepted'], rejectedInput: false, acceptedItems: n, rejectedItems: 0 });
const refused = (reason: string): CaseOutcome => ({ reasons: [reason], rejectedInput: true, acceptedItems: 0, rejectedItems: 0 });

function preview(s: string | Buffer): string {
  const text = typeof s === 'string' ? s : s.toString('base64');
  return text.length > 600 ? `${text.slice(0, 600)}… (${text.length} chars)` : text;
}

// ---- native protocol ---------------------------------------------------------------------------

/**
 * Valid inputs made once per target from a fixed seed: most cases mutate one of these (generating a
 * fresh input costs more than decoding it), the others generate a fresh valid input. Being fixed,
 * the corpus does not get in the way of reproducing a case from its seed and index.
 */
const CORPUS_SIZE = 256;
function corpus<T>(make: (rng: Rng) => T): () => (rng: Rng) => T {
  let items: T[] | undefined;
  return () => {
    items ??= Array.from({ length: CORPUS_SIZE }, (_, i) => make(new Rng(0xc0ffee, i)));
    const all = items;
    return (rng) => all[rng.int(all.length)];
  };
}

const nativeCorpus = corpus((rng) => {
  const msg = nativeMessage(rng);
  return { msg, text: JSON.stringify(msg) };
});

/** A native-protocol frame: valid, mutated in structure, or mutated as text. */
export function nativeFrame(rng: Rng): string {
  if (rng.chance(0.15)) return JSON.stringify(nativeMessage(rng));
  if (rng.chance(0.005)) return JSON.stringify({ v: 1, type: 'batch', spans: new Array(MAX_BATCH_ITEMS + 1).fill({}) });
  const { msg, text } = nativeCorpus()(rng);
  return rng.weighted<() => string>([
    [1, () => text],
    [6, () => toJsonText(mutateJson(rng, msg))],
    [3, () => mutateText(rng, text)],
  ])();
}

function batchItems(m: { spans: unknown[]; requests?: { shape: unknown[] }; logs: unknown[]; metrics: unknown[] }): number {
  return m.spans.length + (m.requests ? m.requests.shape.length : 0) + m.logs.length + m.metrics.length;
}

/** What the collector does with one frame on a connection that has (or has not) said hello. */
type Expected =
  | { kind: 'error'; code: string }
  | { kind: 'welcome'; resource: Resource }
  | { kind: 'ack'; accepted: { spans: number; logs: number; metrics: number }; rejected: { spans: number; logs: number; metrics: number }; errors: string[] }
  | { kind: 'none' };

function predict(text: string, helloed: boolean, resource: Resource): Expected {
  let msg;
  try {
    msg = parseMessage(text, MAX_BATCH_ITEMS);
  } catch (e) {
    if (e instanceof ProtocolError) return { kind: 'error', code: e.code };
    throw e;
  }
  if (msg.type === 'hello') return { kind: 'welcome', resource: msg.resource };
  if (msg.type === 'announce') return { kind: 'none' };
  if (!helloed) return { kind: 'error', code: 'no_hello' };
  const d = decodeBatch(msg, resource);
  if (d.errors.length !== d.rejected.spans + d.rejected.logs + d.rejected.metrics) throw new Error(`${d.errors.length} error strings for ${JSON.stringify(d.rejected)} rejected items`);
  const total = d.spans.length + d.logs.length + d.metrics.length + d.rejected.spans + d.rejected.logs + d.rejected.metrics;
  if (total !== batchItems(msg)) throw new Error(`a batch of ${batchItems(msg)} items came out as ${total} accepted + rejected`);
  return { kind: 'ack', accepted: { spans: d.spans.length, logs: d.logs.length, metrics: d.metrics.length }, rejected: d.rejected, errors: d.errors };
}

function outcomeOf(e: Expected): CaseOutcome {
  switch (e.kind) {
    case 'error':
      return refused(`protocol:${e.code}`);
    case 'welcome':
    case 'none':
      return accepted(0);
    case 'ack': {
      const acc = e.accepted.spans + e.accepted.logs + e.accepted.metrics;
      const rej = e.rejected.spans + e.rejected.logs + e.rejected.metrics;
      return { reasons: rej ? e.errors.map(reasonKey) : ['accepted'], rejectedInput: false, acceptedItems: acc, rejectedItems: rej };
    }
  }
}

/** parseMessage + decodeBatch + the store, in process. */
export function nativeTarget(): FuzzTarget {
  const store = new TelemetryStore(FUZZ_LIMITS);
  let resource: Resource = { serviceName: 'fuzz', attributes: {} };
  let last = '';
  const seen = { spans: 0, logs: 0, metrics: 0 };
  return {
    name: 'native (parseMessage/decodeBatch)',
    runCase(rng) {
      last = nativeFrame(rng);
      const e = predict(last, true, resource);
      if (e.kind === 'welcome') resource = e.resource;
      if (e.kind === 'ack') {
        // predict() decoded it already; decode again for the items to store (decoding is pure).
        const d = decodeBatch(parseMessage(last, MAX_BATCH_ITEMS) as Parameters<typeof decodeBatch>[0], resource);
        store.addSpans(d.spans);
        store.addLogs(d.logs);
        store.addMetrics(d.metrics);
        seen.spans += d.spans.length;
        seen.logs += d.logs.length;
        seen.metrics += d.metrics.length;
      }
      return outcomeOf(e);
    },
    lastInput: () => preview(last),
    verify() {
      const c = store.counters;
      const bad = mismatches([
        ['store.spans', seen.spans, c.get('store.spans')],
        ['store.logs', seen.logs, c.get('store.logs')],
        ['store.metrics', seen.metrics, c.get('store.metrics')],
      ]);
      if (bad.length) throw new Error(bad.join('\n'));
      if (store.sizes().spans > FUZZ_LIMITS.maxSpans! || store.sizes().logs > FUZZ_LIMITS.maxLogs!) throw new Error(`store over its limits: ${JSON.stringify(store.sizes())}`);
    },
    close: async () => {},
  };
}

/** A tally of what a network target observed, to compare with the collector's counters. */
class Tally {
  private readonly m = new Map<string, number>();
  add(k: string, n = 1): void {
    if (n) this.m.set(k, (this.m.get(k) ?? 0) + n);
  }
  get(k: string): number {
    return this.m.get(k) ?? 0;
  }
  keys(prefix: string): string[] {
    return [...this.m.keys()].filter((k) => k.startsWith(prefix));
  }
}

async function fuzzRuntime(): Promise<Runtime> {
  return startRuntime({ port: 0, grpcPort: 0, token: 'fuzz-token-0123456789abcdef', log: silentLogger, limits: FUZZ_LIMITS, maxMessageBytes: FUZZ_MAX_MESSAGE, maxBodyBytes: FUZZ_MAX_BODY });
}

interface Agent {
  ws: WebSocket;
  next(timeoutMs: number): Promise<Record<string, unknown> | { closed: number }>;
}

function connectAgent(port: number): Promise<Agent> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { maxPayload: 64 * 1024 * 1024 });
  const queue: (Record<string, unknown> | { closed: number })[] = [];
  let waiter: ((m: Record<string, unknown> | { closed: number }) => void) | undefined;
  const deliver = (m: Record<string, unknown> | { closed: number }) => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(m);
    } else queue.push(m);
  };
  ws.on('message', (d) => deliver(JSON.parse(d.toString()) as Record<string, unknown>));
  ws.on('close', (code) => deliver({ closed: code }));
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        next: (timeoutMs) =>
          queue.length
            ? Promise.resolve(queue.shift()!)
            : new Promise((res, rej) => {
                const t = setTimeout(() => rej(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
                waiter = (m) => {
                  clearTimeout(t);
                  res(m);
                };
              }),
      }),
    );
    ws.once('error', reject);
  });
}

/** The native protocol over a real WebSocket, each reply checked against the in-process prediction. */
export async function nativeWsTarget(): Promise<FuzzTarget> {
  const rt = await fuzzRuntime();
  const port = rt.collector.port;
  let agent = await connectAgent(port);
  let helloed = false;
  let resource: Resource = { serviceName: 'unknown_service', attributes: {} };
  let last = '';
  const tally = new Tally();

  const reconnect = async () => {
    agent.ws.terminate();
    agent = await connectAgent(port);
    helloed = false;
  };

  return {
    name: 'native over WebSocket',
    async runCase(rng) {
      const special = rng.float();
      if (special < 0.002) {
        last = '<binary frame>';
        agent.ws.send(rng.bytes(rng.range(1, 64)), { binary: true });
        const r = await agent.next(5000);
        if (!('closed' in r) || r.closed !== 1003) throw new Error(`binary frame: expected close 1003, got ${JSON.stringify(r)}`);
        tally.add('close.1003');
        await reconnect();
        return refused('close:1003 binary frame');
      }
      if (special < 0.004) {
        last = '<oversized message>';
        agent.ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [], pad: 'x'.repeat(FUZZ_MAX_MESSAGE) }));
        const r = await agent.next(5000);
        if (!('closed' in r) || r.closed !== 1009) throw new Error(`oversized message: expected close 1009, got ${JSON.stringify(r)}`);
        tally.add('close.1009');
        await reconnect();
        return refused('close:1009 message too big');
      }
      // A fresh connection starts with a hello most of the time, as agents do.
      last = !helloed && rng.chance(0.7) ? JSON.stringify(nativeHello(rng)) : nativeFrame(rng);
      if (Buffer.byteLength(last) > FUZZ_MAX_MESSAGE) {
        agent.ws.send(last);
        const r = await agent.next(5000);
        if (!('closed' in r) || r.closed !== 1009) throw new Error(`message of ${Buffer.byteLength(last)} bytes: expected close 1009, got ${JSON.stringify(r).slice(0, 200)}`);
        tally.add('close.1009');
        await reconnect();
        return refused('close:1009 message too big');
      }
      const e = predict(last, helloed, resource);
      agent.ws.send(last);
      if (e.kind === 'none') return accepted(0);
      const r = await agent.next(5000);
      if ('closed' in r) throw new Error(`connection closed (${r.closed}) where ${e.kind} was expected`);
      switch (e.kind) {
        case 'error':
          if (r.type !== 'error' || r.code !== e.code) throw new Error(`expected error ${e.code}, got ${JSON.stringify(r).slice(0, 300)}`);
          tally.add(`error.${e.code}`);
          break;
        case 'welcome':
          if (r.type !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(r).slice(0, 300)}`);
          helloed = true;
          resource = e.resource;
          break;
        case 'ack': {
          const a = r as { type: string; accepted: Record<string, number>; rejected: Record<string, number> };
          if (a.type !== 'ack' || JSON.stringify(a.accepted) !== JSON.stringify(e.accepted) || JSON.stringify(a.rejected) !== JSON.stringify(e.rejected)) {
            throw new Error(`expected ack ${JSON.stringify({ accepted: e.accepted, rejected: e.rejected })}, got ${JSON.stringify(r).slice(0, 300)}`);
          }
          for (const k of ['spans', 'logs', 'metrics'] as const) {
            tally.add(`accepted.${k}`, e.accepted[k]);
            tally.add(`rejected.${k}`, e.rejected[k]);
          }
          break;
        }
      }
      return outcomeOf(e);
    },
    lastInput: () => preview(last),
    async verify() {
      const c = rt.counters;
      const pairs: [string, number, number][] = [
        ['ws.rejected.binary', tally.get('close.1003'), c.get('ws.rejected.binary')],
        ['ws.rejected.too_big', tally.get('close.1009'), c.get('ws.rejected.too_big')],
        ['ws.internalError', 0, c.get('ws.internalError')],
        ['ws.rejected.protocol', 0, c.get('ws.rejected.protocol')],
      ];
      for (const code of ['bad_json', 'bad_message', 'unsupported_version', 'unknown_type', 'no_hello', 'too_many_items']) pairs.push([`ws.rejected.${code}`, tally.get(`error.${code}`), c.get(`ws.rejected.${code}`)]);
      for (const k of ['spans', 'logs', 'metrics']) {
        pairs.push([`ws.accepted.${k}`, tally.get(`accepted.${k}`), c.get(`ws.accepted.${k}`)]);
        pairs.push([`ws.rejected.${k}`, tally.get(`rejected.${k}`), c.get(`ws.rejected.${k}`)]);
        pairs.push([`store.${k}`, tally.get(`accepted.${k}`), c.get(`store.${k}`)]);
      }
      const bad = mismatches(pairs);
      if (bad.length) throw new Error(bad.join('\n'));
      await assertHealthy(port);
    },
    async close() {
      agent.ws.terminate();
      await rt.stop();
    },
  };
}

// ---- OTLP ----------------------------------------------------------------------------------------

const COUNTER_NOUN: Record<OtlpSignal, string> = { traces: 'spans', logs: 'logs', metrics: 'datapoints' };

function requestType(signal: OtlpSignal) {
  const t = otlpTypes();
  return signal === 'traces' ? t.traceRequest : signal === 'logs' ? t.logsRequest : t.metricsRequest;
}

/** An OTLP body: valid, mutated in structure, or (for protobuf) mutated as bytes. */
const otlpCorpus = Object.fromEntries(
  SIGNALS.map((signal) => [
    signal,
    corpus((rng) => {
      const req = otlpRequest(rng, signal);
      const type = requestType(signal);
      return { req, json: Buffer.from(JSON.stringify(req)), proto: Buffer.from(type.encode(type.fromObject(toProtoObject(req) as Record<string, unknown>)).finish()) };
    }),
  ]),
) as Record<OtlpSignal, () => (rng: Rng) => { req: Record<string, unknown>; json: Buffer; proto: Buffer }>;

export function otlpBody(rng: Rng, signal: OtlpSignal, format: 'json' | 'protobuf'): Buffer {
  const type = requestType(signal);
  const encode = (o: unknown) => Buffer.from(type.encode(type.fromObject(o as Record<string, unknown>)).finish());
  if (rng.chance(0.15)) {
    const fresh = otlpRequest(rng, signal);
    return format === 'json' ? Buffer.from(JSON.stringify(fresh)) : encode(toProtoObject(fresh));
  }
  const { req, json, proto } = otlpCorpus[signal]()(rng);
  if (format === 'json') {
    return rng.weighted<() => Buffer>([
      [1, () => json],
      [6, () => Buffer.from(toJsonText(mutateJson(rng, req)))],
      [3, () => mutateBytes(rng, json)],
    ])();
  }
  const valid = proto;
  return rng.weighted<() => Buffer>([
    [1, () => valid],
    [6, () => mutateBytes(rng, valid)],
    [
      2,
      () => {
        // Structure mutated before encoding: wrong-typed fields protobufjs still writes.
        try {
          return encode(toProtoObject(mutateJson(rng, req)));
        } catch {
          return mutateBytes(rng, valid);
        }
      },
    ],
  ])();
}

interface Predicted {
  status: 200 | 400;
  accepted: number;
  rejected: number;
  reasons: string[];
}

function reasonsOf(errorMessage: string): string[] {
  // "rejected 3 spans: invalid trace id (2), end before start (1)"
  const m = /^rejected \d+ [a-z ]+: (.*)$/s.exec(errorMessage);
  if (!m) return [reasonKey(errorMessage)];
  return m[1].split(/\), /).map((p) => reasonKey(p.replace(/ \(\d+\)?$/, '').replace(/\)$/, '')));
}

function ingestOnce(ingest: OtlpIngest, signal: OtlpSignal, format: 'json' | 'protobuf', body: Buffer): Predicted {
  try {
    const r = ingest.ingest(signal, format, body);
    return { status: 200, accepted: r.accepted, rejected: r.rejected, reasons: r.rejected ? reasonsOf(r.errorMessage) : ['accepted'] };
  } catch (e) {
    if (e instanceof OtlpMalformedError) return { status: 400, accepted: 0, rejected: 0, reasons: [`malformed: ${reasonKey(e.message.split(':')[0])}`] };
    throw e;
  }
}

/** Decoding, mapping and validation in process, into a bounded store. */
export function otlpTarget(format: 'json' | 'protobuf'): FuzzTarget {
  const store = new TelemetryStore(FUZZ_LIMITS);
  const counters = store.counters;
  const ingest = new OtlpIngest(metricsAwareSink(store), { counters, log: silentLogger });
  const tally = new Tally();
  let last: Buffer = Buffer.alloc(0);
  return {
    name: `OTLP ${format === 'json' ? 'JSON' : 'protobuf'} (decode + map + store)`,
    runCase(rng) {
      const signal = rng.pick(SIGNALS);
      last = otlpBody(rng, signal, format);
      const p = ingestOnce(ingest, signal, format, last);
      tally.add(`accepted.${signal}`, p.accepted);
      tally.add(`rejected.${signal}`, p.rejected);
      if (p.status === 400) return { reasons: p.reasons, rejectedInput: true, acceptedItems: 0, rejectedItems: 0 };
      return { reasons: p.reasons, rejectedInput: false, acceptedItems: p.accepted, rejectedItems: p.rejected };
    },
    lastInput: () => preview(format === 'json' ? last.toString('utf8') : last),
    verify() {
      const pairs: [string, number, number][] = [];
      for (const s of SIGNALS) {
        pairs.push([`otlp.${COUNTER_NOUN[s]}.accepted`, tally.get(`accepted.${s}`), counters.get(`otlp.${COUNTER_NOUN[s]}.accepted`)]);
        pairs.push([`otlp.${COUNTER_NOUN[s]}.rejected`, tally.get(`rejected.${s}`), counters.get(`otlp.${COUNTER_NOUN[s]}.rejected`)]);
      }
      pairs.push(['store.spans', tally.get('accepted.traces'), counters.get('store.spans')]);
      pairs.push(['store.logs', tally.get('accepted.logs'), counters.get('store.logs')]);
      const bad = mismatches(pairs);
      if (bad.length) throw new Error(bad.join('\n'));
    },
    close: async () => {},
  };
}

/** A sink that keeps nothing: the prediction side of the network targets. */
const nullSink: TelemetrySink = { addSpans: (_s: Span[]) => {}, addLogs: (_l: LogRecord[]) => {}, addMetrics: (_m: MetricPoint[]) => {} };

function post(port: number, path: string, headers: http.OutgoingHttpHeaders, body: Buffer, agent: http.Agent): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'Content-Length': body.length }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function partialRejected(signal: OtlpSignal, format: 'json' | 'protobuf', body: Buffer): number {
  if (body.length === 0) return 0;
  const field = signal === 'traces' ? 'rejectedSpans' : signal === 'logs' ? 'rejectedLogRecords' : 'rejectedDataPoints';
  if (format === 'json') {
    const o = JSON.parse(body.toString('utf8')) as { partialSuccess?: Record<string, string> };
    return Number(o.partialSuccess?.[field] ?? 0);
  }
  const t = otlpTypes();
  const type = signal === 'traces' ? t.traceResponse : signal === 'logs' ? t.logsResponse : t.metricsResponse;
  const o = type.toObject(type.decode(body), { longs: Number }) as { partialSuccess?: Record<string, number> };
  return Number(o.partialSuccess?.[field] ?? 0);
}

/**
 * OTLP/HTTP against a real collector: bodies in both encodings, some gzipped (a few of those corrupt
 * or bombs), some with content types a browser could send without a preflight, some over the limit.
 */
export async function otlpHttpTarget(): Promise<FuzzTarget> {
  const rt = await fuzzRuntime();
  const port = rt.collector.port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const oracle = new OtlpIngest(nullSink, { counters: new Counters(), log: silentLogger });
  const tally = new Tally();
  let last = '';
  return {
    name: 'OTLP/HTTP (real collector)',
    async runCase(rng) {
      const signal = rng.pick(SIGNALS);
      const format = rng.chance(0.5) ? 'json' : 'protobuf';
      let body = otlpBody(rng, signal, format);
      let expected: Predicted | { status: number; reasons: string[]; accepted: 0; rejected: 0 };
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': format === 'json' ? 'application/json' : 'application/x-protobuf' };
      const special = rng.float();
      if (special < 0.03) {
        headers['Content-Type'] = rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '']);
        if (headers['Content-Type'] === '') delete headers['Content-Type'];
        expected = { status: 415, reasons: ['415 content type'], accepted: 0, rejected: 0 };
      } else if (special < 0.05) {
        body = Buffer.concat([body, Buffer.alloc(FUZZ_MAX_BODY + 1 - Math.min(body.length, FUZZ_MAX_BODY), 0x20)]);
        expected = { status: 413, reasons: ['413 body too large'], accepted: 0, rejected: 0 };
      } else if (special < 0.06) {
        headers['Content-Encoding'] = 'gzip';
        body = zlib.gzipSync(Buffer.alloc(FUZZ_MAX_BODY * 4, 0x20), { level: 9 });
        expected = { status: 413, reasons: ['413 gzip bomb'], accepted: 0, rejected: 0 };
      } else if (special < 0.08) {
        headers['Content-Encoding'] = 'gzip';
        const gz = zlib.gzipSync(body);
        body = mutateBytes(rng, gz);
        // Corruption that happens to leave a valid stream is decided by the decoder, not by us.
        let inflated: Buffer | undefined;
        try {
          inflated = body.length ? zlib.gunzipSync(body) : Buffer.alloc(0);
        } catch {
          inflated = undefined;
        }
        expected = inflated === undefined ? { status: 400, reasons: ['400 corrupt gzip'], accepted: 0, rejected: 0 } : inflated.length > FUZZ_MAX_BODY ? { status: 413, reasons: ['413 body too large'], accepted: 0, rejected: 0 } : ingestOnce(oracle, signal, format, inflated);
      } else if (special < 0.2) {
        headers['Content-Encoding'] = 'gzip';
        expected = body.length > FUZZ_MAX_BODY ? { status: 413, reasons: ['413 body too large'], accepted: 0, rejected: 0 } : ingestOnce(oracle, signal, format, body);
        body = zlib.gzipSync(body);
      } else {
        expected = body.length > FUZZ_MAX_BODY ? { status: 413, reasons: ['413 body too large'], accepted: 0, rejected: 0 } : ingestOnce(oracle, signal, format, body);
      }
      last = `${JSON.stringify(headers)} ${preview(body)}`;
      let res;
      try {
        res = await post(port, `/v1/${signal}`, headers, body, agent);
      } catch (e) {
        // Refused for its declared length, the connection closes while the client is still
        // uploading: the client may see the reset before the 413 (the server counted it anyway).
        const code = (e as NodeJS.ErrnoException).code;
        if (expected.status === 413 && body.length > FUZZ_MAX_BODY && (code === 'ECONNRESET' || code === 'EPIPE')) {
          tally.add('status.413');
          return { reasons: [`413 (${code} while uploading)`], rejectedInput: true, acceptedItems: 0, rejectedItems: 0 };
        }
        throw e;
      }
      if (res.status !== expected.status) throw new Error(`expected ${expected.status}, got ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
      tally.add(`status.${res.status}`);
      if (res.status === 200) {
        const rej = partialRejected(signal, format, res.body);
        if (rej !== expected.rejected) throw new Error(`expected ${expected.rejected} rejected, the response says ${rej}`);
        tally.add(`accepted.${signal}`, expected.accepted);
        tally.add(`rejected.${signal}`, rej);
        return { reasons: expected.reasons, rejectedInput: false, acceptedItems: expected.accepted, rejectedItems: rej };
      }
      return { reasons: expected.reasons, rejectedInput: true, acceptedItems: 0, rejectedItems: 0 };
    },
    lastInput: () => last,
    async verify() {
      const c = rt.counters;
      const pairs: [string, number, number][] = [];
      for (const s of [400, 413, 415, 500]) pairs.push([`otlp.http.rejected.${s}`, tally.get(`status.${s}`), c.get(`otlp.http.rejected.${s}`)]);
      for (const s of SIGNALS) {
        pairs.push([`otlp.${COUNTER_NOUN[s]}.accepted`, tally.get(`accepted.${s}`), c.get(`otlp.${COUNTER_NOUN[s]}.accepted`)]);
        pairs.push([`otlp.${COUNTER_NOUN[s]}.rejected`, tally.get(`rejected.${s}`), c.get(`otlp.${COUNTER_NOUN[s]}.rejected`)]);
      }
      pairs.push(['store.spans', tally.get('accepted.traces'), c.get('store.spans')]);
      pairs.push(['store.logs', tally.get('accepted.logs'), c.get('store.logs')]);
      const bad = mismatches(pairs);
      if (bad.length) throw new Error(bad.join('\n'));
      await assertHealthy(port);
    },
    async close() {
      agent.destroy();
      await rt.stop();
    },
  };
}

const GRPC_PATHS: Record<OtlpSignal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

/** OTLP/gRPC against a real collector with raw (mutated) protobuf messages. */
export async function otlpGrpcTarget(): Promise<FuzzTarget> {
  const runtime = await startGrpcRuntime();
  const client = new grpc.Client(`127.0.0.1:${runtime.grpcPort}`, grpc.credentials.createInsecure());
  const oracle = new OtlpIngest(nullSink, { counters: new Counters(), log: silentLogger });
  const tally = new Tally();
  let last: Buffer = Buffer.alloc(0);
  const raw = (b: Buffer) => b;
  return {
    name: 'OTLP/gRPC (real collector)',
    async runCase(rng) {
      const signal = rng.pick(SIGNALS);
      last = otlpBody(rng, signal, 'protobuf');
      const expected = last.length > FUZZ_MAX_BODY ? undefined : ingestOnce(oracle, signal, 'protobuf', last);
      const code = await new Promise<number>((resolve) => {
        client.makeUnaryRequest(GRPC_PATHS[signal], raw, raw, last, (err) => resolve(err ? (err.code ?? -1) : 0));
      });
      const want = expected === undefined ? grpc.status.RESOURCE_EXHAUSTED : expected.status === 200 ? grpc.status.OK : grpc.status.INVALID_ARGUMENT;
      if (code !== want) throw new Error(`expected gRPC status ${want}, got ${code}`);
      tally.add(`code.${code}`);
      if (!expected) return refused('RESOURCE_EXHAUSTED');
      tally.add(`accepted.${signal}`, expected.accepted);
      tally.add(`rejected.${signal}`, expected.rejected);
      if (expected.status === 400) return { reasons: expected.reasons, rejectedInput: true, acceptedItems: 0, rejectedItems: 0 };
      return { reasons: expected.reasons, rejectedInput: false, acceptedItems: expected.accepted, rejectedItems: expected.rejected };
    },
    lastInput: () => preview(last),
    verify() {
      const c = runtime.counters;
      const pairs: [string, number, number][] = [
        ['otlp.grpc.rejected.invalid_argument', tally.get(`code.${grpc.status.INVALID_ARGUMENT}`), c.get('otlp.grpc.rejected.invalid_argument')],
        ['otlp.grpc.rejected.internal', 0, c.get('otlp.grpc.rejected.internal')],
      ];
      for (const s of SIGNALS) {
        pairs.push([`otlp.${COUNTER_NOUN[s]}.accepted`, tally.get(`accepted.${s}`), c.get(`otlp.${COUNTER_NOUN[s]}.accepted`)]);
        pairs.push([`otlp.${COUNTER_NOUN[s]}.rejected`, tally.get(`rejected.${s}`), c.get(`otlp.${COUNTER_NOUN[s]}.rejected`)]);
      }
      const bad = mismatches(pairs);
      if (bad.length) throw new Error(bad.join('\n'));
    },
    async close() {
      client.close();
      await runtime.stop();
    },
  };
}

async function startGrpcRuntime(): Promise<Runtime> {
  // startRuntime treats grpcPort 0 as "off", so pick a free port first.
  for (let attempt = 0; ; attempt++) {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const rt = await startRuntime({ port: 0, grpcPort: port, token: 'fuzz-token-0123456789abcdef', log: silentLogger, limits: FUZZ_LIMITS, maxBodyBytes: FUZZ_MAX_BODY });
    if (rt.grpcPort || attempt >= 5) return rt;
    await rt.stop();
  }
}

// ---- Prometheus ------------------------------------------------------------------------------

const promCorpus = corpus(exposition);

/** The exposition parser and the scrape-to-points conversion, into a bounded store. */
export function prometheusTarget(): FuzzTarget {
  const store = new TelemetryStore(FUZZ_LIMITS);
  const tracker = new ExpositionTracker();
  const resource: Resource = { serviceName: 'prom', attributes: { 'service.name': 'prom' } };
  const watchStartMs = Date.now();
  let scrape = 0;
  let last = '';
  let points = 0;
  return {
    name: 'Prometheus exposition parser',
    runCase(rng) {
      const text = rng.chance(0.15) ? exposition(rng) : promCorpus()(rng);
      last = rng.weighted<() => string>([
        [2, () => text],
        [6, () => mutateText(rng, text)],
        [1, () => text.split('\n').sort(() => rng.float() - 0.5).join('\n')],
        [1, () => text.replace(/ (\S+)(\n|$)/g, (m, _v: string, nl: string) => (rng.chance(0.3) ? ` ${rng.pick(['1e999', '-1e999', 'nan', '0x1p3', '1,5', '', '++1', '9'.repeat(400)])}${nl}` : m))],
      ])();
      const r = parseExposition(last);
      const internal = r.errors.find((e) => e.message.startsWith('internal parser error'));
      if (internal) throw new Error(internal.message);
      const lines = last.split('\n');
      const sampleLines = lines.filter((l) => l.trim() !== '' && !l.startsWith('#')).length;
      if (r.errors.length !== Math.min(r.errorCount, 100)) throw new Error(`${r.errors.length} errors kept of ${r.errorCount} counted`);
      // "missing # EOF" is reported on the line after the last.
      for (const e of r.errors) if (!(e.line >= 1 && e.line <= lines.length + 1)) throw new Error(`error on line ${e.line} of ${lines.length}`);
      let held = 0;
      for (const f of r.families) held += f.samples.length;
      // Samples read can exceed those held: `_created` gauges of the text format fold into their series.
      if (held > r.sampleCount || r.sampleCount > sampleLines) throw new Error(`${sampleLines} sample lines, sampleCount ${r.sampleCount}, families hold ${held}`);
      if (sampleLines > 0 && r.sampleCount === 0 && r.errorCount === 0) throw new Error(`${sampleLines} sample lines gave neither samples nor errors`);
      const { points: pts } = tracker.convert(r, { resource, scrapeMs: watchStartMs + ++scrape * 1000, hasBaseline: scrape > 1, watchStartMs });
      for (const p of pts) if (typeof p.timeMs !== 'number' || Number.isNaN(p.timeMs)) throw new Error(`point ${p.name} without a time`);
      store.addMetrics(pts);
      points += pts.length;
      return {
        reasons: r.errorCount ? r.errors.slice(0, 3).map((e) => reasonKey(e.message)) : ['accepted'],
        rejectedInput: r.sampleCount === 0 && r.errorCount > 0,
        acceptedItems: r.sampleCount,
        rejectedItems: r.errorCount,
      };
    },
    lastInput: () => preview(last),
    verify() {
      const bad = mismatches([['store.metrics', points, store.counters.get('store.metrics')]]);
      if (bad.length) throw new Error(bad.join('\n'));
      if (tracker.size > 1_000_000) throw new Error(`the tracker holds ${tracker.size} series`);
    },
    close: async () => {},
  };
}

async function assertHealthy(port: number): Promise<void> {
  const status = await new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
  if (status !== 200) throw new Error(`/healthz answered ${status} after the run`);
}

export type TargetName = 'native' | 'native-ws' | 'otlp-json' | 'otlp-protobuf' | 'otlp-http' | 'otlp-grpc' | 'prometheus';
export const TARGETS: TargetName[] = ['native', 'native-ws', 'otlp-json', 'otlp-protobuf', 'otlp-http', 'otlp-grpc', 'prometheus'];

export async function makeTarget(name: TargetName): Promise<FuzzTarget | undefined> {
  switch (name) {
    case 'native':
      return nativeTarget();
    case 'native-ws':
      return nativeWsTarget();
    case 'otlp-json':
      return otlpTarget('json');
    case 'otlp-protobuf':
      return otlpTarget('protobuf');
    case 'otlp-http':
      return otlpHttpTarget();
    case 'otlp-grpc':
      return otlpGrpcTarget();
    case 'prometheus':
      return prometheusTarget();
  }
}
