/**
 * The log view: every log record the store holds (the Python agent, OTLP logs from any SDK, the
 * debug console), live, filterable, in an editor-area webview. Opened by "Routelens: Open Log
 * View", from the Routelens view's title bar and from its status bar item; a record opens the
 * line that wrote it and its trace.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { mapToLocal } from '../../core/pathMapping';
import type { StoreChange } from '../../core/store/store';
import { EMPTY_FILTER, isLogFilter, isLogsToHost, isLogViewState, MAX_ROWS_PER_REQUEST, type HostToLogs, type LogFilter, type LogsToHost, type LogViewState } from './protocol';
import type { FeatureContext } from '../context';
import { webviewHtml, webviewOptions } from '../../editor/webviewHtml';
import { callsite, LogViewModel } from './model';

export const LOGS_VIEW_TYPE = 'routelens.logs';
export const OPEN_LOG_VIEW = 'routelens.openLogView';
const UPDATE_INTERVAL_MS = 250;

export function register(ctx: FeatureContext): vscode.Disposable {
  const view = new LogView(ctx);
  const status = vscode.window.createStatusBarItem('routelens.logs', vscode.StatusBarAlignment.Left, 49);
  status.name = 'Routelens Logs';
  status.text = '$(list-flat) Logs';
  status.tooltip = 'Routelens: open the log view';
  status.command = OPEN_LOG_VIEW;
  status.show();
  return vscode.Disposable.from(
    view,
    status,
    vscode.window.registerWebviewPanelSerializer(LOGS_VIEW_TYPE, view),
    vscode.commands.registerCommand(OPEN_LOG_VIEW, (arg?: unknown) => view.open(arg)),
  );
}

/** What the command accepts: nothing, a trace id, or `{ traceId?, filter? }`. */
function filterFromArg(arg: unknown): LogFilter | undefined {
  if (typeof arg === 'string' && /^[0-9a-fA-F]{32}$/.test(arg)) return { ...EMPTY_FILTER, traceId: arg.toLowerCase() };
  if (typeof arg !== 'object' || arg === null) return undefined;
  const a = arg as { traceId?: unknown; filter?: unknown };
  if (isLogFilter(a.filter)) return { ...a.filter };
  if (typeof a.traceId === 'string' && /^[0-9a-fA-F]{32}$/.test(a.traceId)) return { ...EMPTY_FILTER, traceId: a.traceId.toLowerCase() };
  return undefined;
}

