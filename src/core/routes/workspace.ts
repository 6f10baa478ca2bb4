/**
 * The route graph of a workspace's Python files: routers and blueprints defined in one file and
 * mounted in another (`app.include_router(users.router, prefix="/users")`,
 * `app.register_blueprint(bp, url_prefix="/api")`) get their full templates, so handlers that
 * read alike file by file (`/{id}` under `/users` and under `/orders`) stay apart.
 *
 * Mounts are followed through the mounting file's imports (absolute and relative, `import a.b as
 * c`, `from .routers import users`, `from x import router as users_router`) to the file that
 * defines the router; chains of mounts across files (a router mounted on a router mounted on the
 * app) are followed to their root.
 */
import { detectDjangoViews, djangoEntriesOf, djangoRoutesForViews, type DjangoUrlEntry } from './django';
import { analyzePython, prefixesOf, pythonRoutes, type ExternalMount, type ExternalMounts, type ImportedViews, type PyModule } from './python';
import { analyzeJs, nestJoin, type JsExternalMounts, type JsModule } from './javascript';
import { normalizeRoute } from './normalize';
import { pathSegments } from './routeIndex';
import type { DetectedRoute } from './types';

interface PyFile {
  key: string;
  /** Path segments of the file (for module names and relative imports). */
  segs: string[];
  mod: PyModule;
  /** Django patterns whose views are in the same file. */
  djangoLocal: DetectedRoute[];
}

/** Marks exact-path keys in the module index (a module name never starts with a NUL). */
const PATH_KEY = '\u0000';

interface Target {
  key: string;
  name: string;
}

interface Incoming {
  from: PyFile;
  /** The local name of the parent (app or router) in the mounting file. */
  parent: string;
  prefix: string | null | undefined;
}

export class PythonRouteGraph {
  private readonly files = new Map<string, PyFile>();
  /**
   * What of each file other files depend on (its routers, mounts, imports, class-based views and
   * their registrations). While none of that changes, an edit re-resolves the edited file only.
   */
  private readonly structure = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private structureChanged = true;
  private ownCache = new Map<string, DetectedRoute[]>();
  private elsewhereCache = new Map<string, DetectedRoute[]>();
  private linked: { byModule: Map<string, PyFile[]>; incoming: Map<string, Incoming[]> } | undefined;

  /**
   * Adds or replaces a file: `key` is how the caller names it (a URI), `path` its file path. A
   * file with no routes, mounts or framework objects is not kept.
   */
  set(key: string, path: string, text: string): void {
    const mod = analyzePython(text);
    let djangoLocal: DetectedRoute[] = [];
    if (text.includes('urlpatterns')) {
      const local = djangoEntriesOf(mod).filter((e) => e.viewModule === undefined && !e.viewRef.includes('.'));
      if (local.length > 0) djangoLocal = djangoRoutesForViews(local, mod);
    }
    // Only files that register, mount or define something stay: most Python files have none.
    if (mod.registrations.length === 0 && mod.mounts.size === 0 && mod.vars.size === 0 && djangoLocal.length === 0 && !mod.defs.some(isViewClass)) {
      this.remove(key);
      return;
    }
    const structure = pyStructure(mod);
    if (this.structure.get(key) !== structure || !this.files.has(key)) this.structureChanged = true;
    this.structure.set(key, structure);
    this.files.set(key, { key, segs: pathSegments(path), mod, djangoLocal });
    this.dirty.add(key);
  }

  remove(key: string): boolean {
    this.structure.delete(key);
    if (!this.files.delete(key)) return false;
    this.structureChanged = true;
    return true;
  }

  has(key: string): boolean {
    return this.files.has(key);
  }

