/**
 * `routelens serve`: the same collector as in VS Code, for APIs in containers or on another machine.
 */
import { defaultTokenFile, loadOrCreateToken } from './core/collector/token';
import type { Logger } from './core/log';
import { startRuntime } from './core/runtime';

const USAGE = `Usage: routelens serve [--port N] [--grpc-port N] [--token T] [--verbose]

Runs the Routelens collector on 127.0.0.1 without VS Code.
  --port N      HTTP port for OTLP/HTTP, the WebSocket agent endpoint and the query API (default 4318)
  --grpc-port N OTLP/gRPC port (default 4317; 0 turns gRPC off)
  --token T     token for the query API (default: $ROUTELENS_TOKEN, else the token file)
  --verbose     log every connection
`;

interface ServeArgs {
  port: number;
  grpcPort: number;
  token?: string;
  verbose: boolean;
}

export function parseArgs(argv: string[]): ServeArgs | { error: string } | { help: true } {
  const args: ServeArgs = { port: 4318, grpcPort: 4317, verbose: false };
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
      } else if (a === '--token') args.token = value();
      else if (a === '--verbose') args.verbose = true;
      else if (a === '--help' || a === '-h') return { help: true };
      else return { error: `unknown option ${a}` };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  return args;
}

function stderrLogger(verbose: boolean): Logger {
  const line = (level: string) => (m: string) => process.stderr.write(`${new Date().toISOString()} ${level} ${m}\n`);
  return { trace: () => {}, debug: verbose ? line('debug') : () => {}, info: line('info'), warn: line('warn'), error: line('error') };
}

export async function main(argv: string[]): Promise<number> {
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
  const runtime = await startRuntime({ port: parsed.port, grpcPort: parsed.grpcPort, token, log });
  const base = runtime.collector.url;
  process.stdout.write(
    [
      `Routelens collector listening on ${base}`,
      `  OTLP/HTTP:        ${base}/v1/traces, /v1/metrics, /v1/logs (set OTEL_EXPORTER_OTLP_ENDPOINT=${base})`,
      runtime.grpcPort ? `  OTLP/gRPC:        127.0.0.1:${runtime.grpcPort}` : `  OTLP/gRPC:        off${runtime.grpcError ? ` (${runtime.grpcError})` : ''}`,
      `  Python agent:     ${base.replace('http', 'ws')}/v1/ws (set ROUTELENS_ENDPOINT=${base})`,
      `  Query API:        ${base}/api/v1/routes (Authorization: Bearer <token>; token ${tokenWhere})`,
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
