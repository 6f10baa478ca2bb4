/**
 * The telemetry tools (src/core/agentTools) as language model tools, so Copilot's agent mode (or
 * any chat participant) can ask what the running API did; the same tools that `routelens mcp`
 * serves, answered here from this window's store. Also registers `routelens mcp` with VS Code's
 * MCP support where the running VS Code has it, so other agents find it with no configuration.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { inProcessQuery, runTool, TOOLS } from '../../core/agentTools';
import type { Logger } from '../../core/log';
import type { TelemetryStore } from '../../core/store/store';
import type { FeatureProbes, McpServerInfo } from '../context';

export function registerAgentTools(ctx: { store: TelemetryStore; extensionUri: vscode.Uri; endpoint: () => string | undefined; budget: () => number; redactPatterns: () => string[]; log: Logger; probes: FeatureProbes; onDidChangeEndpoint: vscode.Event<unknown> }): vscode.Disposable {
  const disposables: vscode.Disposable[] = [];
  const query = inProcessQuery(ctx.store);
  const roots = () => (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  if (typeof vscode.lm?.registerTool === 'function') {
    for (const tool of TOOLS) {
      disposables.push(
        vscode.lm.registerTool<Record<string, unknown>>(tool.name, {
          prepareInvocation: (options) => ({ invocationMessage: `${tool.progress(options.input ?? {})}…` }),
          invoke: async (options) => {
            const { text } = await runTool(tool.name, options.input ?? {}, { query, roots: roots(), budgetTokens: ctx.budget(), redactPatterns: ctx.redactPatterns() });
            return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
          },
        }),
      );
    }
  } else ctx.log.info('[agents] this VS Code has no language model tools API: the tools are served by `routelens mcp` only');

  // VS Code's MCP server registry (1.101 and later): feature-detected, the manifest accepts older versions.
  const lm = vscode.lm as unknown as { registerMcpServerDefinitionProvider?: (id: string, p: unknown) => vscode.Disposable };
  const McpStdio = (vscode as unknown as { McpStdioServerDefinition?: new (label: string, command: string, args: string[], env?: Record<string, string>) => unknown }).McpStdioServerDefinition;
  if (lm.registerMcpServerDefinitionProvider && McpStdio) {
    const changed = new vscode.EventEmitter<void>();
    const definitions = (): McpServerInfo[] => {
      const endpoint = ctx.endpoint();
      if (!endpoint) return [];
      const cli = vscode.Uri.joinPath(ctx.extensionUri, 'bin', 'routelens.js').fsPath;
      return [{ label: 'Routelens telemetry', command: process.execPath, args: [cli, 'mcp', '--endpoint', endpoint, ...roots().flatMap((r) => ['--root', r])], env: { ELECTRON_RUN_AS_NODE: '1' } }];
    };
    ctx.probes.mcpServers = definitions;
    // A restart or a port change moves the endpoint: VS Code asks for the definitions again.
    let last = ctx.endpoint();
    disposables.push(
      changed,
      ctx.onDidChangeEndpoint(() => {
        const now = ctx.endpoint();
        if (now === last) return;
        last = now;
        changed.fire();
      }),
      lm.registerMcpServerDefinitionProvider('routelens.mcp', {
        onDidChangeMcpServerDefinitions: changed.event,
        provideMcpServerDefinitions: () => definitions().map((d) => new McpStdio(d.label, d.command, d.args, d.env)),
      }),
    );
  } else ctx.log.info('[agents] this VS Code has no MCP server registry: add `routelens mcp` to your agent by hand (docs/agents.md)');
  return vscode.Disposable.from(...disposables);
}

/** "Ask Copilot" on an error group, a trace or a route: opens the chat with the question, naming the tool. */
export function askCopilotQuestion(kind: 'error' | 'trace' | 'route', subject: string, extra?: { file?: string; line?: number }): string {
  const at = extra?.file ? ` (${path.basename(extra.file)}${extra.line ? `:${extra.line}` : ''})` : '';
  if (kind === 'error') return `Why does ${subject}${at} fail in my running API, and how do I fix it? Use #routelens_errors and #routelens_trace for what Routelens observed.`;
  if (kind === 'trace') return `Where did trace ${subject} spend its time, and what should I change? Use #routelens_trace.`;
  return `Why is ${subject}${at} slow in my running API? Use #routelens_routes, #routelens_findings and #routelens_trace for what Routelens observed.`;
}
