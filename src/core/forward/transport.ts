/**
 * One OTLP export request to the upstream, over HTTP (protobuf, gzip) or gRPC (gzip), and how its
 * answer reads: success (with any partial_success), retryable (and after how long) or not.
 * Retry rules from the OTLP specification: HTTP 429, 502, 503, 504 and connection failures are
 * retried, honouring Retry-After; gRPC CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED,
 * OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retried; everything else is final.
 */
import * as grpc from '@grpc/grpc-js';
import * as http from 'node:http';
import * as https from 'node:https';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { otlpTypes } from '../otlp/schema';

export type ForwardSignal = 'traces' | 'logs' | 'metrics';
export type ForwardProtocol = 'http/protobuf' | 'grpc';

export interface SendResult {
  ok: boolean;
  retryable: boolean;
  /** The upstream asked for this delay (Retry-After). */
  retryAfterMs?: number;
  /** `HTTP 503`, `gRPC UNAVAILABLE`, `connection refused`... */
  status: string;
  message?: string;
  /** partial_success: items the upstream accepted the request but refused. */
  rejected?: number;
  partialMessage?: string;
}

export interface Transport {
  send(signal: ForwardSignal, body: Uint8Array): Promise<SendResult>;
  close(): void;
}

const gzip = promisify(zlib.gzip);

const HTTP_PATHS: Record<ForwardSignal, string> = { traces: '/v1/traces', metrics: '/v1/metrics', logs: '/v1/logs' };
const GRPC_PATHS: Record<ForwardSignal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};
const REJECTED_FIELD: Record<ForwardSignal, string> = { traces: 'rejectedSpans', logs: 'rejectedLogRecords', metrics: 'rejectedDataPoints' };

/** Reads partial_success from an Export*ServiceResponse (protobuf). */
export function readPartialSuccess(signal: ForwardSignal, body: Buffer): { rejected: number; message: string } | undefined {
  if (!body.length) return undefined;
  const t = otlpTypes();
  const type = signal === 'traces' ? t.traceResponse : signal === 'logs' ? t.logsResponse : t.metricsResponse;
  try {
    const msg = type.toObject(type.decode(body), { longs: Number }) as { partialSuccess?: Record<string, unknown> };
    const p = msg.partialSuccess;
    if (!p) return undefined;
    const rejected = Number(p[REJECTED_FIELD[signal]] ?? 0);
    const message = typeof p.errorMessage === 'string' ? p.errorMessage : '';
    if (!rejected && !message) return undefined;
    return { rejected, message };
  } catch {
    return undefined;
  }
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const d = Date.parse(t);
  return Number.isFinite(d) ? Math.max(0, d - now) : undefined;
}

const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);

/** The endpoint's base URL (OTEL_EXPORTER_OTLP_ENDPOINT style) with the signal path appended. */
export function signalUrl(base: string, signal: ForwardSignal): URL {
  const u = new URL(base);
  const path = u.pathname.replace(/\/+$/, '');
  // Given a signal URL already (…/v1/traces), use its prefix.
  const prefix = path.replace(/\/v1\/(traces|logs|metrics)$/, '');
  u.pathname = prefix + HTTP_PATHS[signal];
  return u;
}

export class HttpTransport implements Transport {
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(
    private readonly base: string,
    private readonly headers: Record<string, string>,
    private readonly timeoutMs: number,
  ) {
    this.agents = { http: new http.Agent({ keepAlive: true, maxSockets: 4 }), https: new https.Agent({ keepAlive: true, maxSockets: 4 }) };
  }

