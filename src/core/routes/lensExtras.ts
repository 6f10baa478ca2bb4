/**
 * Figures from another source shown beside the local ones on a route handler's lens and hover
 * (a remote Prometheus: `prod p95 120 ms`; the change since the last run). Providers are asked in
 * the order they were set, for each handler's method and route template; one with nothing to say
 * adds nothing.
 */
export interface LensExtraProvider {
  /** A short text appended to the lens title, e.g. `prod p95 120 ms`. */
  lens(method: string, route: string): string | undefined;
  /** A line for the hover, e.g. `prod (last 1 h): p50 31 ms · p95 120 ms · p99 480 ms · 42 req/s · 0.4% errors`. */
  hover(method: string, route: string): string | undefined;
}

const providers: LensExtraProvider[] = [];

/** Adds a provider; returns a function that removes it. */
export function setLensExtraProvider(p: LensExtraProvider): () => void {
  providers.push(p);
  return () => {
    const i = providers.indexOf(p);
    if (i >= 0) providers.splice(i, 1);
  };
}

function ask(f: (p: LensExtraProvider) => string | undefined): string[] {
  const out: string[] = [];
  for (const p of providers) {
    try {
      const t = f(p);
      if (t) out.push(t);
    } catch {
      // A provider that fails adds nothing.
    }
  }
  return out;
}

/** ` · prod p95 120 ms`, or '' (never throws). */
export function lensExtra(method: string, route: string): string {
  return ask((p) => p.lens(method, route)).map((t) => ` · ${t}`).join('');
}

/** The providers' hover lines, one per line, or undefined. */
export function hoverExtra(method: string, route: string): string | undefined {
  const lines = ask((p) => p.hover(method, route));
  return lines.length ? lines.join('\n\n') : undefined;
}
