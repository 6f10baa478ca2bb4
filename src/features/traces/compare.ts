/**
 * "Compare Route with Last Run": a route's slowest sample trace from a run and from its baseline
 * run, picked from the runs (src/core/runs) and shown in two trace panels side by side. The
 * choice of traces and the titles are plain functions (no vscode), tested in plain Node.
 */
import type { RunComparison } from '../../core/runs/compare';
import type { Run } from '../../core/runs/run';
import { SAMPLE_TRACES_PER_ROUTE } from '../../core/runs/sampleTraces';
import type { RunTracker } from '../../core/runs/tracker';
import type { Span } from '../../core/model';
import type { RouteRef, TraceListRow } from './protocol';

export interface CompareSide {
  which: 'baseline' | 'run';
  runId: string;
  route: RouteRef;
  /** The slowest sample whose spans are available (in the store or kept with the run); null when none is. */
  traceId: string | null;
  /** The run's sample traces of the route, slowest first (the panel's list). */
  rows: TraceListRow[];
  /** The tab's title. */
  title: string;
  /** The line under the route in the panel: which run, when it started, its commit. */
  caption: string;
}

/** What the command is given: a route (`RouteRef`), the lens's route keys, or a run of the Runs view. */
export type CompareTarget = { route: RouteRef; runId?: string } | { routes: RouteRef[]; runId?: string };

export function runLabel(run: Run): string {
  const commit = run.label?.commit ? ` · ${run.label.commit}${run.label.dirty ? ' (dirty)' : ''}` : '';
  return `${new Date(run.startMs).toLocaleString()}${commit}`;
}

function shortLabel(run: Run): string {
  const commit = run.label?.commit ? ` · ${run.label.commit}${run.label.dirty ? '*' : ''}` : '';
  return `${new Date(run.startMs).toLocaleTimeString()}${commit}`;
}

/**
 * Both sides of a comparison for a route: the run's (the latest, or `runId`) and its baseline's.
 * `spansOf` says whether a trace's spans can be shown (the store's, else the run's kept ones).
 * Undefined when the service has no baseline run or neither run served the route.
 */
export function compareSides(tracker: RunTracker, route: RouteRef, spansOf: (traceId: string) => Span[], runId?: string): { comparison: RunComparison; baseline: CompareSide; run: CompareSide } | undefined {
  const c = tracker.comparison(route.service, runId);
  if (!c || !c.baseline) return undefined;
  const run = tracker.find(c.run.id);
  const base = tracker.find(c.baseline.id);
  if (!run || !base) return undefined;
  const key = `${route.method} ${route.route}`;
  if (!run.routes.has(key) && !base.routes.has(key)) return undefined;
  const side = (which: 'baseline' | 'run', r: Run): CompareSide => {
    const rr = r.routes.get(key);
    const samples = rr?.slowest.slice(0, SAMPLE_TRACES_PER_ROUTE) ?? [];
    const rows: TraceListRow[] = samples.map((s) => ({ traceId: s.traceId, startMs: s.endMs - s.durationMs, receivedMs: s.endMs, durationMs: s.durationMs, error: s.error, ...(s.statusCode ? { statusCode: s.statusCode } : {}) }));
    const traceId = samples.find((s) => spansOf(s.traceId).length > 0)?.traceId ?? null;
    const name = which === 'run' ? 'This run' : c.baselineKind === 'pinned' ? 'Baseline' : 'Last run';
    return {
      which,
      runId: r.id,
      route,
      traceId,
      rows,
      title: `${name} ${shortLabel(r)}: ${route.method} ${route.route}`,
      caption: `${name}, started ${runLabel(r)} · slowest ${rows.length ? `of ${rows.length} kept` : '(none kept)'}`,
    };
  };
  return { comparison: c, baseline: side('baseline', base), run: side('run', run) };
}

/**
 * The route to compare: the given one, or of the lens's keys the one with the most requests in
 * its service's latest run that has a baseline (read from the runs themselves, not from the
 * comparison, which may be up to a second old while requests stream in).
 */
export function targetRoute(tracker: RunTracker, target: CompareTarget): RouteRef | undefined {
  if ('route' in target) return target.route;
  let best: { ref: RouteRef; count: number } | undefined;
  for (const k of target.routes) {
    const run = tracker.latest(k.service);
    if (!run || !tracker.baselineOf(run)) continue;
    const count = run.routes.get(`${k.method} ${k.route}`)?.count ?? 0;
    if (count > 0 && (!best || count > best.count)) best = { ref: { service: k.service, method: k.method, route: k.route }, count };
  }
  return best?.ref;
}
