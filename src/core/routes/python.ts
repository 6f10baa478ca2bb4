/**
 * FastAPI/Starlette and Flask route detection over the Python tokenizer, plus the module facts
 * (definitions, imports, loops) that the Django detector reuses.
 */
import { normalizeRoute } from './normalize';
import { OTHER, PyParser, PyValue, argOf, lastSegment, stringList } from './pyParse';
import * as tk from './pyTokenizer';
import type { PyTokens } from './pyTokenizer';
import { DetectedRoute, Framework } from './types';

// Bound once: the per-file CommonJS build turns each use of an imported name into getter calls,
// which would dominate the token loops.
const { F_LINE_START, NAME, NEWLINE, isName, op1, tokText, tokenizePython } = tk;

export interface PyDef {
  name: string;
  kind: 'def' | 'class';
  /** Line of the name token. */
  line: number;
  /** Line of the first decorator, or of the `def`/`class` keyword. */
  decoratorLine: number;
  endLine: number;
  indent: number;
  /** Token index after each decorator's `@`; parsed on demand by `decoratorsOf`. */
  decoratorAt: number[];
  /** The enclosing definition, when there is one. */
  parent?: PyDef;
  /** For a class: the functions defined directly in its body. */
  methods: PyDef[];
  inLoop: boolean;
}

type VarKind = 'fastapi-app' | 'fastapi-router' | 'flask-app' | 'flask-blueprint';

interface PyVar {
  kind: VarKind;
  /** Own prefix (`APIRouter(prefix=...)`, `Blueprint(url_prefix=...)`); null when not a literal. */
  prefix: string | null;
}

interface PyMount {
  parent: string;
  /** The prefix given at registration; undefined when absent (Flask then keeps the blueprint's own), null when not a literal. */
  prefix: string | null | undefined;
}

interface Registration {
  receiver: string;
  attr: string;
  /** null: methods are given but not as literals. */
  methods: string[] | null;
  /** `methods=` was written (restricts class-based views to those methods). */
  methodsGiven: boolean;
  path: string;
  target?: PyDef;
  handlerRef?: PyValue;
  /** `add_url_rule` with an endpoint and no view function: the endpoint it gives another URL. */
  endpointAlias?: string;
  line: number;
}

export interface PyModule {
  tokens: PyTokens;
  parser: PyParser;
  defs: PyDef[];
  /** Local name -> dotted path of what it refers to (`views` -> `shop.views`, `.views`). */
  imports: Map<string, string>;
  frameworks: Set<'fastapi' | 'flask' | 'django'>;
  /** Token index ranges [start, end) of logical lines inside a `for`/`while` body (or its header). */
  loopRanges: number[];
  vars: Map<string, PyVar>;
  mounts: Map<string, PyMount[]>;
  registrations: Registration[];
}

const HTTP_ATTRS = new Set(['get', 'post', 'put', 'delete', 'patch', 'head', 'options', 'trace']);
const REGISTRATION_CALLS = new Set(['include_router', 'register_blueprint', 'add_api_route', 'add_url_rule', 'add_route']);

const CONSTRUCTORS = new Map<string, VarKind>([
  ['FastAPI', 'fastapi-app'],
  ['Starlette', 'fastapi-app'],
  ['APIRouter', 'fastapi-router'],
  ['Flask', 'flask-app'],
  ['Quart', 'flask-app'],
  ['APIFlask', 'flask-app'],
  ['Blueprint', 'flask-blueprint'],
  ['APIBlueprint', 'flask-blueprint'],
]);

const FRAMEWORK_ROOTS = new Map<string, 'fastapi' | 'flask' | 'django'>([
  ['fastapi', 'fastapi'],
  ['starlette', 'fastapi'],
  ['flask', 'flask'],
  ['quart', 'flask'],
  ['apiflask', 'flask'],
  ['django', 'django'],
  ['rest_framework', 'django'],
]);

const APP_LIKE = /^(?:app|api|application|server|router|bp|blueprint|\w+_(?:router|bp|blueprint|app|api))$/i;

