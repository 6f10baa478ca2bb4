/**
 * A run against its baseline (the previous run of the service, or a pinned one), per route, with
 * each change judged significant only when the data show it (docs/runs.md, "The test"):
 *
 * - p50/p95/p99: both runs' distribution-free confidence intervals for the quantile (order
 *   statistics: ranks n·q ∓ z·√(n·q·(1−q)), z = 2.576, read from the sketch and widened by its
 *   relative accuracy) exist (both ranks within the sample: about 20 requests for p50, 200 for
 *   p95, 850 for p99) and do not overlap, the difference is at least 15% of the baseline and 2 ms,
 *   and each side has at least MIN_REQUESTS requests with a latency.
 * - error rate: a two-proportion z-test, |z| ≥ 3.29 (two-sided p < 0.001), a difference of at
 *   least one percentage point, MIN_REQUESTS on each side.
 * - rate: the counts as Poisson over each run's duration (the count of this run given the sum is
 *   binomial), |z| ≥ 3.29, and a change of at least 50%.
 */
import type { LatencySketch } from '../stats/sketch';
import type { Run, RunErrorGroup, RunRoute } from './run';

export const MIN_REQUESTS = 20;
const Z_QUANTILE = 2.576;
const Z_RATE = 3.29;
const MIN_RELATIVE_LATENCY_CHANGE = 0.15;
const MIN_ABSOLUTE_LATENCY_CHANGE_MS = 2;
const MIN_ERROR_RATE_CHANGE = 0.01;
const MIN_RELATIVE_RATE_CHANGE = 0.5;

export interface RouteFigures {
  count: number;
  errors: number;
  errorRate: number;
  rps: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Mean ms per request spent in database and HTTP calls, when the spans carried them. */
  dbMs?: number;
  httpMs?: number;
}

export interface Delta {
  from: number;
  to: number;
  delta: number;
}

/** Only the significant differences; empty when there are none. */
export interface RouteChange {
  p50Ms?: Delta;
  p95Ms?: Delta;
  p99Ms?: Delta;
  errorRate?: Delta;
  rps?: Delta;
}

export interface RouteComparison extends RouteFigures {
  method: string;
  route: string;
  baseline: RouteFigures | null;
  change: RouteChange;
}

export interface RunSummary {
  id: string;
  service: string;
  startMs: number;
  endMs: number | null;
  durationSec: number;
  requests: number;
  errors: number;
  routes: number;
  errorGroups: number;
  source: Run['source'];
  instances: number;
  label: Run['label'] | null;
  pinned: boolean;
}

export interface RunComparison {
  run: RunSummary;
  baseline: RunSummary | null;
  /** "pinned" when the baseline is a pinned run, "previous" when it is the run before. */
  baselineKind: 'pinned' | 'previous' | null;
  routes: RouteComparison[];
  newRoutes: { method: string; route: string }[];
  goneRoutes: { method: string; route: string }[];
  newErrorGroups: RunErrorGroup[];
}

export function summarizeRun(run: Run, pinned = false): RunSummary {
  return {
    id: run.id,
    service: run.service,
    startMs: run.startMs,
    endMs: run.endMs ?? null,
    durationSec: round2(run.durationSec()),
    requests: run.requests,
    errors: run.errors,
    routes: run.routes.size,
    errorGroups: run.errorGroups.size,
    source: run.source,
    instances: run.instances.length,
    label: run.label ?? null,
    pinned,
  };
}

export function routeFigures(r: RunRoute, run: Run): RouteFigures {
  const q = (x: number) => (r.sketch.count ? round2(r.sketch.quantile(x)) : null);
  const out: RouteFigures = {
    count: r.count,
    errors: r.errors,
    errorRate: r.count ? round3(r.errors / r.count) : 0,
    rps: round3(r.count / run.durationSec()),
    p50Ms: q(0.5),
    p95Ms: q(0.95),
    p99Ms: q(0.99),
  };
  if (r.kinds.requests > 0) {
    out.dbMs = round2(r.kinds.db / r.kinds.requests);
    out.httpMs = round2(r.kinds.http / r.kinds.requests);
  }
  return out;
}

/**
 * The distribution-free confidence interval for the q-quantile from a sketch: the values at the
 * ranks n·q ∓ z·√(n·q·(1−q)) (clamped to 1..n), widened by the sketch's relative accuracy.
 */
