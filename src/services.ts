/**
 * The composition root: builds every service once, wires them together and owns the
 * extension-lifetime disposables. extension.ts only calls in here.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isLoopbackAddress } from './core/collector/hostCheck';
import { defaultTokenFile, loadOrCreateToken } from './core/collector/token';
import type { Logger } from './core/log';
import { CollectorHost, type HostMode } from './core/collectorHost';
import { exportOtlpJson, importOtlpJson } from './core/importExport';
import { TelemetryStore } from './core/store/store';
import { RESTART_KEYS, readConfig, type RoutelensConfig } from './config';
import { createLog } from './log';
import type { CollectorView, SidebarState, SidebarToHost } from './shared/sidebarProtocol';
import { AgentSetup } from './agentSetup';
import type { RouteKey } from './core/stats/routeStats';
import { ErrorDiagnostics } from './views/errorDiagnostics';
import { FindingDiagnostics } from './views/findingDiagnostics';
import { askCopilotQuestion, registerAgentTools } from './views/agentTools';
import { openSourceLocation } from './views/openSource';
import { RouteCodeLensProvider } from './views/routeCodeLensProvider';
import { StatusBar } from './views/statusBar';
import { SidebarProvider } from './views/sidebarProvider';
import { registerTracePanel } from './views/traceWaterfallPanel';
import type { CollectorStatus, FeatureContext } from './features/context';
import { FEATURES } from './features/index';

/** What `activate` returns: used by the integration tests; internal, not a stable API. */
export interface RoutelensApi {
  readonly store: TelemetryStore;
  readonly collectorPort: number;
  /** The OTLP/gRPC port this window's collector listens on (0: off, or a viewer). */
  readonly grpcPort: number;
  readonly collectorView: CollectorView;
  readonly token: string;
  statusBarText(): string;
  readonly agent: { readonly bootstrapDir: string; resolveDebugConfiguration(config: import('vscode').DebugConfiguration): import('vscode').DebugConfiguration };
  /** CodeLens titles Routelens gives a document, in order. */
  lensTitles(uri: import('vscode').Uri): Promise<string[]>;
  saveSnapshot(): void;
  restoreSnapshot(): number;
  /** Resolves when the workspace's route handlers are indexed. */
  whenRoutesIndexed(): Promise<void>;
  /** Diagnostics Routelens currently shows, by file. */
  diagnostics(): [string, readonly import('vscode').Diagnostic[]][];
  sidebarState(): SidebarState;
  restartCollector(): Promise<void>;
  /** Resolves once the collector has started (or failed to). */
  whenStarted(): Promise<void>;
}

