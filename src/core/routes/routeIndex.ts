/**
 * The detected handlers of the whole workspace, and the way back from a telemetry record to one
 * of them: by code location first (the agent reports the handler's file, line and function),
 * else by method and normalised route template.
 *
 * When two different handlers fit equally well the answer is "no match": a lens with another
 * handler's figures would be worse than none.
 */
import { normalizeMethod, normalizeRoute } from './normalize';
import { CodeHint, DetectedRoute, MatchHints, RouteMatch } from './types';

interface Entry {
  uri: string;
  route: DetectedRoute;
}

interface FileEntry {
  routes: DetectedRoute[];
  segs: string[];
}

const CACHE_LIMIT = 5000;

/** Path segments of a URI or file path: scheme and authority dropped, percent-escapes decoded, `\` as `/`. */
export function pathSegments(p: string): string[] {
  let s = p;
  const scheme = /^[a-zA-Z][\w+.-]*:\/\/[^/]*/.exec(s);
  if (scheme && scheme[0].length > 2 && !/^[a-zA-Z]:[\\/]/.test(s)) {
    s = s.slice(scheme[0].length);
    try {
      s = decodeURIComponent(s);
    } catch {
      // Keep the raw text: a malformed escape still compares equal to itself.
    }
  }
  return s
    .replace(/\\/g, '/')
    .split('/')
    .filter((x) => x !== '' && x !== '.');
}

function looksWindows(segs: string[]): boolean {
  return segs.length > 0 && /^[a-zA-Z]:$/.test(segs[0]);
}

/** Number of trailing segments two paths share. */
function suffixLength(a: string[], b: string[], caseInsensitive: boolean): number {
  let n = 0;
  while (n < a.length && n < b.length) {
    let x = a[a.length - 1 - n];
    let y = b[b.length - 1 - n];
    if (caseInsensitive) {
      x = x.toLowerCase();
      y = y.toLowerCase();
    }
    if (x !== y) break;
    n++;
  }
  return n;
}

function methodRank(routeMethod: string, method: string): number {
  if (routeMethod === method) return 3;
  if (routeMethod === '*' || method === '*') return 2;
  if (method === 'HEAD' && routeMethod === 'GET') return 1;
  return 0;
}

function spanOf(r: DetectedRoute): [number, number] {
  const start = Math.min(r.decoratorLine, r.line);
  // A JavaScript handler defined apart from its registration: the registration line is not part of it.
  const from = r.decoratorLine > r.line ? r.line : start;
  return [from, Math.max(r.endLine ?? r.line, r.line)];
}

/**
 * Whether telemetry reported as (`method`, `route`) belongs to `detected`, by the same rules as
 * `RouteIndex.match` uses for templates: equal normalised templates, or, for a partial route,
 * a telemetry route that ends with it.
 */
export function routeMatches(detected: DetectedRoute, method: string | undefined, route: string): 'template' | 'suffix' | undefined {
  if (methodRank(detected.method, normalizeMethod(method)) === 0) return undefined;
  const norm = normalizeRoute(route);
  if (norm === detected.normalized) return 'template';
  if (detected.partial && detected.normalized !== '/' && norm.endsWith(detected.normalized)) return 'suffix';
  return undefined;
}

export class RouteIndex {
  private readonly files = new Map<string, FileEntry>();
  private readonly byBase = new Map<string, Set<string>>();
  private byNormalized: Map<string, Entry[]> | undefined;
  private partials: Entry[] | undefined;
  private readonly cache = new Map<string, RouteMatch | undefined>();

  /** Replaces the routes detected in one file. */
  setFile(uri: string, routes: DetectedRoute[]): void {
    this.removeFile(uri);
    if (routes.length === 0) return;
    const segs = pathSegments(uri);
    this.files.set(uri, { routes: routes.slice(), segs });
    const base = (segs[segs.length - 1] ?? '').toLowerCase();
    let set = this.byBase.get(base);
    if (!set) this.byBase.set(base, (set = new Set()));
    set.add(uri);
    this.invalidate();
  }

  removeFile(uri: string): void {
    const f = this.files.get(uri);
    if (!f) return;
    this.files.delete(uri);
    const base = (f.segs[f.segs.length - 1] ?? '').toLowerCase();
    const set = this.byBase.get(base);
    set?.delete(uri);
    if (set && set.size === 0) this.byBase.delete(base);
    this.invalidate();
  }

  clear(): void {
    this.files.clear();
    this.byBase.clear();
    this.invalidate();
  }

