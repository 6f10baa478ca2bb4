/**
 * The composition root: builds the store, the settings and the collector once, hands every
 * feature its FeatureContext (src/features/context.ts) and owns the extension-lifetime
 * disposables. src/extension.ts only calls in here.
 */
import * as vscode from 'vscode';
import { defaultTokenFile, loadOrCreateToken } from '../core/collector/token';
import type { Logger } from '../core/log';
import { CollectorHost, type HostMode } from '../core/collectorHost';
import { metricsAwareSink } from '../core/stats/histogramRoutes';
import type { TelemetrySink } from '../core/sink';
import type { PauseSink } from '../core/debugPauses';
import { TelemetryStore } from '../core/store/store';
import { SharedTick } from '../editor/tick';
import type { CollectorStatus, FeatureContext, FeatureProbes } from '../features/context';
import { FEATURES } from '../features/index';
import { Settings, type RoutelensConfig, type SettingsChange } from '../settings';
import { registerCommands } from './commands';
import { createLog } from './log';
import { Snapshot } from './snapshot';
import { createTestApi, type RoutelensApi } from './testApi';

export class App {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly log: Logger;
  private readonly channel: vscode.LogOutputChannel;
  private readonly settings = new Settings();
  readonly store: TelemetryStore;
  private host: CollectorHost | undefined;
  private hostSub: { dispose(): void } | undefined;
  private state: CollectorStatus;
  private readonly token: string;
  private windowSec: number;
  private starting: Promise<void> = Promise.resolve();
  /** Resolves after the first start() has run (features may ask before it is called). */
  private readonly firstStart: Promise<void>;
  private markStarted: () => void = () => undefined;
  /** Where telemetry goes while this window owns no collector (starting, or a viewer). */
  private readonly storeSink: TelemetrySink & PauseSink;
  private readonly snapshot: Snapshot;
  private readonly tick = new SharedTick();
  private readonly probes: FeatureProbes = {};
  private readonly settingsChanged = new vscode.EventEmitter<vscode.ConfigurationChangeEvent>();
  private readonly settingsApplied = new vscode.EventEmitter<SettingsChange>();
  private readonly collectorChanged = new vscode.EventEmitter<CollectorStatus>();

  constructor(context: vscode.ExtensionContext) {
    const { channel, log } = createLog();
    this.channel = channel;
    this.log = log;
    const config = this.config;
    this.windowSec = config.windowSeconds;
    this.store = new TelemetryStore({ maxSpans: config.store.maxSpans, maxLogs: config.store.maxLogs, maxBytes: config.store.maxMegabytes * 1024 * 1024 });
    const bare = metricsAwareSink(this.store);
    this.storeSink = { ...bare, debuggerPaused: (pid, atMs) => this.store.debuggerPaused(pid, atMs), debuggerResumed: (pid, atMs) => this.store.debuggerResumed(pid, atMs) };
    this.firstStart = new Promise((resolve) => (this.markStarted = resolve));
    this.token = loadOrCreateToken(defaultTokenFile());
    const snapshotFile = vscode.Uri.joinPath(context.storageUri ?? context.globalStorageUri, 'snapshot.otlp.jsonl').fsPath;
    this.snapshot = new Snapshot(snapshotFile, this.store, () => this.config.persistence, log, this.tick);
    if (config.persistence) this.snapshot.restore();
    this.state = { state: 'starting', endpoint: `http://127.0.0.1:${config.collector.port}` };
    this.disposables.push(channel, this.settings, this.snapshot, this.tick, this.settingsChanged, this.settingsApplied, this.collectorChanged);

    this.disposables.push(
      registerCommands({ store: this.store, log, channel, endpoint: () => this.state.endpoint, restart: () => this.restart() }),
      this.settings.onDidChange((c) => this.applySettings(c)),
    );
    const ctx = this.featureContext(context);
    for (const register of FEATURES) this.disposables.push(register(ctx));
  }

  private get config(): RoutelensConfig {
    return this.settings.current;
  }

  /** What the composition root does on a settings change, by the effect of the settings that changed; then the features hear of it. */
  private applySettings(c: SettingsChange): void {
    if (c.affects('windowSeconds')) this.windowSec = c.current.windowSeconds;
    if (c.effects.has('resizeStore')) {
      const { maxSpans, maxLogs, maxMegabytes } = c.current.store;
      this.store.setLimits({ maxSpans, maxLogs, maxBytes: maxMegabytes * 1024 * 1024 });
      this.log.info(`store resized: ${maxSpans} spans, ${maxLogs} logs, ${maxMegabytes} MiB`);
    }
    if (c.affects('prometheus')) {
      const prom = this.host?.runtime?.prometheus;
      prom?.setIntervalMs(c.current.prometheus.scrapeIntervalSeconds * 1000);
      prom?.setTargets(c.current.prometheus.targets);
    }
    if (c.effects.has('restartCollector')) {
      this.log.info('collector settings changed: restarting the collector');
      void this.restart();
    }
    this.settingsApplied.fire(c);
    this.settingsChanged.fire(c.event);
  }

  start(): void {
    this.starting = this.startCollector();
    void this.starting.then(this.markStarted, this.markStarted);
  }

  /** The current start (or restart) of the collector, once start() was called. */
  private whenStarted(): Promise<void> {
    return this.firstStart.then(() => this.starting);
  }

