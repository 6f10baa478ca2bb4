/**
 * One collector per machine, however many windows: the first window owns the ports; the others
 * find it (its /healthz says "routelens") and attach as viewers through the live stream, feeding
 * their own store; when the owner goes away, a viewer takes the ports over within a few seconds.
 */
import * as http from 'node:http';
import { WebSocket } from 'ws';
import { PortInUseError } from './collector/collector';
import type { LiveMessage, ViewerMessage } from './collector/live';
import type { PauseSink } from './debugPauses';
import { logsRequest } from './otlp/exportJson';
import type { TelemetrySink } from './sink';
import { Emitter } from './events';
import { withPrefix, type Logger } from './log';
import { startRuntime, type Runtime, type RuntimeOptions } from './runtime';
import { metricsAwareSink } from './stats/histogramRoutes';
import type { TelemetryStore } from './store/store';

export type HostMode = 'starting' | 'owner' | 'viewer' | 'portInUse' | 'error' | 'stopped';

export interface HostState {
  mode: HostMode;
  endpoint: string;
  message?: string;
}

export interface CollectorHostOptions extends Omit<RuntimeOptions, 'store'> {
  store: TelemetryStore;
  /** How often a viewer retries taking over while the port is still held (ms). */
  takeoverRetryMs?: number;
}

/** Asks whether a Routelens collector answers on the port. */
export function probeRoutelens(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c.length < 4096 ? c : ''));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 && JSON.parse(body).service === 'routelens');
        } catch {
          resolve(false);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export class CollectorHost {
  private readonly changed = new Emitter<HostState>();
  private current: HostState;
  runtime: Runtime | undefined;
  private live: WebSocket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly opts: CollectorHostOptions) {
    this.log = withPrefix(opts.log, 'host');
    this.current = { mode: 'starting', endpoint: `http://127.0.0.1:${opts.port}` };
  }

  get state(): HostState {
    return this.current;
  }

  onDidChangeState(listener: (s: HostState) => void): { dispose(): void } {
    return this.changed.on(listener);
  }

  /**
   * Where this window delivers what it produces itself (the debug console's records, its
   * debugger's stops). As the owner: the collector's sink (so viewers get it) and the store. As a
   * viewer: the owner, over the live stream, since the apps this window debugs send their
   * telemetry there; the records come back through the stream like everyone else's.
   */
  readonly local: TelemetrySink & PauseSink = {
    addSpans: (items) => (this.runtime?.sink ?? this.opts.store).addSpans(items),
    addMetrics: (items) => (this.runtime?.sink ?? this.opts.store).addMetrics(items),
    addLogs: (items) => {
      if (this.runtime) this.runtime.sink.addLogs(items);
      else if (!this.toOwner({ type: 'logs', otlp: logsRequest(items) })) this.opts.store.addLogs(items);
    },
    debuggerPaused: (pid, atMs = Date.now()) => {
      this.opts.store.debuggerPaused(pid, atMs);
      this.toOwner({ type: 'pause', pid, atMs });
    },
    debuggerResumed: (pid, atMs = Date.now()) => {
      this.opts.store.debuggerResumed(pid, atMs);
      this.toOwner({ type: 'resume', pid, atMs });
    },
  };

  /** Sends to the owner when this window is its viewer; false when it is not. */
  private toOwner(m: ViewerMessage): boolean {
    const ws = this.live;
    if (this.runtime || this.current.mode !== 'viewer' || !ws || ws.readyState !== ws.OPEN) return false;
    ws.send(JSON.stringify(m));
    return true;
  }

  /** Becomes the owner, or a viewer of the window that already is. */
  async start(): Promise<void> {
    this.stopped = false;
    this.set({ mode: 'starting', endpoint: `http://127.0.0.1:${this.opts.port}` });
    await this.tryOwn(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const live = this.live;
    this.live = undefined;
    live?.terminate();
    const rt = this.runtime;
    this.runtime = undefined;
    if (rt) await rt.stop();
    this.set({ ...this.current, mode: 'stopped' });
  }

  private set(s: HostState): void {
    this.current = s;
    this.changed.fire(s);
  }

  private async tryOwn(first: boolean): Promise<void> {
    if (this.stopped) return;
    const port = this.opts.port;
    try {
      this.runtime = await startRuntime({ ...this.opts, store: this.opts.store });
      if (this.stopped) {
        await this.runtime.stop();
        this.runtime = undefined;
        return;
      }
      this.set({ mode: 'owner', endpoint: this.runtime.collector.url });
      if (!first) this.log.info(`took over the collector on port ${port}`);
    } catch (e) {
      if (!(e instanceof PortInUseError)) {
        this.set({ mode: 'error', endpoint: `http://127.0.0.1:${port}`, message: `The collector failed to start: ${(e as Error).message}` });
        return;
      }
      if (await probeRoutelens(port)) {
        this.attach();
        return;
      }
      if (first) {
        this.set({
          mode: 'portInUse',
          endpoint: `http://127.0.0.1:${port}`,
          message: `Port ${port} is in use by another program, so Routelens cannot receive telemetry. Close that program, or pick another port with the setting routelens.collector.port.`,
        });
      }
      // The port may be held by a window that is shutting down: keep trying quietly.
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    const base = this.opts.takeoverRetryMs ?? 1000;
    // Jitter, so two viewers left behind do not collide on every attempt.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.tryOwn(false);
    }, base / 2 + Math.random() * base);
  }

  private attach(): void {
    const port = this.opts.port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live`, { headers: { Authorization: `Bearer ${this.opts.token}` } });
    this.live = ws;
    const sink = metricsAwareSink(this.opts.store);
    let ready = false;
    ws.on('open', () => {
      this.opts.store.clear();
    });
    ws.on('message', (data) => {
      let msg: LiveMessage;
      try {
        msg = JSON.parse(data.toString()) as LiveMessage;
      } catch {
        return;
      }
      switch (msg.type) {
        case 'snapshot':
          this.opts.store.addSpans(msg.spans ?? []);
          this.opts.store.addLogs(msg.logs ?? [], true);
          return;
        case 'ready':
          ready = true;
          this.set({ mode: 'viewer', endpoint: `http://127.0.0.1:${port}`, message: 'Another VS Code window runs the collector; this window shows its data.' });
          this.log.info(`attached as a viewer to the collector on port ${port}`);
          return;
        case 'spans':
          sink.addSpans(msg.items);
          return;
        case 'logs':
          sink.addLogs(msg.items);
          return;
        case 'metrics':
          sink.addMetrics(msg.items);
          return;
        case 'cleared':
          this.opts.store.clear();
          return;
      }
    });
    ws.on('error', (e) => this.log.debug(`live stream: ${e.message}`));
    ws.on('close', () => {
      if (this.live !== ws || this.stopped) return;
      this.live = undefined;
      this.log.info(ready ? 'the owning window went away: taking over' : 'could not attach to the owning window: retrying');
      this.set({ mode: 'starting', endpoint: `http://127.0.0.1:${port}` });
      // Right away first: the owner has released the port by the time its stream closes.
      void this.tryOwn(false);
    });
  }
}
