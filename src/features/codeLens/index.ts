/**
 * Observed figures above each route handler: CodeLens, end-of-line decorations and hovers, and
 * `routelens.openRouteTraces`, what a lens click runs.
 */
import * as vscode from 'vscode';
import type { RouteKey } from '../../core/stats/routeStats';
import type { FeatureContext } from '../context';
import { RouteCodeLensProvider } from './provider';

export function register(ctx: FeatureContext): vscode.Disposable {
  const lenses = new RouteCodeLensProvider(ctx.store, () => ({ ...ctx.settings().lens, windowSeconds: ctx.windowSeconds() }), ctx.log);
  // After the collector: the scan reads files and must not delay the port being ready.
  const indexed = ctx.whenStarted().then(() => lenses.scanWorkspace());
  ctx.probes.lensTitles = async (uri) => {
    const doc = await vscode.workspace.openTextDocument(uri);
    return lenses.provideCodeLenses(doc).map((l) => l.command?.title ?? '');
  };
  ctx.probes.whenRoutesIndexed = () => indexed.then(() => lenses.scanned);
  return vscode.Disposable.from(
    lenses,
    vscode.commands.registerCommand('routelens.openRouteTraces', (keys: unknown, label: unknown) => openRouteTraces(Array.isArray(keys) ? (keys as RouteKey[]) : [], String(label ?? ''))),
    // Windows slide and rates decay even when nothing arrives.
    ctx.tick.every(5, () => lenses.schedule()),
  );
}

/** What a lens click does: the route's traces in the trace panel. */
async function openRouteTraces(keys: RouteKey[], label: string): Promise<void> {
  if (keys.length === 0) {
    void vscode.window.showInformationMessage(`Routelens: no requests for ${label} have arrived yet. Run your API (F5) and call this route.`);
    return;
  }
  await vscode.commands.executeCommand('routelens.showRouteTraces', keys[0]);
}
