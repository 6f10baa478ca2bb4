/**
 * `routelens mcp`: the telemetry tools (src/core/agentTools) for any coding agent, as a Model
 * Context Protocol server on stdio. It reads a running collector (VS Code's, or `routelens serve`)
 * through its query API with the per-install token; it starts no collector of its own.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync } from 'node:fs';
import { runTool, TOOLS, type QueryFn } from './core/agentTools';
import { defaultTokenFile } from './core/collector/token';

export const MCP_USAGE = `Usage: routelens mcp [--endpoint URL] [--token T] [--root DIR]... [--budget TOKENS]

Serves Routelens's telemetry tools (routes, errors, traces, findings, logs) to coding agents over
the Model Context Protocol on stdin/stdout. It reads the collector that VS Code (or routelens serve)
runs.
  --endpoint URL  the collector (default $ROUTELENS_ENDPOINT, else http://127.0.0.1:4318)
  --token T       the query API token (default $ROUTELENS_TOKEN, else the token file ~/.routelens/token)
  --root DIR      workspace folder, for paths relative to it (repeatable; default the current folder)
  --budget N      tokens per answer, about (default 1500)
`;

export interface McpArgs {
  endpoint: string;
  token?: string;
  roots: string[];
  budget: number;
}

export function parseMcpArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): McpArgs | { error: string } | { help: true } {
  const args: McpArgs = { endpoint: env.ROUTELENS_ENDPOINT || 'http://127.0.0.1:4318', token: env.ROUTELENS_TOKEN || undefined, roots: [], budget: 1500 };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--help' || a === '-h') return { help: true };
    if (!['--endpoint', '--token', '--root', '--budget'].includes(a)) return { error: `unknown option ${a}` };
    if (v === undefined) return { error: `${a} needs a value` };
    i++;
    if (a === '--endpoint') {
      try {
        const u = new URL(v);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: '--endpoint must be an http or https URL' };
      } catch {
        return { error: `--endpoint: ${JSON.stringify(v)} is not a URL (e.g. http://127.0.0.1:4318)` };
      }
      args.endpoint = v.replace(/\/+$/, '');
    } else if (a === '--token') args.token = v;
    else if (a === '--root') args.roots.push(v);
    else {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 200 || n > 100_000) return { error: '--budget must be a whole number of tokens from 200 to 100000' };
      args.budget = n;
    }
  }
  if (args.roots.length === 0) args.roots.push(process.cwd());
  return args;
}

/** The query API over HTTP, with a time limit so a hung collector gives a tool error, not a hang. */
export function httpQuery(endpoint: string, token: () => string | undefined): QueryFn {
  return async (path, params) => {
    const url = new URL(path, `${endpoint}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const t = token();
    const res = await fetch(url, { headers: t ? { authorization: `Bearer ${t}` } : {}, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = { message: text.slice(0, 200) };
    }
    return { status: res.status, body };
  };
}

function tokenFromFile(): string | undefined {
  try {
    return readFileSync(defaultTokenFile(), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function createMcpServer(args: McpArgs, version: string): Server {
  const server = new Server({ name: 'routelens', version }, { capabilities: { tools: {} } });
  // The token file is read on every call: VS Code may create it after this server started.
  const query = httpQuery(args.endpoint, () => args.token ?? tokenFromFile());
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: TOOLS.map((t) => ({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const { text, isError } = await runTool(req.params.name, req.params.arguments as Record<string, unknown> | undefined, { query, roots: args.roots, budgetTokens: args.budget });
    return { content: [{ type: 'text', text }], isError };
  });
  return server;
}

export async function runMcp(argv: string[], version: string): Promise<number> {
  const parsed = parseMcpArgs(argv);
  if ('help' in parsed) {
    process.stdout.write(MCP_USAGE);
    return 0;
  }
  if ('error' in parsed) {
    process.stderr.write(`routelens mcp: ${parsed.error}\n\n${MCP_USAGE}`);
    return 2;
  }
  const server = createMcpServer(parsed, version);
  const transport = new StdioServerTransport();
  await server.connect(transport);
  process.stderr.write(`routelens mcp: serving ${TOOLS.length} tools over stdio, reading ${parsed.endpoint}\n`);
  await new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close().catch(() => undefined);
  return 0;
}
