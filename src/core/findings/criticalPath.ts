/**
 * The critical path of a trace: the chain of spans its duration waited on. Walking back from the
 * root's end, the path follows the child that finished last before the current moment, then that
 * child's own path, then the parent's time before it, and so on; parallel calls that finished
 * earlier are off the path. Spans from another process are moved, as a block, into their parent's
 * interval when their clock disagrees (clock skew), and every span is clamped into its parent.
 *
 * Iterative throughout: a 2,000-level chain must not exhaust the stack.
 */
import type { Span } from '../model';

export interface TimedSpan {
  span: Span;
  /** Start and end after skew correction and clamping into the parent, epoch ms. */
  s: number;
  e: number;
  /** The shift applied for clock skew (0 for spans of the root's process). */
  shiftMs: number;
  parent?: TimedSpan;
  children: TimedSpan[];
}

export interface PathSegment {
  spanId: string;
  startMs: number;
  endMs: number;
}

export interface CriticalPath {
  root: TimedSpan;
  /** Chronological, contiguous, covering [root.s, root.e] exactly. */
  segments: PathSegment[];
  /** Milliseconds each span spends on the path (its own time there, children excluded). */
  pathMs: Map<string, number>;
  /** Each span's self time: its duration less the union of its children's intervals. */
  selfMs: Map<string, number>;
  /** The span with the most time on the path. */
  hotSpanId: string;
}

function processKey(span: Span): string {
  const r = span.resource;
  return `${r.serviceName}\u0000${r.instanceId ?? ''}\u0000${r.pid ?? ''}`;
}

/**
 * Builds the timed tree under `rootSpanId` (or under the first span without a parent in the set).
 * Spans not reachable from the root (other subtrees, parent cycles) are left out.
 */
export function timedTree(spans: Span[], rootSpanId?: string): TimedSpan | undefined {
  const byId = new Map<string, Span>();
  for (const s of spans) byId.set(s.spanId, s);
  const kids = new Map<string, Span[]>();
  for (const s of spans) {
    if (!s.parentSpanId || !byId.has(s.parentSpanId) || s.parentSpanId === s.spanId) continue;
    const list = kids.get(s.parentSpanId);
    if (list) list.push(s);
    else kids.set(s.parentSpanId, [s]);
  }
  const rootSpan = rootSpanId ? byId.get(rootSpanId) : spans.find((s) => !s.parentSpanId || !byId.has(s.parentSpanId));
  if (!rootSpan) return undefined;
  const root: TimedSpan = { span: rootSpan, s: rootSpan.startMs, e: Math.max(rootSpan.startMs, rootSpan.endMs), shiftMs: 0, children: [] };
  const seen = new Set<string>([rootSpan.spanId]);
  const stack: TimedSpan[] = [root];
  while (stack.length) {
    const p = stack.pop()!;
    for (const c of kids.get(p.span.spanId) ?? []) {
      if (seen.has(c.spanId)) continue;
      seen.add(c.spanId);
      const dur = Math.max(0, c.endMs - c.startMs);
      let shift = p.shiftMs;
      if (processKey(c) !== processKey(p.span)) {
        // Another process, another clock: no shift when it fits, else the least that makes it fit.
        shift = 0;
        if (c.startMs < p.s) shift = p.s - c.startMs;
        else if (c.endMs > p.e) shift = Math.max(p.s - c.startMs, p.e - c.endMs);
      }
      const s = Math.min(Math.max(c.startMs + shift, p.s), p.e);
      const e = Math.max(s, Math.min(s + dur, p.e));
      const t: TimedSpan = { span: c, s, e, shiftMs: shift, parent: p, children: [] };
      p.children.push(t);
      stack.push(t);
    }
  }
  return root;
}

/** The critical path of the tree (see the file comment), with self times and the hot span. */
export function criticalPath(root: TimedSpan): CriticalPath {
  const segments: PathSegment[] = [];
  const pathMs = new Map<string, number>();
  const add = (t: TimedSpan, from: number, to: number) => {
    if (to <= from) return;
    segments.push({ spanId: t.span.spanId, startMs: from, endMs: to });
    pathMs.set(t.span.spanId, (pathMs.get(t.span.spanId) ?? 0) + (to - from));
  };
  interface Frame {
    node: TimedSpan;
    cursor: number;
    kids: TimedSpan[];
    i: number;
  }
  const frame = (node: TimedSpan, cursor: number): Frame => ({ node, cursor, kids: [...node.children].sort((a, b) => b.e - a.e || b.s - a.s), i: 0 });
  const stack: Frame[] = [frame(root, root.e)];
  while (stack.length) {
    const f = stack[stack.length - 1];
    // Children sorted by end, latest first: the first one that started before the cursor is the
    // one that finished last before it (a later one cannot: the cursor only moves back).
    while (f.i < f.kids.length && f.kids[f.i].s >= f.cursor) f.i++;
    if (f.i >= f.kids.length) {
      add(f.node, f.node.s, f.cursor);
      stack.pop();
      continue;
    }
    const k = f.kids[f.i++];
    const end = Math.min(k.e, f.cursor);
    add(f.node, end, f.cursor);
    f.cursor = Math.max(k.s, f.node.s);
    stack.push(frame(k, end));
  }
  segments.reverse();

  const selfMs = new Map<string, number>();
  const all: TimedSpan[] = [root];
  for (let i = 0; i < all.length; i++) {
    const t = all[i];
    for (const c of t.children) all.push(c);
    const iv = t.children.map((c) => [c.s, c.e] as const).sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let curS = -Infinity;
    let curE = -Infinity;
    for (const [s, e] of iv) {
      if (s > curE) {
        if (curE > curS) covered += curE - curS;
        curS = s;
        curE = e;
      } else if (e > curE) curE = e;
    }
    if (curE > curS) covered += curE - curS;
    selfMs.set(t.span.spanId, Math.max(0, t.e - t.s - covered));
  }
  let hotSpanId = root.span.spanId;
  let hot = -1;
  for (const [id, ms] of pathMs) {
    if (ms > hot) {
      hot = ms;
      hotSpanId = id;
    }
  }
  return { root, segments, pathMs, selfMs, hotSpanId };
}

/** Every node of the tree, parents before children. */
export function flatten(root: TimedSpan): TimedSpan[] {
  const out: TimedSpan[] = [root];
  for (let i = 0; i < out.length; i++) for (const c of out[i].children) out.push(c);
  return out;
}
