/**
 * Memory and event-loop delay of the process the collector runs in, for /api/v1/stats: in the
 * extension that process is the extension host, whose responsiveness every other extension shares.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface ProcessSnapshot {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Event-loop delay over the last complete window (ms beyond the sampling interval), null before one. */
  eventLoopDelayMs: { p50: number; p99: number; max: number; windowS: number } | null;
}

const RESOLUTION_MS = 10;

export class ProcessStats {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private last: ProcessSnapshot['eventLoopDelayMs'] = null;

  constructor(private readonly windowMs = 10_000) {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.timer = setInterval(() => this.rotate(), windowMs);
    this.timer.unref();
  }

  snapshot(): ProcessSnapshot {
    const m = process.memoryUsage();
    return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, eventLoopDelayMs: this.last };
  }

  dispose(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private rotate(): void {
    const h = this.histogram;
    // The histogram holds whole timer intervals; what matters is how late each one fired.
    const lag = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
    if (h.count > 0) this.last = { p50: lag(h.percentile(50)), p99: lag(h.percentile(99)), max: lag(h.max), windowS: this.windowMs / 1000 };
    h.reset();
  }
}
