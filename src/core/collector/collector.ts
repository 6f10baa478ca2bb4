import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { Counters } from '../counters';
import { withPrefix, type Logger } from '../log';
import type { Resource } from '../model';
import type { TelemetrySink } from '../sink';
import type { TelemetryStore } from '../store/store';
import type { LiveHub } from './live';
import { exposedHostNames, isAllowedHost, isAllowedOrigin, isLoopbackAddress } from './hostCheck';
import { DeliveryLedger } from './deliveryLedger';
import { decodeBatch, parseMessage, ProtocolError, PROTOCOL_VERSION } from './nativeProtocol';
import { handleQuery, type QueryExtensions } from './queryApi';
import { SocketGuard } from './socketGuard';
import { ProcessStats } from './processStats';
import { tokenMatches } from './token';

export const VERSION = '0.1.0';

/** Longest run of agent messages handled in one event-loop turn (see startTurn). */
const TURN_BUDGET_MS = 10;

/** Limits and timeouts; the defaults suit a local tool, tests lower them. */
export interface CollectorTuning {
  maxMessageBytes?: number;
  maxBodyBytes?: number;
  maxBatchItems?: number;
  /** Agent WebSocket connections at once; more are refused with 503 before the upgrade. */
  maxConnections?: number;
  /** TCP connections the HTTP server holds at once, WebSockets included (see SocketGuard). */
  maxSockets?: number;
  /** Time for a request's headers to arrive; a slower client gets 408 and is disconnected. */
  headersTimeoutMs?: number;
  /** Time for a whole request, body included. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs?: number;
  /** WebSocket ping interval; a connection that misses a pong by the next ping is cut. */
  heartbeatMs?: number;
}

export interface CollectorOptions extends CollectorTuning {
  store: TelemetryStore;
  /** Where decoded native-protocol items go (default: the store). */
  sink?: TelemetrySink;
  /** Serves the token-protected live stream at /api/v1/live (other windows attach through it). */
  live?: LiveHub;
  token: string;
  log: Logger;
  /** 0 picks a free port (tests). */
  port: number;
  /**
   * Listen address (default 127.0.0.1). Beyond loopback (0.0.0.0, a LAN or bridge address) the
   * collector also answers to the names containers reach the machine by, and ingest needs the token.
   */
  host?: string;
  /** Ingest (WebSocket agent, OTLP/HTTP) needs "Authorization: Bearer <token>" even on loopback (shared hosts). */
  requireTokenForIngest?: boolean;
  counters?: Counters;
  allowedOrigins?: string[];
  /** OTLP/HTTP handler for POST /v1/{traces,logs,metrics}; the collector checks Host and Origin first. */
  otlpHttp?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Called when an agent announces Prometheus endpoints. */
  onAnnounce?: (service: string, urls: string[]) => void;
}

export const DEFAULTS = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxBodyBytes: 16 * 1024 * 1024,
  maxBatchItems: 10_000,
  maxConnections: 256,
  maxSockets: 512,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  heartbeatMs: 30_000,
};

interface Connection {
  id: number;
  resource?: Resource;
  alive: boolean;
  remote: string;
  /** The collector closed or cut this connection (refusal, unresponsive, shutting down). */
  endedByCollector?: boolean;
}

