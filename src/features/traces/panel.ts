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
  type TraceListRow,
  type TraceToHost,
} from './protocol';
import { buildTraceView, MAX_TRACE_LOGS, routeOfTrace, traceListRows } from './model';
import { isFlagged } from '../../core/runs/compare';
import { compareSides, targetRoute, type CompareSide, type CompareTarget } from './compare';

export const TRACE_VIEW_TYPE = 'routelens.trace';
/** The two panels of "Compare Route with Last Run" (not restored after a reload). */
export const TRACE_COMPARE_VIEW_TYPE = 'routelens.traceCompare';

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
  const compare = [new TraceWaterfallPanel(extensionUri, deps, TRACE_COMPARE_VIEW_TYPE), new TraceWaterfallPanel(extensionUri, deps, TRACE_COMPARE_VIEW_TYPE)] as const;
  return vscode.Disposable.from(
    panel,
    ...compare,
    vscode.commands.registerCommand('routelens.compareRouteWithLastRun', (arg?: unknown) => compareRouteWithLastRun(deps, compare, arg)),
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
  /** A compare panel's fixed content: one run's sample traces of a route, and its title. */
  private fixed: { title: string; caption: string; rows: TraceListRow[] } | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly deps: TracePanelDeps,
    private readonly viewType = TRACE_VIEW_TYPE,
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
      onDisposed: () => {
        this.panel = undefined;
        this.fixed = undefined;
      },
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

  /** Shows one run's sample trace of a route, titled with the run (a compare panel). */
  showFixed(side: CompareSide, column: vscode.ViewColumn): void {
    this.fixed = { title: side.title, caption: side.caption, rows: side.rows };
    this.state = { route: side.route, traceId: side.traceId, spanId: null, filter: { ...DEFAULT_FILTER } };
    this.reveal(column);
  }

  /** The tab's title (tests read it). */
  get panelTitle(): string | undefined {
    return this.panel?.title;
  }

  /** Spans of the trace shown (tests read it). */
  get shownSpans(): number {
    return this.shown.spans.length;
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

  private reveal(column?: vscode.ViewColumn): void {
    if (this.panel) {
      this.panel.title = this.title();
      this.panel.reveal(column ?? this.panel.viewColumn ?? vscode.ViewColumn.Beside, column !== undefined);
      this.push(true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(this.viewType, this.title(), { viewColumn: column ?? vscode.ViewColumn.Beside, preserveFocus: column !== undefined }, { ...webviewOptions(this.extensionUri), enableFindWidget: true });
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
        if (this.fixed) return;
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
    if (this.fixed) {
      if (!force && this.listSignature === 'fixed') return;
      this.listSignature = 'fixed';
      this.post({ type: 'traces', route, filter: this.state.filter, p95Ms: null, windowSec: this.deps.windowSeconds(), rows: this.fixed.rows, total: this.fixed.rows.length, caption: this.fixed.caption });
      return;
    }
    const { rows, total, p95Ms } = route ? this.list(route) : { rows: [], total: 0, p95Ms: null };
    const signature = JSON.stringify([route, this.state.filter, p95Ms, total, rows.map((r) => r.traceId)]);
    if (!force && signature === this.listSignature) return;
    this.listSignature = signature;
    this.post({ type: 'traces', route, filter: this.state.filter, p95Ms, windowSec: this.deps.windowSeconds(), rows, total });
  }

  private pushTrace(force: boolean): void {
    const id = this.state.traceId;
    let spans = id ? this.deps.store.trace(id) : [];
    // No longer in the store (dropped, or from before a restart): the spans a run kept of it.
    if (id && spans.length === 0) spans = this.deps.store.runs.sampleTrace(id)?.spans ?? [];
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
    if (this.fixed) return this.fixed.title;
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

export interface CompareResult {
  baseline: { runId: string; traceId: string | null; title: string; spans: number };
  run: { runId: string; traceId: string | null; title: string; spans: number };
}

/** The command's argument: a route, the lens's route keys (with an optional run), or a run of the Runs view. */
function compareTarget(arg: unknown): CompareTarget | { runOnly: { service: string; runId: string } } | undefined {
  if (isRouteRef(arg)) return { route: { service: arg.service, method: arg.method, route: arg.route } };
  if (Array.isArray(arg) && arg.length > 0 && arg.every(isRouteRef)) return { routes: arg as RouteRef[] };
  if (arg && typeof arg === 'object') {
    const o = arg as { kind?: unknown; service?: unknown; runId?: unknown };
    if (o.kind === 'run' && typeof o.service === 'string' && typeof o.runId === 'string') return { runOnly: { service: o.service, runId: o.runId } };
  }
  return undefined;
}

/**
 * Opens the route's slowest sample trace of the run and of its baseline in two panels side by
 * side: the baseline's on the left, the run's on the right. Returns what it opened.
 */
async function compareRouteWithLastRun(deps: TracePanelDeps, panels: readonly [TraceWaterfallPanel, TraceWaterfallPanel], arg?: unknown): Promise<CompareResult | undefined> {
  const tracker = deps.store.runs;
  const spansOf = (id: string) => {
    const s = deps.store.trace(id);
    return s.length ? s : (tracker.sampleTrace(id)?.spans ?? []);
  };
  let target = compareTarget(arg);
  let runId: string | undefined;
  if (!target || 'runOnly' in target) {
    const picked = await pickComparedRoute(tracker, target && 'runOnly' in target ? target.runOnly : undefined);
    if (!picked) return undefined;
    runId = picked.runId;
    target = { route: picked.route };
  }
  const route = targetRoute(tracker, target);
  const sides = route ? compareSides(tracker, route, spansOf, runId) : undefined;
  if (!route || !sides) {
    void vscode.window.showInformationMessage('Routelens: this route has no earlier run to compare with yet. Restart the API, send it some requests, and try again.');
    return undefined;
  }
  if (!sides.baseline.traceId && !sides.run.traceId) {
    void vscode.window.showInformationMessage(`Routelens: neither run kept a trace of ${route.method} ${route.route}.`);
  }
  // Next to where the user is (the handler's file, usually): last run, then this run.
  const active = vscode.window.activeTextEditor?.viewColumn ?? 0;
  const left = Math.min(8, active + 1) as vscode.ViewColumn;
  panels[0].showFixed(sides.baseline, left);
  panels[1].showFixed(sides.run, (left + 1) as vscode.ViewColumn);
  const info = (s: CompareSide) => ({ runId: s.runId, traceId: s.traceId, title: s.title, spans: s.traceId ? spansOf(s.traceId).length : 0 });
  return { baseline: info(sides.baseline), run: info(sides.run) };
}

/** A route of a run (the latest of its service, or the given run) that has a baseline: flagged routes first. */
async function pickComparedRoute(tracker: TelemetryStore['runs'], given?: { service: string; runId: string }): Promise<{ route: RouteRef; runId?: string } | undefined> {
  const services = given ? [given.service] : tracker.services();
  const items: (vscode.QuickPickItem & { route: RouteRef; flagged: boolean; runId?: string })[] = [];
  for (const service of services) {
    const c = tracker.comparison(service, given?.runId);
    const run = c ? tracker.find(c.run.id) : undefined;
    if (!c?.baseline || !run) continue;
    // The run's own routes (the comparison may be a second old while requests stream in).
    const compared = new Map(c.routes.map((r) => [`${r.method} ${r.route}`, r]));
    for (const rr of run.routes.values()) {
      const r = compared.get(`${rr.method} ${rr.route}`) ?? { method: rr.method, route: rr.route, count: rr.count, p95Ms: null, baseline: null, change: {} };
      const flagged = isFlagged(r.change);
      items.push({ label: `${r.method} ${r.route}`, description: `${service}${flagged ? ' · changed' : ''}`, detail: `${r.count} requests${r.p95Ms !== null ? ` · p95 ${r.p95Ms.toFixed(1)} ms` : ''}${r.baseline && r.baseline.p95Ms !== null ? ` (was ${r.baseline.p95Ms.toFixed(1)} ms)` : ''}`, route: { service, method: r.method, route: r.route }, flagged, ...(given ? { runId: given.runId } : {}) });
    }
  }
  if (items.length === 0) {
    void vscode.window.showInformationMessage('Routelens: no run has an earlier run to compare with yet. Restart the API, send it some requests, and try again.');
    return undefined;
  }
  items.sort((a, b) => Number(b.flagged) - Number(a.flagged));
  // A run of one route (or one with a baseline) needs no question.
  if (items.length === 1) return { route: items[0].route, ...(items[0].runId ? { runId: items[0].runId } : {}) };
  const pick = await vscode.window.showQuickPick(items, { title: 'Routelens: Compare Route with Last Run', placeHolder: 'A route: its slowest trace in each run, side by side' });
  return pick ? { route: pick.route, ...(pick.runId ? { runId: pick.runId } : {}) } : undefined;
}
