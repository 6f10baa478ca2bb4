/**
 * What the editor adds to a route handler's lens and hover from the run comparison: the
 * significant change since the baseline, and both runs' latency distributions side by side.
 * Plain text; the editor layer only places it.
 */
import { formatMs } from '../format';
import type { RouteKey } from '../stats/routeStats';
import type { LatencySketch } from '../stats/sketch';
import type { RouteComparison, RunComparison } from './compare';
import type { RunTracker } from './tracker';

/** The route of these keys with the most requests in its service's latest run, with its comparison. */
export function comparedRoute(tracker: RunTracker, keys: readonly RouteKey[]): { route: RouteComparison; comparison: RunComparison; key: RouteKey } | undefined {
  let best: { route: RouteComparison; comparison: RunComparison; key: RouteKey } | undefined;
  for (const key of keys) {
    const c = tracker.comparison(key.service);
    if (!c || !c.baseline) continue;
    const r = routeIndex(c).get(`${key.method} ${key.route}`);
    if (r && (!best || r.count > best.route.count)) best = { route: r, comparison: c, key };
  }
  return best;
}

/** A comparison's routes by "METHOD route", built once per comparison (the table asks per row). */
const indexes = new WeakMap<RunComparison, Map<string, RouteComparison>>();
function routeIndex(c: RunComparison): Map<string, RouteComparison> {
  let m = indexes.get(c);
  if (!m) indexes.set(c, (m = new Map(c.routes.map((r) => [`${r.method} ${r.route}`, r]))));
  return m;
}

function against(c: RunComparison): string {
  return c.baselineKind === 'pinned' ? 'vs baseline' : 'vs last run';
}

function signedMs(d: number): string {
  return `${d >= 0 ? '+' : '−'}${formatMs(Math.abs(d))}`;
}

/** The change as the lens shows it (` · p95 ▲ +12 ms vs last run`), or '' when nothing changed significantly. */
export function changeText(r: RouteComparison, c: RunComparison): string {
  const parts: string[] = [];
  const lat = r.change.p95Ms ? (['p95', r.change.p95Ms] as const) : r.change.p99Ms ? (['p99', r.change.p99Ms] as const) : r.change.p50Ms ? (['p50', r.change.p50Ms] as const) : undefined;
  if (lat) parts.push(`${lat[0]} ${lat[1].delta >= 0 ? '▲' : '▼'} ${signedMs(lat[1].delta)}`);
  const e = r.change.errorRate;
  if (e) parts.push(`errors ${e.delta >= 0 ? '▲' : '▼'} ${pct(e.from)} → ${pct(e.to)}`);
  return parts.length ? `${parts.join(' · ')} ${against(c)}` : '';
}

export function lensSuffix(tracker: RunTracker, keys: readonly RouteKey[]): string {
  const hit = comparedRoute(tracker, keys);
  if (!hit) return '';
  const t = changeText(hit.route, hit.comparison);
  return t ? ` · ${t}` : '';
}

/**
 * The route table's change cell: the latency change in ms (p95, else p99, else p50) when the
 * route is flagged, for sorting, and the change as text; undefined when nothing changed significantly.
 */
export function routeChangeCell(tracker: RunTracker, key: RouteKey): { deltaMs: number; text: string } | undefined {
  const hit = comparedRoute(tracker, [key]);
  if (!hit) return undefined;
  const text = changeText(hit.route, hit.comparison);
  if (!text) return undefined;
  const c = hit.route.change;
  return { deltaMs: (c.p95Ms ?? c.p99Ms ?? c.p50Ms)?.delta ?? 0, text };
}

/** The hover's text block: both runs' figures and latency distributions side by side ('' when there is no baseline). */
export function hoverComparison(tracker: RunTracker, keys: readonly RouteKey[]): string {
  const hit = comparedRoute(tracker, keys);
  if (!hit || !hit.route.baseline) return '';
  const runObj = tracker.find(hit.comparison.run.id);
  const baseObj = hit.comparison.baseline ? tracker.find(hit.comparison.baseline.id) : undefined;
  const a = baseObj?.routes.get(`${hit.key.method} ${hit.key.route}`)?.sketch;
  const b = runObj?.routes.get(`${hit.key.method} ${hit.key.route}`)?.sketch;
  const r = hit.route;
  const base = r.baseline!;
  const q = (v: number | null) => (v === null ? '–' : formatMs(v));
  const left = hit.comparison.baselineKind === 'pinned' ? 'baseline' : 'last run';
  const lines = [
    `Since the ${left === 'baseline' ? 'pinned baseline run' : 'last run'}, over each whole run:`,
    `${pad('', 8)}${pad(left, 14)}this run`,
    `${pad('requests', 8)}${pad(String(base.count), 14)}${r.count}`,
    ...(['p50Ms', 'p95Ms', 'p99Ms'] as const).map((k) => `${pad(k.slice(0, 3), 8)}${pad(q(base[k]), 14)}${q(r[k])}${r.change[k] ? `  ${r.change[k]!.delta >= 0 ? '▲' : '▼'} ${signedMs(r.change[k]!.delta)}` : ''}`),
    `${pad('errors', 8)}${pad(pct(base.errorRate), 14)}${pct(r.errorRate)}${r.change.errorRate ? '  significant' : ''}`,
  ];
  if (a && b && a.count && b.count) lines.push('', ...sideBySide(a, b, left));
  return lines.join('\n');
}

/** Two latency histograms on the same log-spaced bins, bars side by side. */
export function sideBySide(a: LatencySketch, b: LatencySketch, leftName = 'last run', bins = 8): string[] {
  const lo = Math.max(0.01, Math.min(a.min, b.min));
  const hi = Math.max(lo * 1.0001, a.max, b.max);
  const n = lo === hi ? 1 : bins;
  const edges = Array.from({ length: n + 1 }, (_, i) => lo * Math.pow(hi / lo, i / n));
  const fill = (s: LatencySketch) => {
    const counts = new Array(n).fill(0);
    for (const [x, y, c] of s.buckets()) {
      const mid = Math.sqrt(Math.max(x, 1e-3) * y);
      let i = edges.findIndex((e, k) => k > 0 && mid <= e) - 1;
      if (i < 0) i = mid < lo ? 0 : n - 1;
      counts[i] += c;
    }
    return counts.map((c) => c / s.count);
  };
  const fa = fill(a);
  const fb = fill(b);
  const top = Math.max(...fa, ...fb, 1e-9);
  const bar = (f: number) => '█'.repeat(Math.round((f / top) * 10)).padEnd(10, ' ');
  const out = [`${pad('', 18)}${pad(leftName, 12)}this run`];
  for (let i = 0; i < n; i++) out.push(`${pad(`${formatMs(edges[i])}–${formatMs(edges[i + 1])}`, 18)}${bar(fa[i])}  ${bar(fb[i])}`);
  return out;
}

function pad(s: string, w: number): string {
  return s.length >= w ? `${s} ` : s.padEnd(w, ' ');
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