  private async startCollector(): Promise<void> {
    const config = this.config;
    const port = config.collector.port;
    const t0 = Date.now();
    const host = new CollectorHost({
      port,
      host: config.collector.listenAddress,
      requireTokenForIngest: config.collector.requireTokenForIngest,
      token: this.token,
      log: this.log,
      store: this.store,
      allowedOrigins: config.collector.allowedOrigins,
      maxMessageBytes: config.collector.maxMessageBytes,
      grpcPort: config.collector.grpcPort,
      scrapeTargets: config.prometheus.targets,
      scrapeIntervalMs: config.prometheus.scrapeIntervalSeconds * 1000,
      tuning: heartbeatTuning(),
    });
    this.host = host;
    let warnedPort = false;
    const sub = host.onDidChangeState((h) => {
      if (this.host !== host) return;
      const view: CollectorStatus = { state: VIEW_STATE[h.mode], endpoint: h.endpoint, ...(h.message ? { message: h.message } : {}) };
      this.setState(view);
      if (h.mode === 'owner') {
        this.log.info(`collector ready in ${Date.now() - t0} ms; the query API token is in ${defaultTokenFile()}`);
        if (host.runtime?.grpcError) {
          void vscode.window.showWarningMessage(`Routelens: OTLP/gRPC is off: ${host.runtime.grpcError}. OTLP/HTTP on port ${port} works; change routelens.collector.grpcPort (0 turns gRPC off).`);
        }
      }
      if (h.mode === 'portInUse' && !warnedPort) {
        warnedPort = true;
        this.log.error(h.message ?? `port ${port} is in use`);
        void vscode.window.showWarningMessage(`Routelens: ${h.message}`, 'Change Port', 'Show Extension Output').then((pick) => {
          if (pick === 'Change Port') void vscode.commands.executeCommand('workbench.action.openSettings', 'routelens.collector.port');
          if (pick === 'Show Extension Output') this.channel.show();
        });
      }
      if (h.mode === 'error') this.log.error(h.message ?? 'the collector failed');
    });
    this.hostSub = sub;
    await host.start();
  }

  async restart(): Promise<void> {
    await this.starting;
    const host = this.host;
    this.host = undefined;
    this.hostSub?.dispose();
    if (host) await host.stop();
    this.setState({ ...this.state, state: 'stopped' });
    this.starting = this.startCollector();
    await this.starting;
  }

  private setState(s: CollectorStatus): void {
    this.state = s;
    this.collectorChanged.fire(s);
  }

  private endpoint(): string | undefined {
    return this.state.state === 'listening' || this.state.state === 'viewer' ? this.state.endpoint : undefined;
  }

  /** What every feature in src/features gets (see src/features/context.ts). */
  private featureContext(extension: vscode.ExtensionContext): FeatureContext {
    const sinkNow = (): TelemetrySink & PauseSink => this.host?.local ?? this.storeSink;
    let remote: Parameters<FeatureContext['remoteSource']['set']>[0];
    return {
      extension,
      store: this.store,
      log: this.log,
      settings: () => this.config,
      onDidChangeSettings: this.settingsChanged.event,
      onDidApplySettings: this.settingsApplied.event,
      windowSeconds: () => this.windowSec,
      setWindowSeconds: (s) => (this.windowSec = s),
      collector: () => this.state,
      onDidChangeCollector: this.collectorChanged.event,
      runtime: () => this.host?.runtime,
      endpoint: () => this.endpoint(),
      sink: {
        addSpans: (spans) => sinkNow().addSpans(spans),
        addLogs: (logs) => sinkNow().addLogs(logs),
        addMetrics: (points) => sinkNow().addMetrics(points),
        debuggerPaused: (pid, atMs) => sinkNow().debuggerPaused(pid, atMs),
        debuggerResumed: (pid, atMs) => sinkNow().debuggerResumed(pid, atMs),
      },
      token: this.token,
      whenStarted: () => this.whenStarted(),
      tick: this.tick,
      remoteSource: { get: () => remote, set: (r) => (remote = r) },
      probes: this.probes,
    };
  }

  api(): RoutelensApi {
    return createTestApi(
      {
        store: this.store,
        token: this.token,
        collectorPort: () => this.host?.runtime?.collector.port ?? (this.state.state === 'viewer' ? this.config.collector.port : 0),
        grpcPort: () => this.host?.runtime?.grpcPort ?? 0,
        collector: () => this.state,
        saveSnapshot: () => this.snapshot.save(),
        restoreSnapshot: () => this.snapshot.restore(),
        restart: () => this.restart(),
        whenStarted: () => this.whenStarted(),
      },
      this.probes,
    );
  }

  async dispose(): Promise<void> {
    if (this.config.persistence) this.snapshot.save();
    for (const d of this.disposables.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        // Keep disposing the rest.
      }
    }
    const host = this.host;
    this.host = undefined;
    this.hostSub?.dispose();
    if (host) await host.stop();
  }
}

/**
 * ROUTELENS_COLLECTOR_HEARTBEAT_MS shortens the ping interval after which a silent connection is
 * cut (default 30 s, so about a minute of silence): the tests that hold a breakpoint longer than
 * that use it to stay short.
 */
function heartbeatTuning(): { heartbeatMs?: number } {
  const ms = Number(process.env.ROUTELENS_COLLECTOR_HEARTBEAT_MS);
  return Number.isFinite(ms) && ms >= 100 ? { heartbeatMs: ms } : {};
}

const VIEW_STATE: Record<HostMode, CollectorStatus['state']> = {
  starting: 'starting',
  owner: 'listening',
  viewer: 'viewer',
  portInUse: 'portInUse',
  error: 'error',
  stopped: 'stopped',
};
