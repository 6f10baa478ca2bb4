import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import type { LogRecord, Span } from '../../core/model';
import type { PathMapping } from '../../core/pathMapping';
import type { TelemetryStore } from '../../core/store/store';
import { openSourceLocation } from '../../editor/openSource';
import { WebviewHost } from '../../editor/webviewHost';
import { webviewOptions } from '../../editor/webviewHtml';
import {
  DEFAULT_FILTER,
  isRouteRef,
  isTraceIdString,
  isTracePanelState,
  isTraceToHost,
  type HostToTrace,
  type RouteRef,
  type TracePanelState,
  type TraceToHost,
} from './protocol';
import { buildTraceView, MAX_TRACE_LOGS, routeOfTrace, traceListRows } from './model';

export const TRACE_VIEW_TYPE = 'routelens.trace';

export interface TracePanelDeps {
  store: TelemetryStore;
  /** The statistics window, for the route's p95 that "slower than p95" compares with. */
  windowSeconds(): number;
  pathMappings(): PathMapping[];
  log: Logger;
}

/**
 * Registers the trace panel: its two commands and the serializer that brings it back after a
 * reload. Returns one disposable for all of it.
 */
export function registerTracePanel(extensionUri: vscode.Uri, deps: TracePanelDeps): vscode.Disposable {
  const panel = new TraceWaterfallPanel(extensionUri, deps);
  return vscode.Disposable.from(
    panel,
    vscode.window.registerWebviewPanelSerializer(TRACE_VIEW_TYPE, panel),
    vscode.commands.registerCommand('routelens.showTrace', (arg?: unknown) => panel.showTrace(arg)),
    vscode.commands.registerCommand('routelens.showRouteTraces', (arg?: unknown) => panel.showRoute(arg)),
  );
}

/**
 * One panel per window: a route's traces (filterable) and the waterfall of the chosen trace.
 * Showing another trace or route reuses the panel.
 */