  /** Routes of every file, mounts across files applied; sorted by line, as detectRoutes returns them. */
  routes(): Map<string, DetectedRoute[]> {
    // The module index and the mounts between files are the structure: kept while it holds.
    if (this.structureChanged || !this.linked) {
      const byModule = this.moduleIndex();
      this.linked = { byModule, incoming: this.incomingMounts(byModule) };
    }
    const { byModule, incoming } = this.linked;
    const externalFor = (file: PyFile): ExternalMounts => {
      return (name, depth) => {
        const list = incoming.get(`${file.key}\u0000${name}`) ?? [];
        return list.map(
          (m): ExternalMount => ({
            prefix: m.prefix,
            parents: m.prefix === null || depth > 8 ? [] : prefixesOf(m.from.mod, m.parent, depth, externalFor(m.from)),
          }),
        );
      };
    };
    const elsewhere = new Map<string, DetectedRoute[]>();
    const viewsFor = (g: PyFile): ImportedViews => ({
      resolve: (name) => {
        for (const t of this.resolveName(g, name, byModule)) {
          const cls = t.file.mod.defs.find((d) => d.kind === 'class' && d.name === t.name && !d.parent);
          if (cls) return { key: t.file.key, cls };
        }
        return undefined;
      },
      add: (key, route) => {
        const list = elsewhere.get(key) ?? [];
        list.push(route);
        elsewhere.set(key, list);
      },
    });
    if (this.structureChanged) {
      this.ownCache = new Map();
      for (const f of this.files.values()) this.ownCache.set(f.key, pythonRoutes(f.mod, externalFor(f), viewsFor(f)).concat(f.djangoLocal));
      this.elsewhereCache = elsewhere;
    } else {
      // Only edited files: what they give other files (class-based views) is part of their structure, unchanged.
      for (const key of this.dirty) {
        const f = this.files.get(key);
        if (f) this.ownCache.set(key, pythonRoutes(f.mod, externalFor(f), { resolve: viewsFor(f).resolve, add: () => undefined }).concat(f.djangoLocal));
      }
    }
    this.structureChanged = false;
    this.dirty.clear();
    const out = new Map<string, DetectedRoute[]>();
    for (const f of this.files.values()) {
      const routes = (this.ownCache.get(f.key) ?? []).concat(this.elsewhereCache.get(f.key) ?? []);
      out.set(
        f.key,
        routes
          .map((r, i) => ({ r, i }))
          .sort((a, b) => a.r.line - b.r.line || a.i - b.i)
          .map((x) => x.r),
      );
    }
    return out;
  }

  /** For every router or blueprint mounted from another file: where and with what prefix. */
  private incomingMounts(byModule: Map<string, PyFile[]>): Map<string, Incoming[]> {
    const out = new Map<string, Incoming[]>();
    for (const g of this.files.values()) {
      for (const [child, mounts] of g.mod.mounts) {
        if (g.mod.vars.has(child)) continue;
        for (const t of this.resolve(g, child, byModule)) {
          const k = `${t.key}\u0000${t.name}`;
          const list = out.get(k) ?? [];
          for (const m of mounts) list.push({ from: g, parent: m.parent, prefix: m.prefix });
          out.set(k, list);
        }
      }
    }
    return out;
  }

  /** Dotted module name suffixes (`users`, `routers.users`, `app.routers.users`) → files. */
  private moduleIndex(): Map<string, PyFile[]> {
    const idx = new Map<string, PyFile[]>();
    for (const f of this.files.values()) {
      const segs = f.segs.slice();
      const last = segs[segs.length - 1] ?? '';
      if (!last.endsWith('.py')) continue;
      if (last === '__init__.py') segs.pop();
      else segs[segs.length - 1] = last.slice(0, -3);
      for (let i = segs.length - 1; i >= 0 && i >= segs.length - 8; i--) {
        const name = segs.slice(i).join('.');
        const list = idx.get(name) ?? [];
        list.push(f);
        idx.set(name, list);
      }
      // Exact paths too, for relative imports.
      idx.set(PATH_KEY + f.segs.join('/'), [f]);
    }
    return idx;
  }

  /** The routers a dotted name in `g` refers to (usually one; none when it is not a known router). */
  private resolve(g: PyFile, dotted: string, byModule: Map<string, PyFile[]>): Target[] {
    return this.resolveName(g, dotted, byModule)
      .filter((t) => isRouter(t.file.mod, t.name))
      .map((t) => ({ key: t.file.key, name: t.name }));
  }

  /** The files and top-level names a dotted name in `g` refers to through its imports. */
  private resolveName(g: PyFile, dotted: string, byModule: Map<string, PyFile[]>): { file: PyFile; name: string }[] {
    const parts = dotted.split('.');
    const head = g.mod.imports.get(parts[0]);
    if (head === undefined) return [];
    const full = parts.length > 1 ? `${head}.${parts.slice(1).join('.')}` : head;
    const dots = /^\.*/.exec(full)![0].length;
    const rest = full.slice(dots).split('.').filter((x) => x !== '');
    if (rest.length < 2 && dots === 0) return [];
    const name = rest[rest.length - 1];
    const moduleParts = rest.slice(0, -1);
    let candidates: PyFile[];
    if (dots > 0) {
      // Relative to the mounting file's package: one dot is its own directory, each more goes up.
      const dir = g.segs.slice(0, -1 - (dots - 1));
      const base = [...dir, ...moduleParts];
      const want = [base.join('/') + '.py', [...base, '__init__.py'].join('/')];
      candidates = want.map((w) => byModule.get(PATH_KEY + w)?.[0]).filter((f): f is PyFile => f !== undefined);
    } else {
      candidates = this.closest(g, byModule.get(moduleParts.join('.')) ?? []);
    }
    return candidates.map((file) => ({ file, name }));
  }

