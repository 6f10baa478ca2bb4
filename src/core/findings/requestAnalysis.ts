/**
 * One request (a server span with a route and everything under it, across processes) taken
 * apart: where its time went by destination, following the critical path, and the patterns that
 * are findings (N+1 calls, slow queries).
 */
import type { CodeLocation, Span } from '../model';
import { callOf, type CallInfo } from './calls';
import { criticalPath, flatten, timedTree, type CriticalPath, type TimedSpan } from './criticalPath';

export type DestinationKind = 'code' | 'db' | 'http' | 'service';

export interface Destination {
  kind: DestinationKind;
  /** `own code`, the database (`postgresql shop`), the host (`api.example:443`) or the service name. */
  target: string;
}

export interface BreakdownPart extends Destination {
  ms: number;
}

/** Repeated sequential calls of one operation from one line: at or above this count, an N+1. */
export const N_PLUS_ONE_MIN = 5;
/** A statement taking at least this share of its request (and at least SLOW_SHARE_MIN_MS) is slow. */
export const SLOW_SHARE = 0.5;
export const SLOW_SHARE_MIN_MS = 10;

export interface RepeatedCall {
  call: CallInfo;
  location: CodeLocation | null;
  count: number;
  totalMs: number;
  spanIds: string[];
}

export interface SlowCall {
  call: CallInfo;
  location: CodeLocation | null;
  ms: number;
  share: number;
  spanId: string;
}

export interface RequestAnalysis {
  request: Span;
  durationMs: number;
  path: CriticalPath;
  /** Milliseconds of the request by destination; the parts add up to its duration. */
  breakdown: BreakdownPart[];
  /** Database and HTTP calls the request's own service made (not those of downstream services). */
  calls: number;
  repeated: RepeatedCall[];
  slow: SlowCall[];
}

function sameService(a: Span, b: Span): boolean {
  return a.resource.serviceName === b.resource.serviceName;
}

/** The destination a piece of the critical path belongs to. */
function destinationOf(t: TimedSpan, request: Span): Destination {
  const call = callOf(t.span);
  if (call?.kind === 'db') return { kind: 'db', target: call.target };
  if (!sameService(t.span, request)) return { kind: 'service', target: t.span.resource.serviceName };
  if (call?.kind === 'http') {
    // Time inside a downstream service's server span is that service's; what is left of the
    // client span (connect, transfer, an uninstrumented peer) is the host's.
    return { kind: 'http', target: call.target };
  }
  return { kind: 'code', target: 'own code' };
}

/** The nearest server span above `t` (or `t` itself), within the tree. */
function owningRequest(t: TimedSpan): TimedSpan {
  let n: TimedSpan | undefined = t;
  while (n && !(n.span.kind === 'server' && n.span.http?.route)) n = n.parent;
  return n ?? t;
}

export function analyseRequest(spans: Span[], request: Span, opts: { slowQueryMs?: number } = {}): RequestAnalysis | undefined {
  if (spans.length === 1 && spans[0] === request) {
    // The common case of an uninstrumented handler: all of it is the handler's own code.
    const root = timedTree(spans, request.spanId)!;
    const d = root.e - root.s;
    const path: CriticalPath = { root, segments: d > 0 ? [{ spanId: request.spanId, startMs: root.s, endMs: root.e }] : [], pathMs: new Map([[request.spanId, d]]), selfMs: new Map([[request.spanId, d]]), hotSpanId: request.spanId };
    return { request, durationMs: d, path, breakdown: [{ kind: 'code', target: 'own code', ms: d }], calls: 0, repeated: [], slow: [] };
  }
  const root = timedTree(spans, request.spanId);
  if (!root) return undefined;
  const path = criticalPath(root);
  const nodes = flatten(root);
  const byId = new Map(nodes.map((n) => [n.span.spanId, n] as const));

  // Time on the path per span first (few spans hold most segments), then by destination.
  const parts = new Map<string, BreakdownPart>();
  for (const [spanId, onPath] of path.pathMs) {
    const d = destinationOf(byId.get(spanId)!, request);
    const k = `${d.kind}\u0000${d.target}`;
    const p = parts.get(k);
    if (p) p.ms += onPath;
    else parts.set(k, { ...d, ms: onPath });
  }
  const breakdown = [...parts.values()].sort((a, b) => b.ms - a.ms);
  const durationMs = root.e - root.s;

  // Calls made by this request's own service: a downstream service's calls are findings of its routes.
  const groups = new Map<string, { call: CallInfo; location: CodeLocation | null; spans: TimedSpan[] }>();
  const slow: SlowCall[] = [];
  let calls = 0;
  const slowMs = opts.slowQueryMs ?? Infinity;
  for (const n of nodes) {
    if (n === root) continue;
    const call = callOf(n.span);
    if (!call || owningRequest(n) !== root) continue;
    // A span inside another call of the same kind (an ORM over its driver) is that call, not another.
    if (n.parent && n.parent !== root && callOf(n.parent.span)?.kind === call.kind && owningRequest(n.parent) === root) continue;
    calls++;
    const loc = n.span.code ?? null;
    const key = `${call.kind}\u0000${call.target}\u0000${call.operation}\u0000${loc ? `${loc.file}:${loc.line}` : ''}`;
    const g = groups.get(key);
    if (g) g.spans.push(n);
    else groups.set(key, { call, location: loc, spans: [n] });
    const ms = n.e - n.s;
    const share = durationMs > 0 ? ms / durationMs : 0;
    if (call.kind === 'db' && (ms >= slowMs || (share >= SLOW_SHARE && ms >= SLOW_SHARE_MIN_MS))) {
      slow.push({ call, location: loc, ms, share, spanId: n.span.spanId });
    }
  }
  const repeated: RepeatedCall[] = [];
  for (const g of groups.values()) {
    if (g.spans.length < N_PLUS_ONE_MIN) continue;
    // Sequential: each call starts after the one before it ended. Calls issued in parallel (a
    // gather, a thread pool) are a fan-out, not an N+1.
    const sorted = [...g.spans].sort((a, b) => a.s - b.s);
    let sequential = 1;
    let lastEnd = sorted[0].e;
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].s >= lastEnd - 1e-3) {
        sequential++;
        lastEnd = sorted[i].e;
      } else lastEnd = Math.max(lastEnd, sorted[i].e);
    }
    if (sequential < N_PLUS_ONE_MIN) continue;
    repeated.push({
      call: g.call,
      location: g.location,
      count: g.spans.length,
      totalMs: g.spans.reduce((a, n) => a + (n.e - n.s), 0),
      spanIds: g.spans.map((n) => n.span.spanId),
    });
  }
  return { request, durationMs, path, breakdown, calls, repeated, slow };
}
