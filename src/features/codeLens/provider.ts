import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import { djangoModulePaths, djangoRoutesForViews, JsRouteGraph, PythonRouteGraph, resolveDjangoUrlconfs, RouteIndex, type DetectedRoute, type DjangoUrlEntry, type RouteLanguage, type UrlconfFile } from '../../core/routes';
import { formatMs } from '../../core/format';
import { handlerStatsForFile, methodsSharingHandler, type HandlerStats } from '../../core/routes/handlerStats';
import { breakdownLine, histogramText, hoverHeadline, hoverSourceNote, lensTitle } from './lensText';
import type { TelemetryStore } from '../../core/store/store';
import { hoverExtra, lensExtra } from '../../core/routes/lensExtras';
import { hoverComparison, lensSuffix } from '../../core/runs/annotate';

const LANGUAGES: Record<string, RouteLanguage> = {
  python: 'python',
  javascript: 'javascript',
  typescript: 'typescript',
  javascriptreact: 'javascript',
  typescriptreact: 'typescript',
};
const SELECTOR: vscode.DocumentSelector = Object.keys(LANGUAGES).map((language) => ({ language, scheme: 'file' }));
const SCAN_GLOB = '**/*.{py,js,ts,mjs,cjs}';
const SCAN_EXCLUDE = '**/{node_modules,.venv,venv,env,site-packages,dist-packages,.git,dist,out,build,__pycache__,.tox,.mypy_cache}/**';
const SCAN_LIMIT = 3000;
const MAX_FILE_BYTES = 2 * 1024 * 1024;

export interface LensConfig {
  enabled: boolean;
  decorations: boolean;
  latencyBudgetMs: number;
  windowSeconds: number;
}

/**
 * Observed latency above each route handler: a CodeLens (p50 · p95 · req/s · errors) that opens
 * the route's traces, an end-of-line decoration coloured against the latency budget, and a hover
 * with a small histogram and the last errors. Handlers are found by static detection of the
 * workspace's files; telemetry is matched to them by code location first, then by template.
 */
