import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { innermostAppFrame, type ErrorGroup } from '../../core/stats/errorGroups';
import type { TelemetryStore } from '../../core/store/store';
import type { Logger } from '../../core/log';
import { mapToLocal, type PathMapping } from '../../core/pathMapping';
import type { ProblemsConfig, SeveritySetting } from '../../settings';
import { SourceLines } from './sourceLines';


/** The Problems panel's severity for each setting value (every setting but `off`). */
export const SEVERITY: Record<Exclude<SeveritySetting, 'off'>, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

/** Diagnostic.code carries the group's fingerprint so the code actions can find the group. */
export interface RoutelensDiagnostic extends vscode.Diagnostic {
  fingerprint?: string;
}

/**
 * Error groups as entries of the Problems panel, at the innermost frame inside the workspace (else
 * the log's call site), one per group, refreshed at most twice a second.
 */
export class ErrorDiagnostics implements vscode.Disposable, vscode.CodeActionProvider {
  static readonly source = 'Routelens';
  readonly collection = vscode.languages.createDiagnosticCollection('routelens');
  private readonly disposables: vscode.Disposable[] = [this.collection];
  private timer: NodeJS.Timeout | undefined;
  private readonly byUri = new Map<string, RoutelensDiagnostic[]>();
  private readonly lines: SourceLines;

  constructor(
    private readonly store: TelemetryStore,
    private config: () => ProblemsConfig,
    log: Logger,
  ) {
    this.lines = new SourceLines(log, 'problems');
    const sub = store.onDidChange((e) => {
      if (e.errorsChanged) this.schedule();
    });
    this.disposables.push({ dispose: () => sub.dispose() });
    this.disposables.push(
      vscode.languages.registerCodeActionsProvider({ scheme: 'file' }, this, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
      vscode.workspace.onDidSaveTextDocument((d) => this.lines.forget(d.uri.fsPath)),
    );
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, 500);
  }

  refresh(): void {
    const cfg = this.config();
    const now = Date.now();
    this.byUri.clear();
    const quietMs = cfg.clearAfterMinutes * 60_000;
    for (const g of this.store.errorGroups()) {
      if (quietMs > 0 && now - g.lastSeenMs > quietMs) continue;
      const setting = g.severity === 'warning' ? cfg.warningSeverity : cfg.errorSeverity;
      if (setting === 'off') continue;
      const d = this.diagnosticFor(g, SEVERITY[setting], cfg.pathMappings);
      if (!d) continue;
      const key = d.uri.toString();
      const list = this.byUri.get(key) ?? [];
      list.push(d.diagnostic);
      this.byUri.set(key, list);
    }
    this.collection.clear();
    for (const [uri, list] of this.byUri) this.collection.set(vscode.Uri.parse(uri), list);
    this.lines.clear();
  }

  private diagnosticFor(g: ErrorGroup, severity: vscode.DiagnosticSeverity, mappings: PathMapping[]): { uri: vscode.Uri; diagnostic: RoutelensDiagnostic } | undefined {
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const local = (file: string) => mapToLocal(file, mappings, roots, (p) => fs.existsSync(p));
    // The innermost frame that is in the workspace, else any local app frame, else the call site.
    let at: { file: string; line: number } | undefined;
    for (let i = g.frames.length - 1; i >= 0 && !at; i--) {
      const p = local(g.frames[i].file);
      if (p && roots.some((r) => p.startsWith(r))) at = { file: p, line: g.frames[i].line };
    }
    if (!at) {
      const frame = innermostAppFrame(g.frames) ?? g.location;
      const p = frame && local(frame.file);
      if (p && frame) at = { file: p, line: frame.line };
    }
    if (!at) return undefined;
    const line = Math.max(0, at.line - 1);
    const text = this.lines.line(at.file, line);
    const start = text ? text.length - text.trimStart().length : 0;
    const range = new vscode.Range(line, start, line, text ? text.length : 0);
    const where = g.route ? ` on ${g.method ?? ''} ${g.route}`.replace('  ', ' ') : '';
    const count = g.count === 1 ? 'once' : `${g.count}×`;
    const when = new Date(g.lastSeenMs).toLocaleTimeString();
    const message = `${g.type}: ${oneLine(g.message)} (${count}${where}, last at ${when}; service ${g.service})`;
    const diagnostic: RoutelensDiagnostic = new vscode.Diagnostic(range, message, severity);
    diagnostic.source = ErrorDiagnostics.source;
    diagnostic.code = g.type;
    diagnostic.fingerprint = g.fingerprint;
    const related: vscode.DiagnosticRelatedInformation[] = [];
    for (const f of g.frames) {
      const p = local(f.file);
      if (!p || (p === at.file && f.line === at.line) || !roots.some((r) => p.startsWith(r))) continue;
      related.push(new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.file(p), new vscode.Position(Math.max(0, f.line - 1), 0)), `called from ${f.function}`));
    }
    if (related.length) diagnostic.relatedInformation = related.slice(-10);
    return { uri: vscode.Uri.file(at.file), diagnostic };
  }

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    const ours = (this.byUri.get(document.uri.toString()) ?? []).filter((d) => context.diagnostics.some((c) => c.source === ErrorDiagnostics.source && c.range.isEqual(d.range) && c.message === d.message));
    for (const d of ours) {
      const g = this.store.errorGroups().find((x) => x.fingerprint === d.fingerprint);
      if (g?.traceId) {
        const show = new vscode.CodeAction(`Routelens: Show Trace of ${g.type}`, vscode.CodeActionKind.QuickFix);
        show.command = { command: 'routelens.showTrace', title: 'Show Trace', arguments: [g.traceId] };
        show.diagnostics = [d];
        actions.push(show);
      }
      if (g) {
        const ask = new vscode.CodeAction(`Routelens: Ask Copilot About ${g.type}`, vscode.CodeActionKind.QuickFix);
        ask.command = { command: 'routelens.askCopilot', title: 'Ask Copilot', arguments: ['error', `${g.type}: ${oneLine(g.message).slice(0, 120)}${g.route ? ` on ${g.method ?? ''} ${g.route}` : ''}`] };
        ask.diagnostics = [d];
        actions.push(ask);
      }
      const dismiss = new vscode.CodeAction(`Routelens: Dismiss ${d.code ?? 'this error'}`, vscode.CodeActionKind.QuickFix);
      dismiss.command = { command: 'routelens.dismissError', title: 'Dismiss', arguments: [d.fingerprint] };
      dismiss.diagnostics = [d];
      actions.push(dismiss);
    }
    if (ours.length) {
      const all = new vscode.CodeAction('Routelens: Dismiss All Errors', vscode.CodeActionKind.QuickFix);
      all.command = { command: 'routelens.dismissAllErrors', title: 'Dismiss All' };
      actions.push(all);
    }
    return actions;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? t.slice(0, 300) + '…' : t;
}
