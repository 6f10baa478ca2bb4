/**
 * The tools coding agents call to ask the telemetry: one implementation, reached in VS Code through
 * language model tools and elsewhere through `routelens mcp`. Both read the collector's query API
 * (docs/api.md): in process by calling it directly, from outside over HTTP with the token.
 *
 * Every argument is optional. Answers are short structured text within a token budget, file paths
 * relative to the workspace, and every telemetry string quoted as data (see text.ts).
 */
import type { Finding, TraceAnalysisView } from '../findings/insights';
import type { CodeLocation, LogRecord, Span } from '../model';
import type { RouteSummary } from '../stats/routeStats';
import type { ErrorGroup } from '../stats/errorGroups';
import type { RequestRef } from '../store/store';
import { DATA_NOTE, fmtMs, fmtPct, makeRedactor, quote, relativePath, withinBudget, type Redactor } from './text';

/** A GET of the query API: path and parameters in, status and JSON body out. */
export type QueryFn = (path: string, params: Record<string, string>) => Promise<{ status: number; body: unknown }>;

export interface ToolContext {
  query: QueryFn;
  /** Workspace folders, for relative paths. */
  roots: string[];
  /** Token budget of one answer (default 1,500). */
  budgetTokens?: number;
  /** The user's extra redaction patterns. */
  redactPatterns?: string[];
}

export interface ToolSpec {
  name: string;
  title: string;
  /** For the model: what the tool answers and when to use it. */
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, unknown>; additionalProperties: false };
  /** What a person reads while the tool runs. */
  progress(args: Record<string, unknown>): string;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<string>;
}

/** A tool's failure that the caller shows as the tool's answer (not a crash). */
export class ToolError extends Error {}

type RouteRow = RouteSummary & { breakdown?: { byKind: Record<string, number>; meanMs: number } | null };

const DEFAULT_BUDGET = 1500;

function str(args: Record<string, unknown>, k: string): string | undefined {
  const v = args[k];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

function num(args: Record<string, unknown>, k: string, def: number, min: number, max: number): number {
  const v = args[k];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.floor(n))) : def;
}

async function get<T>(ctx: ToolContext, path: string, params: Record<string, string> = {}): Promise<T> {
  let r: { status: number; body: unknown };
  try {
    r = await ctx.query(path, params);
  } catch (e) {
    throw new ToolError(`Routelens is not reachable: ${(e as Error).message}. Is VS Code with Routelens, or \`routelens serve\`, running? (\`routelens mcp --endpoint URL\` points elsewhere.)`);
  }
  if (r.status === 401) throw new ToolError('Routelens refused the token: pass the one in ~/.routelens/token (`--token`), or run where that file is readable.');
  if (r.status !== 200) {
    const msg = (r.body as { message?: string } | undefined)?.message;
    throw new ToolError(`Routelens answered ${r.status}${msg ? `: ${msg}` : ''}`);
  }
  return r.body as T;
}

function where(loc: CodeLocation | null | undefined, ctx: ToolContext): string {
  return loc ? `${relativePath(loc.file, ctx.roots)}:${loc.line}` : 'no code location';
}

function breakdownText(b: RouteRow['breakdown']): string {
  if (!b || !(b.meanMs > 0)) return '';
  const parts = Object.entries(b.byKind)
    .filter(([, ms]) => ms > 0)
    .sort((x, y) => y[1] - x[1])
    .map(([k, ms]) => `${k === 'code' ? 'own code' : k === 'db' ? 'database' : k === 'http' ? 'HTTP' : 'services'} ${fmtPct(ms / b.meanMs)}`);
  return parts.length ? ` · time: ${parts.join(', ')}` : '';
}

