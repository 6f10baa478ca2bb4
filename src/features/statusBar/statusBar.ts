import * as vscode from 'vscode';
import type { TelemetryStore } from '../../core/store/store';
import { formatMs } from '../../core/format';
import type { CollectorStatus } from '../context';

/** Collector state and a live summary (req/s, p95); a click focuses the Routelens view. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('routelens.status', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: { dispose(): void };
  private pending = false;

  constructor(
    private readonly store: TelemetryStore,
    private readonly state: () => CollectorStatus,
    private readonly windowSec: () => number,
  ) {
    this.item.name = 'Routelens';
    this.item.command = 'routelens.showDashboard';
    this.sub = store.onDidChange(() => {
      // Coalesce bursts: one repaint per second at most from data.
      if (this.pending) return;
      this.pending = true;
      setTimeout(() => {
        this.pending = false;
        this.update();
      }, 1000);
    });
    this.update();
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  update(): void {
    const s = this.state();
    this.item.backgroundColor = undefined;
    switch (s.state) {
      case 'starting':
      case 'stopped':
        this.item.text = '$(loading~spin) Routelens';
        this.item.tooltip = 'Routelens: starting the collector';
        return;
      case 'portInUse':
      case 'error':
        this.item.text = '$(warning) Routelens';
        this.item.tooltip = s.message ?? 'Routelens: the collector is not running';
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        return;
    }
    const viewer = s.state === 'viewer' ? ' (viewer)' : '';
    const now = Date.now() / 1000;
    let count = 0;
    let rps = 0;
    let p95 = 0;
    let seconds = 0;
    for (const svc of this.store.serviceList()) {
      const series = this.store.serviceSeriesOf(svc.name);
      if (!series) continue;
      const w = series.window(now, this.windowSec());
      count += w.count;
      seconds = Math.max(seconds, w.covered);
      rps += w.count / w.seconds;
      if (w.count) p95 = Math.max(p95, w.sketch.quantile(0.95));
    }
    if (count === 0) {
      this.item.text = `$(pulse) Routelens${viewer}`;
      this.item.tooltip = viewer
        ? `Routelens: showing the collector of another VS Code window (${s.endpoint}); no requests in the last ${this.windowSec()} s`
        : `Routelens: listening on ${s.endpoint}; no requests in the last ${this.windowSec()} s`;
    } else {
      this.item.text = `$(pulse) ${formatRate(rps)} req/s · p95 ${formatMs(p95)}`;
      this.item.tooltip = `Routelens: ${count} requests in the last ${seconds} s; collector on ${s.endpoint}${viewer ? ', owned by another window' : ''}`;
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}

export function formatRate(r: number): string {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2).replace(/0$/, '');
}
