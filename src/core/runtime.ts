/**
 * Wires the core pieces (store, collector, decoders) into one running collector, the same way for
 * the extension and for `routelens serve`.
 */
import { Collector, type CollectorOptions } from './collector/collector';
import { LiveHub } from './collector/live';
import { Counters } from './counters';
import type { Logger } from './log';
import type { MetricPoint } from './model';
import { CumulativeToDelta, createOtlpHttpHandler, httpServerDuration, startOtlpGrpcServer } from './otlp';
import type { TelemetrySink } from './sink';
import { observationsFromHistogram } from './stats/histogramObservations';
import { TelemetryStore, type StoreLimits } from './store/store';

export interface RuntimeOptions {
  port: number;
  token: string;
  log: Logger;
  limits?: Partial<StoreLimits>;
  allowedOrigins?: string[];
  maxMessageBytes?: number;
  maxBodyBytes?: number;
  store?: TelemetryStore;
  /** OTLP/gRPC port; 0 or undefined turns gRPC off. */
  grpcPort?: number;
}

export interface Runtime {
  store: TelemetryStore;
  collector: Collector;
  counters: Counters;
  /** The OTLP/gRPC port, or 0 when gRPC is off or could not start. */
  grpcPort: number;
  /** Why gRPC is not running, when it was asked for and failed. */
  grpcError?: string;
  stop(): Promise<void>;
}

/**
 * The store as a sink, plus the HTTP server-duration histograms turned into route statistics for
 * routes that send metrics but no spans (the store ignores them once spans arrive for a route).
 */
export function metricsAwareSink(store: TelemetryStore): TelemetrySink {
  return {
    addSpans: (spans) => store.addSpans(spans),
    addLogs: (logs) => store.addLogs(logs),
    addMetrics: (points: MetricPoint[]) => {
      store.addMetrics(points);
      for (const p of points) {
        const d = httpServerDuration(p);
        if (!d) continue;
        const obs = observationsFromHistogram(d.histogramMs).map((o) => ({ ...o, error: d.error }));
        if (obs.length) store.recordRouteHistogram({ service: d.service, method: d.method, route: d.route }, obs);
      }
    },
  };
}

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const counters = opts.store?.counters ?? new Counters();
  const store = opts.store ?? new TelemetryStore(opts.limits, { counters });
  const live = new LiveHub(store, counters, opts.log);
  const sink = live.tee(metricsAwareSink(store));
  const cumulative = new CumulativeToDelta();
  const maxBodyBytes = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const collectorOptions: CollectorOptions = {
    store,
    sink,
    live,
    otlpHttp: createOtlpHttpHandler(sink, { maxBodyBytes, counters, log: opts.log, cumulative }),
    counters,
    token: opts.token,
    log: opts.log,
    port: opts.port,
    allowedOrigins: opts.allowedOrigins,
    maxMessageBytes: opts.maxMessageBytes,
    maxBodyBytes: opts.maxBodyBytes,
  };
  const collector = new Collector(collectorOptions);
  await collector.start();
  let grpc: { port: number; stop(): Promise<void> } | undefined;
  let grpcError: string | undefined;
  if (opts.grpcPort) {
    try {
      grpc = await startOtlpGrpcServer(sink, { host: '127.0.0.1', port: opts.grpcPort, maxMessageBytes: maxBodyBytes, counters, log: opts.log, cumulative });
    } catch (e) {
      // HTTP is the main door; a taken gRPC port must not keep the collector from running.
      grpcError = (e as Error).message;
      opts.log.warn(`[otlp] gRPC receiver not started: ${grpcError}`);
    }
  }
  return {
    store,
    collector,
    counters,
    grpcPort: grpc?.port ?? 0,
    grpcError,
    stop: async () => {
      await Promise.all([collector.stop(), grpc?.stop()]);
    },
  };
}
