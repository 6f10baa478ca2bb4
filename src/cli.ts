/**
 * `routelens serve`: the same collector as in VS Code, for APIs in containers or on another machine.
 */
import { VERSION } from './core/collector/collector';
import { isLoopbackAddress } from './core/collector/hostCheck';
import { defaultTokenFile, loadOrCreateToken } from './core/collector/token';
import type { Logger } from './core/log';
import type { ScrapeTargetConfig } from './core/prometheus/scraper';
import { PRESET_NAMES, parseRange, selectorMatchers, type PresetName } from './core/remote/presets';
import type { RemotePrometheusOptions } from './core/remote/remotePrometheus';
import { FORWARD_SIGNALS, type ForwardOptions, type ForwardSignal } from './core/forward/forwarder';
import { startRuntime } from './core/runtime';

const USAGE = `Usage: routelens serve [--host ADDR] [--port N] [--grpc-port N] [--token T] [--require-token] [--scrape [SERVICE=]URL]... [--scrape-interval S]
                      [--forward URL [--forward-protocol http/protobuf|grpc] [--forward-header K=V]... [--forward-signals LIST] [--forward-services LIST]]
                      [--remote-prometheus URL [--remote-selector '{...}'] [--remote-preset NAME] [--remote-range 1h] [--remote-refresh S]]
                      [--verbose]
       routelens mcp [--endpoint URL] [--token T]   (tools for coding agents over MCP; routelens mcp --help)

Runs the Routelens collector on 127.0.0.1 without VS Code.
  --host ADDR   listen address (default 127.0.0.1); 0.0.0.0 lets apps in containers reach it as
                host.docker.internal or the bridge address, and then ingest needs the token
  --port N      HTTP port for OTLP/HTTP, the WebSocket agent endpoint and the query API (default 4318)
  --grpc-port N OTLP/gRPC port (default 4317; 0 turns gRPC off)
  --token T     token for the query API and, when required, ingest (default: $ROUTELENS_TOKEN, else the token file)
  --require-token
                ingest (agents, OTLP) needs the token on loopback too (shared machines)
  --scrape [SERVICE=]URL
                scrape a Prometheus /metrics URL (repeatable); SERVICE names what it exposes
                (default: the URL's host:port)
  --scrape-interval S
                seconds between scrapes of each target (default 5)
  --forward URL send everything received on to an OpenTelemetry Collector; URL is the base endpoint
                as in OTEL_EXPORTER_OTLP_ENDPOINT (http://collector:4318; /v1/traces... appended)
  --forward-protocol http/protobuf|grpc
                how to send (default http/protobuf; grpc takes http://host:4317)
  --forward-header K=V
                a header for every forwarded request (repeatable), e.g. Authorization=Bearer%20xyz
                (values are URL-decoded as in OTEL_EXPORTER_OTLP_HEADERS)
  --forward-signals LIST
                traces,logs,metrics (default all)
  --forward-services LIST
                forward only these service names (comma-separated; default all)
  --remote-prometheus URL
                route figures (p50/p95/p99, rate, error rate) from a team's Prometheus server
                (http://prometheus:9090), beside the local ones in /api/v1/routes ("remote");
                credentials from ROUTELENS_REMOTE_PROMETHEUS_TOKEN (bearer) or
                ROUTELENS_REMOTE_PROMETHEUS_BASIC (user:password)
  --remote-selector '{env="prod", service="orders"}'
                label matchers added to every query
  --remote-preset NAME
                otel, fastapi-instrumentator, flask-exporter, django-prometheus or prom-client
                (default: found by asking the server which histogram it has)
  --remote-range D
                the range the figures cover, a Prometheus duration (default 1h)
  --remote-refresh S
                seconds between refreshes (default 60)
  --verbose     log every connection
`;

interface ServeArgs {
  host: string;
  requireToken: boolean;
  port: number;
  grpcPort: number;
  token?: string;
  verbose: boolean;
  scrape: ScrapeTargetConfig[];
  scrapeIntervalSec: number;
  forward?: Omit<ForwardOptions, 'log' | 'counters'> & { headers: Record<string, string> };
  remote?: Omit<RemotePrometheusOptions, 'log'>;
}