export class LogView implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private state: LogViewState = { filter: { ...EMPTY_FILTER }, paused: false };
  private readonly model: LogViewModel;
  private readonly disposables: vscode.Disposable[] = [];
  private panelDisposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private cleared = false;
  /** A filter to apply once the webview is ready (the command's, over the saved one). */
  private pendingFilter: LogFilter | undefined;

  constructor(private readonly ctx: FeatureContext) {
    this.model = new LogViewModel(ctx.store);
    const sub = ctx.store.onDidChange((e: StoreChange) => {
      if (e.cleared) this.cleared = true;
      if (e.logs || e.spans || e.cleared) this.schedule();
    });
    this.disposables.push({ dispose: () => sub.dispose() });
  }

  /** For tests: the panel's state and how many records match. */
  get current(): { open: boolean; state: LogViewState; total: number } {
    return { open: !!this.panel, state: this.state, total: this.model.total };
  }

  open(arg?: unknown): void {
    const filter = filterFromArg(arg);
    if (filter) this.state = { ...this.state, filter };
    // A new panel starts from the filter the view last had (or the one asked for).
    this.pendingFilter = filter ?? (this.panel ? undefined : this.state.filter);
    if (this.panel) {
      this.panel.reveal(this.panel.viewColumn ?? vscode.ViewColumn.Active);
      if (filter && this.ready) this.applyFilter(filter, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(LOGS_VIEW_TYPE, 'Routelens Logs', { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, { ...webviewOptions(this.ctx.extension.extensionUri), retainContextWhenHidden: false, enableFindWidget: true });
    this.attach(panel);
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, saved: unknown): Promise<void> {
    if (this.panel) {
      panel.dispose();
      return;
    }
    if (isLogViewState(saved)) this.state = { filter: { ...saved.filter }, paused: saved.paused };
    this.attach(panel);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    panel.title = 'Routelens Logs';
    panel.iconPath = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'media', 'routelens.svg');
    panel.webview.options = webviewOptions(this.ctx.extension.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, this.ctx.extension.extensionUri, { script: 'logs.js', styles: ['logs.css'], title: 'Routelens Logs' });
    this.panelDisposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.ready = false;
        for (const d of this.panelDisposables.splice(0)) d.dispose();
      }),
    );
  }

  private onMessage(m: unknown): void {
    if (!isLogsToHost(m)) {
      this.ctx.log.warn('[logs] ignored an unexpected message from the webview');
      return;
    }
    this.handle(m);
  }

  private handle(m: LogsToHost): void {
    switch (m.type) {
      case 'ready': {
        this.ready = true;
        // The webview's saved state wins after a reload, unless a command asked for a filter.
        const filter = this.pendingFilter ?? m.state.filter;
        this.pendingFilter = undefined;
        this.state = { filter, paused: m.state.paused };
        this.applyFilter(filter, JSON.stringify(filter) !== JSON.stringify(m.state.filter));
        return;
      }
      case 'setState': {
        const filterChanged = JSON.stringify(m.state.filter) !== JSON.stringify(this.state.filter);
        const resumed = this.state.paused && !m.state.paused;
        this.state = { filter: { ...m.state.filter }, paused: m.state.paused };
        if (filterChanged) this.applyFilter(this.state.filter, false);
        else if (resumed) this.push(true);
        return;
      }
      case 'rows':
        if (m.version !== this.model.version) return;
        this.post({ type: 'rows', version: m.version, start: m.start, rows: this.model.rows(m.start, Math.min(m.count, MAX_ROWS_PER_REQUEST)) });
        return;
      case 'detail':
        if (m.version !== this.model.version) return;
        this.post({ type: 'detail', version: m.version, index: m.index, detail: this.model.detail(m.index) });
        return;
      case 'openSource':
        if (m.version === this.model.version) void this.openSource(m.index);
        return;
      case 'openTrace':
        if (m.version === this.model.version) void this.openTrace(m.index);
        return;
    }
  }

  private applyFilter(filter: LogFilter, tellWebview: boolean): void {
    this.model.setFilter(filter);
    this.cleared = false;
    if (tellWebview) this.post({ type: 'setFilter', filter });
    this.sendResult(true);
  }

  private async openSource(index: number): Promise<void> {
    const log = this.model.recordAt(index);
    const at = log && callsite(log);
    if (!at) {
      void vscode.window.showInformationMessage('Routelens: this record does not say which line wrote it.');
      return;
    }
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const local = mapToLocal(at.file, this.ctx.settings().problems.pathMappings, roots, (p) => fs.existsSync(p));
    if (!local) {
      this.ctx.log.info(`[logs] cannot open ${at.file}: not found on this machine`);
      void vscode.window.showInformationMessage(`Routelens: ${at.file} is not on this machine (a path mapping in routelens.pathMappings can point to it).`);
      return;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(local));
    const line = Math.min(Math.max(0, at.line - 1), Math.max(0, doc.lineCount - 1));
    const text = doc.lineAt(line).text;
    const col = text.length - text.trimStart().length;
    const column = this.panel?.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Beside : vscode.ViewColumn.One;
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, col, line, col), preview: true, viewColumn: column });
  }

  private async openTrace(index: number): Promise<void> {
    const traceId = this.model.recordAt(index)?.traceId;
    if (!traceId) return;
    if (this.ctx.store.trace(traceId).length === 0) {
      void vscode.window.showInformationMessage('Routelens: the spans of this trace are no longer (or not yet) in the store.');
      return;
    }
    await vscode.commands.executeCommand('routelens.showTrace', traceId);
  }

  private schedule(): void {
    if (this.timer || !this.panel) return;
    const wait = Math.max(0, this.lastSent + UPDATE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.push(false);
    }, wait);
  }

  private push(force: boolean): void {
    if (!this.panel || !this.ready || !this.panel.visible) return;
    // Paused: the rows keep their places (records the store drops show as gone) until resumed.
    if (this.state.paused && !force) return;
    const changed = this.model.refresh(this.cleared);
    this.cleared = false;
    if (changed || force) this.sendResult(false);
  }

  private sendResult(reset: boolean): void {
    this.lastSent = Date.now();
    const { sinceMs, untilMs } = this.state.filter;
    const services = this.ctx.store.serviceList().map((s) => s.name).slice(0, 500);
    const routes = [...new Set(this.ctx.store.routeSummaries(this.ctx.windowSeconds()).map((r) => `${r.method} ${r.route}`))].sort().slice(0, 500);
    this.post({
      type: 'result',
      version: this.model.version,
      total: this.model.total,
      held: this.ctx.store.sizes().logs,
      histogram: this.model.histogram({ sinceMs, untilMs }),
      services,
      routes,
      error: '',
      tail: reset,
    });
  }

  private post(m: HostToLogs): void {
    void this.panel?.webview.postMessage(m);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.panel?.dispose();
    for (const d of [...this.panelDisposables.splice(0), ...this.disposables]) d.dispose();
  }
}