const routesTool: ToolSpec = {
  name: 'routelens_routes',
  title: 'Routes',
  description:
    'Observed HTTP routes of the running API from live telemetry: p50/p95/p99 latency, requests per second, error rate, the handler\'s file and line, and where the time goes (own code, database, HTTP, downstream services). Use it to find slow, busy or failing endpoints. All arguments optional.',
  inputSchema: {
    type: 'object',
    properties: {
      sort: { type: 'string', enum: ['slowest', 'busiest', 'failing'], description: 'Order: by p95 (default), by requests per second, or by error rate.' },
      service: { type: 'string', description: 'Only this service.' },
      file: { type: 'string', description: 'Only routes whose handler is in a file whose path contains this.' },
      windowSeconds: { type: 'number', description: 'Window for the figures, 1 to 900 (default 60).' },
      limit: { type: 'number', description: 'At most this many routes (default 10).' },
    },
    additionalProperties: false,
  },
  progress: (a) => `Reading Routelens route figures${str(a, 'service') ? ` for ${String(a.service)}` : ''}`,
  async run(args, ctx) {
    const r = makeRedactor(ctx.redactPatterns);
    const window = num(args, 'windowSeconds', 60, 1, 900);
    const params: Record<string, string> = { window: String(window) };
    const service = str(args, 'service');
    if (service) params.service = service;
    const body = await get<{ routes: RouteRow[] }>(ctx, '/api/v1/routes', params);
    const file = str(args, 'file');
    let routes = body.routes.filter((x) => !file || (x.code && x.code.file.includes(file)));
    const sort = str(args, 'sort') ?? 'slowest';
    routes = [...routes].sort((a, b) => (sort === 'busiest' ? b.rps - a.rps : sort === 'failing' ? b.errorRate - a.errorRate || b.count - a.count : (b.p95Ms ?? -1) - (a.p95Ms ?? -1)));
    const limit = num(args, 'limit', 10, 1, 500);
    const shown = routes.slice(0, limit);
    const items = shown.map(
      (x) =>
        `- ${x.method} ${quote(x.route, r, 120)} (service ${quote(x.service, r, 60)}): p50 ${fmtMs(x.p50Ms)} · p95 ${fmtMs(x.p95Ms)} · p99 ${fmtMs(x.p99Ms)} · ${x.rps.toFixed(2)} req/s · ${fmtPct(x.errorRate)} errors · ${x.count} requests${x.source === 'metrics' ? ' (interpolated from histogram buckets)' : ''} · handler ${where(x.code, ctx)}${breakdownText(x.breakdown)}`,
    );
    const header = [DATA_NOTE, `Routes ${sort === 'busiest' ? 'by requests per second' : sort === 'failing' ? 'by error rate' : 'by p95 latency'} over the last ${window} s: ${routes.length} route(s)${routes.length === 0 ? '. No requests seen in the window: is the app running with the Routelens agent or an OpenTelemetry SDK?' : ''}`];
    const left = routes.length - shown.length;
    const text = withinBudget(header, items, ctx.budgetTokens ?? DEFAULT_BUDGET, (n) => `${n + left} more route(s) did not fit; ask with service= or file= to narrow.`);
    return left > 0 && !text.includes(' did not fit;') ? `${text}\n${left} more route(s); ask with limit=${Math.min(500, limit * 2)}, service= or file=.` : text;
  },
};

const errorsTool: ToolSpec = {
  name: 'routelens_errors',
  title: 'Errors',
  description:
    'Errors the running API raised, grouped by exception type and the line that raised them: type, message, count, route, the raising line and a short stack of application frames. Use it to find and fix a failure the user just hit. All arguments optional.',
  inputSchema: {
    type: 'object',
    properties: {
      service: { type: 'string', description: 'Only this service.' },
      route: { type: 'string', description: 'Only errors of this route template, e.g. /items/{item_id}.' },
      limit: { type: 'number', description: 'At most this many groups (default 10).' },
    },
    additionalProperties: false,
  },
  progress: () => 'Reading the errors Routelens has seen',
  async run(args, ctx) {
    const r = makeRedactor(ctx.redactPatterns);
    const params: Record<string, string> = {};
    const service = str(args, 'service');
    if (service) params.service = service;
    const body = await get<{ errors: ErrorGroup[] }>(ctx, '/api/v1/errors', params);
    const route = str(args, 'route');
    const groups = body.errors.filter((g) => !route || g.route === route).sort((a, b) => b.lastSeenMs - a.lastSeenMs);
    const limit = num(args, 'limit', 10, 1, 200);
    const items = groups.slice(0, limit).map((g) => {
      const stack = g.frames
        .filter((f) => !/site-packages|dist-packages|\/lib\/python\d/.test(f.file))
        .slice(-3)
        .map((f) => `${relativePath(f.file, ctx.roots)}:${f.line} in ${quote(f.function, r, 80)}`)
        .join(' <- ');
      return `- ${quote(g.type, r, 80)}: ${quote(g.message, r, 240)} ×${g.count} (${g.severity}) ${g.route ? `on ${g.method ? `${g.method} ` : ''}${quote(g.route, r, 120)} ` : ''}in service ${quote(g.service, r, 60)}, raised at ${where(g.location, ctx)}; last ${new Date(g.lastSeenMs).toISOString()}${stack ? `; stack (innermost first): ${stack.split(' <- ').reverse().join(' <- ')}` : ''}${g.traceId ? `; trace ${g.traceId}` : ''}`;
    });
    const header = [DATA_NOTE, `Error groups, latest first: ${groups.length}${groups.length === 0 ? ' (none seen)' : ''}`];
    return withinBudget(header, items, ctx.budgetTokens ?? DEFAULT_BUDGET, (n) => `${n + Math.max(0, groups.length - limit)} more; ask with route= or service= to narrow.`);
  },
};

