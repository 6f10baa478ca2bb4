import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { Finding } from '../../core/findings';
import type { Logger } from '../../core/log';
import { mapToLocal, type PathMapping } from '../../core/pathMapping';
import type { TelemetryStore } from '../../core/store/store';
import type { SeveritySetting } from '../../settings';
import { SEVERITY } from './errorDiagnostics';
import { SourceLines } from './sourceLines';

interface FindingDiagnostic extends vscode.Diagnostic {
  findingId?: string;
  traceId?: string;
}

/**
 * Findings (N+1 patterns, slow queries, a downstream dominating a route) as entries of the Problems
 * panel at the line that made the calls; a dominance finding, which has no such line, sits at the
 * route's handler. Findings settle a couple of seconds after the traffic that shows them, so this
 * refreshes on a timer as well as on store changes.
 */
export class FindingDiagnostics implements vscode.Disposable, vscode.CodeActionProvider {
  static readonly source = 'Routelens';
  readonly collection = vscode.languages.createDiagnosticCollection('routelens-findings');
  private readonly disposables: vscode.Disposable[] = [this.collection];
  private readonly dismissed = new Set<string>();
  private readonly byUri = new Map<string, FindingDiagnostic[]>();
  private timer: NodeJS.Timeout | undefined;
  private lastKey = '';
  private readonly lines: SourceLines;

  constructor(
    private readonly store: TelemetryStore,
    private readonly config: () => { severity: SeveritySetting; pathMappings: PathMapping[] },
    log: Logger,
  ) {
    this.lines = new SourceLines(log, 'findings');
    const sub = store.onDidChange((e) => {
      if (e.cleared) this.dismissed.clear();
      if (e.spans || e.cleared) this.schedule();
    });
    this.disposables.push(
      { dispose: () => sub.dispose() },
      vscode.languages.registerCodeActionsProvider({ scheme: 'file' }, this, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
      vscode.workspace.onDidSaveTextDocument((d) => this.lines.forget(d.uri.fsPath)),
      vscode.commands.registerCommand('routelens.dismissFinding', (id: unknown) => {
        if (typeof id !== 'string') return;
        this.dismissed.add(id);
        this.refresh();
      }),
    );
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, 1000);
  }

  refresh(): void {
    const cfg = this.config();
    const findings = cfg.severity === 'off' ? [] : this.store.insights.list().filter((f) => !this.dismissed.has(f.id));
    // Skip the rebuild when nothing a person would see changed.
    const key = JSON.stringify([cfg.severity, findings.map((f) => [f.id, f.message, f.requests])]);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.byUri.clear();
    if (cfg.severity !== 'off') {
      const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
      for (const f of findings) {
        const at = f.location ?? this.store.route(f)?.code ?? null;
        if (!at) continue;
        const file = mapToLocal(at.file, cfg.pathMappings, roots, (p) => fs.existsSync(p));
        if (!file) continue;
        const d = this.diagnosticFor(f, file, at.line, SEVERITY[cfg.severity]);
        const uri = vscode.Uri.file(file).toString();
        const list = this.byUri.get(uri) ?? [];
        list.push(d);
        this.byUri.set(uri, list);
      }
    }
    this.collection.clear();
    for (const [uri, list] of this.byUri) this.collection.set(vscode.Uri.parse(uri), list);
  }

  private diagnosticFor(f: Finding, file: string, line1: number, severity: vscode.DiagnosticSeverity): FindingDiagnostic {
    const line = Math.max(0, line1 - 1);
    const text = this.lines.line(file, line) ?? '';
    const start = text.length - text.trimStart().length;
    const seen = f.requests === 1 ? 'seen in 1 request' : `seen in ${f.requests} requests`;
    const d: FindingDiagnostic = new vscode.Diagnostic(new vscode.Range(line, start, line, text.length), `${f.message} (${seen}; service ${f.service})`, severity);
    d.source = FindingDiagnostics.source;
    d.code = f.kind;
    d.findingId = f.id;
    d.traceId = f.exampleTraceIds[0];
    return d;
  }

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    const ours = (this.byUri.get(document.uri.toString()) ?? []).filter((d) => context.diagnostics.some((c) => c.source === FindingDiagnostics.source && c.range.isEqual(d.range) && c.message === d.message));
    for (const d of ours) {
      if (d.traceId) {
        const show = new vscode.CodeAction('Routelens: Show an Example Trace', vscode.CodeActionKind.QuickFix);
        show.command = { command: 'routelens.showTrace', title: 'Show Trace', arguments: [d.traceId] };
        show.diagnostics = [d];
        actions.push(show);
      }
      const dismiss = new vscode.CodeAction(`Routelens: Dismiss This ${d.code === 'n+1' ? 'N+1' : 'Finding'}`, vscode.CodeActionKind.QuickFix);
      dismiss.command = { command: 'routelens.dismissFinding', title: 'Dismiss', arguments: [d.findingId] };
      dismiss.diagnostics = [d];
      actions.push(dismiss);
    }
    return actions;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