  async send(signal: ForwardSignal, body: Uint8Array): Promise<SendResult> {
    const url = signalUrl(this.base, signal);
    // Level 1: most of the size saving for a fraction of the CPU of the default level (bench/forward.mjs).
    const payload = await gzip(body, { level: 1 });
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<SendResult>((resolve) => {
      const req = lib.request(
        url,
        {
          method: 'POST',
          agent: url.protocol === 'https:' ? this.agents.https : this.agents.http,
          headers: { ...this.headers, 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip', 'Content-Length': payload.length, 'User-Agent': 'routelens-forwarder' },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= 1024 * 1024) chunks.push(c);
          });
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            const text = Buffer.concat(chunks);
            if (code >= 200 && code < 300) {
              const p = (res.headers['content-type'] ?? '').includes('json') ? jsonPartial(signal, text) : readPartialSuccess(signal, text);
              return resolve({ ok: true, retryable: false, status: `HTTP ${code}`, ...(p ? { rejected: p.rejected, partialMessage: p.message } : {}) });
            }
            resolve({
              ok: false,
              retryable: RETRYABLE_HTTP.has(code),
              retryAfterMs: parseRetryAfter(res.headers['retry-after'] as string | undefined),
              status: `HTTP ${code}`,
              message: errorText(text, res.headers['content-type']),
            });
          });
          res.on('error', (e) => resolve({ ok: false, retryable: true, status: 'connection error', message: e.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, retryable: true, status: e.code === 'ECONNREFUSED' ? 'connection refused' : 'connection error', message: e.message }));
      req.end(payload);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function jsonPartial(signal: ForwardSignal, body: Buffer): { rejected: number; message: string } | undefined {
  try {
    const p = (JSON.parse(body.toString('utf8')) as { partialSuccess?: Record<string, unknown> }).partialSuccess;
    if (!p) return undefined;
    const rejected = Number(p[REJECTED_FIELD[signal]] ?? 0);
    const message = typeof p.errorMessage === 'string' ? p.errorMessage : '';
    return rejected || message ? { rejected, message } : undefined;
  } catch {
    return undefined;
  }
}

/** The message of a google.rpc.Status body (protobuf or JSON), or the start of the text. */
function errorText(body: Buffer, contentType: string | undefined): string {
  if (!body.length) return '';
  if ((contentType ?? '').includes('protobuf')) {
    try {
      const t = otlpTypes().status;
      const s = t.toObject(t.decode(body)) as { message?: string };
      if (s.message) return s.message.slice(0, 300);
    } catch {
      // not a Status: fall through to the text
    }
  }
  return body.toString('utf8').replace(/\s+/g, ' ').slice(0, 300);
}

const RETRYABLE_GRPC = new Set([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

export class GrpcTransport implements Transport {
  private readonly client: grpc.Client;

  constructor(
    base: string,
    private readonly headers: Record<string, string>,
    private readonly timeoutMs: number,
  ) {
    const u = new URL(base.includes('://') ? base : `http://${base}`);
    const port = u.port || (u.protocol === 'https:' ? '443' : '4317');
    const creds = u.protocol === 'https:' ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    this.client = new grpc.Client(`${u.hostname}:${port}`, creds, {
      'grpc.default_compression_algorithm': 2, // gzip
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5000,
    });
  }

  send(signal: ForwardSignal, body: Uint8Array): Promise<SendResult> {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.headers)) md.set(k.toLowerCase(), v);
    return new Promise((resolve) => {
      this.client.makeUnaryRequest<Uint8Array, Buffer>(
        GRPC_PATHS[signal],
        (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        (b) => b,
        body,
        md,
        { deadline: Date.now() + this.timeoutMs },
        (err, value) => {
          if (err) {
            const pushback = err.metadata?.get('grpc-retry-pushback-ms')?.[0];
            return resolve({
              ok: false,
              retryable: RETRYABLE_GRPC.has(err.code),
              retryAfterMs: pushback !== undefined ? Number(pushback) || undefined : undefined,
              status: `gRPC ${grpc.status[err.code] ?? err.code}`,
              message: err.details,
            });
          }
          const p = value ? readPartialSuccess(signal, value) : undefined;
          resolve({ ok: true, retryable: false, status: 'gRPC OK', ...(p ? { rejected: p.rejected, partialMessage: p.message } : {}) });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
