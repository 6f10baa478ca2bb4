/**
 * Problems panel entries: error groups at the innermost workspace frame (with quick fixes to
 * dismiss them) and findings (N+1 patterns, slow queries, dominating downstreams).
 */
import * as vscode from 'vscode';
import type { FeatureContext } from '../context';
import { ErrorDiagnostics } from './errorDiagnostics';
import { FindingDiagnostics } from './findingDiagnostics';

export function register(ctx: FeatureContext): vscode.Disposable {
  const errors = new ErrorDiagnostics(ctx.store, () => ctx.settings().problems, ctx.log);
  const findings = new FindingDiagnostics(ctx.store, () => ({ severity: ctx.settings().problems.findingSeverity, pathMappings: ctx.settings().problems.pathMappings }), ctx.log);
  ctx.probes.diagnostics = () => {
    errors.refresh();
    const out: [string, readonly vscode.Diagnostic[]][] = [];
    errors.collection.forEach((uri, list) => void out.push([uri.fsPath, list]));
    return out;
  };
  return vscode.Disposable.from(
    errors,
    findings,
    vscode.commands.registerCommand('routelens.dismissError', (fingerprint: unknown) => typeof fingerprint === 'string' && ctx.store.dismissError(fingerprint)),
    vscode.commands.registerCommand('routelens.dismissAllErrors', () => ctx.store.dismissAllErrors()),
    ctx.onDidApplySettings((c) => {
      if (!c.affects('problems')) return;
      errors.refresh();
      findings.refresh();
    }),
    // The quiet period also has to expire when nothing arrives; findings settle after the traffic.
    ctx.tick.every(30, () => errors.schedule()),
    ctx.tick.every(3, () => findings.schedule()),
  );
}
