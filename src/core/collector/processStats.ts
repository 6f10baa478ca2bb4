/**
 * Memory and event-loop delay of the process the collector runs in, for /api/v1/stats: in the
 * extension that process is the extension host, whose responsiveness every other extension shares.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

export interface ProcessSnapshot {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /**
   * V8 heap outside the young generation in use just after the last full (mark-compact) GC: the
   * memory the process actually holds, where heapUsed/heapTotal also count garbage not yet
   * collected and room V8 reserved. Null before the first full GC.
   */
  heapAfterFullGcBytes: number | null;
  /** Full GCs seen since the collector started. */
  fullGcs: number;
  /**
   * Event-loop delay over the last complete window (ms beyond the sampling interval), null before
   * one; `endedAtMs` (epoch ms) tells successive windows apart for readers that poll more often.
   */
  eventLoopDelayMs: { p50: number; p99: number; max: number; windowS: number; endedAtMs: number } | null;
}

const RESOLUTION_MS = 10;

export class ProcessStats {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private last: ProcessSnapshot['eventLoopDelayMs'] = null;
  private readonly gcObserver: PerformanceObserver | undefined;
  private heapAfterFullGc: number | null = null;
  private fullGcs = 0;

  constructor(private readonly windowMs = 10_000) {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.timer = setInterval(() => this.rotate(), windowMs);
    this.timer.unref();
    try {
      // Entries arrive shortly after the GC; what was promoted in between is small next to the heap.
      this.gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if ((e as unknown as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
          this.fullGcs++;
          let used = 0;
          for (const sp of getHeapSpaceStatistics()) if (sp.space_name !== 'new_space' && sp.space_name !== 'new_large_object_space') used += sp.space_used_size;
          this.heapAfterFullGc = used;
        }
      });
      this.gcObserver.observe({ entryTypes: ['gc'] });
    } catch {
      this.gcObserver = undefined;
    }
  }

  snapshot(): ProcessSnapshot {
    const m = process.memoryUsage();
    return {
      rssBytes: m.rss,
      heapUsedBytes: m.heapUsed,
      heapTotalBytes: m.heapTotal,
      externalBytes: m.external,
      heapAfterFullGcBytes: this.heapAfterFullGc,
      fullGcs: this.fullGcs,
      eventLoopDelayMs: this.last,
    };
  }

  dispose(): void {
    clearInterval(this.timer);
    this.histogram.disable();
    this.gcObserver?.disconnect();
  }

  private rotate(): void {
    const h = this.histogram;
    // The histogram holds whole timer intervals; what matters is how late each one fired.
    const lag = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
    if (h.count > 0) this.last = { p50: lag(h.percentile(50)), p99: lag(h.percentile(99)), max: lag(h.max), windowS: this.windowMs / 1000, endedAtMs: Date.now() };
    h.reset();
  }
}
