/**
 * OTLP/gRPC: the three collector Export services on a loopback port. Python's default OTLP exporter
 * speaks gRPC to localhost:4317, so this is what makes an uninstrumented-by-hand Python app show up.
 */
import * as grpc from '@grpc/grpc-js';
import type { Counters } from '../counters';
import type { Logger } from '../log';
import type { TelemetrySink } from '../sink';
import type { CumulativeToDelta } from './cumulative';
import { encodeExportResponse, OtlpIngest, type OtlpSignal } from './ingest';
import { OtlpMalformedError } from './values';
import { tokenMatches } from '../collector/token';

export interface OtlpGrpcOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Limit per message, enforced by grpc-js on the compressed and the decompressed size. */
  maxMessageBytes: number;
  counters: Counters;
  log: Logger;
  cumulative?: CumulativeToDelta;
  /** When set, every export must carry the metadata `authorization: Bearer <token>`. */
  requireToken?: string;
}

export interface OtlpGrpcServer {
  port: number;
  stop(): Promise<void>;
}

const SERVICES: { signal: OtlpSignal; path: string }[] = [
  { signal: 'traces', path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export' },
  { signal: 'metrics', path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export' },
  { signal: 'logs', path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export' },
];

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

// Messages pass through grpc-js as raw bytes: decoding inside the handler is what lets a malformed
// request be answered with INVALID_ARGUMENT (a throwing deserializer would make grpc-js say INTERNAL).
const raw = (b: Buffer) => b;

export async function startOtlpGrpcServer(sink: TelemetrySink, opts: OtlpGrpcOptions): Promise<OtlpGrpcServer> {
  if (!LOOPBACK.has(opts.host)) throw new Error(`OTLP/gRPC listens on loopback only, not ${opts.host}`);
  const ingest = new OtlpIngest(sink, opts);
  const { counters, log } = opts;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': 64 * 1024,
    'grpc.max_concurrent_streams': 32,
  });

  for (const { signal, path } of SERVICES) {
    const definition: grpc.ServiceDefinition = {
      Export: {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    };
    const handler: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
      if (opts.requireToken !== undefined) {
        const auth = call.metadata.get('authorization')[0];
        const m = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth.trim()) : null;
        if (!tokenMatches(opts.requireToken, m?.[1])) {
          counters.inc('ingest.rejected.token');
          callback({ code: grpc.status.UNAUTHENTICATED, details: 'ingest needs the metadata "authorization: Bearer <token>" (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>)' });
          return;
        }
      }
      try {
        const result = ingest.ingest(signal, 'protobuf', call.request);
        counters.inc(`otlp.grpc.requests.${signal}`);
        callback(null, encodeExportResponse(signal, 'protobuf', result));
      } catch (e) {
        if (e instanceof OtlpMalformedError) {
          counters.inc('otlp.grpc.rejected.invalid_argument');
          log.debug(`grpc ${signal}: ${e.message}`);
          callback({ code: grpc.status.INVALID_ARGUMENT, details: e.message });
        } else {
          counters.inc('otlp.grpc.rejected.internal');
          log.error(`grpc ${signal}: ${(e as Error).stack ?? e}`);
          callback({ code: grpc.status.INTERNAL, details: 'internal error' });
        }
      }
    };
    server.addService(definition, { Export: handler });
  }

  const address = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
    });
  } catch (e) {
    server.forceShutdown();
    const message = (e as Error).message;
    const inUse = /EADDRINUSE/.test(message);
    const err = new Error(
      inUse
        ? `OTLP/gRPC port ${opts.port} on ${opts.host} is already in use (another Routelens window, an OpenTelemetry Collector, or another app)`
        : `cannot listen for OTLP/gRPC on ${address}: ${message}`,
    ) as Error & { code?: string };
    if (inUse) err.code = 'EADDRINUSE';
    throw err;
  }
  log.info(`OTLP/gRPC listening on ${opts.host}:${port}`);

  let stopped: Promise<void> | undefined;
  return {
    port,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        // In-flight exports get a moment to finish; a stuck client does not hold shutdown hostage.
        const timer = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return stopped;
    },
  };
}
