import * as vscode from 'vscode';
import type { Logger } from '../core/log';
import type { TelemetryStore } from '../core/store/store';
import { isSidebarToHost, type CollectorView, type ErrorRow, type HostToSidebar, type RouteRow, type SidebarState, type SidebarToHost } from '../shared/sidebarProtocol';
import { webviewHtml, webviewOptions } from './webviewHtml';

/** At most four updates a second reach the webview, however fast telemetry arrives. */
const UPDATE_INTERVAL_MS = 250;

export interface SidebarHost {
  store: TelemetryStore;
  collectorView(): CollectorView;
  windowSeconds(): number;
  setWindowSeconds(seconds: number): void;
  onMessage(msg: SidebarToHost): void;
}

export class SidebarProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'routelens.dashboard';
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private lastSent = 0;
  paused = false;
  private readonly disposables: vscode.Disposable[] = [];
  /** The last state posted, for tests and the status of the view. */
  lastState: SidebarState | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: SidebarHost,
    private readonly log: Logger,
  ) {
    const sub = host.store.onDidChange(() => this.schedule());
    this.disposables.push({ dispose: () => sub.dispose() });
    // Rates decay and windows slide even when nothing arrives.
    const tick = setInterval(() => this.schedule(), 1000);
    this.disposables.push({ dispose: () => clearInterval(tick) });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, { script: 'sidebar.js', styles: ['sidebar.css'], title: 'Routelens' });
    this.disposables.push(
      view.webview.onDidReceiveMessage((m: unknown) => {
        if (!isSidebarToHost(m)) {
          this.log.warn(`[sidebar] ignored an unexpected message from the webview`);
          return;
        }
        if (m.type === 'ready') {
          this.ready = true;
          this.flush();
          return;
        }
        if (m.type === 'setWindow') {
          this.host.setWindowSeconds(m.seconds);
          this.flush();
          return;
        }
        this.host.onMessage(m);
      }),
      view.onDidChangeVisibility(() => view.visible && this.flush()),
      view.onDidDispose(() => {
        this.view = undefined;
        this.ready = false;
      }),
    );
  }

  get visible(): boolean {
    return !!this.view?.visible;
  }

  /** Forces an update now (state changes such as the collector restarting). */
  refresh(): void {
    this.flush();
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
    if (this.paused && !force && this.lastState) return;
    this.dirty = false;
    this.lastSent = Date.now();
    const state = this.buildState();
    this.lastState = state;
    const msg: HostToSidebar = { type: 'state', state };
    void this.view.webview.postMessage(msg);
  }

  buildState(): SidebarState {
    const store = this.host.store;
    const windowSec = this.host.windowSeconds();
    const now = Date.now();
    const summaries = store.routeSummaries(windowSec);
    const routes: RouteRow[] = summaries.map((r) => {
      const entry = store.route(r);
      const spark = entry ? entry.series.perSecond(now / 1000, 60).counts : [];
      return { service: r.service, method: r.method, route: r.route, count: r.count, rps: r.rps, errorRate: r.errorRate, p50Ms: r.p50Ms, p95Ms: r.p95Ms, p99Ms: r.p99Ms, hasCode: !!r.code, spark };
    });
    const errors: ErrorRow[] = store.errorGroups().slice(0, 50).map((g) => ({
      fingerprint: g.fingerprint,
      service: g.service,
      type: g.type,
      message: g.message,
      count: g.count,
      lastSeenMs: g.lastSeenMs,
      route: g.route ? `${g.method ?? ''} ${g.route}`.trim() : undefined,
      where: g.location ? `${basename(g.location.file)}:${g.location.line}` : undefined,
    }));
    let requests = 0;
    let rps = 0;
    let errorsN = 0;
    let p95: number | null = null;
    for (const svc of store.serviceList()) {
      const series = store.serviceSeriesOf(svc.name);
      if (!series) continue;
      const w = series.window(now / 1000, windowSec);
      requests += w.count;
      errorsN += w.errors;
      rps += w.count / w.seconds;
      if (w.count) p95 = Math.max(p95 ?? 0, w.sketch.quantile(0.95));
    }
    return {
      collector: this.host.collectorView(),
      services: store.serviceList().map((s) => s.name),
      windowSec,
      paused: this.paused,
      routes,
      errors,
      totals: { rps: Math.round(rps * 100) / 100, p95Ms: p95 === null ? null : Math.round(p95 * 100) / 100, errorRate: requests ? errorsN / requests : 0, requests },
    };
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

function basename(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i >= 0 ? p.slice(i + 1) : p;
}