  /** Files with at least one route. */
  uris(): string[] {
    return [...this.files.keys()];
  }

  routesOf(uri: string): DetectedRoute[] {
    return this.files.get(uri)?.routes.slice() ?? [];
  }

  all(): Array<{ uri: string; route: DetectedRoute }> {
    const out: Entry[] = [];
    for (const [uri, f] of this.files) for (const route of f.routes) out.push({ uri, route });
    return out;
  }

  get size(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.routes.length;
    return n;
  }

  private invalidate(): void {
    this.byNormalized = undefined;
    this.partials = undefined;
    this.cache.clear();
  }

  private build(): void {
    const byNormalized = new Map<string, Entry[]>();
    const partials: Entry[] = [];
    const uris = [...this.files.keys()].sort();
    for (const uri of uris) {
      for (const route of (this.files.get(uri) as FileEntry).routes) {
        const e = { uri, route };
        let list = byNormalized.get(route.normalized);
        if (!list) byNormalized.set(route.normalized, (list = []));
        list.push(e);
        if (route.partial && route.normalized !== '/') partials.push(e);
      }
    }
    this.byNormalized = byNormalized;
    this.partials = partials;
  }

  /** Files whose path ends like `file`, keeping only those sharing the longest suffix. */
  private filesFor(file: string): string[] {
    const segs = pathSegments(file);
    if (segs.length === 0) return [];
    const base = segs[segs.length - 1].toLowerCase();
    const uris = this.byBase.get(base);
    if (!uris) return [];
    let best = 0;
    let out: string[] = [];
    for (const uri of uris) {
      const f = this.files.get(uri) as FileEntry;
      const ci = looksWindows(segs) || looksWindows(f.segs);
      const n = suffixLength(f.segs, segs, ci);
      if (n === 0 || n < best) continue;
      if (n > best) {
        best = n;
        out = [];
      }
      out.push(uri);
    }
    return out.sort();
  }

