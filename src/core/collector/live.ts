/**
 * The live stream other windows attach through (GET /api/v1/live, a WebSocket behind the token):
 * first a snapshot of the raw spans and logs the store holds, then every batch as it is ingested.
 * A viewer feeds what it receives into its own store, so its views work exactly as the owner's.
 */
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Counters } from '../counters';
import type { Logger } from '../log';
import type { LogRecord, MetricPoint, Span } from '../model';
import type { TelemetrySink } from '../sink';
import type { TelemetryStore } from '../store/store';
import { mapLogs } from '../otlp/logs';

export type LiveMessage =
  | { type: 'snapshot'; spans: Span[]; logs: LogRecord[] }
  | { type: 'ready' }
  | { type: 'spans'; items: Span[] }
  | { type: 'logs'; items: LogRecord[] }
  | { type: 'metrics'; items: MetricPoint[] }
  | { type: 'cleared' };

/**
 * What a viewer sends the owner: its debugger's stops (the app it debugs sends its telemetry here,
 * so the owner must know which requests waited at a breakpoint) and the log records its debug
 * console read (as an OTLP/JSON logs request, mapped and validated like any other).
 */
export type ViewerMessage = { type: 'pause' | 'resume'; pid: number; atMs: number } | { type: 'logs'; otlp: unknown };

/** A viewer's clock may differ a little; a stop reported further off than this is refused. */
const MAX_PAUSE_SKEW_MS = 24 * 3600_000;

/** A viewer that falls this far behind is cut off rather than letting the owner's memory grow. */
const MAX_BUFFERED = 32 * 1024 * 1024;
const SNAPSHOT_CHUNK = 2000;

export class LiveHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false });
  private readonly clients = new Set<WebSocket>();
  /** Where a viewer's log records go: the owner's sink, so every window sees them. */
  private ingest: TelemetrySink | undefined;

  constructor(
    private readonly store: TelemetryStore,
    private readonly counters: Counters,
    private readonly log: Logger,
  ) {
    store.onDidChange((e) => {
      if (e.cleared) this.broadcast({ type: 'cleared' });
    });
  }

  get viewers(): number {
    return this.clients.size;
  }

  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
      this.counters.inc('live.viewers');
      this.log.info(`[live] a viewer attached (${this.clients.size} now)`);
      ws.on('close', () => this.clients.delete(ws));
      ws.on('error', () => this.clients.delete(ws));
      ws.on('message', (data) => this.fromViewer(data.toString()));
      const spans = this.store.allSpans();
      const logs = this.store.allLogs();
      for (let i = 0; i < Math.max(spans.length, logs.length); i += SNAPSHOT_CHUNK) {
        this.send(ws, { type: 'snapshot', spans: spans.slice(i, i + SNAPSHOT_CHUNK), logs: logs.slice(i, i + SNAPSHOT_CHUNK) });
      }
      this.send(ws, { type: 'ready' });
    });
  }

  /** A message from a viewer: bad ones are counted and logged, never thrown. */
  private fromViewer(text: string): void {
    let m: ViewerMessage;
    try {
      m = JSON.parse(text) as ViewerMessage;
    } catch {
      return this.refuse('not JSON');
    }
    if (m?.type === 'pause' || m?.type === 'resume') {
      const now = Date.now();
      if (!Number.isSafeInteger(m.pid) || m.pid <= 0 || typeof m.atMs !== 'number' || !(Math.abs(m.atMs - now) < MAX_PAUSE_SKEW_MS)) return this.refuse(`a ${m.type} without a valid pid and time`);
      this.counters.inc(`live.viewer.${m.type}s`);
      if (m.type === 'pause') this.store.debuggerPaused(m.pid, m.atMs);
      else this.store.debuggerResumed(m.pid, m.atMs);
      return;
    }
    if (m?.type === 'logs' && this.ingest) {
      let mapped;
      try {
        mapped = mapLogs(m.otlp, true);
      } catch (e) {
        return this.refuse(`logs: ${(e as Error).message}`);
      }
      this.counters.inc('live.viewer.logs', mapped.items.length);
      if (mapped.items.length) this.ingest.addLogs(mapped.items);
      return;
    }
    this.refuse('an unknown message');
  }

  private refuse(why: string): void {
    this.counters.inc('live.viewer.rejected');
    this.log.warn(`[live] refused a viewer's message: ${why}`);
  }

  /** Wraps a sink so that whatever it accepts also goes to the viewers. */
  tee(sink: TelemetrySink): TelemetrySink {
    const teed: TelemetrySink = {
      addSpans: (items) => {
        sink.addSpans(items);
        if (items.length) this.broadcast({ type: 'spans', items });
      },
      addLogs: (items) => {
        sink.addLogs(items);
        if (items.length) this.broadcast({ type: 'logs', items });
      },
      addMetrics: (items) => {
        sink.addMetrics(items);
        if (items.length) this.broadcast({ type: 'metrics', items });
      },
    };
    this.ingest = teed;
    return teed;
  }

  close(): void {
    for (const ws of this.clients) ws.close(1001, 'owner window closing');
    this.clients.clear();
    this.wss.close();
  }

  private broadcast(msg: LiveMessage): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(msg);
    for (const ws of this.clients) this.sendText(ws, text);
  }

  private send(ws: WebSocket, msg: LiveMessage): void {
    this.sendText(ws, JSON.stringify(msg));
  }

  private sendText(ws: WebSocket, text: string): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED) {
      this.counters.inc('live.dropped.slowViewer');
      this.log.warn('[live] a viewer fell too far behind and was disconnected');
      ws.terminate();
      this.clients.delete(ws);
      return;
    }
    ws.send(text);
  }
}
