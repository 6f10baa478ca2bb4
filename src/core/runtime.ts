/**
 * Wires the core pieces (store, collector, decoders) into one running collector, the same way for
 * the extension and for `routelens serve`.
 */
import { Collector, type CollectorOptions } from './collector/collector';
import { Counters } from './counters';
import type { Logger } from './log';
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
}

export interface Runtime {
  store: TelemetryStore;
  collector: Collector;
  counters: Counters;
  stop(): Promise<void>;
}

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const counters = opts.store?.counters ?? new Counters();
  const store = opts.store ?? new TelemetryStore(opts.limits, { counters });
  const collectorOptions: CollectorOptions = {
    store,
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
  return {
    store,
    collector,
    counters,
    stop: () => collector.stop(),
  };
}