  /**
   * The handler serving a telemetry record. `route` is the template the framework reported
   * (`http.route`); `code` the handler's location when the sender gave one.
   */
  match(method: string | undefined, route: string | undefined, code?: CodeHint, hints?: MatchHints): RouteMatch | undefined {
    const m = normalizeMethod(method);
    const norm = route ? normalizeRoute(route) : undefined;
    const files = code?.file ? this.filesFor(code.file) : [];
    if (files.length > 0 && (code?.line !== undefined || code?.function)) {
      const byCode = this.byCode(files, code as CodeHint, m, norm);
      if (byCode) return byCode;
    }
    if (norm === undefined) return undefined;
    const key = files.length === 0 ? `${m} ${norm}\u0000${hints?.service ?? ''}\u0000${hints?.language ?? ''}` : undefined;
    if (key !== undefined && this.cache.has(key)) return this.cache.get(key);
    const found = this.byTemplate(m, norm, files, hints);
    if (key !== undefined) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, found);
    }
    return found;
  }

  private byCode(files: string[], code: CodeHint, m: string, norm: string | undefined): RouteMatch | undefined {
    const candidates: Array<Entry & { span: number }> = [];
    const line0 = code.line !== undefined ? code.line - 1 : undefined;
    if (line0 !== undefined) {
      for (const uri of files) {
        for (const r of (this.files.get(uri) as FileEntry).routes) {
          const [a, b] = spanOf(r);
          if ((line0 >= a && line0 <= b) || line0 === r.decoratorLine) candidates.push({ uri, route: r, span: b - a });
        }
      }
      if (candidates.length > 0) {
        const narrowest = Math.min(...candidates.map((c) => c.span));
        const picked = this.pick(
          candidates.filter((c) => c.span === narrowest),
          m,
          norm,
        );
        if (picked) return { ...picked, by: 'code' };
      }
    }
    if (code.function) {
      const parts = code.function.split(/[.:]/).filter((p) => p !== '' && p !== '<locals>');
      const fname = parts[parts.length - 1];
      const owner = parts.length > 1 ? parts[parts.length - 2] : undefined;
      const named: Entry[] = [];
      for (const uri of files) {
        for (const r of (this.files.get(uri) as FileEntry).routes) {
          if (r.handlerName !== fname) continue;
          if (r.className && owner && owner !== r.className && /^[A-Z]/.test(owner)) continue;
          named.push({ uri, route: r });
        }
      }
      const picked = this.pick(named, m, norm);
      if (picked) return { ...picked, by: 'code' };
    }
    return undefined;
  }

  /**
   * Among entries that all fit the code location, the one whose method and template agree best;
   * undefined when the best ones are different handlers.
   */
  private pick(entries: Entry[], m: string, norm: string | undefined): Omit<RouteMatch, 'by'> | undefined {
    if (entries.length === 0) return undefined;
    let best = -1;
    let top: Entry[] = [];
    for (const e of entries) {
      let score = methodRank(e.route.method, m);
      if (norm !== undefined) {
        if (e.route.normalized === norm) score += 8;
        else if (e.route.partial && norm.endsWith(e.route.normalized)) score += 4;
      }
      if (score > best) {
        best = score;
        top = [];
      }
      if (score === best) top.push(e);
    }
    return this.unique(top);
  }

  private unique(entries: Entry[]): Omit<RouteMatch, 'by'> | undefined {
    if (entries.length === 0) return undefined;
    const first = entries[0];
    for (const e of entries) if (e.uri !== first.uri || e.route.line !== first.route.line) return undefined;
    return { uri: first.uri, line: first.route.line, route: first.route.route, handler: first.route };
  }

  private byTemplate(m: string, norm: string, files: string[], hints?: MatchHints): RouteMatch | undefined {
    if (!this.byNormalized) this.build();
    const exact = this.best(this.byNormalized?.get(norm) ?? [], m, files, hints);
    if (exact) return { ...exact, by: 'template' };
    // Routers mounted from another file: the telemetry route ends with the detected one.
    let longest = 0;
    let suffixed: Entry[] = [];
    for (const e of this.partials ?? []) {
      const rn = e.route.normalized;
      if (rn.length < longest || !norm.endsWith(rn) || methodRank(e.route.method, m) === 0) continue;
      if (rn.length > longest) {
        longest = rn.length;
        suffixed = [];
      }
      suffixed.push(e);
    }
    const s = this.best(suffixed, m, files, hints);
    return s ? { ...s, by: 'suffix' } : undefined;
  }

  private best(entries: Entry[], m: string, files: string[], hints?: MatchHints): Omit<RouteMatch, 'by'> | undefined {
    let rank = 0;
    let top: Entry[] = [];
    for (const e of entries) {
      const r = methodRank(e.route.method, m);
      if (r === 0 || r < rank) continue;
      if (r > rank) {
        rank = r;
        top = [];
      }
      top.push(e);
    }
    if (top.length > 1 && files.length > 0) {
      const inFiles = top.filter((e) => files.includes(e.uri));
      if (inFiles.length > 0) top = inFiles;
    }
    // Still several handlers: what the telemetry says of its sender breaks the tie, when it can.
    if (top.length > 1 && hints?.service) {
      const names = serviceFolderNames(hints.service);
      const inService = top.filter((e) => this.files.get(e.uri)?.segs.slice(0, -1).some((seg) => [...serviceFolderNames(seg)].some((n) => names.has(n))));
      if (inService.length > 0) top = inService;
    }
    if (top.length > 1 && hints?.language) {
      const lang = sdkLanguage(hints.language);
      const sameLanguage = lang ? top.filter((e) => fileLanguage(e.uri) === lang) : [];
      if (sameLanguage.length > 0) top = sameLanguage;
    }
    return this.unique(top);
  }
}

function folderName(s: string): string {
  return s.toLowerCase().replace(/[-_. ]/g, '');
}

/** Forms of a service or folder name that mean the same: `orders-api`, `orders_api` and `orders` alike. */
function serviceFolderNames(service: string): Set<string> {
  const base = folderName(service);
  const out = new Set([base]);
  for (const suffix of ['api', 'service', 'svc', 'server', 'app', 'backend']) if (base.endsWith(suffix) && base.length > suffix.length) out.add(base.slice(0, -suffix.length));
  return out;
}

/** `telemetry.sdk.language` as a file language; undefined for languages no detector reads. */
function sdkLanguage(language: string): 'python' | 'js' | undefined {
  const l = language.toLowerCase();
  if (l === 'python') return 'python';
  if (l === 'nodejs' || l === 'node' || l === 'js' || l === 'javascript' || l === 'typescript' || l === 'webjs') return 'js';
  return undefined;
}

function fileLanguage(uri: string): 'python' | 'js' | undefined {
  if (/\.py$/i.test(uri)) return 'python';
  if (/\.[cm]?[jt]s$/i.test(uri)) return 'js';
  return undefined;
}
