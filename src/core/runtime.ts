/**
 * Wires the core pieces (store, collector, decoders) into one running collector, the same way for
 * the extension and for `routelens serve`.
 */
import { Collector, type CollectorOptions, type CollectorTuning } from './collector/collector';
import { LiveHub } from './collector/live';
import { Counters } from './counters';
import { withPrefix, type Logger } from './log';
import { announcedTargets } from './prometheus/announce';
import { PrometheusScraper, type ScrapeTargetConfig } from './prometheus/scraper';
import { CumulativeToDelta, createOtlpHttpHandler, startOtlpGrpcServer } from './otlp';
import type { TelemetrySink } from './sink';
import { metricsAwareSink } from './stats/histogramRoutes';
import { TelemetryStore, type StoreLimits } from './store/store';
import { Forwarder, type ForwardOptions } from './forward/forwarder';
import { RemotePrometheus, type RemotePrometheusOptions } from './remote/remotePrometheus';
import { withRemoteFigures } from './remote/routes';

export interface RuntimeOptions {
  port: number;
  /** Listen address of the HTTP server (default 127.0.0.1; see CollectorOptions.host). OTLP/gRPC stays on loopback. */
  host?: string;
  /** Ingest needs the token on loopback too (always when listening beyond loopback). */
  requireTokenForIngest?: boolean;
  token: string;
  log: Logger;
  limits?: Partial<StoreLimits>;
  allowedOrigins?: string[];
  maxMessageBytes?: number;
  maxBodyBytes?: number;
  store?: TelemetryStore;
  /** OTLP/gRPC port; 0 or undefined turns gRPC off. */
  grpcPort?: number;
  /** Connection caps and timeouts of the HTTP server (defaults in collector.ts). */
  tuning?: Omit<CollectorTuning, 'maxMessageBytes' | 'maxBodyBytes'>;
  /** Prometheus /metrics URLs to scrape from the start; more can be set on `prometheus` later. */
  scrapeTargets?: (string | ScrapeTargetConfig)[];
  /** Default scrape interval (5 s when not given). */
  scrapeIntervalMs?: number;
  /** Send everything received on to an upstream OTLP endpoint (docs/forwarding.md). */
  forward?: Omit<ForwardOptions, 'log' | 'counters'>;
  /** Route figures from a remote Prometheus beside the local ones (docs/api.md). */
  remotePrometheus?: Omit<RemotePrometheusOptions, 'log'>;
}

