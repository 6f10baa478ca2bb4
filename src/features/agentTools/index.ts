/**
 * The telemetry tools for coding agents: language model tools (Copilot agent mode), the
 * `routelens mcp` server definition, and `routelens.askCopilot` (a question about an error, a
 * trace or a route, naming the tools to answer it).
 */
import * as vscode from 'vscode';
import type { FeatureContext } from '../context';
import { askCopilotQuestion, registerAgentTools } from './tools';

export function register(ctx: FeatureContext): vscode.Disposable {
  return vscode.Disposable.from(
    registerAgentTools({
      store: ctx.store,
      extensionUri: ctx.extension.extensionUri,
      endpoint: () => ctx.endpoint(),
      budget: () => ctx.settings().agents.tokenBudget,
      redactPatterns: () => ctx.settings().agents.redactPatterns,
      log: ctx.log,
      probes: ctx.probes,
      onDidChangeEndpoint: ctx.onDidChangeCollector,
    }),
    vscode.commands.registerCommand('routelens.askCopilot', (kind: unknown, subject: unknown) => askCopilot(ctx, kind, subject)),
  );
}

/** Opens the chat with a question about an error, a trace or a route, naming the tools to use. */
async function askCopilot(ctx: FeatureContext, kind: unknown, subject: unknown): Promise<void> {
  let k: 'error' | 'trace' | 'route' = kind === 'error' || kind === 'trace' || kind === 'route' ? kind : 'route';
  let what = typeof subject === 'string' ? subject : undefined;
  if (!what) {
    const routes = ctx.store.routeSummaries(ctx.windowSeconds()).sort((a, b) => (b.p95Ms ?? 0) - (a.p95Ms ?? 0));
    const pick = await vscode.window.showQuickPick(
      routes.map((r) => ({ label: `${r.method} ${r.route}`, description: `p95 ${r.p95Ms ?? '–'} ms · ${r.service}` })),
      { title: 'Routelens: ask Copilot about a route', placeHolder: routes.length ? 'The slowest first' : 'No routes seen yet' },
    );
    if (!pick) return;
    what = pick.label;
    k = 'route';
  }
  const query = askCopilotQuestion(k, what);
  const commands = await vscode.commands.getCommands(true);
  if (commands.includes('workbench.action.chat.open')) {
    await vscode.commands.executeCommand('workbench.action.chat.open', { query });
    return;
  }
  await vscode.env.clipboard.writeText(query);
  void vscode.window.showInformationMessage('Routelens: no chat is available in this VS Code; the question is on the clipboard for your coding agent (its tools: routelens mcp).');
}
