import * as vscode from 'vscode';
import type { TelemetryStore } from '../../core/store/store';
import { formatMs } from '../../core/format';
import { storeTotals } from '../../core/stats/totals';
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
    // The dashboard's headline figure: every service's requests, counted once, in one sketch.
    const t = storeTotals(this.store, this.windowSec());
    const count = t.requests;
    if (count === 0) {
      this.item.text = `$(pulse) Routelens${viewer}`;
      this.item.tooltip = viewer
        ? `Routelens: showing the collector of another VS Code window (${s.endpoint}); no requests in the last ${this.windowSec()} s`
        : `Routelens: listening on ${s.endpoint}; no requests in the last ${this.windowSec()} s`;
    } else {
      this.item.text = `$(pulse) ${formatRate(t.rps)} req/s · p95 ${fmt(t.p95Ms)}`;
      this.item.tooltip = `Routelens: ${count} requests in the last ${this.windowSec()} s (p50 ${fmt(t.p50Ms)}, p99 ${fmt(t.p99Ms)}, ${(t.errorRate * 100).toFixed(1)}% errors); collector on ${s.endpoint}${viewer ? ', owned by another window' : ''}`;
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}

const fmt = (ms: number | null): string => (ms === null ? '–' : formatMs(ms));

export function formatRate(r: number): string {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2).replace(/0$/, '');
}
