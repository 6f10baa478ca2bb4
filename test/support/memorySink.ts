/** A sink that keeps everything it is given, for tests of what a decoder or a scraper delivers. */
import type { LogRecord, MetricPoint, Span } from '../../src/core/model';
import type { TelemetrySink } from '../../src/core/sink';

export class MemorySink implements TelemetrySink {
  spans: Span[] = [];
  logs: LogRecord[] = [];
  metrics: MetricPoint[] = [];
  /** Deliveries of any kind. */
  calls = 0;

  addSpans(spans: Span[]): void {
    this.calls++;
    this.spans.push(...spans);
  }
  addLogs(logs: LogRecord[]): void {
    this.calls++;
    this.logs.push(...logs);
  }
  addMetrics(points: MetricPoint[]): void {
    this.calls++;
    this.metrics.push(...points);
  }
  get total(): number {
    return this.spans.length + this.logs.length + this.metrics.length;
  }
  /** The metric points of one name. */
  named(name: string): MetricPoint[] {
    return this.metrics.filter((p) => p.name === name);
  }
}
