/**
 * The figures every view shows for a route, a handler or a service over the statistics window:
 * the one shape the store's route summaries, the CodeLens handler figures and the dashboard's
 * rows share (dependency-free, so the webview bundles can import it).
 */
export interface Figures {
  /** Requests in the window. */
  count: number;
  /** Requests per second over the window. */
  rps: number;
  /** Failed requests / requests, 0..1. */
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** A scope's totals over the window (src/core/stats/totals.ts): every request counted once. */
export interface Totals {
  rps: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  errorRate: number;
  requests: number;
}

/** A route's figures as a remote Prometheus computed them over its range (`rangeS`, as of `asOfMs`). */
export interface RemoteFigures {
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  rps: number;
  errorRate: number;
  rangeS: number;
  asOfMs: number;
}
