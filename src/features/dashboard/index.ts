/**
 * The dashboard: the Routelens view in the activity bar (live charts, routes, errors, traces,
 * tests, the service map, the metrics explorer). Its webview bundle is src/webview/sidebar/.
 */
import * as vscode from 'vscode';
import type { FeatureContext } from '../context';
import { DashboardProvider } from './provider';
import { forwardView, remoteView, upstreamView } from './model';

export function register(ctx: FeatureContext): vscode.Disposable {
  const dashboard = new DashboardProvider(
    ctx.extension.extensionUri,
    {
      store: ctx.store,
      collectorView: () => ctx.collector(),
      windowSeconds: () => ctx.windowSeconds(),
      setWindowSeconds: (s) => ctx.setWindowSeconds(s),
      pathMappings: () => ctx.settings().problems.pathMappings,
      targets: () =>
        (ctx.runtime()?.prometheus.targets() ?? []).map((t) => ({
          url: t.displayUrl,
          service: t.service,
          state: t.state,
          ...(t.lastError ? { lastError: t.lastError } : {}),
          ...(t.durationMs !== undefined ? { durationMs: t.durationMs } : {}),
          series: t.series,
        })),
      remote: () => ctx.remoteSource.get() ?? ctx.runtime()?.remote,
      upstream: () => {
        const { upstream, remotePrometheus } = ctx.settings();
        const rt = ctx.runtime();
        const remote = ctx.remoteSource.get() ?? rt?.remote;
        const forward = upstream.endpoint ? forwardView(upstream, rt?.forwarder?.state(), rt !== undefined, rt?.forwardError) : undefined;
        return upstreamView(forward, remotePrometheus.url && remote ? remoteView(remotePrometheus.label, remote.state()) : undefined);
      },
    },
    ctx.log,
  );
  ctx.probes.dashboardState = () => dashboard.buildState();
  return vscode.Disposable.from(
    dashboard,
    vscode.window.registerWebviewViewProvider(DashboardProvider.viewId, dashboard, { webviewOptions: { retainContextWhenHidden: false } }),
    vscode.commands.registerCommand('routelens.showDashboard', () => vscode.commands.executeCommand(`${DashboardProvider.viewId}.focus`)),
    vscode.commands.registerCommand('routelens.togglePause', () => dashboard.setPaused(!dashboard.paused)),
    ctx.onDidChangeCollector(() => dashboard.refresh()),
    // Rates decay and windows slide even when nothing arrives.
    ctx.tick.every(1, () => dashboard.schedule()),
  );
}