  /** Of several files with the same module name, those sharing the longest directory with `g`. */
  private closest(g: PyFile, files: PyFile[]): PyFile[] {
    let best = -1;
    let out: PyFile[] = [];
    for (const f of files) {
      let n = 0;
      while (n < f.segs.length && n < g.segs.length && f.segs[n] === g.segs[n]) n++;
      if (n > best) {
        best = n;
        out = [];
      }
      if (n === best) out.push(f);
    }
    return out;
  }
}

/** The parts of a module other files' routes depend on, as a comparable string. */
function pyStructure(mod: PyModule): string {
  const views = mod.registrations.filter((r) => r.handlerRef?.kind === 'call' && r.handlerRef.callee.endsWith('.as_view')).map((r) => [r.receiver, r.path, r.methods, r.handlerRef?.kind === 'call' ? r.handlerRef.callee : '']);
  const classes = mod.defs.filter((d) => isViewClass(d) && !d.parent).map((d) => [d.name, d.line, d.decoratorLine, d.endLine, d.methods.map((m) => [m.name, m.line, m.decoratorLine, m.endLine])]);
  return JSON.stringify([[...mod.vars], [...mod.mounts], [...mod.imports], views, classes]);
}

const HTTP_METHOD_NAMES = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);

/** A class with HTTP method handlers (a MethodView, a class-based view) that another file may register. */
function isViewClass(d: { kind: string; methods: { name: string }[] }): boolean {
  return d.kind === 'class' && d.methods.some((m) => HTTP_METHOD_NAMES.has(m.name));
}

function isRouter(mod: PyModule, name: string): boolean {
  const v = mod.vars.get(name);
  return v !== undefined && (v.kind === 'fastapi-router' || v.kind === 'flask-blueprint');
}

export interface UrlconfFile {
  key: string;
  path: string;
  text: string;
}

/**
 * Django URLconfs of a workspace read as a tree: each one that no other includes is read as a
 * root, following `include("shop.urls")` into the workspace's other URLconfs, so an included
 * pattern gets its prefix (`path("", views.index)` under `path("api/", include(...))` is
 * `api/`). A URLconf that another includes is not read again on its own (its patterns there
 * would only be suffixes, and an empty one would match nothing).
 */
export function resolveDjangoUrlconfs(files: readonly UrlconfFile[]): { key: string; path: string; entries: DjangoUrlEntry[] }[] {
  const byModule = new Map<string, UrlconfFile[]>();
  for (const f of files) {
    const segs = pathSegments(f.path);
    const last = segs[segs.length - 1] ?? '';
    if (!last.endsWith('.py')) continue;
    if (last === '__init__.py') segs.pop();
    else segs[segs.length - 1] = last.slice(0, -3);
    for (let i = segs.length - 1; i >= 0 && i >= segs.length - 8; i--) {
      const name = segs.slice(i).join('.');
      byModule.set(name, [...(byModule.get(name) ?? []), f]);
    }
  }
  const resolver = (from: UrlconfFile, included: Set<string>) => (module: string) => {
    const candidates = byModule.get(module) ?? [];
    // Of several files with that module name, the one sharing the most directories with the includer.
    const fromSegs = pathSegments(from.path);
    let best: UrlconfFile | undefined;
    let bestN = -1;
    for (const c of candidates) {
      const segs = pathSegments(c.path);
      let n = 0;
      while (n < segs.length && n < fromSegs.length && segs[n] === fromSegs[n]) n++;
      if (n > bestN) {
        bestN = n;
        best = c;
      }
    }
    if (best) included.add(best.key);
    return best?.text;
  };
  const included = new Set<string>();
  for (const f of files) detectDjangoViews(f.text, { resolveInclude: resolver(f, included) });
  const out: { key: string; path: string; entries: DjangoUrlEntry[] }[] = [];
  for (const f of files) {
    if (included.has(f.key)) continue;
    out.push({ key: f.key, path: f.path, entries: detectDjangoViews(f.text, { resolveInclude: resolver(f, new Set()) }) });
  }
  return out;
}

interface JsFile {
  key: string;
  /** File path, `/`-separated. */
  path: string;
  mod: JsModule;
}

const JS_EXTENSIONS = ['.js', '.ts', '.mjs', '.cjs', '.mts', '.cts', '.jsx', '.tsx'];

/**
 * The route graph of a workspace's JavaScript/TypeScript files: an Express router exported from
 * one file (`module.exports = router`, `export default router`, `export { router }`) and mounted
 * in another (`app.use('/users', usersRouter)`) gets the mount's prefix, through relative imports
 * and `require`s, chains of mounts included.
 */