export function parseArgs(argv: string[]): ServeArgs | { error: string } | { help: true } {
  const args: ServeArgs = { host: '127.0.0.1', requireToken: false, port: 4318, grpcPort: 4317, verbose: false, scrape: [], scrapeIntervalSec: 5 };
  if (argv[0] !== 'serve') return argv.includes('--help') || argv.includes('-h') || argv.length === 0 ? { help: true } : { error: `unknown command ${JSON.stringify(argv[0])}` };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--port') {
        const p = Number(value());
        if (!Number.isInteger(p) || p < 0 || p > 65535) return { error: '--port must be a whole number from 0 to 65535' };
        args.port = p;
      } else if (a === '--grpc-port') {
        const p = Number(value());
        if (!Number.isInteger(p) || p < 0 || p > 65535) return { error: '--grpc-port must be a whole number from 0 to 65535' };
        args.grpcPort = p;
      } else if (a === '--scrape') {
        const target = parseScrapeTarget(value());
        if (typeof target === 'string') return { error: target };
        args.scrape.push(target);
      } else if (a === '--scrape-interval') {
        const sec = Number(value());
        if (!Number.isFinite(sec) || sec < 0.1 || sec > 3600) return { error: '--scrape-interval must be a number of seconds from 0.1 to 3600' };
        args.scrapeIntervalSec = sec;
      } else if (a === '--host') {
        const h = value().trim();
        if (!/^[0-9a-zA-Z.:[\]-]+$/.test(h)) return { error: '--host must be an address such as 127.0.0.1, 0.0.0.0 or 172.17.0.1' };
        args.host = h.replace(/^\[(.*)\]$/, '$1');
      } else if (a === '--require-token') args.requireToken = true;
      else if (a === '--forward') {
        const url = value();
        try {
          const u = new URL(url);
          if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: '--forward must be an http or https URL' };
        } catch {
          return { error: `--forward: ${JSON.stringify(url)} is not a URL (e.g. http://collector:4318)` };
        }
        args.forward = { ...args.forward, url, headers: args.forward?.headers ?? {} };
      } else if (a === '--forward-protocol') {
        const p = value();
        if (p !== 'http/protobuf' && p !== 'grpc') return { error: '--forward-protocol must be http/protobuf or grpc' };
        args.forward = { url: '', headers: {}, ...args.forward, protocol: p };
      } else if (a === '--forward-header') {
        const h = parseHeader(value());
        if (typeof h === 'string') return { error: h };
        args.forward = { url: '', ...args.forward, headers: { ...args.forward?.headers, [h[0]]: h[1] } };
      } else if (a === '--forward-signals') {
        const list = value().split(',').map((x) => x.trim()).filter(Boolean);
        const bad = list.find((x) => !FORWARD_SIGNALS.includes(x as ForwardSignal));
        if (bad || !list.length) return { error: '--forward-signals is a comma-separated list of traces, logs, metrics' };
        args.forward = { url: '', headers: {}, ...args.forward, signals: list as ForwardSignal[] };
      } else if (a === '--forward-services') {
        args.forward = { url: '', headers: {}, ...args.forward, services: value().split(',').map((x) => x.trim()).filter(Boolean) };
      } else if (a === '--remote-prometheus') {
        const url = value();
        try {
          const u = new URL(url);
          if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: '--remote-prometheus must be an http or https URL' };
        } catch {
          return { error: `--remote-prometheus: ${JSON.stringify(url)} is not a URL (e.g. http://prometheus:9090)` };
        }
        args.remote = { ...args.remote, url };
      } else if (a === '--remote-selector') {
        const sel = value();
        const m = selectorMatchers(sel);
        if (typeof m !== 'string') return { error: `--remote-selector: ${m.error}` };
        args.remote = { url: '', ...args.remote, selector: sel };
      } else if (a === '--remote-preset') {
        const p = value();
        if (p !== 'auto' && !PRESET_NAMES.includes(p as PresetName)) return { error: `--remote-preset must be one of ${PRESET_NAMES.join(', ')}` };
        args.remote = { url: '', ...args.remote, preset: p as PresetName | 'auto' };
      } else if (a === '--remote-range') {
        const r = value();
        if (!parseRange(r)) return { error: '--remote-range must be a Prometheus duration such as 1h, 30m or 1d' };
        args.remote = { url: '', ...args.remote, range: r };
      } else if (a === '--remote-refresh') {
        const sec = Number(value());
        if (!Number.isFinite(sec) || sec < 1 || sec > 86400) return { error: '--remote-refresh must be a number of seconds from 1 to 86400' };
        args.remote = { url: '', ...args.remote, refreshMs: sec * 1000 };
      } else if (a === '--token') args.token = value();
      else if (a === '--verbose') args.verbose = true;
      else if (a === '--help' || a === '-h') return { help: true };
      else return { error: `unknown option ${a}` };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  if (args.remote && !args.remote.url) return { error: '--remote-selector, --remote-preset, --remote-range and --remote-refresh need --remote-prometheus URL' };
  if (args.forward && !args.forward.url) return { error: '--forward-protocol, --forward-header, --forward-signals and --forward-services need --forward URL' };
  return args;
}

/** `K=V` as in OTEL_EXPORTER_OTLP_HEADERS (the value URL-decoded). */
export function parseHeader(v: string): [string, string] | string {
  const i = v.indexOf('=');
  if (i <= 0) return `--forward-header: ${JSON.stringify(v)} is not K=V`;
  const key = v.slice(0, i).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) return `--forward-header: ${JSON.stringify(key)} is not a header name`;
  let value = v.slice(i + 1).trim();
  try {
    value = decodeURIComponent(value);
  } catch {
    // not percent-encoded: used as it is
  }
  if (/[\r\n]/.test(value)) return '--forward-header: the value must not contain line breaks';
  return [key, value];
}

