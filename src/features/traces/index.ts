/**
 * The trace panel: a route's recent traces (filterable) and the waterfall of the chosen one, with
 * the commands `routelens.showTrace` and `routelens.showRouteTraces`. Its webview bundle is
 * src/webview/trace/.
 */
import type * as vscode from 'vscode';
import type { FeatureContext } from '../context';
import { registerTracePanel } from './panel';

export function register(ctx: FeatureContext): vscode.Disposable {
  return registerTracePanel(ctx.extension.extensionUri, {
    store: ctx.store,
    windowSeconds: () => ctx.windowSeconds(),
    pathMappings: () => ctx.settings().problems.pathMappings,
    log: ctx.log,
  });
}