const findingsTool: ToolSpec = {
  name: 'routelens_findings',
  title: 'Findings',
  description:
    'What the traces show that is worth fixing, each at the line that made the calls: N+1 patterns (one statement or endpoint called 5+ times in a row per request), slow queries, and a database or service taking half of a route\'s time. All arguments optional.',
  inputSchema: {
    type: 'object',
    properties: {
      service: { type: 'string', description: 'Only this service.' },
      route: { type: 'string', description: 'Only this route template.' },
      kind: { type: 'string', enum: ['n+1', 'slow-query', 'dominant-downstream'], description: 'Only this kind.' },
    },
    additionalProperties: false,
  },
  progress: () => 'Reading Routelens findings (N+1, slow queries)',
  async run(args, ctx) {
    const r = makeRedactor(ctx.redactPatterns);
    const params: Record<string, string> = {};
    for (const k of ['service', 'route', 'kind']) {
      const v = str(args, k);
      if (v) params[k] = v;
    }
    const body = await get<{ insights: Finding[] }>(ctx, '/api/v1/insights', params);
    const items = body.insights.map(
      (f) =>
        `- ${f.kind} at ${where(f.location, ctx)} on ${f.method} ${quote(f.route, r, 120)} (service ${quote(f.service, r, 60)}): ${f.operation ? `${quote(f.operation, r, 200)} ` : ''}to ${f.destination.kind} ${quote(f.destination.target, r, 80)}${f.callsPerRequest ? `, ${f.callsPerRequest} calls per request` : ''}, ${fmtMs(f.msPerRequest)} per request (${fmtPct(f.share)} of it), seen in ${f.requests} request(s); example trace ${f.exampleTraceIds[0] ?? '–'}`,
    );
    const header = [DATA_NOTE, `Findings, most costly first: ${body.insights.length}${body.insights.length === 0 ? ' (none: no N+1 pattern, slow query or dominating downstream in the recent requests)' : ''}`];
    return withinBudget(header, items, ctx.budgetTokens ?? DEFAULT_BUDGET, (n) => `${n} more; ask with kind=, route= or service= to narrow.`);
  },
};