function frameworkOfModule(module: string): 'fastapi' | 'flask' | 'django' | undefined {
  const root = module.split('.')[0];
  return FRAMEWORK_ROOTS.get(root) ?? (root.startsWith('flask_') ? 'flask' : undefined);
}

/** The dotted name ending at token `j` (`a.b.c`), provided it is not itself an attribute of a call or subscript. */
function receiverBefore(t: PyTokens, j: number): string | undefined {
  if (t.kind[j] !== NAME) return undefined;
  let k = j;
  while (k >= 2 && op1(t, k - 1) === 46 && t.kind[k - 2] === NAME) k -= 2;
  if (k >= 1 && (op1(t, k - 1) === 46 || op1(t, k - 1) === 41 || op1(t, k - 1) === 93)) return undefined;
  let name = tokText(t, k);
  for (let m = k + 2; m <= j; m += 2) name += '.' + tokText(t, m);
  return name;
}

function parseImports(t: PyTokens, s: number, e: number, mod: PyModule): void {
  if (isName(t, s, 'import')) {
    let j = s + 1;
    while (j < e) {
      if (t.kind[j] !== NAME) {
        j++;
        continue;
      }
      let dotted = tokText(t, j);
      j++;
      while (op1(t, j) === 46 && t.kind[j + 1] === NAME) {
        dotted += '.' + tokText(t, j + 1);
        j += 2;
      }
      let local = dotted.split('.')[0];
      let target = local;
      if (isName(t, j, 'as') && t.kind[j + 1] === NAME) {
        local = tokText(t, j + 1);
        target = dotted;
        j += 2;
      }
      mod.imports.set(local, target);
      const fw = frameworkOfModule(dotted);
      if (fw) mod.frameworks.add(fw);
      while (j < e && op1(t, j) !== 44) j++;
      j++;
    }
    return;
  }
  // from X import a as b, (c, d)
  let j = s + 1;
  let from = '';
  while (j < e && !isName(t, j, 'import')) {
    from += tokText(t, j);
    j++;
  }
  const fw = frameworkOfModule(from);
  if (fw) mod.frameworks.add(fw);
  for (j++; j < e; j++) {
    if (t.kind[j] !== NAME) continue;
    const name = tokText(t, j);
    let local = name;
    if (isName(t, j + 1, 'as') && t.kind[j + 2] === NAME) {
      local = tokText(t, j + 2);
      j += 2;
    }
    mod.imports.set(local, /^\.+$/.test(from) ? from + name : from + '.' + name);
  }
}

function parseAssignment(t: PyTokens, s: number, e: number, mod: PyModule): void {
  if (t.kind[s] !== NAME) return;
  let j = s + 1;
  while (op1(t, j) === 46 && t.kind[j + 1] === NAME) j += 2;
  const targetEnd = j - 1;
  const o = op1(t, j);
  if (o !== 61 && o !== 58) return;
  if (o === 58) {
    // An annotation: skip to its `=`.
    j++;
    while (j < e && op1(t, j) !== 61) {
      const o = op1(t, j);
      j = o === 40 || o === 91 || o === 123 ? (t.match[j] > j ? t.match[j] + 1 : e) : j + 1;
    }
  }
  if (op1(t, j) !== 61) return;
  let c = j + 1;
  while (t.kind[c] === NAME && op1(t, c + 1) === 46) c += 2;
  if (t.kind[c] !== NAME || op1(t, c + 1) !== 40 || !CONSTRUCTORS.has(tokText(t, c))) return;
  const target = receiverBefore(t, targetEnd);
  if (!target) return;
  const v = mod.parser.value(j + 1);
  if (v.kind !== 'call') return;
  const kind = CONSTRUCTORS.get(lastSegment(v.callee));
  if (!kind || mod.vars.has(target)) return;
  let prefix: string | null = '';
  const p = kind === 'fastapi-router' ? v.kwargs.get('prefix') : kind === 'flask-blueprint' ? v.kwargs.get('url_prefix') : undefined;
  if (p && p.kind === 'str') prefix = p.value;
  else if (p && p.kind !== 'none') prefix = null;
  mod.vars.set(target, { kind, prefix });
}

