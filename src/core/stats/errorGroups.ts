/**
 * Error groups: failures grouped by service, exception type and the innermost frame of the app
 * (else the call site), from span exceptions and from error and warning log records, counted once
 * however many sources report the same failure. Bounded: the group seen longest ago makes room.
 */
import type { Counters } from '../counters';
import type { CodeLocation, ExceptionInfo, LogRecord, Span, StackFrame } from '../model';

export interface ErrorGroup {
  fingerprint: string;
  service: string;
  type: string;
  message: string;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  severity: 'error' | 'warning';
  route?: string;
  method?: string;
  /** The innermost frame inside the app (else the log's call site). */
  location?: CodeLocation;
  frames: StackFrame[];
  traceId?: string;
  spanId?: string;
}

type Group = ErrorGroup & { recentTraces: string[] };

export class ErrorGroups {
  private readonly errors = new Map<string, Group>();

  constructor(
    private readonly counters: Counters,
    private readonly max: () => number,
  ) {}

  get size(): number {
    return this.errors.size;
  }

  list(service?: string): ErrorGroup[] {
    const out: ErrorGroup[] = [];
    for (const g of this.errors.values()) {
      if (service && g.service !== service) continue;
      // Copy without the bookkeeping field.
      const { recentTraces: _ignored, ...group } = g;
      void _ignored;
      out.push(group);
    }
    return out.sort((a, b) => b.lastSeenMs - a.lastSeenMs);
  }

  dismiss(fingerprint: string): boolean {
    return this.errors.delete(fingerprint);
  }

  clear(): void {
    this.errors.clear();
  }

  /** An error, fatal or warning record, or one with an exception; true when a group changed. */
  recordLog(log: LogRecord, received: number): boolean {
    const group = logError(log);
    // A traceback printed to the debug console is usually the same failure the agent already
    // reported with its trace: count it only when no other source reported it just now.
    const existing = this.errors.get(group.fingerprint);
    if (log.attributes['log.source'] === 'debug-console' && existing && received - existing.lastSeenMs < 2000) return false;
    // Likewise a server's own error log written after the request's span has ended (no trace
    // id any more) repeats the exception the span just reported.
    if (!log.traceId && log.exception && existing?.recentTraces.length && received - existing.lastSeenMs < 2000) return false;
    return this.record(group, received);
  }

  /** Returns true when a group was created or changed. */
  record(e: ErrorGroup, received: number): boolean {
    let g = this.errors.get(e.fingerprint);
    if (g) {
      // The same failure often arrives twice (the span's exception and a logged traceback).
      if (e.traceId && g.recentTraces.includes(e.traceId)) {
        if (!g.location && e.location) g.location = e.location;
        return false;
      }
      g.count++;
      g.lastSeenMs = Math.max(g.lastSeenMs, received);
      g.message = e.message;
      g.frames = e.frames.length ? e.frames : g.frames;
      g.location = e.location ?? g.location;
      g.traceId = e.traceId ?? g.traceId;
      g.spanId = e.spanId ?? g.spanId;
      g.route = e.route ?? g.route;
      g.method = e.method ?? g.method;
    } else {
      if (this.errors.size >= this.max()) {
        // Forget the group seen longest ago to make room: recent errors matter most while debugging.
        let oldest: string | undefined;
        let oldestMs = Infinity;
        for (const [k, v] of this.errors) {
          if (v.lastSeenMs < oldestMs) {
            oldest = k;
            oldestMs = v.lastSeenMs;
          }
        }
        if (oldest) this.errors.delete(oldest);
        this.counters.inc('store.dropped.errorGroups');
      }
      g = { ...e, count: 1, firstSeenMs: received, lastSeenMs: received, recentTraces: [] };
      this.errors.set(e.fingerprint, g);
    }
    if (e.traceId) {
      g.recentTraces.push(e.traceId);
      if (g.recentTraces.length > 50) g.recentTraces.shift();
    }
    return true;
  }
}

const LIBRARY_PATH = /(site-packages|dist-packages|[\\/]lib[\\/]python\d|<frozen |node_modules|node:internal|^internal[\\/])/;

/** The innermost frame that belongs to the app rather than a library or the runtime. */
export function innermostAppFrame(frames: StackFrame[]): StackFrame | undefined {
  for (let i = frames.length - 1; i >= 0; i--) if (!LIBRARY_PATH.test(frames[i].file)) return frames[i];
  return undefined;
}

export function errorFingerprint(service: string, type: string, frame: CodeLocation | undefined, fallback: string): string {
  return frame ? `${service}|${type}|${frame.file}:${frame.function}` : `${service}|${type}|${fallback}`;
}

export function spanError(span: Span): ErrorGroup {
  const ex = span.exception as ExceptionInfo;
  const frame = innermostAppFrame(ex.frames) ?? span.code;
  return {
    fingerprint: errorFingerprint(span.resource.serviceName, ex.type, frame, span.name),
    service: span.resource.serviceName,
    type: ex.type,
    message: ex.message,
    count: 1,
    firstSeenMs: 0,
    lastSeenMs: 0,
    severity: 'error',
    route: span.http?.route,
    method: span.http?.method,
    location: frame,
    frames: ex.frames,
    traceId: span.traceId,
    spanId: span.spanId,
  };
}

function logError(log: LogRecord): ErrorGroup {
  const ex = log.exception;
  const frame = (ex && innermostAppFrame(ex.frames)) ?? log.code;
  const type = ex?.type ?? (log.severity === 'warn' ? 'Warning' : 'Error');
  const message = ex ? ex.message || log.body : log.body;
  return {
    fingerprint: errorFingerprint(log.resource.serviceName, type, frame, ex ? type : log.body.slice(0, 200)),
    service: log.resource.serviceName,
    type,
    message,
    count: 1,
    firstSeenMs: 0,
    lastSeenMs: 0,
    severity: log.severity === 'warn' && !ex ? 'warning' : 'error',
    location: frame,
    frames: ex?.frames ?? [],
    traceId: log.traceId,
    spanId: log.spanId,
  };
}
