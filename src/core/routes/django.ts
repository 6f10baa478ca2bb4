/**
 * Django: `urls.py` entries (`path`, `re_path`, the old `url`, with `include()` prefixes) and the
 * view definitions they point at, which usually live in another file. The caller finds that file
 * (see `djangoModulePaths`) and hands its text to `djangoRoutesForViews` / `resolveDjangoView`.
 */
import { normalizeRoute } from './normalize';
import { PyValue, argOf, lastSegment, stringList } from './pyParse';
import * as tk from './pyTokenizer';
import { Handler, PyDef, PyModule, analyzePython, classHandlers, decoratorsOf, findDefs, toRoute } from './python';
import { DetectedRoute } from './types';

// Bound once: the per-file CommonJS build turns each use of an imported name into getter calls,
// which would dominate the token loops.
const { NAME, NEWLINE, closeOf, isName, isOp, op1, tokText } = tk;

export interface DjangoUrlEntry {
  /** Full pattern with `include()` prefixes, as Django joins them (no leading slash). */
  route: string;
  normalized: string;
  kind: 'path' | 're_path';
  /** The view as written: `views.item_detail`, `ItemView`, `views.ItemView`. */
  viewRef: string;
  /** The function or class name: `item_detail`, `ItemView`. */
  viewName: string;
  /**
   * Dotted module the view is imported from (`shop.views`), relative (`.views`) when the urls
   * module's own name is unknown, or undefined when the view is defined in the urls file itself.
   */
  viewModule?: string;
  /** `.as_view()` was called: a class-based view. */
  isClass: boolean;
  /** `as_view({'get': 'list'})` of a ViewSet: HTTP method (upper case) -> action method name. */
  actions?: Record<string, string>;
  /** The pattern's `name=`. */
  name?: string;
  /** 0-based line of the `path(...)` call, in the urls file it was read from. */
  line: number;
  /** Module name of the included urls file the entry came from; undefined for the file passed in. */
  urlsModule?: string;
  /** The file was not declared the root URLconf: a prefix may come from an include elsewhere. */
  partial: boolean;
}

export interface DjangoOptions {
  /** Dotted name of this urls module (`mysite.urls`): lets relative imports resolve to absolute modules. */
  module?: string;
  /** This is the ROOT_URLCONF: the routes are complete, not suffixes of longer ones. */
  root?: boolean;
  /** Prefix under which this URLconf is included. */
  prefix?: string;
  /** Text of an included URLconf (`include("shop.urls")`), when the caller can find it. */
  resolveInclude?: (module: string) => string | undefined;
}

interface Ctx {
  options: DjangoOptions;
  out: DjangoUrlEntry[];
  visiting: Set<string>;
}

const PATH_FUNCS = new Set(['path', 're_path', 'url']);

/** Turns `.views` into `shop.views` for code in module `shop.urls`. */
export function absolutizeModule(ref: string, fromModule: string | undefined): string {
  if (!ref.startsWith('.') || !fromModule) return ref;
  let dots = 0;
  while (ref[dots] === '.') dots++;
  const pkg = fromModule.split('.').slice(0, -dots);
  const rest = ref.slice(dots);
  return [...pkg, ...(rest ? [rest] : [])].join('.');
}

function djangoJoin(prefix: string, route: string): string {
  return prefix && route.startsWith('^') ? prefix + route.slice(1) : prefix + route;
}

class UrlsReader {
  private readonly named = new Map<string, number>();
  private readonly usedNamed = new Set<string>();

  constructor(
    private readonly mod: PyModule,
    private readonly ctx: Ctx,
    private readonly moduleName: string | undefined,
    private readonly included: boolean,
    private readonly depth: number,
  ) {}

  read(prefix: string): void {
    const t = this.mod.tokens;
    const inLoop = new Set<number>();
    for (let k = 0; k < this.mod.loopRanges.length; k += 2) inLoop.add(this.mod.loopRanges[k]);
    let s = 0;
    while (s < t.count) {
      let e = s;
      while (e < t.count && t.kind[e] !== NEWLINE) e++;
      if (!inLoop.has(s) && !this.namedList(s)) this.scan(s, e, prefix);
      s = e + 1;
    }
    // A list no include() names is most likely added to urlpatterns (`urlpatterns += extra`).
    for (const [name, open] of this.named) {
      if (this.usedNamed.has(name)) continue;
      const v = this.mod.parser.value(open);
      if (v.kind === 'list') for (const item of v.items) if (item.kind === 'call') this.entry(item, prefix);
    }
  }

  /** `extra = [ ... ]` other than urlpatterns: kept aside until an include() names it. */
  private namedList(s: number): boolean {
    const t = this.mod.tokens;
    if (t.kind[s] !== NAME || isName(t, s, 'urlpatterns')) return false;
    let j = s + 1;
    if (op1(t, j) === 58) {
      j++;
      while (j < t.count && t.kind[j] !== NEWLINE && op1(t, j) !== 61) j++;
    }
    if (op1(t, j) !== 61 && !isOp(t, j, '+=')) return false;
    const o = op1(t, j + 1);
    if (o !== 91 && o !== 40) return false;
    this.named.set(tokText(t, s), j + 1);
    return true;
  }