function scanCalls(t: PyTokens, s: number, e: number, mod: PyModule, inLoop: boolean): void {
  const text = t.text;
  for (let j = s; j < e; j++) {
    if (op1(t, j) !== 46 || t.kind[j + 1] !== NAME || op1(t, j + 2) !== 40) continue;
    // All registration calls start with i, r or a: skip the slice for every other attribute.
    const c = text.charCodeAt(t.start[j + 1]);
    if (c !== 105 && c !== 114 && c !== 97) continue;
    const attr = tokText(t, j + 1);
    if (!REGISTRATION_CALLS.has(attr)) continue;
    const receiver = receiverBefore(t, j - 1);
    if (!receiver) continue;
    const call = mod.parser.args(j + 2);
    if (attr === 'include_router' || attr === 'register_blueprint') {
      const child = call.args[0];
      if (!child || child.kind !== 'name') continue;
      const p = call.kwargs.get(attr === 'include_router' ? 'prefix' : 'url_prefix');
      let prefix: string | null | undefined;
      if (inLoop) prefix = null;
      else if (!p || p.kind === 'none') prefix = attr === 'include_router' ? '' : undefined;
      else prefix = p.kind === 'str' ? p.value : null;
      const list = mod.mounts.get(child.name) ?? [];
      list.push({ parent: receiver, prefix });
      mod.mounts.set(child.name, list);
      continue;
    }
    if (inLoop) continue;
    const path = argOf(call, 0, attr === 'add_url_rule' ? 'rule' : 'path');
    if (!path || path.kind !== 'str') continue;
    const handlerRef = attr === 'add_url_rule' ? argOf(call, 2, 'view_func') : argOf(call, 1, 'endpoint', 'route');
    const m = stringList(call.kwargs.get('methods'));
    const endpoint = attr === 'add_url_rule' && !handlerRef ? argOf(call, 1, 'endpoint') : undefined;
    mod.registrations.push({
      ...(endpoint && endpoint.kind === 'str' ? { endpointAlias: endpoint.value } : {}),
      receiver,
      attr,
      methods: m === undefined ? (attr === 'add_api_route' || attr === 'add_url_rule' ? ['GET'] : null) : m,
      methodsGiven: m !== undefined,
      path: path.value,
      handlerRef: handlerRef ?? OTHER,
      line: t.line[j - 1],
    });
    j = call.close;
  }
}

function routeDecorator(d: PyValue, def: PyDef, mod: PyModule, line: number): void {
  // A call whose bracket is still open is being typed: wait until it is written.
  if (d.kind !== 'call' || op1(mod.tokens, d.close) !== 41) return;
  const dot = d.callee.lastIndexOf('.');
  if (dot <= 0) return;
  const attr = d.callee.slice(dot + 1);
  let methods: string[] | null;
  let given = false;
  if (HTTP_ATTRS.has(attr)) methods = [attr.toUpperCase()];
  else if (attr === 'api_route' || attr === 'route') {
    const m = stringList(d.kwargs.get('methods'));
    given = m !== undefined;
    methods = m === undefined ? ['GET'] : m;
  } else return;
  const path = argOf(d, 0, 'path', 'rule');
  if (!path || path.kind !== 'str' || def.inLoop) return;
  mod.registrations.push({ receiver: d.callee.slice(0, dot), attr, methods, methodsGiven: given, path: path.value, target: def, line });
}

const ROUTE_DECORATORS = new Set([...HTTP_ATTRS, 'api_route', 'route']);

/** Cheap test before parsing a decorator: `x.get(`, `x.y.route(`... or anything not starting with a name. */
function mayBeRouteDecorator(t: PyTokens, at: number): boolean {
  if (t.kind[at] !== NAME) return true;
  let k = at;
  while (op1(t, k + 1) === 46 && t.kind[k + 2] === NAME) k += 2;
  return k > at && op1(t, k + 1) === 40 && ROUTE_DECORATORS.has(tokText(t, k));
}

export function decoratorsOf(mod: PyModule, def: PyDef): PyValue[] {
  return def.decoratorAt.map((at) => mod.parser.value(at));
}