export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} on 127.0.0.1 is already in use (another Routelens window, an OpenTelemetry Collector, or another app)`);
  }
}

/**
 * The local collector: one HTTP server on loopback serving the native WebSocket endpoint, OTLP/HTTP,
 * a health check and the read-only query API. It holds no vscode import and runs as well from the CLI.
 */
export class Collector {
  readonly counters: Counters;
  private readonly log: Logger;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  readonly sockets: SocketGuard;
  process: ProcessStats | undefined;
  /** Set by the runtime when forwarding or a remote Prometheus is configured. */
  upstream: QueryExtensions | undefined;
  private readonly connections = new Map<WebSocket, Connection>();
  /** Batches already stored, by agent instance and sequence number (resends are not stored twice). */
  private readonly ledger = new DeliveryLedger();
  private heartbeat: NodeJS.Timeout | undefined;
  private nextId = 1;
  private listeningPort = 0;
  private readonly startedAt = Date.now();
  private readonly opts: Required<Omit<CollectorOptions, 'otlpHttp' | 'onAnnounce' | 'counters' | 'sink' | 'live'>> & Pick<CollectorOptions, 'otlpHttp' | 'onAnnounce' | 'live'> & { sink: TelemetrySink };
  private logBudget = { second: 0, used: 0 };
  private turnStartedAt = 0;
  private yielding = false;

  /** Host names beyond loopback this collector answers to (empty while it listens on loopback). */
  private readonly extraHostNames: ReadonlySet<string>;
  /** Whether ingest needs the token: asked for, or implied by listening beyond loopback. */
  readonly ingestNeedsToken: boolean;

  constructor(options: CollectorOptions) {
    this.opts = {
      host: '127.0.0.1',
      requireTokenForIngest: false,
      allowedOrigins: [],
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
      sink: options.sink ?? options.store,
    } as unknown as typeof this.opts;
    this.counters = options.counters ?? options.store.counters;
    this.log = withPrefix(options.log, 'collector');
    const exposed = !isLoopbackAddress(this.opts.host);
    this.extraHostNames = exposed ? exposedHostNames(this.opts.host) : new Set();
    this.ingestNeedsToken = exposed || this.opts.requireTokenForIngest;
    const { headersTimeoutMs, requestTimeoutMs } = this.opts;
    this.server = http.createServer(
      {
        maxHeaderSize: 16 * 1024,
        // A request without Host goes to the loopback check below (refused and counted there)
        // rather than to Node's own uncounted 400.
        requireHostHeader: false,
        headersTimeout: Math.min(headersTimeoutMs, requestTimeoutMs),
        requestTimeout: requestTimeoutMs,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs,
        // Node checks the two timeouts only this often (30 s by default), which would let a slow
        // client hold its socket well past them.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
      },
      (req, res) => this.onRequest(req, res),
    );
    this.sockets = new SocketGuard(this.server, this.opts.maxSockets, this.counters);
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const [status, counter] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'http.rejected.timeout']
        : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'http.rejected.headers_too_large']
        : [400, 'http.clientError'];
      this.counters.inc(counter);
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.opts.maxMessageBytes, perMessageDeflate: false });
  }

  get port(): number {
    return this.listeningPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listeningPort}`;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening);
        reject(err.code === 'EADDRINUSE' ? new PortInUseError(this.opts.port) : err);
      };
      const onListening = () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        this.listeningPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
        this.server.on('error', (e) => this.log.error(`server error: ${e.message}`));
        this.heartbeat = setInterval(() => this.sweep(), this.opts.heartbeatMs);
        this.process = new ProcessStats();
        this.heartbeat.unref();
        this.log.info(`listening on ${this.url} (WebSocket ${this.url.replace('http', 'ws')}/v1/ws, OTLP/HTTP ${this.url})`);
        if (this.extraHostNames.size) this.log.info(`listening on ${this.opts.host} beyond loopback: Host names ${[...this.extraHostNames].join(', ')} are accepted; ingest needs the token`);
        else if (this.ingestNeedsToken) this.log.info('ingest needs the token (routelens.collector.requireTokenForIngest)');
        resolve(this.listeningPort);
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(this.opts.port, this.opts.host);
    });
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.process?.dispose();
    this.process = undefined;
    this.opts.live?.close();
    for (const [ws, conn] of this.connections) {
      conn.endedByCollector = true;
      ws.close(1001, 'collector shutting down');
    }
    // Give clients a moment to receive the close frame, then cut whatever is left.
    await new Promise((r) => setTimeout(r, 50));
    for (const ws of this.connections.keys()) ws.terminate();
    this.connections.clear();
    this.wss.close();
    await new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.log.info('stopped');
  }

  // ---- HTTP --------------------------------------------------------------------------------------

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      if (!isAllowedHost(req.headers.host, this.extraHostNames)) {
        this.counters.inc('http.rejected.host');
        this.warn(`refused a request for Host ${JSON.stringify(req.headers.host ?? '')} (not a name this collector answers to: DNS rebinding defence)`);
        return sendJson(res, 403, { error: 'forbidden', message: this.extraHostNames.size ? 'Host must be a loopback name, host.docker.internal or an address of this machine' : 'Host must be a loopback name (127.0.0.1, localhost, [::1])' });
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = url.pathname;
      if (path === '/healthz') {
        return sendJson(res, 200, { status: 'ok', service: 'routelens', version: VERSION, pid: process.pid, uptimeS: Math.round((Date.now() - this.startedAt) / 1000) });
      }
      if (!isAllowedOrigin(req.headers.origin, this.opts.allowedOrigins)) {
        this.counters.inc('http.rejected.origin');
        this.warn(`refused a request from Origin ${JSON.stringify(req.headers.origin)} (not in routelens.collector.allowedOrigins)`);
        return sendJson(res, 403, { error: 'forbidden', message: 'requests from browser origins are not allowed' });
      }
      if (path === '/v1/traces' || path === '/v1/logs' || path === '/v1/metrics') {
        if (this.ingestNeedsToken && !tokenMatches(this.opts.token, bearer(req.headers.authorization))) {
          this.counters.inc('ingest.rejected.token');
          this.warn(`refused OTLP/HTTP ${path} from ${req.socket.remoteAddress}: no valid token (set OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>)`);
          res.setHeader('WWW-Authenticate', 'Bearer realm="routelens"');
          return sendJson(res, 401, { error: 'unauthorized', message: 'ingest needs "Authorization: Bearer <token>" (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>); the token is in ~/.routelens/token' });
        }
        if (this.opts.otlpHttp) return this.opts.otlpHttp(req, res);
        return sendJson(res, 404, { error: 'not_found', message: 'OTLP/HTTP is not enabled in this collector' });
      }
      if (path.startsWith('/api/')) {
        if (!tokenMatches(this.opts.token, bearer(req.headers.authorization))) {
          this.counters.inc('api.rejected.token');
          res.setHeader('WWW-Authenticate', 'Bearer realm="routelens"');
          return sendJson(res, 401, { error: 'unauthorized', message: 'the query API needs "Authorization: Bearer <token>"; the token is in ~/.routelens/token' });
        }
        if (req.method !== 'GET') {
          res.setHeader('Allow', 'GET');
          return sendJson(res, 405, { error: 'method_not_allowed', message: 'the query API is read-only: use GET' });
        }
        const result = handleQuery(path, url.searchParams, this.opts.store, this);
        return sendJson(res, result.status, result.body);
      }
      if (path === '/v1/ws') return sendJson(res, 426, { error: 'upgrade_required', message: 'connect with a WebSocket client' });
      sendJson(res, 404, { error: 'not_found', message: `no endpoint at ${path.slice(0, 200)}` });
    } catch (e) {
      this.counters.inc('http.internalError');
      this.log.error(`request failed: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'internal error; see the Routelens log' });
      else res.destroy();
    }
  }

  // ---- WebSocket ---------------------------------------------------------------------------------

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refuse = (status: number, reason: string, counter: string) => {
      this.counters.inc(counter);
      this.warn(`refused a WebSocket upgrade: ${reason}`);
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
    };
    if (!isAllowedHost(req.headers.host, this.extraHostNames)) return refuse(403, 'Host must be a loopback name', 'ws.rejected.host');
    if (!isAllowedOrigin(req.headers.origin, this.opts.allowedOrigins)) return refuse(403, 'browser origins are not allowed', 'ws.rejected.origin');
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/api/v1/live' && this.opts.live) {
      if (!tokenMatches(this.opts.token, bearer(req.headers.authorization))) return refuse(401, 'the live stream needs "Authorization: Bearer <token>"', 'api.rejected.token');
      this.opts.live.handleUpgrade(req, socket, head);
      return;
    }
    if (path !== '/v1/ws') return refuse(404, `no WebSocket endpoint at ${path.slice(0, 100)}`, 'ws.rejected.path');
    if (this.ingestNeedsToken && !tokenMatches(this.opts.token, bearer(req.headers.authorization))) {
      return refuse(401, 'the agent endpoint needs "Authorization: Bearer <token>" (set ROUTELENS_TOKEN for the app)', 'ingest.rejected.token');
    }
    if (this.connections.size >= this.opts.maxConnections) return refuse(503, 'too many connections', 'ws.rejected.connections');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  private onConnection(ws: WebSocket, req: http.IncomingMessage): void {
    const conn: Connection = { id: this.nextId++, alive: true, remote: `${req.socket.remoteAddress}:${req.socket.remotePort}` };
    this.connections.set(ws, conn);
    this.counters.inc('ws.connections');
    this.log.debug(`connection #${conn.id} from ${conn.remote}`);
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data, isBinary) => this.onMessage(ws, conn, data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      conn.endedByCollector = true;
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.counters.inc('ws.rejected.too_big');
        this.warn(`connection #${conn.id} (${conn.resource?.serviceName ?? 'no hello yet'}) sent a message over ${this.opts.maxMessageBytes} bytes; closed with 1009`);
      } else {
        this.counters.inc('ws.rejected.protocol');
        this.warn(`connection #${conn.id}: ${err.message}`);
      }
    });
    ws.on('close', (code: number) => {
      this.connections.delete(ws);
      // 1006: the TCP connection ended without a close frame. Unless the collector cut it, the
      // agent was killed or the network failed, possibly in the middle of a message: what had
      // arrived of that message is discarded whole (nothing of it reaches the store).
      if (code === 1006 && !conn.endedByCollector) {
        this.counters.inc('ws.closed.abnormal');
        this.warn(`connection #${conn.id} (${conn.resource?.serviceName ?? 'no hello yet'}) ended without a WebSocket close (agent killed or connection lost); a message it was still sending is discarded`, 'info');
      } else {
        this.log.debug(`connection #${conn.id} closed (${code})`);
      }
    });
  }

  private onMessage(ws: WebSocket, conn: Connection, data: RawData, isBinary: boolean): void {
    this.startTurn();
    // Least recently served last in the map, which is the order connections resume in after a
    // pause: otherwise the first few would take every turn and the rest would starve.
    if (this.connections.delete(ws)) this.connections.set(ws, conn);
    try {
      this.handleMessage(ws, conn, data, isBinary);
    } finally {
      this.yieldIfOverBudget();
    }
  }

  /**
   * Agents sending flat out keep every socket readable, and Node would handle all of them in one
   * event-loop turn: with 50 agents that was hundreds of milliseconds in which no timer, webview
   * message or editor request of the extension host ran. So a turn handles agent messages for at
   * most TURN_BUDGET_MS; then every agent connection pauses (the kernel and stream buffers hold
   * what arrives, and TCP slows the senders) until the loop has gone round once.
   */
  private startTurn(): void {
    if (this.turnStartedAt) return;
    this.turnStartedAt = performance.now();
    setImmediate(() => (this.turnStartedAt = 0));
  }

  private yieldIfOverBudget(): void {
    if (this.yielding || performance.now() - this.turnStartedAt < TURN_BUDGET_MS) return;
    this.yielding = true;
    for (const ws of this.connections.keys()) ws.pause();
    setImmediate(() => {
      this.yielding = false;
      for (const ws of this.connections.keys()) ws.resume();
    });
  }

  private handleMessage(ws: WebSocket, conn: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.counters.inc('ws.rejected.binary');
      conn.endedByCollector = true;
      this.warn(`connection #${conn.id} sent a binary frame; the protocol is JSON text (closed with 1003)`);
      ws.close(1003, 'binary frames are not supported; send JSON text');
      return;
    }
    // ws hands over a Buffer (binaryType 'nodebuffer'): decode it in place; Buffer.from(buffer)
    // would first copy the whole message.
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    try {
      const msg = parseMessage(text, this.opts.maxBatchItems);
      switch (msg.type) {
        case 'hello':
          conn.resource = msg.resource;
          this.counters.inc('ws.hello');
          this.log.info(`agent connected: ${msg.resource.serviceName}${msg.resource.pid ? ` (pid ${msg.resource.pid})` : ''}${msg.resource.sdk ? ` ${msg.resource.sdk}` : ''}`);
          send(ws, { v: PROTOCOL_VERSION, type: 'welcome', server: `routelens/${VERSION}`, maxMessageBytes: this.opts.maxMessageBytes, maxBatchItems: this.opts.maxBatchItems });
          return;
        case 'batch': {
          if (!conn.resource) throw new ProtocolError('no_hello', 'send a hello message before any batch');
          if (msg.instance !== undefined && msg.seq !== undefined && this.ledger.check(msg.instance, msg.seq) === 'duplicate') {
            // Sent again after a reconnect, but already stored: acknowledged, not stored twice.
            this.counters.inc('ws.duplicate.batches');
            this.counters.inc('ws.duplicate.items', msg.spans.length + (msg.requests ? msg.requests.shape.length : 0) + msg.logs.length + msg.metrics.length);
            send(ws, { v: PROTOCOL_VERSION, type: 'ack', seq: msg.seq, duplicate: true, accepted: { spans: 0, logs: 0, metrics: 0 }, rejected: { spans: 0, logs: 0, metrics: 0 }, errors: [] });
            return;
          }
          this.countGivenUp(conn, msg.givenUp);
          const decoded = decodeBatch(msg, conn.resource);
          // Each kind goes in on its own so one failing consumer cannot lose the others.
          this.opts.sink.addSpans(decoded.spans);
          this.opts.sink.addLogs(decoded.logs);
          this.opts.sink.addMetrics(decoded.metrics);
          if (msg.instance !== undefined && msg.seq !== undefined) {
            const missingBefore = this.ledger.missing;
            const forgottenBefore = this.ledger.forgotten;
            this.ledger.record(msg.instance, msg.seq);
            this.counters.inc('ws.dedupe.forgotten', this.ledger.forgotten - forgottenBefore);
            const missing = this.ledger.missing - missingBefore;
            if (missing > 0) {
              this.counters.inc('ws.batches.missing', missing);
              this.warn(`${conn.resource.serviceName}: ${missing} batch(es) of agent instance ${msg.instance} never arrived`);
            }
          }
          const rej = decoded.rejected;
          this.counters.inc('ws.accepted.spans', decoded.spans.length);
          this.counters.inc('ws.accepted.logs', decoded.logs.length);
          this.counters.inc('ws.accepted.metrics', decoded.metrics.length);
          this.counters.inc('ws.rejected.spans', rej.spans);
          this.counters.inc('ws.rejected.logs', rej.logs);
          this.counters.inc('ws.rejected.metrics', rej.metrics);
          this.counters.inc('agent.dropped.spans', msg.dropped.spans);
          this.counters.inc('agent.dropped.logs', msg.dropped.logs);
          this.counters.inc('agent.dropped.metrics', msg.dropped.metrics);
          if (decoded.errors.length) this.warn(`${conn.resource.serviceName}: rejected ${decoded.errors.length} item(s): ${decoded.errors.slice(0, 3).join('; ')}`);
          send(ws, {
            v: PROTOCOL_VERSION,
            type: 'ack',
            seq: msg.seq,
            accepted: { spans: decoded.spans.length, logs: decoded.logs.length, metrics: decoded.metrics.length },
            rejected: rej,
            errors: decoded.errors.slice(0, 10),
          });
          return;
        }
        case 'announce':
          this.opts.onAnnounce?.(conn.resource?.serviceName ?? 'unknown_service', msg.prometheus);
          return;
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) {
        this.counters.inc('ws.internalError');
        this.log.error(`connection #${conn.id}: failed to handle a message: ${(e as Error).stack ?? e}`);
        send(ws, { v: PROTOCOL_VERSION, type: 'error', code: 'internal', message: 'internal error; see the Routelens log' });
        return;
      }
      this.counters.inc(`ws.rejected.${e.code}`);
      this.warn(`connection #${conn.id} (${conn.resource?.serviceName ?? 'no hello yet'}): ${e.code}: ${e.message}`);
      send(ws, { v: PROTOCOL_VERSION, type: 'error', code: e.code, message: e.message });
    }
  }

  /** Counts and logs what an agent reports it gave up (sent, never acknowledged; maybe stored). */
  private countGivenUp(conn: Connection, g: { batches: number; spans: number; logs: number; metrics: number }): void {
    if (!g.batches && !g.spans && !g.logs && !g.metrics) return;
    this.counters.inc('agent.givenUp.batches', g.batches);
    this.counters.inc('agent.givenUp.spans', g.spans);
    this.counters.inc('agent.givenUp.logs', g.logs);
    this.counters.inc('agent.givenUp.metrics', g.metrics);
    this.warn(`${conn.resource?.serviceName ?? 'unknown_service'}: the agent gave up ${g.batches} unacknowledged batch(es) (${g.spans} spans, ${g.logs} logs, ${g.metrics} metrics); some may have been stored`);
  }

  private sweep(): void {
    for (const [ws, conn] of this.connections) {
      if (!conn.alive) {
        conn.endedByCollector = true;
        ws.terminate();
        this.counters.inc('ws.closed.unresponsive');
        continue;
      }
      conn.alive = false;
      ws.ping();
    }
  }

  /** Warnings are rate-limited so a misbehaving sender cannot flood the log; counters still count all. */
  private warn(message: string, level: 'warn' | 'info' = 'warn'): void {
    const sec = Math.floor(Date.now() / 1000);
    if (this.logBudget.second !== sec) this.logBudget = { second: sec, used: 0 };
    if (++this.logBudget.used <= 20) this.log[level](message);
  }
}

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m?.[1];
}

function send(ws: WebSocket, msg: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
  res.end(text);
}