  private scan(s: number, e: number, prefix: string): void {
    const t = this.mod.tokens;
    let j = s;
    while (j < e) {
      const o = op1(t, j);
      if (t.kind[j] === NAME && op1(t, j + 1) === 40 && op1(t, j - 1) !== 46 && !isName(t, j - 1, 'def') && PATH_FUNCS.has(tokText(t, j))) {
        const v = this.mod.parser.value(j);
        if (v.kind === 'call') this.entry(v, prefix);
        j = Math.max(this.mod.parser.pos, j + 1);
      } else if (o === 40 || o === 91 || o === 123) {
        j = this.isComprehension(j) ? closeOf(t, j) + 1 : j + 1;
      } else j++;
    }
  }

  private isComprehension(open: number): boolean {
    const t = this.mod.tokens;
    const close = closeOf(t, open);
    for (let j = open + 1; j < close; j++) {
      const o = op1(t, j);
      if (o === 40 || o === 91 || o === 123) j = closeOf(t, j);
      else if (isName(t, j, 'for')) return true;
    }
    return false;
  }

  private entry(v: Extract<PyValue, { kind: 'call' }>, prefix: string): void {
    const fn = lastSegment(v.callee);
    if (!PATH_FUNCS.has(fn)) return;
    const r = argOf(v, 0, 'route', 'regex');
    if (!r || r.kind !== 'str') return;
    const route = djangoJoin(prefix, r.value);
    let view = argOf(v, 1, 'view');
    if (!view) return;
    if (view.kind === 'call' && lastSegment(view.callee) === 'include') {
      this.include(view.args[0] ?? view.kwargs.get('arg'), route);
      return;
    }
    // Wrappers such as login_required(views.x) or csrf_exempt(...): the view is their argument.
    for (let k = 0; k < 3 && view.kind === 'call' && !view.callee.endsWith('.as_view') && view.args.length > 0; k++) view = view.args[0];
    let viewRef: string;
    let isClass = false;
    let actions: Record<string, string> | undefined;
    // `admin.site.urls` and the like are URLconfs, not views.
    if (view.kind === 'name' && view.name.endsWith('.urls')) return;
    if (view.kind === 'name') viewRef = view.name;
    else if (view.kind === 'call' && view.callee.endsWith('.as_view')) {
      viewRef = view.callee.slice(0, -'.as_view'.length);
      isClass = true;
      const a = view.args[0] ?? view.kwargs.get('actions');
      if (a && a.kind === 'dict') {
        actions = {};
        for (const [k, val] of a.entries) if (k.kind === 'str' && val.kind === 'str') actions[k.value.toUpperCase()] = val.value;
      }
    } else return;
    const name = v.kwargs.get('name');
    const e: DjangoUrlEntry = {
      route,
      normalized: normalizeRoute(route),
      kind: fn === 'path' ? 'path' : 're_path',
      viewRef,
      viewName: lastSegment(viewRef),
      isClass,
      line: v.line,
      partial: this.ctx.options.root !== true,
    };
    const module = this.viewModule(viewRef);
    if (module !== undefined) e.viewModule = module;
    if (actions) e.actions = actions;
    if (name && name.kind === 'str') e.name = name.value;
    if (this.included) e.urlsModule = this.moduleName;
    this.ctx.out.push(e);
  }

  private viewModule(viewRef: string): string | undefined {
    const segs = viewRef.split('.');
    const imported = this.mod.imports.get(segs[0]);
    if (imported === undefined) return undefined;
    const full = [imported, ...segs.slice(1)].join('.');
    const k = full.lastIndexOf('.');
    if (k < 0) return undefined;
    return absolutizeModule(full.slice(0, k) || full.slice(0, k + 1), this.moduleName);
  }

  private include(target: PyValue | undefined, prefix: string): void {
    if (!target) return;
    if (target.kind === 'list') {
      const first = target.items[0];
      // include(("shop.urls", "shop")) or include((patterns, "shop")).
      if (first && (first.kind === 'str' || first.kind === 'list' || first.kind === 'name') && target.items.length === 2 && target.items[1].kind === 'str') {
        this.include(first, prefix);
        return;
      }
      for (const item of target.items) if (item.kind === 'call') this.entry(item, prefix);
      return;
    }
    let module: string | undefined;
    if (target.kind === 'str') module = target.value;
    else if (target.kind === 'name') {
      const open = this.named.get(target.name);
      if (open !== undefined) {
        this.usedNamed.add(target.name);
        this.include(this.mod.parser.value(open), prefix);
        return;
      }
      const segs = target.name.split('.');
      const imported = this.mod.imports.get(segs[0]);
      if (imported !== undefined) module = [imported, ...segs.slice(1)].join('.');
    }
    if (module === undefined) return;
    module = absolutizeModule(module, this.moduleName);
    const resolve = this.ctx.options.resolveInclude;
    if (!resolve || this.depth >= 8 || this.ctx.visiting.has(module)) return;
    const text = resolve(module);
    if (text === undefined) return;
    this.ctx.visiting.add(module);
    new UrlsReader(analyzePython(text), this.ctx, module, true, this.depth + 1).read(prefix);
    this.ctx.visiting.delete(module);
  }
}