/** Definitions, imports, framework objects and route registrations of one Python file. */
export function analyzePython(text: string): PyModule {
  const t = tokenizePython(text);
  const mod: PyModule = {
    tokens: t,
    parser: new PyParser(t),
    defs: [],
    imports: new Map(),
    frameworks: new Set(),
    loopRanges: [],
    vars: new Map(),
    mounts: new Map(),
    registrations: [],
  };
  const scopes: Array<{ indent: number; def?: PyDef }> = [];
  let loops = 0;
  let pending: Array<{ at: number; line: number }> = [];
  let lastCodeLine = 0;
  const close = (): void => {
    const top = scopes.pop();
    if (!top) return;
    if (top.def) top.def.endLine = lastCodeLine;
    else loops--;
  };

  let s = 0;
  const n = t.count;
  while (s < n) {
    let e = s;
    while (e < n && t.kind[e] !== NEWLINE) e++;
    if (e === s) {
      s = e + 1;
      continue;
    }
    const indent = (t.flags[s] & F_LINE_START) !== 0 ? t.col[s] : 0;
    while (scopes.length > 0 && scopes[scopes.length - 1].indent >= indent) close();

    if (op1(t, s) === 64) {
      pending.push({ at: s + 1, line: t.line[s] });
    } else {
      let k = s;
      if (isName(t, k, 'async')) k++;
      const isDef = isName(t, k, 'def');
      if ((isDef || isName(t, k, 'class')) && t.kind[k + 1] === NAME) {
        let parent: PyDef | undefined;
        for (let m = scopes.length - 1; m >= 0 && !parent; m--) parent = scopes[m].def;
        const def: PyDef = {
          name: tokText(t, k + 1),
          kind: isDef ? 'def' : 'class',
          line: t.line[k + 1],
          decoratorLine: pending.length > 0 ? pending[0].line : t.line[s],
          endLine: t.line[k + 1],
          indent,
          decoratorAt: pending.map((p) => p.at),
          parent,
          methods: [],
          inLoop: loops > 0,
        };
        if (parent && parent.kind === 'class' && isDef) parent.methods.push(def);
        mod.defs.push(def);
        for (const p of pending) if (mayBeRouteDecorator(t, p.at)) routeDecorator(mod.parser.value(p.at), def, mod, p.line);
        scopes.push({ indent, def });
      } else {
        const startsLoop = isName(t, k, 'for') || isName(t, k, 'while');
        if (startsLoop) {
          scopes.push({ indent });
          loops++;
        }
        if (loops > 0) mod.loopRanges.push(s, e);
        if (isName(t, s, 'import') || isName(t, s, 'from')) parseImports(t, s, e, mod);
        else {
          parseAssignment(t, s, e, mod);
          scanCalls(t, s, e, mod, loops > 0);
        }
      }
      pending = [];
    }
    lastCodeLine = t.endLine[e - 1];
    s = e + 1;
  }
  while (scopes.length > 0) close();
  return mod;
}

/** Definitions named `name`, module-level ones first. */
export function findDefs(mod: PyModule, name: string): PyDef[] {
  const found = mod.defs.filter((d) => d.name === name);
  return found.sort((a, b) => (a.parent ? 1 : 0) - (b.parent ? 1 : 0));
}

export interface Handler {
  method: string;
  name: string;
  line: number;
  decoratorLine: number;
  endLine?: number;
  className?: string;
}

function defHandler(def: PyDef, method: string, decoratorLine?: number): Handler {
  const h: Handler = { method, name: def.name, line: def.line, decoratorLine: decoratorLine ?? def.decoratorLine, endLine: def.endLine };
  if (def.parent && def.parent.kind === 'class' && def.kind === 'def') h.className = def.parent.name;
  return h;
}

/**
 * Handlers of a class-based view: one per HTTP method the class defines (restricted to `methods`
 * when those were written), else the class itself for `methods` or any method.
 */