export class JsRouteGraph {
  private readonly files = new Map<string, JsFile>();
  /** As in PythonRouteGraph: while no file's structure changes, an edit re-resolves that file only. */
  private readonly structure = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private structureChanged = true;
  private cache = new Map<string, DetectedRoute[]>();

  /** Adds or replaces a file; one with no routes, mounts or exported routers is not kept. */
  set(key: string, path: string, text: string): void {
    const mod = analyzeJs(text);
    if (mod.exported.size === 0 && mod.importedMounts().length === 0 && mod.nestGlobalPrefix === undefined && mod.routes().length === 0) {
      this.remove(key);
      return;
    }
    const structure = mod.structure();
    if (this.structure.get(key) !== structure || !this.files.has(key)) this.structureChanged = true;
    this.structure.set(key, structure);
    this.files.set(key, { key, path: path.replace(/\\/g, '/'), mod });
    this.dirty.add(key);
  }

  remove(key: string): boolean {
    this.structure.delete(key);
    if (!this.files.delete(key)) return false;
    this.structureChanged = true;
    return true;
  }

  routes(): Map<string, DetectedRoute[]> {
    const byPath = new Map<string, JsFile>();
    for (const f of this.files.values()) byPath.set(f.path, f);
    // Router key in a file → mounts of it made in other files.
    const incoming = new Map<string, { from: JsFile; parent: string; prefix: string | null }[]>();
    for (const g of this.files.values()) {
      for (const m of g.mod.importedMounts()) {
        const target = resolveJsModule(g.path, m.module, byPath);
        const key = target?.mod.exported.get(m.imported);
        if (!target || !key) continue;
        const k = `${target.key}\u0000${key}`;
        incoming.set(k, [...(incoming.get(k) ?? []), { from: g, parent: m.parent, prefix: m.prefix }]);
      }
    }
    const externalFor = (f: JsFile): JsExternalMounts => (key, depth) =>
      (incoming.get(`${f.key}\u0000${key}`) ?? []).map((m) => ({
        prefix: m.prefix,
        parents: m.prefix === null || depth > 8 ? [] : m.from.mod.prefixesOf(m.parent, depth, externalFor(m.from)),
      }));
    // Nest: one bootstrap in the workspace says the global prefix every controller is served under.
    const bootstraps = [...this.files.values()].map((f) => f.mod.nestGlobalPrefix).filter((p) => p !== undefined);
    const nestPrefix = bootstraps.length === 1 ? bootstraps[0] : null;
    const resolveFile = (f: JsFile): DetectedRoute[] => {
      let routes = f.mod.routes(externalFor(f));
      if (nestPrefix !== null) routes = routes.map((r) => (r.framework === 'nestjs' && r.partial ? withNestPrefix(r, nestPrefix) : r));
      return routes
        .map((r, i) => ({ r, i }))
        .sort((a, b) => a.r.line - b.r.line || a.i - b.i)
        .map((x) => x.r);
    };
    if (this.structureChanged) {
      this.cache = new Map();
      for (const f of this.files.values()) this.cache.set(f.key, resolveFile(f));
    } else {
      for (const key of this.dirty) {
        const f = this.files.get(key);
        if (f) this.cache.set(key, resolveFile(f));
      }
    }
    this.structureChanged = false;
    this.dirty.clear();
    const out = new Map<string, DetectedRoute[]>();
    for (const f of this.files.values()) out.set(f.key, this.cache.get(f.key) ?? []);
    return out;
  }
}

function withNestPrefix(r: DetectedRoute, prefix: string): DetectedRoute {
  const route = nestJoin(prefix, r.route);
  const { partial: _partial, ...rest } = r;
  void _partial;
  return { ...rest, route, normalized: normalizeRoute(route) };
}

/** The workspace file a relative specifier (`./routes/users`) names, with Node's extension and index lookup. */
function resolveJsModule(fromPath: string, specifier: string, byPath: Map<string, JsFile>): JsFile | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const dir = fromPath.split('/').slice(0, -1);
  for (const part of specifier.split('/')) {
    if (part === '.' || part === '') continue;
    if (part === '..') dir.pop();
    else dir.push(part);
  }
  const base = dir.join('/');
  // TypeScript sources import their compiled names: `./users.js` is users.ts.
  const stem = base.replace(/\.(m|c)?js$/, '');
  const candidates = [base, ...JS_EXTENSIONS.map((e) => stem + e), ...JS_EXTENSIONS.map((e) => `${base}/index${e}`)];
  for (const c of candidates) {
    const f = byPath.get(c);
    if (f) return f;
  }
  return undefined;
}
