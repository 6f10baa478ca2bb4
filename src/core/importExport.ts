/**
 * Reading OTLP JSON files (ours, and the JSON-lines files other OTLP tools write, such as the
 * OpenTelemetry Collector's file exporter) into the store.
 */
import { Counters } from './counters';
import { silentLogger } from './log';
import type { LogRecord, MetricPoint, Span } from './model';
import { CumulativeToDelta, OtlpIngest } from './otlp';
import { toOtlpJsonLines } from './otlp/exportJson';
import type { TelemetryStore } from './store/store';

export interface ImportResult {
  spans: number;
  logs: number;
  metrics: number;
  rejected: number;
  /** Lines that were not an OTLP request, with their line number and the reason. */
  errors: string[];
}

/** Parses OTLP JSON text: one request per line, or one request (possibly pretty-printed) for the whole file. */
export function parseOtlpJson(text: string): { spans: Span[]; logs: LogRecord[]; metrics: MetricPoint[]; rejected: number; errors: string[] } {
  const spans: Span[] = [];
  const logs: LogRecord[] = [];
  const metrics: MetricPoint[] = [];
  const errors: string[] = [];
  let rejected = 0;
  // Exported files hold deltas; cumulative series from other tools start counting from their first point.
  const ingest = new OtlpIngest(
    { addSpans: (s) => void spans.push(...s), addLogs: (l) => void logs.push(...l), addMetrics: (m) => void metrics.push(...m) },
    { counters: new Counters(), log: silentLogger, cumulative: new CumulativeToDelta({ startedAtMs: 0 }) },
  );
  const trimmed = text.trim();
  const docs: [number, string][] = isOneDocument(trimmed) ? [[1, trimmed]] : trimmed.split('\n').map((l, i): [number, string] => [i + 1, l.trim()]).filter(([, l]) => l !== '');
  for (const [line, doc] of docs) {
    let signal: 'traces' | 'logs' | 'metrics' | undefined;
    if (doc.includes('"resourceSpans"')) signal = 'traces';
    else if (doc.includes('"resourceLogs"')) signal = 'logs';
    else if (doc.includes('"resourceMetrics"')) signal = 'metrics';
    if (!signal) {
      errors.push(`line ${line}: not an OTLP traces, logs or metrics request`);
      continue;
    }
    try {
      rejected += ingest.ingest(signal, 'json', Buffer.from(doc, 'utf8')).rejected;
    } catch (e) {
      errors.push(`line ${line}: ${(e as Error).message}`);
    }
  }
  return { spans, logs, metrics, rejected, errors };
}

function isOneDocument(text: string): boolean {
  if (!text.startsWith('{')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function importOtlpJson(store: TelemetryStore, text: string): ImportResult {
  const r = parseOtlpJson(text);
  store.addSpans(r.spans);
  store.addLogs(r.logs, true);
  store.addMetrics(r.metrics);
  return { spans: r.spans.length, logs: r.logs.length, metrics: r.metrics.length, rejected: r.rejected, errors: r.errors };
}

/** The store's raw data as OTLP JSON lines; the newest `max*` items when limits are given. */
export function exportOtlpJson(store: TelemetryStore, limits: { maxSpans?: number; maxLogs?: number } = {}): string {
  const spans = store.allSpans();
  const logs = store.allLogs();
  const metrics = store.metricSeries().flatMap((s) => (s.last ? [s.last] : []));
  return toOtlpJsonLines({
    spans: limits.maxSpans !== undefined ? spans.slice(-limits.maxSpans) : spans,
    logs: limits.maxLogs !== undefined ? logs.slice(-limits.maxLogs) : logs,
    metrics,
  });
}
