/**
 * The log view's data, without VS Code: the records matching the view's filter (sequence numbers,
 * oldest first), kept up to date as records come and go, and the rows, details and histogram the
 * webview asks for. Unit-tested in plain Node.
 */
import type { LogRecord } from '../../core/model';
import { attrText, parseSearch, type LogQuery } from '../../core/store/logIndex';
import type { TelemetryStore } from '../../core/store/store';
import { displayText, type Chip, type Histogram, type Level, type LogDetail, type LogFilter, type LogRow } from './protocol';

export const MAX_MESSAGE = 400;
export const MAX_CHIPS = 12;
export const MAX_CHIP_KEY = 48;
export const MAX_CHIP_VALUE = 120;
export const MAX_DETAIL_BODY = 64 * 1024;
export const MAX_DETAIL_ATTRS = 200;
export const MAX_DETAIL_VALUE = 4096;
export const HISTOGRAM_BUCKETS = 60;

/** Attributes the columns or the callsite already show: not repeated as chips. */
const NOT_CHIPS = new Set(['code.file.path', 'code.line.number', 'code.function.name', 'code.filepath', 'code.lineno', 'code.function', 'thread.name', 'log.source', 'otel.scope.name', 'otel.scope.version']);
const BUCKET_SIZES_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);

/** The view's filter as a store query ('' when the search text is fine, else what is wrong). */
export function toQuery(f: LogFilter): LogQuery {
  const q: LogQuery = { ...parseSearch(f.text) };
  if (f.level && !q.minSeverity) q.minSeverity = f.level;
  if (f.service) q.service = f.service;
  if (f.route) q.route = f.route;
  if (f.traceId) q.traceId = f.traceId.toLowerCase();
  if (f.sinceMs !== null) q.sinceMs = f.sinceMs;
  if (f.untilMs !== null) q.untilMs = f.untilMs;
  if (f.failedOnly) q.failedOnly = true;
  return q;
}

export class LogViewModel {
  /** Changes whenever positions change meaning (new filter, records dropped from the front). */
  version = 1;
  private matches: number[] = [];
  /** matches[head] is the oldest live match (dropped ones are skipped without copying). */
  private head = 0;
  private query: LogQuery = {};
  private afterSeq = 0;
  /** Route and outcome come with the request's span, which may arrive after its records. */
  private needsFullRefresh = false;

  constructor(private readonly store: TelemetryStore) {}

  get total(): number {
    return this.matches.length - this.head;
  }

  setFilter(f: LogFilter): void {
    this.query = toQuery(f);
    this.needsFullRefresh = !!(this.query.route || this.query.failedOnly);
    this.recompute();
  }

  /** Picks up what came (and what left) since the last call. Returns whether anything changed. */
  refresh(cleared = false): boolean {
    const { first, next } = this.store.logSeqRange();
    if (cleared || this.needsFullRefresh) {
      const before = this.total;
      const firstBefore = this.matches[this.head];
      this.recompute();
      return cleared || this.total !== before || this.matches[this.head] !== firstBefore;
    }
    let changed = false;
    if (next > this.afterSeq) {
      const fresh = this.store.matchLogs(this.query, { afterSeq: this.afterSeq });
      this.afterSeq = next;
      if (fresh.length) {
        for (const s of fresh) this.matches.push(s);
        changed = true;
      }
    }
    let dropped = 0;
    while (this.head < this.matches.length && this.matches[this.head] < first) {
      this.head++;
      dropped++;
    }
    if (dropped) {
      this.version++;
      changed = true;
      if (this.head > 4096 && this.head * 2 > this.matches.length) {
        this.matches = this.matches.slice(this.head);
        this.head = 0;
      }
    }
    return changed;
  }

  private recompute(): void {
    this.matches = this.store.matchLogs(this.query);
    this.head = 0;
    this.afterSeq = this.store.logSeqRange().next;
    this.version++;
  }

  seqAt(index: number): number | undefined {
    return index >= 0 && index < this.total ? this.matches[this.head + index] : undefined;
  }

  recordAt(index: number): LogRecord | undefined {
    const seq = this.seqAt(index);
    return seq === undefined ? undefined : this.store.logAt(seq)?.log;
  }

  rows(start: number, count: number): (LogRow | null)[] {
    const out: (LogRow | null)[] = [];
    for (let i = start; i < Math.min(this.total, start + count); i++) {
      const seq = this.seqAt(i)!;
      const held = this.store.logAt(seq);
      out.push(held ? this.row(i, seq, held.log) : null);
    }
    return out;
  }

