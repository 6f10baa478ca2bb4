import type { LogRecord, MetricPoint, Span } from './model';

/** Where every decoder delivers what it accepted. The store implements it. */
export interface TelemetrySink {
  addSpans(spans: Span[]): void;
  addLogs(logs: LogRecord[]): void;
  addMetrics(points: MetricPoint[]): void;
}