export class Services implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly log: Logger;
  private readonly channel: vscode.LogOutputChannel;
  private config: RoutelensConfig;
  readonly store: TelemetryStore;
  private host: CollectorHost | undefined;
  private hostSub: { dispose(): void } | undefined;
  private state: CollectorView;
  private token: string;
  private windowSec: number;
  private readonly statusBar: StatusBar;
  private readonly sidebar: SidebarProvider;
  readonly problems: ErrorDiagnostics;
  readonly findingProblems: FindingDiagnostics;
  readonly agent: AgentSetup;
  readonly lenses: RouteCodeLensProvider;
  private starting: Promise<void> = Promise.resolve();
  private readonly snapshotFile: vscode.Uri;
  private dirtySinceSnapshot = false;
  private readonly settingsChanged = new vscode.EventEmitter<vscode.ConfigurationChangeEvent>();
  private readonly collectorChanged = new vscode.EventEmitter<CollectorStatus>();

  constructor(context: vscode.ExtensionContext) {
    const { channel, log } = createLog();
    this.channel = channel;
    this.log = log;
    this.disposables.push(channel);
    this.config = readConfig();
    this.windowSec = this.config.windowSeconds;
    this.store = new TelemetryStore({ maxSpans: this.config.store.maxSpans, maxLogs: this.config.store.maxLogs, maxBytes: this.config.store.maxMegabytes * 1024 * 1024 });
    this.token = loadOrCreateToken(defaultTokenFile());
    this.snapshotFile = vscode.Uri.joinPath(context.storageUri ?? context.globalStorageUri, 'snapshot.otlp.jsonl');
    if (this.config.persistence) this.restoreSnapshot();
    const dirty = this.store.onDidChange(() => (this.dirtySinceSnapshot = true));
    const saver = setInterval(() => {
      if (this.config.persistence && this.dirtySinceSnapshot) this.saveSnapshot();
    }, 60_000);
    this.disposables.push({ dispose: () => dirty.dispose() }, { dispose: () => clearInterval(saver) });
    this.state = { state: 'starting', endpoint: `http://127.0.0.1:${this.config.collector.port}` };

    this.statusBar = new StatusBar(this.store, () => this.state, () => this.windowSec);
    this.disposables.push(this.statusBar);

    this.sidebar = new SidebarProvider(context.extensionUri, {
      store: this.store,
      collectorView: () => this.state,
      windowSeconds: () => this.windowSec,
      setWindowSeconds: (s) => (this.windowSec = s),
      onMessage: (m) => this.onSidebarMessage(m),
      targets: () =>
        (this.host?.runtime?.prometheus.targets() ?? []).map((t) => ({
          url: t.displayUrl,
          service: t.service,
          state: t.state,
          ...(t.lastError ? { lastError: t.lastError } : {}),
          ...(t.durationMs !== undefined ? { durationMs: t.durationMs } : {}),
          series: t.series,
        })),
    }, log);
    this.disposables.push(this.sidebar, vscode.window.registerWebviewViewProvider(SidebarProvider.viewId, this.sidebar, { webviewOptions: { retainContextWhenHidden: false } }));

    this.problems = new ErrorDiagnostics(this.store, () => this.config.problems, log);
    this.disposables.push(this.problems);
    this.findingProblems = new FindingDiagnostics(this.store, () => ({ severity: this.config.problems.findingSeverity, pathMappings: this.config.problems.pathMappings }), log);
    this.disposables.push(this.findingProblems);

    this.agent = new AgentSetup(
      context,
      () => this.config.autoInstrument,
      () => (this.state.state === 'listening' || this.state.state === 'viewer' ? this.state.endpoint : undefined),
      this.store,
      log,
      () => ({
        token: this.token,
        ingestNeedsToken: this.config.collector.requireTokenForIngest || !isLoopbackAddress(this.config.collector.listenAddress),
        containerEndpoint: isLoopbackAddress(this.config.collector.listenAddress) ? undefined : `http://host.docker.internal:${this.host?.runtime?.collector.port ?? this.config.collector.port}`,
      }),
    );
    this.disposables.push(this.agent);

    this.lenses = new RouteCodeLensProvider(this.store, () => ({ ...this.config.lens, windowSeconds: this.windowSec }), log);
    this.disposables.push(this.lenses);

    // -- trace panel wiring (see src/views/traceWaterfallPanel.ts) --
    this.disposables.push(registerTracePanel(context.extensionUri, { store: this.store, windowSeconds: () => this.windowSec, log }));

    this.disposables.push(
      registerAgentTools({
        store: this.store,
        extensionUri: context.extensionUri,
        endpoint: () => (this.state.state === 'listening' || this.state.state === 'viewer' ? this.state.endpoint : undefined),
        budget: () => vscode.workspace.getConfiguration('routelens').get<number>('agents.tokenBudget', 1500),
        redactPatterns: () => vscode.workspace.getConfiguration('routelens').get<string[]>('agents.redactPatterns', []),
        log,
      }),
    );

    this.registerCommands();
    this.disposables.push(this.settingsChanged, this.collectorChanged);
    const ctx = this.featureContext(context);
    for (const register of FEATURES) this.disposables.push(register(ctx));
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        const restart = RESTART_KEYS.some((k) => e.affectsConfiguration(k));
        this.config = readConfig();
        if (e.affectsConfiguration('routelens.windowSeconds')) this.windowSec = this.config.windowSeconds;
        if (e.affectsConfiguration('routelens.store')) {
          const { maxSpans, maxLogs, maxMegabytes } = this.config.store;
          this.store.setLimits({ maxSpans, maxLogs, maxBytes: maxMegabytes * 1024 * 1024 });
          this.log.info(`store resized: ${maxSpans} spans, ${maxLogs} logs, ${maxMegabytes} MiB`);
        }
        if (e.affectsConfiguration('routelens.problems')) {
          this.problems.refresh();
          this.findingProblems.refresh();
        }
        if (e.affectsConfiguration('routelens.autoInstrument')) this.agent.updateTerminalEnvironment();
        if (e.affectsConfiguration('routelens.prometheus')) {
          const prom = this.host?.runtime?.prometheus;
          prom?.setIntervalMs(this.config.prometheus.scrapeIntervalSeconds * 1000);
          prom?.setTargets(this.config.prometheus.targets);
        }
        if (restart) {
          this.log.info('collector settings changed: restarting the collector');
          void this.restart();
        }
        this.settingsChanged.fire(e);
      }),
    );
  }

  start(): void {
    this.starting = this.startCollector();
    // After the collector: the scan reads files and must not delay the port being ready.
    void this.starting.then(() => this.lenses.scanWorkspace());
  }

  private async startCollector(): Promise<void> {
    const port = this.config.collector.port;
    const t0 = Date.now();
    const host = new CollectorHost({
      port,
      host: this.config.collector.listenAddress,
      requireTokenForIngest: this.config.collector.requireTokenForIngest,
      token: this.token,
      log: this.log,
      store: this.store,
      allowedOrigins: this.config.collector.allowedOrigins,
      maxMessageBytes: this.config.collector.maxMessageBytes,
      grpcPort: this.config.collector.grpcPort,
      scrapeTargets: this.config.prometheus.targets,
      scrapeIntervalMs: this.config.prometheus.scrapeIntervalSeconds * 1000,
      tuning: heartbeatTuning(),
    });
    this.host = host;
    let warnedPort = false;
    const sub = host.onDidChangeState((h) => {
      if (this.host !== host) return;
      const view: CollectorView = { state: VIEW_STATE[h.mode], endpoint: h.endpoint, ...(h.message ? { message: h.message } : {}) };
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

  private setState(s: CollectorView): void {
    this.state = s;
    // agent is unset only while the constructor runs.
    this.agent?.updateTerminalEnvironment();
    this.statusBar.update();
    this.sidebar.refresh();
    this.collectorChanged?.fire(s);
  }

  /** What every feature in src/features gets (see src/features/context.ts). */
  private featureContext(extension: vscode.ExtensionContext): FeatureContext {
    return {
      extension,
      store: this.store,
      log: this.log,
      settings: () => this.config,
      onDidChangeSettings: this.settingsChanged.event,
      windowSeconds: () => this.windowSec,
      collector: () => this.state,
      onDidChangeCollector: this.collectorChanged.event,
      runtime: () => this.host?.runtime,
      endpoint: () => (this.state.state === 'listening' || this.state.state === 'viewer' ? this.state.endpoint : undefined),
    };
  }

  private registerCommands(): void {
    const reg = (id: string, f: (...args: unknown[]) => unknown) => this.disposables.push(vscode.commands.registerCommand(id, f));
    reg('routelens.showDashboard', () => vscode.commands.executeCommand(`${SidebarProvider.viewId}.focus`));
    reg('routelens.restartCollector', () =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Routelens: restarting the collector' }, () => this.restart()),
    );
    reg('routelens.clearData', () => {
      this.store.clear();
      this.log.info('data cleared');
    });
    reg('routelens.copyOtlpEndpoint', async () => {
      await vscode.env.clipboard.writeText(this.state.endpoint);
      void vscode.window.showInformationMessage(`Routelens: copied ${this.state.endpoint} (set OTEL_EXPORTER_OTLP_ENDPOINT to it)`);
    });
    reg('routelens.showLogs', () => this.channel.show());
    reg('routelens.togglePause', () => this.sidebar.setPaused(!this.sidebar.paused));
    reg('routelens.dismissError', (fingerprint) => typeof fingerprint === 'string' && this.store.dismissError(fingerprint));
    reg('routelens.dismissAllErrors', () => this.store.dismissAllErrors());
    reg('routelens.exportData', () => this.exportData());
    reg('routelens.importData', (uri) => this.importData(uri instanceof vscode.Uri ? uri : undefined));
    reg('routelens.askCopilot', (kind, subject) => this.askCopilot(kind, subject));
    reg('routelens.openRouteTraces', (keys, label) => this.openRouteTraces(Array.isArray(keys) ? (keys as RouteKey[]) : [], String(label ?? '')));
  }

  /** Opens the chat with a question about an error, a trace or a route, naming the tools to use. */
  private async askCopilot(kind: unknown, subject: unknown): Promise<void> {
    let k: 'error' | 'trace' | 'route' = kind === 'error' || kind === 'trace' || kind === 'route' ? kind : 'route';
    let what = typeof subject === 'string' ? subject : undefined;
    if (!what) {
      const routes = this.store.routeSummaries(this.windowSec).sort((a, b) => (b.p95Ms ?? 0) - (a.p95Ms ?? 0));
      const pick = await vscode.window.showQuickPick(
        routes.map((r) => ({ label: `${r.method} ${r.route}`, description: `p95 ${r.p95Ms ?? '–'} ms · ${r.service}` })),
        { title: 'Routelens: ask Copilot about a route', placeHolder: routes.length ? 'The slowest first' : 'No routes seen yet' },
      );
      if (!pick) return;
      what = pick.label;
      k = 'route';
    }
    const query = askCopilotQuestion(k, what);
    const commands = await vscode.commands.getCommands(true);
    if (commands.includes('workbench.action.chat.open')) {
      await vscode.commands.executeCommand('workbench.action.chat.open', { query });
      return;
    }
    await vscode.env.clipboard.writeText(query);
    void vscode.window.showInformationMessage('Routelens: no chat is available in this VS Code; the question is on the clipboard for your coding agent (its tools: routelens mcp).');
  }

  private onSidebarMessage(m: SidebarToHost): void {
    switch (m.type) {
      case 'command': {
        const map: Record<string, string> = {
          copyEndpoint: 'routelens.copyOtlpEndpoint',
          restartCollector: 'routelens.restartCollector',
          clearData: 'routelens.clearData',
          showLogs: 'routelens.showLogs',
          togglePause: 'routelens.togglePause',
          debugHelp: 'workbench.action.debug.start',
          copyEnv: 'routelens.copyOtlpEndpoint',
        };
        void vscode.commands.executeCommand(map[m.command]);
        return;
      }
      case 'openRoute': {
        // The handler first, then the route's traces beside it: the code keeps the main editor group.
        const code = this.store.route(m)?.code;
        const route = { service: m.service, method: m.method, route: m.route };
        void (code ? openSourceLocation(code, this.log) : Promise.resolve(false)).then(() => vscode.commands.executeCommand('routelens.showRouteTraces', route));
        return;
      }
      case 'openError': {
        const g = this.store.errorGroups().find((x) => x.fingerprint === m.fingerprint);
        if (g?.location) void openSourceLocation(g.location, this.log);
        return;
      }
    }
  }

  /** Writes the newest spans and logs where the next start of this window finds them. */
  saveSnapshot(): void {
    try {
      fs.mkdirSync(path.dirname(this.snapshotFile.fsPath), { recursive: true });
      fs.writeFileSync(this.snapshotFile.fsPath, exportOtlpJson(this.store, { maxSpans: SNAPSHOT_SPANS, maxLogs: SNAPSHOT_LOGS }), { mode: 0o600 });
      this.dirtySinceSnapshot = false;
    } catch (e) {
      this.log.warn(`could not save the snapshot to ${this.snapshotFile.fsPath}: ${(e as Error).message}`);
    }
  }

  restoreSnapshot(): number {
    let text: string;
    try {
      text = fs.readFileSync(this.snapshotFile.fsPath, 'utf8');
    } catch {
      return 0;
    }
    const r = importOtlpJson(this.store, text);
    this.log.info(`restored ${r.spans} spans and ${r.logs} log records from the last session`);
    return r.spans + r.logs;
  }

  private async exportData(): Promise<void> {
    const target = await vscode.window.showSaveDialog({
      title: 'Routelens: Export Data',
      defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(os.homedir()), `routelens-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.otlp.jsonl`),
      filters: { 'OTLP JSON lines': ['jsonl', 'json'] },
    });
    if (!target) return;
    const text = exportOtlpJson(this.store);
    await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
    const sizes = this.store.sizes();
    void vscode.window.showInformationMessage(`Routelens: exported ${sizes.spans} spans and ${sizes.logs} log records to ${target.fsPath}`);
  }

  private async importData(uri?: vscode.Uri): Promise<void> {
    const picked = uri ? [uri] : await vscode.window.showOpenDialog({ title: 'Routelens: Import Data', canSelectMany: true, filters: { 'OTLP JSON': ['jsonl', 'json'] } });
    if (!picked?.length) return;
    let spans = 0;
    let logs = 0;
    const problems: string[] = [];
    for (const u of picked) {
      const r = importOtlpJson(this.store, Buffer.from(await vscode.workspace.fs.readFile(u)).toString('utf8'));
      spans += r.spans;
      logs += r.logs;
      problems.push(...r.errors.slice(0, 3).map((e) => `${u.fsPath}: ${e}`));
      if (r.rejected) problems.push(`${u.fsPath}: ${r.rejected} item(s) rejected`);
    }
    for (const p of problems) this.log.warn(`import: ${p}`);
    const msg = `Routelens: imported ${spans} spans and ${logs} log records.`;
    if (problems.length) void vscode.window.showWarningMessage(`${msg} Some input was skipped (see Routelens: Show Extension Output).`);
    else void vscode.window.showInformationMessage(msg);
  }

  /** What a CodeLens click does: the route's traces in the trace panel, or a quick pick of them. */
  private async openRouteTraces(keys: RouteKey[], label: string): Promise<void> {
    if (keys.length === 0) {
      void vscode.window.showInformationMessage(`Routelens: no requests for ${label} have arrived yet. Run your API (F5) and call this route.`);
      return;
    }
    const commands = await vscode.commands.getCommands(true);
    if (commands.includes('routelens.showRouteTraces')) {
      await vscode.commands.executeCommand('routelens.showRouteTraces', keys[0]);
      return;
    }
    const requests = keys.flatMap((k) => this.store.routeRequestsOf(k, { limit: 50 }).map((r) => ({ ...r, key: k }))).sort((a, b) => b.receivedMs - a.receivedMs);
    const pick = await vscode.window.showQuickPick(
      requests.map((r) => ({ label: `${r.error ? '$(error) ' : ''}${r.durationMs.toFixed(1)} ms`, description: `${r.key.method} ${r.key.route} · ${r.statusCode ?? ''}`, detail: `${new Date(r.startMs).toLocaleTimeString()} · trace ${r.traceId}`, traceId: r.traceId })),
      { title: `Routelens: recent requests of ${label}`, matchOnDescription: true },
    );
    if (!pick) return;
    const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(this.store.trace(pick.traceId), null, 2) });
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  api(): RoutelensApi {
    const collectorPort = () => this.host?.runtime?.collector.port ?? (this.state.state === 'viewer' ? this.config.collector.port : 0);
    const grpcPort = () => this.host?.runtime?.grpcPort ?? 0;
    const collectorView = () => this.state;
    return {
      store: this.store,
      get collectorPort() {
        return collectorPort();
      },
      get grpcPort() {
        return grpcPort();
      },
      get collectorView() {
        return collectorView();
      },
      token: this.token,
      statusBarText: () => this.statusBar.text,
      agent: { bootstrapDir: this.agent.bootstrapDir, resolveDebugConfiguration: (c) => this.agent.resolveDebugConfiguration(undefined, c) },
      lensTitles: async (uri) => {
        const doc = await vscode.workspace.openTextDocument(uri);
        return this.lenses.provideCodeLenses(doc).map((l) => l.command?.title ?? '');
      },
      saveSnapshot: () => this.saveSnapshot(),
      restoreSnapshot: () => this.restoreSnapshot(),
      whenRoutesIndexed: () => this.starting.then(() => this.lenses.scanned),
      diagnostics: () => {
        this.problems.refresh();
        const out: [string, readonly vscode.Diagnostic[]][] = [];
        this.problems.collection.forEach((uri, list) => void out.push([uri.fsPath, list]));
        return out;
      },
      sidebarState: () => this.sidebar.buildState(),
      restartCollector: () => this.restart(),
      whenStarted: () => this.starting,
    };
  }

  async dispose(): Promise<void> {
    if (this.config.persistence) this.saveSnapshot();
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

const SNAPSHOT_SPANS = 5000;
const SNAPSHOT_LOGS = 2000;

const VIEW_STATE: Record<HostMode, CollectorView['state']> = {
  starting: 'starting',
  owner: 'listening',
  viewer: 'viewer',
  portInUse: 'portInUse',
  error: 'error',
  stopped: 'stopped',
};