  private row(index: number, seq: number, log: LogRecord): LogRow {
    const r = this.store.logRoute(log);
    const chips: Chip[] = [];
    for (const key in log.attributes) {
      if (chips.length >= MAX_CHIPS) break;
      if (NOT_CHIPS.has(key)) continue;
      chips.push([displayText(key, MAX_CHIP_KEY), displayText(attrText(log.attributes[key]) ?? '', MAX_CHIP_VALUE)]);
    }
    const at = callsite(log);
    return {
      index,
      seq,
      timeMs: log.timeMs,
      level: log.severity as Level,
      service: displayText(log.resource.serviceName, 80),
      route: r ? displayText(`${r.method ? `${r.method} ` : ''}${r.route}`, 120) : '',
      message: displayText(log.body, MAX_MESSAGE),
      chips,
      traceId: log.traceId ?? '',
      callsite: at ? displayText(`${at.file}:${at.line}`, 300) : '',
      exception: log.exception ? displayText(`${log.exception.type}: ${log.exception.message}`, 200) : '',
    };
  }

  detail(index: number): LogDetail | null {
    const seq = this.seqAt(index);
    const log = seq === undefined ? undefined : this.store.logAt(seq)?.log;
    if (!log || seq === undefined) return null;
    const body = log.body.length > MAX_DETAIL_BODY ? log.body.slice(0, MAX_DETAIL_BODY) : log.body;
    const pairs = (attrs: Record<string, unknown>): Chip[] =>
      Object.keys(attrs)
        .slice(0, MAX_DETAIL_ATTRS)
        .map((k) => [displayText(k, 200), displayText(attrText(attrs[k] as never) ?? '', MAX_DETAIL_VALUE, true)]);
    return {
      seq,
      body: displayText(body, MAX_DETAIL_BODY, true),
      bodyCut: log.body.length - body.length,
      attributes: pairs(log.attributes),
      exception: log.exception
        ? {
            type: displayText(log.exception.type, 200),
            message: displayText(log.exception.message, 4096, true),
            stacktrace: displayText(log.exception.stacktrace ?? log.exception.frames.map((f) => `  File "${f.file}", line ${f.line}, in ${f.function}`).join('\n'), 32 * 1024, true),
          }
        : null,
      resource: pairs({ 'service.name': log.resource.serviceName, ...log.resource.attributes }),
      spanId: log.spanId ?? '',
    };
  }

  /** Counts per level over time: the filter's time range when it has one, else the matches' span. */
  histogram(range: { sinceMs: number | null; untilMs: number | null }): Histogram {
    let lo = Infinity;
    let hi = -Infinity;
    const times: number[] = [];
    const groups: number[] = [];
    for (let i = this.head; i < this.matches.length; i++) {
      const e = this.store.logAt(this.matches[i]);
      if (!e) continue;
      const t = e.log.timeMs;
      times.push(t);
      groups.push(GROUP[e.log.severity] ?? 1);
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    if (range.sinceMs !== null) lo = range.sinceMs;
    if (range.untilMs !== null) hi = range.untilMs;
    if (!(hi >= lo)) return { startMs: 0, bucketMs: 1000, counts: [] };
    const span = Math.max(1, hi - lo);
    const bucketMs = BUCKET_SIZES_MS.find((b) => span / b <= HISTOGRAM_BUCKETS) ?? Math.ceil(span / HISTOGRAM_BUCKETS / 86_400_000) * 86_400_000;
    const startMs = Math.floor(lo / bucketMs) * bucketMs;
    const n = Math.min(HISTOGRAM_BUCKETS + 1, Math.floor((hi - startMs) / bucketMs) + 1);
    const counts: [number, number, number, number][] = Array.from({ length: n }, () => [0, 0, 0, 0]);
    for (let i = 0; i < times.length; i++) {
      const b = Math.floor((times[i] - startMs) / bucketMs);
      if (b >= 0 && b < n) counts[b][groups[i]]++;
    }
    return { startMs, bucketMs, counts };
  }
}

const GROUP: Record<string, number> = { trace: 0, debug: 0, info: 1, warn: 2, error: 3, fatal: 3 };

/** Where the record was written: its code location, else the call site attributes. */
export function callsite(log: LogRecord): { file: string; line: number } | undefined {
  if (log.code?.file && log.code.line > 0) return { file: log.code.file, line: log.code.line };
  const file = log.attributes['code.file.path'] ?? log.attributes['code.filepath'];
  const line = log.attributes['code.line.number'] ?? log.attributes['code.lineno'];
  if (typeof file === 'string' && file && typeof line === 'number' && line > 0) return { file, line };
  const frames = log.exception?.frames;
  const inner = frames?.[frames.length - 1];
  return inner ? { file: inner.file, line: inner.line } : undefined;
}
