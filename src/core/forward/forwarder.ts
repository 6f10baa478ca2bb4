/**
 * Sends on to an upstream OTLP endpoint (a team's OpenTelemetry Collector) everything the local
 * collector received, whatever the transport: spans, logs and metrics from the native agent,
 * OTLP/HTTP, OTLP/gRPC and Prometheus scrapes alike.
 *
 * The local views never wait on it: ingest only appends references to a bounded queue per signal
 * (items past the bound are dropped and counted); a timer takes batches off the queue, redacts,
 * encodes and sends them, one request in flight per signal. A retryable failure keeps the batch at
 * the head of the queue and tries again after an exponential backoff, or after what the upstream
 * asked for (Retry-After); so nothing is lost below the queue bound, however long the upstream is
 * down. A final failure drops the batch, counted. partial_success answers are read and counted.
 */
import type { Counters } from '../counters';
import type { Logger } from '../log';
import type { LogRecord, MetricPoint, Span } from '../model';
import type { TelemetrySink } from '../sink';
import { encodeLogs, encodeMetrics, encodeTraces } from './encode';
import { OutgoingRedactor } from './redact';
import { GrpcTransport, HttpTransport, type ForwardProtocol, type ForwardSignal, type SendResult, type Transport } from './transport';

export type { ForwardProtocol, ForwardSignal } from './transport';

export const FORWARD_SIGNALS: ForwardSignal[] = ['traces', 'logs', 'metrics'];

export interface ForwardOptions {
  /** Base endpoint as in OTEL_EXPORTER_OTLP_ENDPOINT (http://collector:4318); signal paths are appended for HTTP. */
  url: string;
  protocol?: ForwardProtocol;
  /** Sent with every request (Authorization, API keys...). */
  headers?: Record<string, string>;
  /** Signals to forward (default all three). */
  signals?: ForwardSignal[];
  /** Only these services' items (service.name); empty or undefined forwards every service. */
  services?: string[];
  /** Items held per signal, waiting or in flight (default 8192); past it new items are dropped and counted. */
  maxQueue?: number;
  /** Items per request (default 512). */
  maxBatch?: number;
  /** How often queued items are sent (default 1000 ms); a full batch goes at once. */
  flushMs?: number;
  /** Per request (default 10 s). */
  timeoutMs?: number;
  /** First retry delay (default 1 s), doubled each attempt up to maxBackoffMs (default 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** The user's extra redaction patterns (regular expression sources) on top of the built-in ones. */
  redactPatterns?: string[];
  counters?: Counters;
  log: Logger;
}

type Item = Span | LogRecord | MetricPoint;

interface Lane {
  signal: ForwardSignal;
  queue: Item[];
  /** Items and bytes of the batch being sent or waiting to be sent again. */
  inflight?: { count: number; body: Uint8Array; attempts: number };
  busy: boolean;
  retryAt: number;
  timer?: NodeJS.Timeout;
  sent: number;
  dropped: number;
  failed: number;
  rejected: number;
  retries: number;
}

export interface ForwarderState {
  endpoint: string;
  protocol: ForwardProtocol;
  signals: ForwardSignal[];
  services: string[];
  /** ok: the last request succeeded; retrying: the upstream failed and a batch waits to be sent again; failing: the last request failed for good; idle: nothing sent yet. */
  state: 'idle' | 'ok' | 'retrying' | 'failing';
  queueLimit: number;
  queued: Record<ForwardSignal, number>;
  sent: Record<ForwardSignal, number>;
  /** Dropped because the queue was full. */
  dropped: Record<ForwardSignal, number>;
  /** Dropped after a final (non-retryable) failure. */
  failed: Record<ForwardSignal, number>;
  /** Refused by the upstream in partial_success answers. */
  rejectedByUpstream: Record<ForwardSignal, number>;
  retries: number;
  lastSuccessMs?: number;
  lastError?: { message: string; atMs: number };
  lastPartialSuccess?: { signal: ForwardSignal; rejected: number; message: string; atMs: number };
}

const NOUN: Record<ForwardSignal, string> = { traces: 'spans', logs: 'logs', metrics: 'metrics' };

/** The URL without credentials or query, for logs and the state. */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

export class Forwarder {
  private readonly lanes: Record<ForwardSignal, Lane>;
  private readonly transport: Transport;
  private readonly redactor: OutgoingRedactor;
  private readonly services: Set<string> | undefined;
  private readonly signals: Set<ForwardSignal>;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly interval: NodeJS.Timeout;
  private stopped = false;
  private lastSuccessMs: number | undefined;
  private lastError: { message: string; atMs: number } | undefined;
  private lastPartial: ForwarderState['lastPartialSuccess'];
  private lastOutcome: 'idle' | 'ok' | 'failing' = 'idle';
  /** The error last logged; the same one is not logged again until a request succeeds. */
  private reported = '';
  private readonly protocol: ForwardProtocol;