export function classHandlers(cls: PyDef, methods: string[] | null | undefined, decoratorLine?: number): Handler[] {
  const out: Handler[] = [];
  for (const m of cls.methods) {
    const method = m.name.toUpperCase();
    if (!HTTP_ATTRS.has(m.name) || (methods && !methods.includes(method))) continue;
    const h = defHandler(m, method);
    h.className = cls.name;
    out.push(h);
  }
  if (out.length > 0) return out;
  return (methods ?? ['*']).map((method) => defHandler(cls, method, decoratorLine));
}

function handlersOf(reg: Registration, mod: PyModule): Handler[] {
  const methods = reg.methods ?? ['*'];
  if (reg.target) {
    if (reg.target.kind === 'class') return classHandlers(reg.target, reg.methodsGiven ? reg.methods : null);
    return methods.map((m) => defHandler(reg.target as PyDef, m));
  }
  const ref = reg.handlerRef ?? OTHER;
  if (reg.endpointAlias !== undefined) {
    // `add_url_rule("/", endpoint="index")` with no view: another URL for the view already
    // registered under that endpoint (by default the function's name), not a handler of its own.
    const endpoint = lastSegment(reg.endpointAlias);
    const def = findDefs(mod, endpoint).find((d) => d.kind === 'def');
    return def ? methods.map((m) => defHandler(def, m)) : [];
  }
  let name: string | undefined;
  let viewClass = false;
  if (ref.kind === 'name') name = ref.name;
  else if (ref.kind === 'call' && ref.callee.endsWith('.as_view')) {
    name = ref.callee.slice(0, -'.as_view'.length);
    viewClass = true;
  }
  if (name && !name.includes('.')) {
    const def = findDefs(mod, name).find((d) => (viewClass ? d.kind === 'class' : true));
    if (def) {
      if (def.kind === 'class') return classHandlers(def, reg.methodsGiven ? reg.methods : null, reg.line);
      return methods.map((m) => defHandler(def, m, reg.line));
    }
  }
  const handlerName = name ? lastSegment(name) : ref.kind === 'other' ? '<lambda>' : '<anonymous>';
  return methods.map((m) => ({ method: m, name: handlerName, line: reg.line, decoratorLine: reg.line }));
}

function frameworkOf(kind: VarKind): Framework {
  return kind.startsWith('fastapi') ? 'fastapi' : 'flask';
}

function guessFramework(attr: string, receiver: string, fw: Set<string>): Framework | undefined {
  if (attr === 'api_route' || attr === 'add_api_route') return 'fastapi';
  if (attr === 'add_url_rule') return 'flask';
  const appLike = APP_LIKE.test(lastSegment(receiver));
  if (attr === 'route' || attr === 'add_route') {
    if (fw.has('flask')) return 'flask';
    if (fw.has('fastapi')) return 'fastapi';
    return appLike ? 'flask' : undefined;
  }
  if (fw.has('fastapi')) return 'fastapi';
  if (fw.has('flask')) return 'flask';
  return appLike ? 'fastapi' : undefined;
}

/** Flask's rule joining: one slash between a prefix and a rule, the prefix alone for an empty rule. */
export function flaskJoin(prefix: string, rule: string): string {
  if (!prefix) return rule;
  if (!rule) return prefix;
  return prefix.replace(/\/+$/, '') + '/' + rule.replace(/^\/+/, '');
}

export interface Prefix {
  prefix: string;
  partial: boolean;
}

/**
 * A mount of one of this module's routers or blueprints made in another file
 * (`app.include_router(users.router, prefix="/users")` in main.py): the prefix given there, and
 * the full prefixes of the router or app it was mounted on.
 */
export interface ExternalMount {
  /** As PyMount.prefix. */
  prefix: string | null | undefined;
  parents: Prefix[];
}

/** Mounts of `name` (a router or blueprint of this module) made in other files. */
export type ExternalMounts = (name: string, depth: number) => ExternalMount[];