export function quantileInterval(sketch: LatencySketch, q: number, z = Z_QUANTILE): [number, number] | undefined {
  const n = sketch.count;
  if (n === 0) return undefined;
  const half = z * Math.sqrt(n * q * (1 - q));
  const lo = Math.floor(n * q - half);
  const hi = Math.ceil(n * q + half) + 1;
  // Ranks outside the sample: too few requests for an interval of this quantile (the largest
  // value is below a high quantile too often for [x_lo, max] to be an interval for it).
  if (lo < 1 || hi > n) return undefined;
  const at = (rank: number) => sketch.quantile((rank - 0.5) / n);
  const a = sketch.relativeAccuracy;
  return [at(lo) * (1 - a), at(hi) * (1 + a)];
}

export function quantileChanged(base: LatencySketch, run: LatencySketch, q: number): Delta | undefined {
  if (base.count < MIN_REQUESTS || run.count < MIN_REQUESTS) return undefined;
  const from = base.quantile(q);
  const to = run.quantile(q);
  const delta = to - from;
  if (Math.abs(delta) < Math.max(MIN_ABSOLUTE_LATENCY_CHANGE_MS, MIN_RELATIVE_LATENCY_CHANGE * from)) return undefined;
  const ib = quantileInterval(base, q);
  const ir = quantileInterval(run, q);
  if (!ib || !ir) return undefined;
  const apart = ir[0] > ib[1] || ir[1] < ib[0];
  return apart ? { from: round2(from), to: round2(to), delta: round2(delta) } : undefined;
}

export function errorRateChanged(baseErrors: number, baseCount: number, errors: number, count: number): Delta | undefined {
  if (baseCount < MIN_REQUESTS || count < MIN_REQUESTS) return undefined;
  const p1 = baseErrors / baseCount;
  const p2 = errors / count;
  if (Math.abs(p2 - p1) < MIN_ERROR_RATE_CHANGE) return undefined;
  const p = (baseErrors + errors) / (baseCount + count);
  const se = Math.sqrt(p * (1 - p) * (1 / baseCount + 1 / count));
  if (se === 0 || Math.abs(p2 - p1) / se < Z_RATE) return undefined;
  return { from: round3(p1), to: round3(p2), delta: round3(p2 - p1) };
}

export function rateChanged(baseCount: number, baseSec: number, count: number, sec: number): Delta | undefined {
  if (baseCount < MIN_REQUESTS || count < MIN_REQUESTS) return undefined;
  const r1 = baseCount / baseSec;
  const r2 = count / sec;
  if (Math.abs(r2 - r1) < MIN_RELATIVE_RATE_CHANGE * r1) return undefined;
  const n = baseCount + count;
  const share = sec / (baseSec + sec);
  const z = (count - n * share) / Math.sqrt(n * share * (1 - share));
  if (Math.abs(z) < Z_RATE) return undefined;
  return { from: round3(r1), to: round3(r2), delta: round3(r2 - r1) };
}

export function compareRuns(run: Run, baseline: Run | undefined, pinned: boolean, pinnedId?: string): RunComparison {
  const routes: RouteComparison[] = [];
  const newRoutes: { method: string; route: string }[] = [];
  for (const r of run.routes.values()) {
    const b = baseline?.routes.get(`${r.method} ${r.route}`);
    const figures = routeFigures(r, run);
    const change: RouteChange = {};
    if (b) {
      for (const [name, q] of [['p50Ms', 0.5], ['p95Ms', 0.95], ['p99Ms', 0.99]] as const) {
        const d = quantileChanged(b.sketch, r.sketch, q);
        if (d) change[name] = d;
      }
      const e = errorRateChanged(b.errors, b.count, r.errors, r.count);
      if (e) change.errorRate = e;
      const rate = rateChanged(b.count, baseline!.durationSec(), r.count, run.durationSec());
      if (rate) change.rps = rate;
    } else if (baseline) {
      newRoutes.push({ method: r.method, route: r.route });
    }
    routes.push({ method: r.method, route: r.route, ...figures, baseline: b ? routeFigures(b, baseline!) : null, change });
  }
  routes.sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method));
  const goneRoutes = baseline ? [...baseline.routes.values()].filter((b) => !run.routes.has(`${b.method} ${b.route}`)).map((b) => ({ method: b.method, route: b.route })) : [];
  const newErrorGroups = baseline ? [...run.errorGroups.values()].filter((g) => !baseline.errorGroups.has(g.fingerprint)) : [];
  return {
    run: summarizeRun(run, run.id === pinnedId),
    baseline: baseline ? summarizeRun(baseline, pinned) : null,
    baselineKind: baseline ? (pinned ? 'pinned' : 'previous') : null,
    routes,
    newRoutes,
    goneRoutes,
    newErrorGroups,
  };
}

/** True when a route's latency or error rate changed significantly (what the lens shows). */
export function isFlagged(c: RouteChange): boolean {
  return !!(c.p50Ms || c.p95Ms || c.p99Ms || c.errorRate);
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