export interface Runtime {
  store: TelemetryStore;
  collector: Collector;
  counters: Counters;
  /**
   * Where every source delivers: the store (histograms turned into route figures) and the live
   * stream to the windows that view this collector. Telemetry the editor produces itself (the
   * debug console) goes here too.
   */
  sink: TelemetrySink;
  /** The OTLP/gRPC port, or 0 when gRPC is off or could not start. */
  grpcPort: number;
  /** Why gRPC is not running, when it was asked for and failed. */
  grpcError?: string;
  /** The Prometheus scraper; it scrapes nothing until it is given targets. */
  prometheus: PrometheusScraper;
  /** Present when `forward` was given and its URL is valid. */
  forwarder?: Forwarder;
  /** Why forwarding is off although it was asked for (a bad URL). */
  forwardError?: string;
  /** Present when `remotePrometheus` was given and valid. */
  remote?: RemotePrometheus;
  /** Why the remote Prometheus is off although it was asked for. */
  remoteError?: string;
  /** Starts, replaces (the old one gets a moment to send what it holds) or ends forwarding. */
  setForward(forward: Omit<ForwardOptions, 'log' | 'counters'> | undefined): void;
  /**
   * Uses a remote Prometheus source made elsewhere (the editor keeps one for the lenses) for the
   * query API; the runtime neither starts nor disposes it. undefined detaches it.
   */
  attachRemote(remote: RemotePrometheus | undefined): void;
  stop(): Promise<void>;
}

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const counters = opts.store?.counters ?? new Counters();
  const store = opts.store ?? new TelemetryStore(opts.limits, { counters });
  const live = new LiveHub(store, counters, opts.log);
  let forwarder: Forwarder | undefined;
  let forwardError: string | undefined;
  const setForward = (forward: Omit<ForwardOptions, 'log' | 'counters'> | undefined) => {
    const old = forwarder;
    forwarder = undefined;
    forwardError = undefined;
    void old?.stop();
    if (!forward) return;
    try {
      forwarder = new Forwarder({ ...forward, log: opts.log, counters });
    } catch (e) {
      forwardError = (e as Error).message;
      opts.log.warn(`[forward] not forwarding: ${forwardError}`);
    }
  };
  setForward(opts.forward);
  const local = live.tee(metricsAwareSink(store));
  // The store first, always; then the forwarder's queue, when there is one.
  const sink: TelemetrySink = {
    addSpans: (spans) => {
      local.addSpans(spans);
      forwarder?.add('traces', spans);
    },
    addLogs: (logs) => {
      local.addLogs(logs);
      forwarder?.add('logs', logs);
    },
    addMetrics: (points) => {
      local.addMetrics(points);
      forwarder?.add('metrics', points);
    },
  };
  const cumulative = new CumulativeToDelta();
  const maxBodyBytes = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  // Route statistics come from the sink above, not from the scraper itself, so they are derived once.
  const prometheus = new PrometheusScraper({ sink, counters, log: withPrefix(opts.log, 'prometheus'), intervalMs: opts.scrapeIntervalMs });
  if (opts.scrapeTargets?.length) prometheus.setTargets(opts.scrapeTargets);
  const collectorOptions: CollectorOptions = {
    ...opts.tuning,
    store,
    sink,
    live,
    otlpHttp: createOtlpHttpHandler(sink, { maxBodyBytes, counters, log: opts.log, cumulative }),
    counters,
    token: opts.token,
    log: opts.log,
    port: opts.port,
    host: opts.host,
    requireTokenForIngest: opts.requireTokenForIngest,
    allowedOrigins: opts.allowedOrigins,
    maxMessageBytes: opts.maxMessageBytes,
    maxBodyBytes: opts.maxBodyBytes,
    // An agent whose app serves /metrics announces it: scrape it under the agent's service name.
    onAnnounce: announcedTargets(prometheus, counters),
  };
  const collector = new Collector(collectorOptions);
  await collector.start();
  let remote: RemotePrometheus | undefined;
  let ownRemote: RemotePrometheus | undefined;
  let remoteError: string | undefined;
  if (opts.remotePrometheus) {
    try {
      remote = ownRemote = new RemotePrometheus({ ...opts.remotePrometheus, log: opts.log });
      remote.start();
    } catch (e) {
      remoteError = (e as Error).message;
      opts.log.warn(`[remote-prometheus] off: ${remoteError}`);
    }
  }
  collector.upstream = {
    stats: () => ({
      ...(forwarder || forwardError ? { forward: forwarder ? forwarder.state() : { state: 'off', error: forwardError } } : {}),
      ...(remote || remoteError ? { remotePrometheus: remote ? remote.state() : { state: 'off', error: remoteError } } : {}),
    }),
    routes: (localRoutes: Record<string, unknown>[]) => (remote ? withRemoteFigures(localRoutes, remote) : localRoutes),
  };
  let grpc: { port: number; stop(): Promise<void> } | undefined;
  let grpcError: string | undefined;
  if (opts.grpcPort) {
    try {
      grpc = await startOtlpGrpcServer(sink, { host: '127.0.0.1', port: opts.grpcPort, maxMessageBytes: maxBodyBytes, counters, log: opts.log, cumulative, ...(collector.ingestNeedsToken ? { requireToken: opts.token } : {}) });
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
    sink,
    grpcPort: grpc?.port ?? 0,
    grpcError,
    prometheus,
    get forwarder() {
      return forwarder;
    },
    get forwardError() {
      return forwardError;
    },
    get remote() {
      return remote;
    },
    get remoteError() {
      return remoteError;
    },
    setForward,
    attachRemote: (r) => {
      if (ownRemote && ownRemote !== r) ownRemote.dispose();
      ownRemote = undefined;
      remote = r;
      remoteError = undefined;
    },
    stop: async () => {
      prometheus.dispose();
      ownRemote?.dispose();
      await Promise.all([collector.stop(), grpc?.stop()]);
      await forwarder?.stop();
    },
  };
}
