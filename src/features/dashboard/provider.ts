import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import type { TelemetryStore } from '../../core/store/store';
import { openSourceLocation } from '../../editor/openSource';
import { WebviewHost } from '../../editor/webviewHost';
import type { PathMapping } from '../../core/pathMapping';
import { isDashboardToHost, type CollectorView, type DashboardCommand, type DashboardState, type DashboardToHost, type HostToDashboard, type TargetRow, type UpstreamView } from './protocol';
import { buildMetricsView, buildDashboardState, MAX_PINNED, type DashboardCache, type RemoteRouteSource } from './model';

export { UPDATE_INTERVAL_MS } from '../../editor/webviewHost';

export interface DashboardHost {
  store: TelemetryStore;
  collectorView(): CollectorView;
  windowSeconds(): number;
  setWindowSeconds(seconds: number): void;
  pathMappings(): PathMapping[];
  /** Prometheus target health (empty when this window is a viewer or no targets are set). */
  targets?(): TargetRow[];
  /** The remote Prometheus source of route figures, when one is configured. */
  remote?(): RemoteRouteSource | undefined;
  /** Forwarding and the remote source's state, when either is configured. */
  upstream?(): UpstreamView | undefined;
}

/** What each button of the dashboard runs. */
const COMMANDS: Record<DashboardCommand, [string, ...unknown[]]> = {
  copyEndpoint: ['routelens.copyOtlpEndpoint'],
  restartCollector: ['routelens.restartCollector'],
  clearData: ['routelens.clearData'],
  showLogs: ['routelens.showLogs'],
  togglePause: ['routelens.togglePause'],
  debugHelp: ['workbench.action.debug.start'],
  copyAgentEnv: ['routelens.copyAgentEnvironment'],
  prometheusSettings: ['workbench.action.openSettings', 'routelens.prometheus'],
};

/** The dashboard: the Routelens view in the activity bar (view id `routelens.dashboard`). */
export class DashboardProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'routelens.dashboard';
  private readonly host: WebviewHost<DashboardToHost, HostToDashboard>;
  private dirty = false;
  private service: string | null = null;
  paused = false;
  private readonly disposables: vscode.Disposable[] = [];
  /** The last state posted: what a paused view keeps showing, and what tests read. */
  lastState: DashboardState | undefined;
  /** Milliseconds spent building the last state (extension-host CPU per update). */
  lastBuildMs = 0;
  private readonly cache: { current?: DashboardCache; generation: number } = { generation: 0 };
  /** The metrics explorer's search and pinned series (kept across hide and show). */
  metricFilter = '';
  readonly pinned = new Set<string>();

  constructor(
    extensionUri: vscode.Uri,
    private readonly deps: DashboardHost,
    private readonly log: Logger,
  ) {
    this.host = new WebviewHost({
      extensionUri,
      script: 'sidebar.js',
      styles: ['sidebar.css'],
      title: 'Routelens',
      name: 'dashboard',
      log,
      isMessage: isDashboardToHost,
      // A paused view comes back with the figures it was frozen on.
      onReady: () => (this.paused && this.lastState ? this.post(this.lastState) : this.flush(true)),
      onMessage: (m) => this.onMessage(m),
      onUpdate: () => {
        if (this.dirty) this.flush();
      },
    });
    const sub = deps.store.onDidChange((e) => {
      if (e.cleared) this.cache.generation++;
      this.schedule();
    });
    this.disposables.push(this.host, { dispose: () => sub.dispose() });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.host.attach(view, view.onDidChangeVisibility);
  }

  private onMessage(m: Exclude<DashboardToHost, { type: 'ready' }>): void {
    switch (m.type) {
      case 'setWindow':
        this.deps.setWindowSeconds(m.seconds);
        this.flush(true);
        return;
      case 'setService':
        this.service = m.service;
        this.flush(true);
        return;
      case 'openTrace':
        void vscode.commands.executeCommand('routelens.showTrace', m.traceId);
        return;
      case 'metricFilter':
        this.metricFilter = m.text;
        this.flush(true);
        return;
      case 'pinMetric':
        if (m.pinned && this.pinned.size < MAX_PINNED) this.pinned.add(m.key);
        else this.pinned.delete(m.key);
        this.flush(true);
        return;
      case 'command':
        void vscode.commands.executeCommand(...COMMANDS[m.command]);
        return;
      case 'openRoute': {
        // The handler first, then the route's traces beside it: the code keeps the main editor group.
        const code = this.deps.store.route(m)?.code;
        const route = { service: m.service, method: m.method, route: m.route };
        void (code ? openSourceLocation(code, this.deps.pathMappings(), this.log) : Promise.resolve(false)).then(() => vscode.commands.executeCommand('routelens.showRouteTraces', route));
        return;
      }
      case 'openError': {
        const g = this.deps.store.errorGroups().find((x) => x.fingerprint === m.fingerprint);
        if (g?.location) void openSourceLocation(g.location, this.deps.pathMappings(), this.log);
        return;
      }
    }
  }

  get visible(): boolean {
    return this.host.visible;
  }

  /** Forces an update now (state changes such as the collector restarting). */
  refresh(): void {
    this.flush(true);
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.flush(true);
  }

  /** Data changed or time passed: an update within the throttle interval. */
  schedule(): void {
    this.dirty = true;
    if (!this.paused) this.host.schedule();
  }

  private flush(force = false): void {
    if (!this.host.live) return;
    if (this.paused && !force) return;
    this.dirty = false;
    this.post(this.buildState(true));
  }

  private post(state: DashboardState): void {
    this.lastState = state;
    this.host.post({ type: 'state', state });
  }

  /**
   * The state as of now. Live updates reuse what changes only once a second (`cached`); without
   * it everything is computed afresh, as a caller asking right after new data expects.
   */
  buildState(cached = false): DashboardState {
    const t0 = performance.now();
    const input = { collector: this.deps.collectorView(), windowSec: this.deps.windowSeconds(), service: this.service, paused: this.paused, nowMs: Date.now(), remote: this.deps.remote?.() };
    const state = buildDashboardState(this.deps.store, input, cached ? this.cache : { generation: this.cache.generation });
    state.metrics = buildMetricsView(this.deps.store, { filter: this.metricFilter, pinned: this.pinned, targets: this.deps.targets?.() ?? [], nowMs: input.nowMs, windowSec: input.windowSec });
    const upstream = this.deps.upstream?.();
    if (upstream) state.upstream = upstream;
    this.lastBuildMs = performance.now() - t0;
    return state;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