/** Every prefix under which the routes registered on `name` are served. */
export function prefixesOf(mod: PyModule, name: string, depth: number, external?: ExternalMounts): Prefix[] {
  const v = mod.vars.get(name);
  if (!v) return [{ prefix: '', partial: true }];
  if (depth > 8) return [];
  const own = v.prefix;
  const local = mod.mounts.get(name) ?? [];
  const routerLike = v.kind === 'fastapi-router' || v.kind === 'flask-blueprint';
  const mounts: ExternalMount[] = local.map((m) => ({ prefix: m.prefix, parents: m.prefix === null ? [] : prefixesOf(mod, m.parent, depth + 1, external) }));
  if (routerLike && external) mounts.push(...external(name, depth + 1));
  if (mounts.length === 0) return own === null ? [] : [{ prefix: own, partial: routerLike }];
  const out: Prefix[] = [];
  for (const m of mounts) {
    if (m.prefix === null) continue;
    // Flask's registration prefix replaces the blueprint's own; FastAPI's is added to the router's.
    const flask = v.kind === 'flask-blueprint';
    const effective = flask ? (m.prefix ?? own) : own;
    if (effective === null) continue;
    for (const pp of m.parents) {
      out.push({ prefix: flask ? flaskJoin(pp.prefix, effective) : pp.prefix + (m.prefix ?? '') + effective, partial: pp.partial });
    }
  }
  return out;
}

/**
 * A class-based view registered here (`add_url_rule(..., view_func=ItemAPI.as_view("item"))`) but
 * defined in another file: its lenses go in that file, one per method the class defines.
 */
export interface ImportedViews {
  resolve(name: string): { key: string; cls: PyDef } | undefined;
  add(key: string, route: DetectedRoute): void;
}

/** The class name of `X.as_view(...)` when X is not defined in this module. */
function importedViewClass(reg: Registration, mod: PyModule): string | undefined {
  const ref = reg.handlerRef;
  if (!ref || ref.kind !== 'call' || !ref.callee.endsWith('.as_view')) return undefined;
  const name = ref.callee.slice(0, -'.as_view'.length);
  if (!name.includes('.') && findDefs(mod, name).some((d) => d.kind === 'class')) return undefined;
  return name;
}

/**
 * The FastAPI/Starlette and Flask routes of an analysed module; `external` adds mounts made in
 * other files, `views` places class-based views defined in other files there.
 */
export function pythonRoutes(mod: PyModule, external?: ExternalMounts, views?: ImportedViews): DetectedRoute[] {
  const out: DetectedRoute[] = [];
  const seen = new Set<string>();
  for (const reg of mod.registrations) {
    const v = mod.vars.get(reg.receiver);
    let framework: Framework | undefined;
    if (v) framework = frameworkOf(v.kind);
    else if (reg.path.startsWith('/')) framework = guessFramework(reg.attr, reg.receiver, mod.frameworks);
    if (!framework) continue;
    const prefixes = prefixesOf(mod, reg.receiver, 0, external);
    if (prefixes.length === 0) continue;
    const viewClass = views ? importedViewClass(reg, mod) : undefined;
    const found = viewClass !== undefined ? views!.resolve(viewClass) : undefined;
    if (found) {
      for (const p of prefixes) {
        const route = framework === 'flask' ? flaskJoin(p.prefix, reg.path) : p.prefix + reg.path;
        for (const h of classHandlers(found.cls, reg.methodsGiven ? reg.methods : null)) views!.add(found.key, toRoute(h, route, normalizeRoute(route), framework, p.partial));
      }
      continue;
    }
    const handlers = handlersOf(reg, mod);
    for (const p of prefixes) {
      const route = framework === 'flask' ? flaskJoin(p.prefix, reg.path) : p.prefix + reg.path;
      const normalized = normalizeRoute(route);
      for (const h of handlers) {
        const key = `${h.method} ${route} ${h.line}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(toRoute(h, route, normalized, framework, p.partial));
      }
    }
  }
  return out;
}

export function toRoute(h: Handler, route: string, normalized: string, framework: Framework, partial: boolean): DetectedRoute {
  const r: DetectedRoute = {
    method: h.method,
    route,
    normalized,
    framework,
    handlerName: h.name,
    line: h.line,
    decoratorLine: h.decoratorLine,
  };
  if (h.endLine !== undefined) r.endLine = h.endLine;
  if (h.className) r.className = h.className;
  if (partial) r.partial = true;
  return r;
}