const traceTool: ToolSpec = {
  name: 'routelens_trace',
  title: 'Trace',
  description:
    'One request\'s trace, summarised: duration, the critical path (what the request waited on), its slowest spans with the lines that made each call, its findings and its log records. Give traceId, or route (and optionally service) with which=slowest|failed|latest. All arguments optional: with none, the latest failed request, else the slowest.',
  inputSchema: {
    type: 'object',
    properties: {
      traceId: { type: 'string', description: '32 hex characters.' },
      route: { type: 'string', description: 'A route template, e.g. /orders/{id}: pick a request of it.' },
      method: { type: 'string', description: 'With route: the HTTP method (default any).' },
      service: { type: 'string', description: 'With route: the service.' },
      which: { type: 'string', enum: ['slowest', 'failed', 'latest'], description: 'Which request of the route (default slowest).' },
    },
    additionalProperties: false,
  },
  progress: (a) => (str(a, 'traceId') ? `Reading trace ${String(a.traceId)}` : `Finding a trace${str(a, 'route') ? ` of ${String(a.route)}` : ''}`),
  async run(args, ctx) {
    const r = makeRedactor(ctx.redactPatterns);
    let traceId = str(args, 'traceId')?.toLowerCase();
    let why = 'as asked';
    if (traceId && !/^[0-9a-f]{32}$/.test(traceId)) throw new ToolError('traceId must be 32 hexadecimal characters');
    if (!traceId) {
      const which = str(args, 'which') ?? (str(args, 'route') ? 'slowest' : 'failed');
      const params: Record<string, string> = { limit: '1000' };
      if (which === 'failed') params.errorsOnly = 'true';
      const service = str(args, 'service');
      if (service) params.service = service;
      const body = await get<{ traces: (RequestRef & { method: string; route: string; service: string })[] }>(ctx, '/api/v1/traces', params);
      const route = str(args, 'route');
      const method = str(args, 'method')?.toUpperCase();
      let cands = body.traces.filter((t) => (!route || t.route === route) && (!method || t.method === method));
      if (cands.length === 0 && which === 'failed' && !str(args, 'which')) {
        const all = await get<{ traces: (RequestRef & { method: string; route: string; service: string })[] }>(ctx, '/api/v1/traces', { ...params, errorsOnly: 'false' });
        cands = all.traces.filter((t) => (!route || t.route === route) && (!method || t.method === method));
        why = 'the slowest recent request (none failed)';
        cands.sort((a, b) => b.durationMs - a.durationMs);
      } else if (which === 'slowest') {
        cands.sort((a, b) => b.durationMs - a.durationMs);
        why = 'the slowest recent request';
      } else {
        cands.sort((a, b) => b.receivedMs - a.receivedMs);
        why = which === 'failed' ? 'the latest failed request' : 'the latest request';
      }
      if (!cands.length) return `${DATA_NOTE}\nNo matching request is stored${route ? ` for route ${quote(route, r, 120)}` : ''}; ask routelens_routes for the routes seen.`;
      traceId = cands[0].traceId;
    }
    const body = await get<{ spans: Span[]; logs: LogRecord[]; analysis: TraceAnalysisView | null }>(ctx, `/api/v1/traces/${traceId}`);
    const spans = body.spans;
    const a = body.analysis;
    const byId = new Map(spans.map((s) => [s.spanId, s] as const));
    const root = (a && byId.get(a.requestSpanId)) ?? spans[0];
    const services = [...new Set(spans.map((s) => s.resource.serviceName))];
    const header = [
      DATA_NOTE,
      `Trace ${traceId} (${why}): ${quote(root.name, r, 120)} in service ${quote(root.resource.serviceName, r, 60)}, ${fmtMs(root.endMs - root.startMs)}, status ${root.http?.statusCode ?? root.status}${root.exception ? `, raised ${quote(root.exception.type, r, 80)}: ${quote(root.exception.message, r, 200)}` : ''}; ${spans.length} spans over ${services.length} service(s).`,
    ];
    const items: string[] = [];
    if (a) {
      const parts = a.breakdown.map((p) => `${p.kind === 'code' ? 'own code' : quote(p.target, r, 60)} ${fmtMs(p.ms)}`).join(', ');
      items.push(`Where the time went (critical path): ${parts}.`);
      const hot = [...Object.entries(a.spans)].sort((x, y) => y[1].pathMs - x[1].pathMs).slice(0, 8);
      items.push('Slowest spans on the critical path:');
      for (const [id, t] of hot) {
        const s = byId.get(id);
        if (!s || t.pathMs <= 0) continue;
        const stmt = s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? s.attributes['url.full'];
        items.push(`- ${quote(s.name, r, 100)} (${s.kind}, ${quote(s.resource.serviceName, r, 60)}) ${fmtMs(t.pathMs)} on the path, self ${fmtMs(t.selfMs)}${typeof stmt === 'string' ? ` ${quote(stmt, r, 200)}` : ''} at ${where(s.code, ctx)}`);
      }
      for (const f of a.findings) items.push(`- finding ${f.kind}: ${f.count} × ${quote(f.operation, r, 200)} (${fmtMs(f.ms)}) at ${where(f.location, ctx)} on ${quote(f.route, r, 120)}`);
    }
    const logs = body.logs.slice(-20);
    if (logs.length) items.push(`Log records (${body.logs.length}${body.logs.length > logs.length ? `, the last ${logs.length}` : ''}):`);
    for (const l of logs) items.push(`- ${new Date(l.timeMs).toISOString()} ${l.severity} ${quote(l.body, r, 240)}${l.code ? ` at ${where(l.code, ctx)}` : ''}`);
    return withinBudget(header, items, ctx.budgetTokens ?? DEFAULT_BUDGET, (n) => `${n} more lines; ask routelens_logs with traceId=${traceId} for the log records.`);
  },
};