  constructor(private readonly opts: ForwardOptions) {
    const url = new URL(opts.url); // throws on a bad URL: the caller reports it
    if (opts.protocol !== 'grpc' && url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the upstream URL must be http or https, not ${url.protocol}`);
    this.protocol = opts.protocol ?? 'http/protobuf';
    const headers = opts.headers ?? {};
    const timeout = opts.timeoutMs ?? 10_000;
    this.transport = this.protocol === 'grpc' ? new GrpcTransport(opts.url, headers, timeout) : new HttpTransport(opts.url, headers, timeout);
    this.redactor = new OutgoingRedactor(opts.redactPatterns);
    this.services = opts.services?.length ? new Set(opts.services) : undefined;
    this.signals = new Set(opts.signals?.length ? opts.signals : FORWARD_SIGNALS);
    this.maxQueue = Math.max(1, opts.maxQueue ?? 8192);
    this.maxBatch = Math.max(1, opts.maxBatch ?? 512);
    const lane = (signal: ForwardSignal): Lane => ({ signal, queue: [], busy: false, retryAt: 0, sent: 0, dropped: 0, failed: 0, rejected: 0, retries: 0 });
    this.lanes = { traces: lane('traces'), logs: lane('logs'), metrics: lane('metrics') };
    this.interval = setInterval(() => {
      for (const s of FORWARD_SIGNALS) this.pump(this.lanes[s]);
    }, opts.flushMs ?? 1000);
    this.interval.unref();
  }

  /** The sink to put in front of the store: items go on to `inner` first, then are queued here. */
  tee(inner: TelemetrySink): TelemetrySink {
    return {
      addSpans: (spans) => {
        inner.addSpans(spans);
        this.add('traces', spans);
      },
      addLogs: (logs) => {
        inner.addLogs(logs);
        this.add('logs', logs);
      },
      addMetrics: (points) => {
        inner.addMetrics(points);
        this.add('metrics', points);
      },
    };
  }

  /** Queues items; never blocks, never throws. */
  add(signal: ForwardSignal, items: Item[]): void {
    if (this.stopped || !this.signals.has(signal) || items.length === 0) return;
    const lane = this.lanes[signal];
    const held = lane.queue.length + (lane.inflight?.count ?? 0);
    let room = this.maxQueue - held;
    for (const item of items) {
      if (this.services && !this.services.has(item.resource.serviceName)) continue;
      if (room <= 0) {
        lane.dropped++;
        this.opts.counters?.inc(`forward.dropped.${NOUN[signal]}`);
        continue;
      }
      lane.queue.push(item);
      room--;
    }
    if (lane.queue.length >= this.maxBatch && !lane.busy && !lane.inflight) setImmediate(() => this.pump(lane));
  }

  private pump(lane: Lane): void {
    if (lane.busy || this.stopped) return;
    if (lane.inflight) {
      if (Date.now() < lane.retryAt) return;
    } else {
      if (lane.queue.length === 0) return;
      const batch = lane.queue.splice(0, this.maxBatch);
      let body: Uint8Array;
      try {
        body = this.encode(lane.signal, batch);
      } catch (e) {
        lane.failed += batch.length;
        this.opts.counters?.inc(`forward.failed.${NOUN[lane.signal]}`, batch.length);
        this.report(`could not encode ${batch.length} ${NOUN[lane.signal]}: ${(e as Error).message}`);
        return;
      }
      lane.inflight = { count: batch.length, body, attempts: 0 };
    }
    const inflight = lane.inflight;
    lane.busy = true;
    this.transport
      .send(lane.signal, inflight.body)
      .then(
        (r) => this.onResult(lane, r),
        (e: Error) => this.onResult(lane, { ok: false, retryable: true, status: 'error', message: e.message }),
      )
      .finally(() => {
        lane.busy = false;
        // More waiting: go on at once rather than at the next tick of the interval.
        if (!this.stopped && (lane.queue.length >= this.maxBatch || (lane.inflight && lane.retryAt <= Date.now()))) setImmediate(() => this.pump(lane));
      });
  }

  private encode(signal: ForwardSignal, batch: Item[]): Uint8Array {
    const r = this.redactor;
    if (signal === 'traces') return encodeTraces((batch as Span[]).map((s) => r.span(s)));
    if (signal === 'logs') return encodeLogs((batch as LogRecord[]).map((l) => r.log(l)));
    return encodeMetrics((batch as MetricPoint[]).map((p) => r.metric(p)));
  }

  private onResult(lane: Lane, r: SendResult): void {
    const inflight = lane.inflight;
    if (!inflight) return;
    const noun = NOUN[lane.signal];
    if (r.ok) {
      lane.inflight = undefined;
      lane.sent += inflight.count;
      this.opts.counters?.inc(`forward.sent.${noun}`, inflight.count);
      this.lastSuccessMs = Date.now();
      this.lastOutcome = 'ok';
      if (this.reported) this.opts.log.info(`[forward] ${displayUrl(this.opts.url)} accepts again`);
      this.reported = '';
      if (r.rejected || r.partialMessage) {
        lane.rejected += r.rejected ?? 0;
        this.opts.counters?.inc(`forward.rejectedByUpstream.${noun}`, r.rejected ?? 0);
        this.lastPartial = { signal: lane.signal, rejected: r.rejected ?? 0, message: r.partialMessage ?? '', atMs: Date.now() };
        this.opts.log.warn(`[forward] the upstream refused ${r.rejected ?? 0} of ${inflight.count} ${noun}${r.partialMessage ? `: ${r.partialMessage.slice(0, 300)}` : ''}`);
      }
      return;
    }
    const message = `${r.status}${r.message ? `: ${r.message}` : ''}`;
    this.lastError = { message, atMs: Date.now() };
    if (r.retryable) {
      inflight.attempts++;
      lane.retries++;
      this.opts.counters?.inc('forward.retries');
      const base = this.opts.initialBackoffMs ?? 1000;
      const backoff = Math.min(this.opts.maxBackoffMs ?? 30_000, base * 2 ** Math.min(inflight.attempts - 1, 20));
      // Jitter spreads many forwarders' retries; what the upstream asked for is honoured as given.
      const delay = r.retryAfterMs !== undefined ? Math.min(r.retryAfterMs, 5 * 60_000) : backoff * (0.8 + Math.random() * 0.4);
      lane.retryAt = Date.now() + delay;
      this.report(`${displayUrl(this.opts.url)}: ${message}; ${lane.queue.length + inflight.count} ${noun} held, retrying in ${Math.round(delay)} ms`);
      const t = setTimeout(() => this.pump(lane), delay + 5);
      t.unref();
      lane.timer = t;
      return;
    }
    lane.inflight = undefined;
    lane.failed += inflight.count;
    this.opts.counters?.inc(`forward.failed.${noun}`, inflight.count);
    this.lastOutcome = 'failing';
    this.report(`${displayUrl(this.opts.url)}: ${message}; ${inflight.count} ${noun} dropped (not retryable)`);
  }

  /** Logs an error once: the same failure again is counted, not logged, until a request succeeds. */
  private report(message: string): void {
    const kind = message.replace(/\d+/g, '#');
    if (kind === this.reported) return;
    this.reported = kind;
    this.opts.log.warn(`[forward] ${message}`);
  }

  state(): ForwarderState {
    const per = (f: (l: Lane) => number) => ({ traces: f(this.lanes.traces), logs: f(this.lanes.logs), metrics: f(this.lanes.metrics) });
    const retrying = FORWARD_SIGNALS.some((s) => this.lanes[s].inflight && this.lanes[s].inflight!.attempts > 0);
    return {
      endpoint: displayUrl(this.opts.url),
      protocol: this.protocol,
      signals: FORWARD_SIGNALS.filter((s) => this.signals.has(s)),
      services: this.services ? [...this.services] : [],
      state: retrying ? 'retrying' : this.lastOutcome,
      queueLimit: this.maxQueue,
      queued: per((l) => l.queue.length + (l.inflight?.count ?? 0)),
      sent: per((l) => l.sent),
      dropped: per((l) => l.dropped),
      failed: per((l) => l.failed),
      rejectedByUpstream: per((l) => l.rejected),
      retries: this.lanes.traces.retries + this.lanes.logs.retries + this.lanes.metrics.retries,
      ...(this.lastSuccessMs ? { lastSuccessMs: this.lastSuccessMs } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.lastPartial ? { lastPartialSuccess: this.lastPartial } : {}),
    };
  }

  /** Sends what is queued now (tests, shutdown); resolves when the queues are empty or after `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const pending = FORWARD_SIGNALS.some((s) => this.lanes[s].queue.length || this.lanes[s].inflight);
      if (!pending) return true;
      if (Date.now() > end || this.stopped) return false;
      for (const s of FORWARD_SIGNALS) this.pump(this.lanes[s]);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Tries to send what is left for up to `graceMs`, then stops. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.stopped) return;
    await this.flush(graceMs);
    this.stopped = true;
    clearInterval(this.interval);
    for (const s of FORWARD_SIGNALS) if (this.lanes[s].timer) clearTimeout(this.lanes[s].timer);
    this.transport.close();
  }
}