function readUrls(mod: PyModule, options: DjangoOptions): DjangoUrlEntry[] {
  const ctx: Ctx = { options, out: [], visiting: new Set(options.module ? [options.module] : []) };
  new UrlsReader(mod, ctx, options.module, false, 0).read(options.prefix ?? '');
  return ctx.out;
}

/** The URL patterns of a Django URLconf, following includes the caller can resolve. */
export function detectDjangoViews(urlsText: string, options: DjangoOptions = {}): DjangoUrlEntry[] {
  return readUrls(analyzePython(urlsText), options);
}

export function djangoEntriesOf(mod: PyModule, options: DjangoOptions = {}): DjangoUrlEntry[] {
  return readUrls(mod, options);
}

export interface DjangoViewLocation {
  name: string;
  kind: 'function' | 'class';
  line: number;
  decoratorLine: number;
  endLine: number;
  /** One per HTTP method the view answers (`*` when any). */
  handlers: Handler[];
}

function functionMethods(mod: PyModule, def: PyDef): string[] {
  for (const d of decoratorsOf(mod, def)) {
    const callee = d.kind === 'call' ? lastSegment(d.callee) : d.kind === 'name' ? lastSegment(d.name) : '';
    if (callee === 'require_GET' || callee === 'require_safe') return ['GET'];
    if (callee === 'require_POST') return ['POST'];
    if (d.kind !== 'call') continue;
    if (callee === 'require_http_methods') return stringList(argOf(d, 0, 'request_method_list')) ?? ['*'];
    if (callee === 'api_view') {
      const m = stringList(argOf(d, 0, 'http_method_names'));
      return m === undefined ? ['GET'] : (m ?? ['*']);
    }
  }
  return ['*'];
}

function locate(mod: PyModule, viewName: string, isClass?: boolean, actions?: Record<string, string>): DjangoViewLocation | undefined {
  const def = findDefs(mod, viewName).find((d) => (isClass === undefined ? true : (d.kind === 'class') === isClass));
  if (!def) return undefined;
  let handlers: Handler[];
  if (def.kind === 'class') {
    handlers = [];
    if (actions) {
      for (const [method, action] of Object.entries(actions)) {
        const m = def.methods.find((x) => x.name === action);
        const target = m ?? def;
        const h: Handler = { method, name: target.name, line: target.line, decoratorLine: target.decoratorLine, endLine: target.endLine };
        if (m) h.className = def.name;
        handlers.push(h);
      }
    }
    if (handlers.length === 0) handlers = classHandlers(def, null);
  } else {
    handlers = functionMethods(mod, def).map((method) => ({ method, name: def.name, line: def.line, decoratorLine: def.decoratorLine, endLine: def.endLine }));
  }
  return {
    name: def.name,
    kind: def.kind === 'class' ? 'class' : 'function',
    line: def.line,
    decoratorLine: def.decoratorLine,
    endLine: def.endLine,
    handlers,
  };
}

/** Where `viewName` (a function or class) is defined in a views file, and the methods it answers. */
export function resolveDjangoView(viewsText: string, viewName: string): DjangoViewLocation | undefined {
  return locate(analyzePython(viewsText), viewName);
}

/**
 * Routes for the entries whose view is defined in `viewsText` (the caller picks the entries whose
 * `viewModule` maps to that file, or the urls file's own entries without one).
 */
export function djangoRoutesForViews(entries: DjangoUrlEntry[], viewsText: string | PyModule): DetectedRoute[] {
  const mod = typeof viewsText === 'string' ? analyzePython(viewsText) : viewsText;
  const out: DetectedRoute[] = [];
  for (const e of entries) {
    const loc = locate(mod, e.viewName, e.isClass ? true : undefined, e.actions);
    if (!loc) continue;
    for (const h of loc.handlers) out.push(toRoute(h, e.route, e.normalized, 'django', e.partial));
  }
  return out;
}

/**
 * Candidate file paths for a dotted module: suffixes to look for in the workspace for an absolute
 * module (`shop/views.py`), or paths next to `fromFile` for a relative one (`.views`).
 */
export function djangoModulePaths(module: string, fromFile?: string): string[] {
  let base: string;
  if (module.startsWith('.')) {
    if (!fromFile) return [];
    let dots = 0;
    while (module[dots] === '.') dots++;
    const dir = fromFile.replace(/\\/g, '/').split('/').slice(0, -dots);
    const rest = module.slice(dots).split('.').filter(Boolean);
    base = [...dir, ...rest].join('/');
  } else base = module.split('.').join('/');
  return [base + '.py', base + '/__init__.py'];
}