export class TraceWaterfallPanel implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private readonly host: WebviewHost<TraceToHost, HostToTrace>;
  private state: TracePanelState = { route: null, traceId: null, filter: { ...DEFAULT_FILTER } };
  private readonly disposables: vscode.Disposable[] = [];
  private listSignature = '';
  private traceSignature = '';
  /** The trace the webview shows, for opening its frames by reference rather than by a path the webview sends. */
  private shown: { spans: Span[]; logs: LogRecord[] } = { spans: [], logs: [] };

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly deps: TracePanelDeps,
  ) {
    this.host = new WebviewHost({
      extensionUri,
      script: 'trace.js',
      styles: ['trace.css'],
      title: 'Routelens Trace',
      name: 'trace',
      log: deps.log,
      isMessage: isTraceToHost,
      onReady: () => this.push(true),
      onMessage: (m) => this.handle(m),
      onUpdate: () => this.push(false),
      onDisposed: () => (this.panel = undefined),
    });
    const sub = deps.store.onDidChange(() => this.host.schedule());
    this.disposables.push(this.host, { dispose: () => sub.dispose() });
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** The panel's current selection (tests read it). */
  get current(): Readonly<TracePanelState> {
    return this.state;
  }

  async showTrace(arg?: unknown): Promise<void> {
    const traceId = isTraceIdString(arg) ? arg : await this.pickTrace();
    if (!traceId) return;
    const route = routeOfTrace(this.deps.store.trace(traceId));
    this.state = { ...this.state, route: route ?? this.state.route, traceId, spanId: null };
    this.reveal();
  }

  async showRoute(arg?: unknown): Promise<void> {
    const route = isRouteRef(arg) ? { service: arg.service, method: arg.method, route: arg.route } : await this.pickRoute();
    if (!route) return;
    const { rows } = this.list(route);
    const newest = rows[0]?.traceId ?? this.deps.store.routeRequestsOf(route, { limit: 1 })[0]?.traceId ?? null;
    this.state = { ...this.state, route, traceId: newest, spanId: null };
    this.reveal();
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, saved: unknown): Promise<void> {
    if (isTracePanelState(saved)) this.state = { ...saved, filter: { ...saved.filter } };
    if (this.panel) {
      // Only one panel per window: a second restored one has nothing to add.
      panel.dispose();
      return;
    }
    this.attach(panel);
  }

  private reveal(): void {
    if (this.panel) {
      this.panel.title = this.title();
      this.panel.reveal(this.panel.viewColumn ?? vscode.ViewColumn.Beside);
      this.push(true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(TRACE_VIEW_TYPE, this.title(), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, { ...webviewOptions(this.extensionUri), enableFindWidget: true });
    this.attach(panel);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.listSignature = '';
    this.traceSignature = '';
    panel.title = this.title();
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'routelens.svg');
    this.host.attach(panel, panel.onDidChangeViewState);
  }

  private handle(m: Exclude<TraceToHost, { type: 'ready' }>): void {
    switch (m.type) {
      case 'selectTrace':
        this.state = { ...this.state, traceId: m.traceId, spanId: null };
        this.pushTrace(true);
        return;
      case 'setFilter':
        this.state = { ...this.state, filter: { ...m.filter } };
        this.pushList(true);
        return;
      case 'openSource':
        void this.openSource(m.owner, m.id, m.frame);
        return;
      case 'openLogs':
        void vscode.commands.executeCommand('routelens.openLogView', { traceId: m.traceId });
        return;
      case 'askCopilot':
        void vscode.commands.executeCommand('routelens.askCopilot', 'trace', m.traceId);
        return;
    }
  }

  private async openSource(owner: 'span' | 'log', id: string, frame: number): Promise<void> {
    let at: { file: string; line: number } | undefined;
    if (owner === 'span') {
      const span = this.shown.spans.find((s) => s.spanId === id);
      at = frame < 0 ? span?.code : span?.exception?.frames[frame];
    } else {
      const log = this.sortedLogs()[Number(id)];
      at = frame < 0 ? log?.code : log?.exception?.frames[frame];
    }
    if (!at) return;
    // Beside the panel, so the waterfall stays in view next to the code.
    const column = this.panel?.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Beside : vscode.ViewColumn.One;
    await openSourceLocation(at, this.deps.pathMappings(), this.deps.log, { viewColumn: column });
  }

  /** Log records in the order the view model gives them, so a log index from the webview finds the same record. */
  private sortedLogs(): LogRecord[] {
    return [...this.shown.logs].sort((a, b) => a.timeMs - b.timeMs).slice(-MAX_TRACE_LOGS);
  }

  private push(force: boolean): void {
    if (!this.host.live) return;
    this.pushList(force);
    this.pushTrace(force);
  }

  private list(route: RouteRef) {
    const p95Ms = this.deps.store.route(route)?.summarize(Date.now(), this.deps.windowSeconds()).p95Ms ?? null;
    return { ...traceListRows(this.deps.store, route, this.state.filter, p95Ms, Date.now()), p95Ms };
  }

  private pushList(force: boolean): void {
    const route = this.state.route;
    const { rows, total, p95Ms } = route ? this.list(route) : { rows: [], total: 0, p95Ms: null };
    const signature = JSON.stringify([route, this.state.filter, p95Ms, total, rows.map((r) => r.traceId)]);
    if (!force && signature === this.listSignature) return;
    this.listSignature = signature;
    this.post({ type: 'traces', route, filter: this.state.filter, p95Ms, windowSec: this.deps.windowSeconds(), rows, total });
  }

  private pushTrace(force: boolean): void {
    const id = this.state.traceId;
    const spans = id ? this.deps.store.trace(id) : [];
    const logs = id ? this.deps.store.logs({ traceId: id, limit: MAX_TRACE_LOGS }) : [];
    // A trace still receiving spans (or logs) is sent again; an unchanged one is not.
    const signature = `${id}:${spans.length}:${logs.length}`;
    if (!force && signature === this.traceSignature) return;
    this.traceSignature = signature;
    this.shown = { spans, logs };
    this.post({ type: 'trace', traceId: id, trace: id ? buildTraceView(id, spans, logs) : null });
    if (this.panel) this.panel.title = this.title();
  }

  private post(m: HostToTrace): void {
    this.host.post(m);
  }

  private title(): string {
    const r = this.state.route;
    return r ? `Traces: ${r.method} ${r.route}` : 'Routelens Trace';
  }

  private async pickTrace(): Promise<string | undefined> {
    const recent = this.deps.store.recentRequests({ limit: 50 });
    if (recent.length === 0) {
      void vscode.window.showInformationMessage('Routelens: no traces yet. Send some requests to your API first.');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      recent.map((r) => ({
        label: `${r.method} ${r.route}`,
        description: `${r.durationMs.toFixed(1)} ms${r.statusCode ? ` · ${r.statusCode}` : ''}${r.error ? ' · error' : ''}`,
        detail: `${new Date(r.receivedMs).toLocaleTimeString()} · ${r.service} · ${r.traceId}`,
        traceId: r.traceId,
      })),
      { title: 'Routelens: Show Trace', placeHolder: 'A recent request', matchOnDetail: true },
    );
    return pick?.traceId;
  }

  private async pickRoute(): Promise<RouteRef | undefined> {
    const routes = this.deps.store.routeSummaries(this.deps.windowSeconds());
    if (routes.length === 0) {
      void vscode.window.showInformationMessage('Routelens: no routes yet. Send some requests to your API first.');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      routes.map((r) => ({ label: `${r.method} ${r.route}`, description: r.service, detail: `${r.count} requests in the window`, route: { service: r.service, method: r.method, route: r.route } })),
      { title: 'Routelens: Show Route Traces', placeHolder: 'A route' },
    );
    return pick?.route;
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