/** `URL` or `SERVICE=URL`; only http and https can be scraped. */
export function parseScrapeTarget(v: string): ScrapeTargetConfig | string {
  const m = /^([^=/:]+)=(.+)$/.exec(v);
  const service = m ? m[1].trim() : undefined;
  const url = (m ? m[2] : v).trim();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `--scrape: ${JSON.stringify(url)} is not a URL (e.g. http://127.0.0.1:8000/metrics)`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `--scrape: only http and https URLs can be scraped, not ${parsed.protocol}`;
  return service ? { url, service } : { url };
}

/** Remote Prometheus credentials from the environment (kept off the command line, which others can read). */
function remoteAuthFromEnv(): RemotePrometheusOptions['auth'] {
  const token = process.env.ROUTELENS_REMOTE_PROMETHEUS_TOKEN;
  if (token) return { bearerToken: token };
  const basic = process.env.ROUTELENS_REMOTE_PROMETHEUS_BASIC;
  if (basic && basic.includes(':')) {
    const i = basic.indexOf(':');
    return { basic: { username: basic.slice(0, i), password: basic.slice(i + 1) } };
  }
  return undefined;
}

function stderrLogger(verbose: boolean): Logger {
  const line = (level: string) => (m: string) => process.stderr.write(`${new Date().toISOString()} ${level} ${m}\n`);
  return { trace: () => {}, debug: verbose ? line('debug') : () => {}, info: line('info'), warn: line('warn'), error: line('error') };
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'mcp') {
    // Loaded only for this command: `serve` does not pay for the MCP SDK.
    const { runMcp } = await import('./mcp');
    return runMcp(argv, VERSION);
  }
  const parsed = parseArgs(argv);
  if ('help' in parsed) {
    process.stdout.write(USAGE);
    return 0;
  }
  if ('error' in parsed) {
    process.stderr.write(`routelens: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  let token = parsed.token ?? process.env.ROUTELENS_TOKEN;
  let tokenWhere = parsed.token ? 'given with --token' : 'from ROUTELENS_TOKEN';
  if (!token) {
    const file = defaultTokenFile();
    token = loadOrCreateToken(file);
    tokenWhere = `in ${file}`;
  }
  const log = stderrLogger(parsed.verbose);
  const runtime = await startRuntime({
    host: parsed.host,
    requireTokenForIngest: parsed.requireToken,
    port: parsed.port,
    grpcPort: parsed.grpcPort,
    token,
    log,
    scrapeTargets: parsed.scrape,
    scrapeIntervalMs: parsed.scrapeIntervalSec * 1000,
    forward: parsed.forward,
    remotePrometheus: parsed.remote ? { ...parsed.remote, auth: remoteAuthFromEnv() } : undefined,
  });
  const base = runtime.collector.url;
  const exposed = !isLoopbackAddress(parsed.host);
  process.stdout.write(
    [
      `Routelens collector listening on ${base}${exposed ? ` and on ${parsed.host}:${runtime.collector.port} for containers (http://host.docker.internal:${runtime.collector.port})` : ''}`,
      ...(runtime.collector.ingestNeedsToken ? [`  Ingest needs the token (${tokenWhere}): ROUTELENS_TOKEN=<token> for the agent, OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token> for OTLP`] : []),
      `  OTLP/HTTP:        ${base}/v1/traces, /v1/metrics, /v1/logs (set OTEL_EXPORTER_OTLP_ENDPOINT=${base})`,
      runtime.grpcPort ? `  OTLP/gRPC:        127.0.0.1:${runtime.grpcPort}` : `  OTLP/gRPC:        off${runtime.grpcError ? ` (${runtime.grpcError})` : ''}`,
      `  Python agent:     ${base.replace('http', 'ws')}/v1/ws (set ROUTELENS_ENDPOINT=${base})`,
      `  Query API:        ${base}/api/v1/routes (Authorization: Bearer <token>; token ${tokenWhere})`,
      ...(runtime.forwarder ? [`  Forwarding to:    ${runtime.forwarder.state().endpoint} (${runtime.forwarder.state().protocol}; ${runtime.forwarder.state().signals.join(', ')})`] : []),
      ...(runtime.remote ? [`  Remote figures:   ${runtime.remote.state().url} (${parsed.remote?.selector || 'no selector'}, over ${runtime.remote.rangeS} s)`] : []),
      ...(runtime.remoteError ? [`  Remote figures:   off (${runtime.remoteError})`] : []),
      ...(runtime.forwardError ? [`  Forwarding:       off (${runtime.forwardError})`] : []),
      ...parsed.scrape.map((t) => `  Prometheus:       scraping ${t.url} every ${parsed.scrapeIntervalSec} s${t.service ? ` as ${t.service}` : ''}`),
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: stopping`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await runtime.stop();
  return 0;
}