const logsTool: ToolSpec = {
  name: 'routelens_logs',
  title: 'Logs',
  description: 'Recent log records of the running API, newest last: of one request (traceId), of a service, or of a route. All arguments optional.',
  inputSchema: {
    type: 'object',
    properties: {
      traceId: { type: 'string', description: 'Only this request\'s records.' },
      service: { type: 'string', description: 'Only this service.' },
      route: { type: 'string', description: 'Only records of requests of this route template.' },
      minSeverity: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], description: 'Least severity (default all).' },
      limit: { type: 'number', description: 'At most this many (default 30).' },
    },
    additionalProperties: false,
  },
  progress: () => 'Reading log records from Routelens',
  async run(args, ctx) {
    const r = makeRedactor(ctx.redactPatterns);
    const limit = num(args, 'limit', 30, 1, 1000);
    const params: Record<string, string> = { limit: '1000' };
    const traceId = str(args, 'traceId');
    if (traceId) params.traceId = traceId.toLowerCase();
    const service = str(args, 'service');
    if (service) params.service = service;
    const body = await get<{ logs: LogRecord[] }>(ctx, '/api/v1/logs', params);
    let logs = body.logs;
    const route = str(args, 'route');
    if (route) {
      const t = await get<{ traces: RequestRef[] }>(ctx, '/api/v1/traces', { limit: '1000', ...(service ? { service } : {}) });
      const ids = new Set((t.traces as (RequestRef & { route: string })[]).filter((x) => x.route === route).map((x) => x.traceId));
      logs = logs.filter((l) => l.traceId && ids.has(l.traceId));
    }
    const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
    const min = str(args, 'minSeverity');
    if (min) logs = logs.filter((l) => order.indexOf(l.severity) >= order.indexOf(min));
    logs = [...logs].sort((a, b) => a.timeMs - b.timeMs);
    const shown = logs.slice(-limit);
    const items = shown.map((l) => `- ${new Date(l.timeMs).toISOString()} ${l.severity} ${quote(l.resource.serviceName, r, 60)} ${quote(l.body, r, 240)}${l.traceId ? ` trace ${l.traceId}` : ''}${l.code ? ` at ${where(l.code, ctx)}` : ''}`);
    const header = [DATA_NOTE, `Log records, oldest first: ${logs.length}${logs.length === 0 ? ' (none match)' : ''}`];
    // The newest records that fit the budget, listed oldest first.
    const fit = budgetLines(items, ctx);
    const left = logs.length - fit;
    return [...header, ...(left > 0 ? [`${left} older record(s) left out; ask with traceId=, minSeverity= or a smaller limit to narrow.`] : []), ...items.slice(items.length - fit)].join('\n');
  },
};

/** How many of the newest log lines fit the budget. */
function budgetLines(items: string[], ctx: ToolContext): number {
  let used = 80;
  let n = 0;
  for (let i = items.length - 1; i >= 0; i--) {
    used += Math.ceil(items[i].length / 4) + 1;
    if (used > (ctx.budgetTokens ?? DEFAULT_BUDGET) && n > 0) break;
    n++;
  }
  return n;
}

export const TOOLS: readonly ToolSpec[] = [routesTool, errorsTool, traceTool, findingsTool, logsTool];

/** Runs a tool by name; a ToolError becomes the answer text, so the model reads what went wrong. */
export async function runTool(name: string, args: Record<string, unknown> | undefined, ctx: ToolContext): Promise<{ text: string; isError: boolean }> {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool) return { text: `No tool named ${JSON.stringify(name)}; the tools are ${TOOLS.map((t) => t.name).join(', ')}.`, isError: true };
  try {
    return { text: await tool.run(args ?? {}, ctx), isError: false };
  } catch (e) {
    if (e instanceof ToolError) return { text: e.message, isError: true };
    return { text: `Routelens could not answer: ${(e as Error).message}`, isError: true };
  }
}

export type { Redactor };
