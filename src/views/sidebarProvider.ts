import * as vscode from 'vscode';
import type { Logger } from '../core/log';
import type { TelemetryStore } from '../core/store/store';
import { isSidebarToHost, type CollectorView, type HostToSidebar, type SidebarCommand, type SidebarState, type SidebarToHost, type TargetRow } from '../shared/sidebarProtocol';
import { buildMetricsView, buildSidebarState, MAX_PINNED, type SidebarCache } from './sidebarModel';
import { webviewHtml, webviewOptions } from './webviewHtml';

/** At most four updates a second reach the webview, however fast telemetry arrives. */
export const UPDATE_INTERVAL_MS = 250;

export interface SidebarHost {
  store: TelemetryStore;
  collectorView(): CollectorView;
  windowSeconds(): number;
  setWindowSeconds(seconds: number): void;
  onMessage(msg: SidebarToHost): void;
  /** Prometheus target health (empty when this window is a viewer or no targets are set). */
  targets?(): TargetRow[];
}

/** Commands of the empty state that the composition root does not map: run here. */
const LOCAL_COMMANDS: Partial<Record<SidebarCommand, [string, ...unknown[]]>> = {
  copyAgentEnv: ['routelens.copyAgentEnvironment'],
  prometheusSettings: ['workbench.action.openSettings', 'routelens.prometheus'],
};

export class SidebarProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'routelens.dashboard';
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private lastSent = 0;
  private service: string | null = null;
  paused = false;
  private readonly disposables: vscode.Disposable[] = [];
  private viewDisposables: vscode.Disposable[] = [];
  /** The last state posted: what a paused view keeps showing, and what tests read. */
  lastState: SidebarState | undefined;
  /** Milliseconds spent building the last state (extension-host CPU per update). */
  lastBuildMs = 0;
  private readonly cache: { current?: SidebarCache; generation: number } = { generation: 0 };

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: SidebarHost,
    private readonly log: Logger,
  ) {
    const sub = host.store.onDidChange((e) => {
      if (e.cleared) this.cache.generation++;
      this.schedule();
    });
    this.disposables.push({ dispose: () => sub.dispose() });
    // Rates decay and windows slide even when nothing arrives.
    const tick = setInterval(() => this.schedule(), 1000);
    this.disposables.push({ dispose: () => clearInterval(tick) });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    for (const d of this.viewDisposables.splice(0)) d.dispose();
    this.view = view;
    this.ready = false;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, { script: 'sidebar.js', styles: ['sidebar.css'], title: 'Routelens' });
    this.viewDisposables.push(
      view.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      view.onDidChangeVisibility(() => {
        // A hidden view's document is destroyed; the new one says `ready` when it can listen.
        if (!view.visible) this.ready = false;
      }),
      view.onDidDispose(() => {
        this.view = undefined;
        this.ready = false;
      }),
    );
  }

  private onMessage(m: unknown): void {
    if (!isSidebarToHost(m)) {
      this.log.warn('[sidebar] ignored an unexpected message from the webview');
      return;
    }
    switch (m.type) {
      case 'ready':
        this.ready = true;
        // A paused view comes back with the figures it was frozen on.
        if (this.paused && this.lastState) this.post(this.lastState);
        else this.flush(true);
        return;
      case 'setWindow':
        this.host.setWindowSeconds(m.seconds);
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
      case 'command': {
        const local = LOCAL_COMMANDS[m.command];
        if (local) void vscode.commands.executeCommand(...local);
        else this.host.onMessage(m);
        return;
      }
      default:
        this.host.onMessage(m);
    }
  }

  get visible(): boolean {
    return !!this.view?.visible;
  }

  /** Forces an update now (state changes such as the collector restarting). */
  refresh(): void {
    this.flush(true);
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.flush(true);
  }

  private schedule(): void {
    this.dirty = true;
    if (this.timer || this.paused) return;
    const wait = Math.max(0, this.lastSent + UPDATE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.flush();
    }, wait);
  }

  private flush(force = false): void {
    if (!this.view || !this.ready || !this.view.visible) return;
    if (this.paused && !force) return;
    this.dirty = false;
    this.lastSent = Date.now();
    this.post(this.buildState(true));
  }

  private post(state: SidebarState): void {
    this.lastState = state;
    const msg: HostToSidebar = { type: 'state', state };
    void this.view?.webview.postMessage(msg);
  }

  /**
   * The state as of now. Live updates reuse what changes only once a second (`cached`); without
   * it everything is computed afresh, as a caller asking right after new data expects.
   */
  /** The metrics explorer's search and pinned series (kept across hide and show). */
  metricFilter = '';
  readonly pinned = new Set<string>();

  buildState(cached = false): SidebarState {
    const t0 = performance.now();
    const input = { collector: this.host.collectorView(), windowSec: this.host.windowSeconds(), service: this.service, paused: this.paused, nowMs: Date.now() };
    const state = buildSidebarState(this.host.store, input, cached ? this.cache : { generation: this.cache.generation });
    state.metrics = buildMetricsView(this.host.store, { filter: this.metricFilter, pinned: this.pinned, targets: this.host.targets?.() ?? [], nowMs: input.nowMs, windowSec: input.windowSec });
    this.lastBuildMs = performance.now() - t0;
    return state;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of [...this.viewDisposables, ...this.disposables]) d.dispose();
  }
}
