/**
 * Figures from another source shown beside the local ones on a route handler's lens and hover
 * (a remote Prometheus: `prod p95 120 ms`). One provider at a time; the lens code asks it for each
 * handler's method and route template and shows nothing when it has nothing.
 */
export interface LensExtraProvider {
  /** A short text appended to the lens title, e.g. `prod p95 120 ms`. */
  lens(method: string, route: string): string | undefined;
  /** A line for the hover, e.g. `prod (last 1 h): p50 31 ms · p95 120 ms · p99 480 ms · 42 req/s · 0.4% errors`. */
  hover(method: string, route: string): string | undefined;
}

let provider: LensExtraProvider | undefined;

/** Sets the provider; returns a function that removes it (if it is still the one set). */
export function setLensExtraProvider(p: LensExtraProvider): () => void {
  provider = p;
  return () => {
    if (provider === p) provider = undefined;
  };
}

/** ` · prod p95 120 ms`, or '' (never throws). */
export function lensExtra(method: string, route: string): string {
  try {
    const t = provider?.lens(method, route);
    return t ? ` · ${t}` : '';
  } catch {
    return '';
  }
}

export function hoverExtra(method: string, route: string): string | undefined {
  try {
    return provider?.hover(method, route);
  } catch {
    return undefined;
  }
}