export class RouteCodeLensProvider implements vscode.CodeLensProvider, vscode.HoverProvider, vscode.Disposable {
  readonly index = new RouteIndex();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private readonly versions = new Map<string, number>();
  /** Django views in a file, found through a urls.py elsewhere: uri → routes. */
  private readonly djangoRoutes = new Map<string, DetectedRoute[]>();
  private readonly ownRoutes = new Map<string, DetectedRoute[]>();
  /** Python files with routes or mounts: routers mounted in one file get their prefixes from another. */
  private readonly pyGraph = new PythonRouteGraph();
  /** JavaScript/TypeScript files: Express routers mounted in one file get their paths from another. */
  private readonly jsGraph = new JsRouteGraph();
  /** While the workspace scan runs, the Python route graph is resolved once at its end. */
  private scanning = false;
  private readonly resolvedRoutes = new Map<string, string>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly decoration: { ok: vscode.TextEditorDecorationType; warn: vscode.TextEditorDecorationType; slow: vscode.TextEditorDecorationType };
  /** Handlers that have had traffic at some point, for "no requests in the window" vs "no traffic yet". */
  private readonly everSeen = new Set<string>();
  scanned: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: TelemetryStore,
    private readonly config: () => LensConfig,
    private readonly log: Logger,
  ) {
    const deco = (color: string) =>
      vscode.window.createTextEditorDecorationType({ after: { color: new vscode.ThemeColor(color), margin: '0 0 0 2em', fontStyle: 'italic' }, rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed });
    this.decoration = { ok: deco('testing.iconPassed'), warn: deco('editorWarning.foreground'), slow: deco('editorError.foreground') };
    this.disposables.push(
      this.decoration.ok,
      this.decoration.warn,
      this.decoration.slow,
      vscode.languages.registerCodeLensProvider(SELECTOR, this),
      vscode.languages.registerHoverProvider(SELECTOR, this),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document.uri)),
      vscode.workspace.onDidOpenTextDocument((d) => this.analyze(d)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.decorate()),
      vscode.workspace.onDidDeleteFiles((e) => e.files.forEach((f) => this.forget(f))),
    );
    const sub = store.onDidChange((e) => {
      if (e.cleared) this.everSeen.clear();
      this.schedule();
    });
    this.disposables.push({ dispose: () => sub.dispose() });
    const watcher = vscode.workspace.createFileSystemWatcher(SCAN_GLOB);
    this.disposables.push(watcher, watcher.onDidChange((u) => void this.analyzeUri(u)), watcher.onDidCreate((u) => void this.analyzeUri(u)), watcher.onDidDelete((u) => this.forget(u)));
  }

  /** Indexes the workspace's route handlers in the background, so telemetry matches files not open yet. */
  scanWorkspace(): Promise<void> {
    this.scanned = (async () => {
      const t0 = Date.now();
      const uris = await vscode.workspace.findFiles(SCAN_GLOB, SCAN_EXCLUDE, SCAN_LIMIT);
      const urlsFiles: vscode.Uri[] = [];
      this.scanning = true;
      try {
        for (const uri of uris) {
          await this.analyzeUri(uri);
          if (/(^|\/)urls\.py$/.test(uri.path)) urlsFiles.push(uri);
        }
      } finally {
        this.scanning = false;
      }
      this.resolveGraphs();
      await this.analyzeDjangoUrls(urlsFiles, uris);
      this.log.info(`[routes] indexed ${this.index.all().length} route handlers in ${uris.length} files in ${Date.now() - t0} ms`);
      this.schedule();
    })().catch((e) => this.log.warn(`[routes] workspace scan failed: ${(e as Error).message}`));
    return this.scanned;
  }

  private async analyzeUri(uri: vscode.Uri): Promise<void> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) return this.analyze(open);
    const lang = languageOf(uri.path);
    if (!lang) return;
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      if (stat.size > MAX_FILE_BYTES) return;
      const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      this.setText(uri.toString(), uri.fsPath, text, lang);
    } catch (e) {
      this.log.debug(`[routes] cannot read ${uri.fsPath}: ${(e as Error).message}`);
    }
  }

  /** Django URLconfs of the workspace, includes followed, and their views' lenses in the views' files. */
  private async analyzeDjangoUrls(urlsUris: vscode.Uri[], workspaceFiles: vscode.Uri[]): Promise<void> {
    const files: UrlconfFile[] = [];
    for (const u of urlsUris) {
      try {
        files.push({ key: u.toString(), path: u.path, text: new TextDecoder().decode(await vscode.workspace.fs.readFile(u)) });
      } catch {
        // Gone since the scan listed it.
      }
    }
    for (const { path, entries } of resolveDjangoUrlconfs(files)) {
      const byModule = new Map<string, DjangoUrlEntry[]>();
      for (const e of entries) if (e.viewModule) byModule.set(e.viewModule, [...(byModule.get(e.viewModule) ?? []), e]);
      for (const [module, list] of byModule) {
        const candidates = djangoModulePaths(module, path);
        const file = workspaceFiles.find((u) => candidates.some((c) => u.path === c || u.path.endsWith('/' + c)));
        if (!file) continue;
        const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(file));
        const routes = djangoRoutesForViews(list, text);
        const key = file.toString();
        this.djangoRoutes.set(key, [...(this.djangoRoutes.get(key) ?? []).filter((r) => !routes.some((n) => n.line === r.line && n.method === r.method)), ...routes]);
        this.setRoutes(key, this.ownRoutes.get(key) ?? []);
      }
    }
  }

  private analyze(doc: vscode.TextDocument): void {
    const lang = LANGUAGES[doc.languageId];
    if (!lang || doc.uri.scheme !== 'file') return;
    const key = doc.uri.toString();
    if (this.versions.get(key) === doc.version) return;
    this.versions.set(key, doc.version);
    this.setText(key, doc.uri.fsPath, doc.getText(), lang);
  }

  private setText(key: string, fsPath: string, text: string, lang: RouteLanguage): void {
    const graph = lang === 'python' ? this.pyGraph : this.jsGraph;
    if (mayHaveRoutes(text)) graph.set(key, fsPath, text);
    else if (!graph.remove(key)) return;
    if (!this.scanning) this.resolveGraphs();
  }

  /** Routes of every file, with the mounts made across files applied. */
  private resolveGraphs(): void {
    const routes = new Map([...this.pyGraph.routes(), ...this.jsGraph.routes()]);
    for (const [key, list] of routes) {
      // Only files whose routes changed are re-indexed: the index drops its match cache on each.
      const text = JSON.stringify(list);
      if (this.resolvedRoutes.get(key) === text) continue;
      this.resolvedRoutes.set(key, text);
      this.setRoutes(key, list);
    }
    for (const key of [...this.resolvedRoutes.keys()]) {
      if (routes.has(key)) continue;
      this.resolvedRoutes.delete(key);
      this.setRoutes(key, []);
    }
  }

  private setRoutes(key: string, own: DetectedRoute[]): void {
    this.ownRoutes.set(key, own);
    const all = [...own, ...(this.djangoRoutes.get(key) ?? [])];
    if (all.length) this.index.setFile(key, all);
    else this.index.removeFile(key);
  }

  private forget(uri: vscode.Uri): void {
    const key = uri.toString();
    this.versions.delete(key);
    this.ownRoutes.delete(key);
    this.djangoRoutes.delete(key);
    this.index.removeFile(key);
    this.resolvedRoutes.delete(key);
    if (this.pyGraph.remove(key) || this.jsGraph.remove(key)) this.resolveGraphs();
    this.schedule();
  }

  schedule(changedDoc?: vscode.Uri): void {
    if (changedDoc) this.versions.delete(changedDoc.toString());
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.changed.fire();
      this.decorate();
    }, 750);
  }

  /** Figures for the handlers of a document (used by lenses, decorations, hovers and tests). */
  statsFor(doc: vscode.TextDocument): HandlerStats[] {
    this.analyze(doc);
    const stats = handlerStatsForFile(doc.uri.toString(), this.index, this.store, this.config().windowSeconds);
    for (const s of stats) if (s.count > 0) this.everSeen.add(handlerKey(doc.uri, s.handler));
    return stats;
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!this.config().enabled) return [];
    const stats = this.statsFor(doc);
    // A function serving several methods gets a lens per method: each names its method.
    const shared = methodsSharingHandler(stats.map((s) => s.handler));
    return stats.map((s) => {
      const range = new vscode.Range(s.handler.decoratorLine, 0, s.handler.decoratorLine, 0);
      const method = s.handler.method === '*' ? 'ANY' : s.handler.method;
      const label = `${method} ${s.handler.route}`;
      const title = lensTitle(s, this.everSeen.has(handlerKey(doc.uri, s.handler)), shared.has(s.handler) ? method : undefined) + lensExtra(method, s.handler.route) + lensSuffix(this.store.runs, s.keys);
      return new vscode.CodeLens(range, {
        title,
        tooltip: s.keys.length ? `${label}: show its traces` : `${label}: Routelens has seen no requests for this route yet`,
        command: 'routelens.openRouteTraces',
        arguments: [s.keys, label],
      });
    });
  }

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    // Every lens of the handler under the cursor: one function may serve several methods.
    const all = this.statsFor(doc).filter((x) => pos.line === x.handler.line || pos.line === x.handler.decoratorLine);
    const shown = all.filter((x) => x.count > 0);
    if (shown.length === 0) return undefined;
    const md = new vscode.MarkdownString(undefined, false);
    // Only these two commands may run from the hover's links; every telemetry string below is
    // appended as text, so none of it can add a link.
    md.isTrusted = { enabledCommands: ['routelens.openRouteTraces', 'routelens.askCopilot', 'routelens.compareRouteWithLastRun'] };
    md.supportHtml = false;
    for (const [i, s] of shown.entries()) {
      if (i > 0) md.appendMarkdown('\n\n---\n\n');
      md.appendMarkdown(`**Routelens** · `);
      md.appendText(`${s.handler.method === '*' ? 'ANY' : s.handler.method} ${s.handler.route}`);
      md.appendMarkdown(`\n\n`);
      md.appendText(hoverHeadline(s));
      const extra = hoverExtra(s.handler.method === '*' ? 'ANY' : s.handler.method, s.handler.route);
      if (extra) md.appendMarkdown('\n\n').appendText(extra);
      const note = hoverSourceNote(s);
      if (note) {
        md.appendMarkdown('\n\n');
        md.appendText(note);
      }
      md.appendMarkdown('\n\n');
      const where = breakdownLine(this.store, s.keys);
      if (where) {
        md.appendText(where);
        md.appendMarkdown('\n\n');
      }
      const sinceRun = hoverComparison(this.store.runs, s.keys);
      if (sinceRun) md.appendCodeblock(sinceRun, 'text');
      md.appendCodeblock(histogramText(s), 'text');
      if (s.errors.length) {
        md.appendMarkdown('\n**Last errors**\n\n');
        for (const e of s.errors.slice(0, 3)) {
          md.appendMarkdown('- ');
          md.appendText(`${e.type}: ${e.message.replace(/\s+/g, ' ').slice(0, 200)} (×${e.count})`);
          md.appendMarkdown('\n');
        }
      }
      // The handler's own method and route (from the source file), never a telemetry string.
      const label = `${s.handler.method === '*' ? 'ANY' : s.handler.method} ${s.handler.route}`;
      // Brackets and parentheses encoded too: a route string (from telemetry) cannot end the link.
      const args = (a: unknown[]) => encodeURIComponent(JSON.stringify(a)).replace(/[()'!*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
      md.appendMarkdown(`\n[Show traces](command:routelens.openRouteTraces?${args([s.keys, label])})${sinceRun ? ` · [Compare traces with the ${sinceRun.includes('pinned baseline') ? 'baseline' : 'last run'}](command:routelens.compareRouteWithLastRun?${args([s.keys])})` : ''} · [Ask Copilot about this route](command:routelens.askCopilot?${args(['route', label])})\n`);
    }
    return new vscode.Hover(md, new vscode.Range(shown[0].handler.line, 0, shown[0].handler.line, 0));
  }

  private decorate(): void {
    const cfg = this.config();
    for (const editor of vscode.window.visibleTextEditors) {
      if (!LANGUAGES[editor.document.languageId]) continue;
      const ok: vscode.DecorationOptions[] = [];
      const warn: vscode.DecorationOptions[] = [];
      const slow: vscode.DecorationOptions[] = [];
      if (cfg.decorations) {
        const stats = this.statsFor(editor.document);
        const shared = methodsSharingHandler(stats.map((s) => s.handler));
        for (const s of stats) {
          if (s.count === 0 || s.p95Ms === null) continue;
          const line = editor.document.lineAt(Math.min(s.handler.line, editor.document.lineCount - 1));
          const method = shared.has(s.handler) ? `${s.handler.method === '*' ? 'ANY' : s.handler.method} ` : '';
          const opt: vscode.DecorationOptions = { range: new vscode.Range(line.range.end, line.range.end), renderOptions: { after: { contentText: `${method}p95 ${formatMs(s.p95Ms)}` } } };
          (s.p95Ms <= cfg.latencyBudgetMs ? ok : s.p95Ms <= 2 * cfg.latencyBudgetMs ? warn : slow).push(opt);
        }
      }
      editor.setDecorations(this.decoration.ok, ok);
      editor.setDecorations(this.decoration.warn, warn);
      editor.setDecorations(this.decoration.slow, slow);
    }
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const d of this.disposables) d.dispose();
  }
}

function handlerKey(uri: vscode.Uri, h: DetectedRoute): string {
  return `${uri.toString()}#${h.method} ${h.route} ${h.line}`;
}

function languageOf(path: string): RouteLanguage | undefined {
  if (path.endsWith('.py')) return 'python';
  if (/\.(ts|mts|cts)$/.test(path)) return 'typescript';
  if (/\.(js|mjs|cjs)$/.test(path)) return 'javascript';
  return undefined;
}

/** A cheap pre-check so most files of a large workspace are never tokenized. */
function mayHaveRoutes(text: string): boolean {
  return /(\.(get|post|put|delete|patch|route|api_route|head|options|include_router|register_blueprint|add_url_rule|add_api_route)\s*\(|urlpatterns|@(Get|Post|Put|Delete|Patch|Controller)\b|\.route\s*\(|def (get|post|put|patch|delete)\s*\(|\.use\s*\(|NestFactory)/.test(text);
}
