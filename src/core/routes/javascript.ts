/**
 * Express, Fastify and NestJS route detection over the JavaScript/TypeScript tokenizer.
 *
 * Only literal paths count: a path that is a variable, a concatenation or a template with
 * substitutions, or a registration inside a loop or an array callback (`forEach`, `map`...), is
 * left out rather than guessed.
 */
import { normalizeRoute } from './normalize';
import * as tk from './jsTokenizer';
import type { JsTokens } from './jsTokenizer';
import { DetectedRoute, Framework } from './types';

// Bound once: the per-file CommonJS build turns each use of an imported name into getter calls,
// which would dominate the token loops.
const { J_NAME, J_PUNCT, jp, jsClose, jsIs, jsStringValue, jsText, tokenizeJs } = tk;

type VarKind = 'express-app' | 'express-router' | 'fastify';

interface JsFn {
  /** First token of the function (its `async`, `function`, parameter list or single parameter). */
  start: number;
  name?: string;
  nameLine: number;
  params: string[];
  bodyOpen: number;
  bodyClose: number;
  /** The innermost function whose body contains this one. */
  parent?: JsFn;
}

interface HandlerInfo {
  name: string;
  line: number;
  endLine?: number;
  /** Parameter count when the handler is a function seen in this file. */
  params?: number;
}

interface Reg {
  key: string;
  receiver: string;
  methods: string[];
  paths: string[];
  handler: HandlerInfo;
  line: number;
  endLine: number;
}

interface Mount {
  parent: string;
  prefix: string | null;
}

type Range = [number, number];

interface Prop {
  range: Range;
  /** Written as a method: `handler(req, reply) {}`. */
  shorthand: boolean;
}

const ROUTE_METHODS = new Map<string, string>([
  ['get', 'GET'],
  ['post', 'POST'],
  ['put', 'PUT'],
  ['delete', 'DELETE'],
  ['del', 'DELETE'],
  ['patch', 'PATCH'],
  ['head', 'HEAD'],
  ['options', 'OPTIONS'],
  ['all', '*'],
]);

const NEST_METHODS = new Map<string, string>([
  ['Get', 'GET'],
  ['Post', 'POST'],
  ['Put', 'PUT'],
  ['Delete', 'DELETE'],
  ['Patch', 'PATCH'],
  ['Options', 'OPTIONS'],
  ['Head', 'HEAD'],
  ['All', '*'],
  ['Search', 'SEARCH'],
]);

const ITERATORS = new Set(['forEach', 'map', 'flatMap', 'reduce', 'reduceRight', 'filter', 'some', 'every', 'find']);
const MODIFIERS = new Set(['public', 'private', 'protected', 'static', 'async', 'readonly', 'override', 'abstract', 'get', 'set', 'declare']);
const CALLS = new Set(['get', 'post', 'put', 'delete', 'del', 'patch', 'head', 'options', 'all', 'route', 'use', 'register']);
const APP_LIKE = /^(?:app|router|api|server|routes?|\w+Router)$/;

export function joinSlash(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  if (a.endsWith('/') && b.startsWith('/')) return a + b.slice(1);
  if (!a.endsWith('/') && !b.startsWith('/')) return a + '/' + b;
  return a + b;
}

export function nestJoin(a: string, b: string): string {
  const parts = [a, b].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '');
  return '/' + parts.join('/');
}

export class JsAnalyzer {
  private readonly imports = new Map<string, { module: string; imported: string }>();
  private readonly modules = new Set<string>();
  private readonly vars = new Map<string, VarKind>();
  private readonly fns: JsFn[] = [];
  private readonly fnByStart = new Map<number, JsFn>();
  private readonly fnByName = new Map<string, JsFn>();
  private readonly inLoop: Uint8Array;
  private readonly mounts = new Map<string, Mount[]>();
  private readonly regs: Reg[] = [];
  private readonly nest: DetectedRoute[] = [];

  constructor(private readonly t: JsTokens) {
    this.inLoop = new Uint8Array(t.count);
  }

  run(): DetectedRoute[] {
    this.analyze();
    return this.routes();
  }

  analyze(): this {
    this.collect();
    this.registrations();
    this.exportsScan();
    return this;
  }

  /** Routes of this file; `external` gives the mounts of its exported routers made in other files. */
  routes(external?: JsExternalMounts): DetectedRoute[] {
    this.external = external;
    try {
      return [...this.resolve(), ...this.nest];
    } finally {
      this.external = undefined;
    }
  }

  /** Exported name (`default` for `module.exports =` and `export default`) → router key. */
  readonly exported = new Map<string, string>();
  private external: JsExternalMounts | undefined;

  /**
   * Routers mounted here that come from another module (`app.use('/users', usersRouter)` with
   * `usersRouter` imported): the module, the name it exports it under, and the mount.
   */
  importedMounts(): { module: string; imported: string; parent: string; prefix: string | null }[] {
    const out: { module: string; imported: string; parent: string; prefix: string | null }[] = [...this.pluginMounts];
    for (const [child, mounts] of this.mounts) {
      if (!child.startsWith('var:')) continue;
      const name = child.slice(4);
      const imp = this.imports.get(name);
      if (!imp || this.vars.has(name)) continue;
      for (const m of mounts) out.push({ module: imp.module, imported: imp.imported, parent: m.parent, prefix: m.prefix });
    }
    return out;
  }

  /** What of this file other files' routes depend on (routers, mounts, exports, the Nest prefix), comparable. */
  structure(): string {
    return JSON.stringify([[...this.vars], [...this.mounts], this.importedMounts(), [...this.exported], this.nestGlobalPrefix ?? '\u0000']);
  }

  /** Full prefixes of a router or app of this file (mounts here and, through `external`, elsewhere). */
  prefixesOf(key: string, depth: number, external?: JsExternalMounts): Array<{ prefix: string; partial: boolean }> {
    const saved = this.external;
    this.external = external;
    try {
      return this.prefixes(key, depth);
    } finally {
      this.external = saved;
    }
  }

  /** `module.exports = x`, `exports.y = x`, `export default x`, `export { x as y }`, `export const x = ...`. */
  /**
   * A Nest bootstrap here (`NestFactory.create(...)`): the literal of its `setGlobalPrefix`, '' for
   * none, null when the prefix is not a literal or has exclusions. Undefined without a bootstrap.
   */
  nestGlobalPrefix: string | null | undefined;

  private exportsScan(): void {
    const t = this.t;
    let bootstrap = false;
    let prefix: string | null = '';
    for (let i = 0; i < t.count; i++) {
      if (t.kind[i] !== J_NAME) continue;
      if (jp(t, i - 1) === 46) {
        const m = jsText(t, i);
        if (m === 'create' && jsIs(t, i - 2, 'NestFactory')) bootstrap = true;
        else if (m === 'setGlobalPrefix' && jp(t, i + 1) === 40) {
          const v = jsStringValue(t, i + 2);
          // Exclusions (a second argument) leave some routes without the prefix: not known here.
          prefix = v !== undefined && jp(t, i + 3) === 41 && prefix === '' ? v : null;
        }
        continue;
      }
      const w = jsText(t, i);
      if (w === 'module' && jp(t, i + 1) === 46 && jsIs(t, i + 2, 'exports')) {
        if (jp(t, i + 3) === 61 && !jsIs(t, i + 3, '==') && !jsIs(t, i + 3, '===')) this.exportName('default', i + 4);
        else if (jp(t, i + 3) === 46 && t.kind[i + 4] === J_NAME && jp(t, i + 5) === 61) this.exportName(jsText(t, i + 4), i + 6);
      } else if (w === 'exports' && jp(t, i + 1) === 46 && t.kind[i + 2] === J_NAME && jp(t, i + 3) === 61) {
        this.exportName(jsText(t, i + 2), i + 4);
      } else if (w === 'export') {
        if (jsIs(t, i + 1, 'default')) this.exportName('default', i + 2);
        else if (jsIs(t, i + 1, 'const') || jsIs(t, i + 1, 'let') || jsIs(t, i + 1, 'var')) {
          const n = this.name(i + 2);
          if (n && this.vars.has(n)) this.exported.set(n, `var:${n}`);
        } else if (jp(t, i + 1) === 123) {
          const close = jsClose(t, i + 1);
          for (let k = i + 2; k < close; k++) {
            if (t.kind[k] !== J_NAME) continue;
            const local = jsText(t, k);
            let as = local;
            if (jsIs(t, k + 1, 'as') && t.kind[k + 2] === J_NAME) {
              as = jsText(t, k + 2);
              k += 2;
            }
            if (this.vars.has(local)) this.exported.set(as, `var:${local}`);
          }
        }
      }
    }
    if (bootstrap) this.nestGlobalPrefix = prefix;
  }

  private exportName(as: string, at: number): void {
    const t = this.t;
    // A Fastify plugin: a function exported as it is or by name. One wrapped in fastify-plugin
    // (`fp(...)`) is not: its routes ignore the `prefix` it is registered with.
    let fn = this.fnByStart.get(at);
    if (!fn && t.kind[at] === J_NAME && jp(t, at + 1) !== 40 && !this.vars.has(jsText(t, at))) fn = this.fnByName.get(jsText(t, at));
    if (fn && fn.params[0]) {
      this.exported.set(as, `fn${fn.start}:${fn.params[0]}`);
      return;
    }
    const n = this.name(at);
    if (!n || !this.vars.has(n)) return;
    const next = this.t.count > at + 1 ? jp(this.t, at + 1) : 59;
    // Only the name itself (`module.exports = router;`), not an expression that starts with it.
    if (next === 59 || next === 125 || next === 44 || at + 1 >= this.t.count || this.t.line[at + 1] > this.t.line[at]) this.exported.set(as, `var:${n}`);
  }

  /** Line of token `i`, the last token's for an index past the end (an unclosed bracket). */
  private lineAt(i: number): number {
    const t = this.t;
    return t.count === 0 ? 0 : t.line[Math.max(0, Math.min(i, t.count - 1))];
  }

  private name(i: number): string | undefined {
    return i >= 0 && i < this.t.count && this.t.kind[i] === J_NAME ? jsText(this.t, i) : undefined;
  }

  // ---- first pass: imports, framework objects, functions, loops -------------------------------

  private collect(): void {
    const t = this.t;
    for (let i = 0; i < t.count; i++) {
      if (t.kind[i] === J_NAME) {
        // Only words starting with c d f i l r v w matter here; test that before slicing the text.
        const c0 = t.text.charCodeAt(t.start[i]);
        if (!(c0 === 99 || c0 === 100 || c0 === 102 || c0 === 105 || c0 === 108 || c0 === 114 || c0 === 118 || c0 === 119)) continue;
        if (t.end[i] - t.start[i] > 8 || jp(t, i - 1) === 46) continue;
        const w = jsText(t, i);
        if (w === 'import' && jp(t, i + 1) !== 40 && jp(t, i + 1) !== 46) this.importStatement(i);
        else if (w === 'require' && jp(t, i + 1) === 40) {
          const m = jsStringValue(t, i + 2);
          if (m !== undefined) this.modules.add(m);
        } else if (w === 'const' || w === 'let' || w === 'var') this.declaration(i);
        else if (w === 'function') this.functionKeyword(i);
        else if (w === 'for' || w === 'while') this.loopStatement(i);
        else if (w === 'do' && jp(t, i + 1) === 123) this.markLoop(i + 1, jsClose(t, i + 1));
      } else if (t.kind[i] === J_PUNCT) {
        const c0 = t.text.charCodeAt(t.start[i]);
        if (c0 === 61 && jsIs(t, i, '=>')) this.arrow(i);
        else if (c0 === 46 && jp(t, i) === 46 && jp(t, i + 2) === 40 && t.kind[i + 1] === J_NAME && ITERATORS.has(jsText(t, i + 1))) this.markLoop(i + 2, jsClose(t, i + 2));
      }
    }
    this.fns.sort((a, b) => a.bodyOpen - b.bodyOpen);
    const open: JsFn[] = [];
    for (const fn of this.fns) {
      while (open.length > 0 && open[open.length - 1].bodyClose < fn.bodyOpen) open.pop();
      if (open.length > 0) fn.parent = open[open.length - 1];
      open.push(fn);
    }
  }

  private markLoop(a: number, b: number): void {
    this.inLoop.fill(1, a, Math.min(b + 1, this.t.count));
  }

  private loopStatement(i: number): void {
    const t = this.t;
    let j = i + 1;
    if (jsIs(t, j, 'await')) j++;
    if (jp(t, j) !== 40) return;
    const headClose = jsClose(t, j);
    const b = headClose + 1;
    if (jp(t, b) === 123) this.markLoop(b, jsClose(t, b));
    else this.markLoop(b, this.statementEnd(b));
  }

  /** Last token of the statement starting at `j`: up to a `;` or an enclosing closing bracket. */
  private statementEnd(j: number): number {
    const t = this.t;
    while (j < t.count) {
      const o = jp(t, j);
      if (o === 59) return j;
      if (o === 41 || o === 93 || o === 125) return j - 1;
      if (o === 40 || o === 91 || o === 123) j = jsClose(t, j);
      j++;
    }
    return t.count - 1;
  }

  private importStatement(i: number): void {
    const t = this.t;
    let j = i + 1;
    if (jsIs(t, j, 'type') && jp(t, j + 1) !== 44 && !jsIs(t, j + 1, 'from')) return;
    const direct = jsStringValue(t, j);
    if (direct !== undefined) {
      this.modules.add(direct);
      return;
    }
    const locals: Array<[string, string]> = [];
    const first = this.name(j);
    if (first !== undefined) {
      if (jp(t, j + 1) === 61 && jsIs(t, j + 2, 'require') && jp(t, j + 3) === 40) {
        // TypeScript's `import X = require('m')`.
        const m = jsStringValue(t, j + 4);
        if (m !== undefined) {
          this.modules.add(m);
          this.imports.set(first, { module: m, imported: 'default' });
        }
        return;
      }
      locals.push([first, 'default']);
      j++;
      if (jp(t, j) === 44) j++;
    }
    if (jp(t, j) === 42 && jsIs(t, j + 1, 'as') && t.kind[j + 2] === J_NAME) {
      locals.push([jsText(t, j + 2), '*']);
      j += 3;
    }
    if (jp(t, j) === 123) {
      const close = jsClose(t, j);
      for (let k = j + 1; k < close; k++) {
        if (t.kind[k] !== J_NAME) continue;
        if (jsIs(t, k, 'type') && t.kind[k + 1] === J_NAME && !jsIs(t, k + 1, 'as')) continue;
        const imported = jsText(t, k);
        let local = imported;
        if (jsIs(t, k + 1, 'as') && t.kind[k + 2] === J_NAME) {
          local = jsText(t, k + 2);
          k += 2;
        }
        locals.push([local, imported]);
      }
      j = close + 1;
    }
    if (!jsIs(t, j, 'from')) return;
    const module = jsStringValue(t, j + 1);
    if (module === undefined) return;
    this.modules.add(module);
    for (const [local, imported] of locals) this.imports.set(local, { module, imported });
  }

  private declaration(i: number): void {
    const t = this.t;
    const j = i + 1;
    if (jp(t, j) === 123) {
      // const { Router, default: x } = require('m')
      const close = jsClose(t, j);
      if (jp(t, close + 1) === 61 && jsIs(t, close + 2, 'require') && jp(t, close + 3) === 40) {
        const module = jsStringValue(t, close + 4);
        if (module === undefined) return;
        for (let k = j + 1; k < close; k++) {
          if (t.kind[k] !== J_NAME) continue;
          if (jp(t, k + 1) === 58 && t.kind[k + 2] === J_NAME) {
            this.imports.set(jsText(t, k + 2), { module, imported: jsText(t, k) });
            k += 2;
          } else this.imports.set(jsText(t, k), { module, imported: jsText(t, k) });
        }
      }
      return;
    }
    const name = this.name(j);
    if (!name) return;
    let k = j + 1;
    if (jp(t, k) === 58) {
      k++;
      while (k < t.count && jp(t, k) !== 61 && jp(t, k) !== 59) {
        const o = jp(t, k);
        k = o === 40 || o === 91 || o === 123 ? jsClose(t, k) + 1 : k + 1;
      }
    }
    if (jp(t, k) !== 61) return;
    k++;
    if (jsIs(t, k, 'require') && jp(t, k + 1) === 40 && jp(t, k + 3) === 41) {
      const module = jsStringValue(t, k + 2);
      if (module !== undefined && jp(t, k + 4) !== 40 && jp(t, k + 4) !== 46) {
        this.imports.set(name, { module, imported: 'default' });
        return;
      }
    }
    const kind = this.classifyInit(k);
    if (kind && !this.vars.has(name)) this.vars.set(name, kind);
  }

  /** What an initialiser creates: `express()`, `express.Router()`, `Router()`, `Fastify()`, `require('fastify')()`. */
  private classifyInit(k: number): VarKind | undefined {
    const t = this.t;
    if (jsIs(t, k, 'new') || jsIs(t, k, 'await')) k++;
    let base: { module?: string; imported: string; name: string } | undefined;
    if (jsIs(t, k, 'require') && jp(t, k + 1) === 40 && jp(t, k + 3) === 41) {
      const module = jsStringValue(t, k + 2);
      if (module === undefined) return undefined;
      base = { module, imported: 'default', name: module };
      k += 4;
    } else {
      const n = this.name(k);
      if (!n) return undefined;
      const imp = this.imports.get(n);
      base = { module: imp?.module, imported: imp?.imported ?? 'default', name: n };
      k++;
    }
    let member: string | undefined;
    if (jp(t, k) === 46 && t.kind[k + 1] === J_NAME) {
      member = jsText(t, k + 1);
      k += 2;
    }
    if (jp(t, k) !== 40 && !(member === 'Router' && jp(t, k) !== 46)) return undefined;
    const module = base.module;
    const exported = base.imported === 'default' || base.imported === '*' ? member ?? 'default' : member ? '' : base.imported;
    if (module === 'express' || (module === undefined && base.name === 'express')) {
      if (exported === 'default') return 'express-app';
      if (exported === 'Router') return 'express-router';
      return undefined;
    }
    if (module === undefined && base.name === 'Router' && !member) return 'express-router';
    if (module === 'fastify' || (module === undefined && (base.name === 'fastify' || base.name === 'Fastify'))) {
      if (exported === 'default' || exported === 'fastify' || exported === 'Fastify') return 'fastify';
    }
    return undefined;
  }

  private params(open: number, close: number): string[] {
    const t = this.t;
    const out: string[] = [];
    let partStart = true;
    for (let k = open + 1; k < close; k++) {
      const o = jp(t, k);
      if (o === 44) {
        partStart = true;
        continue;
      }
      if (partStart) {
        partStart = false;
        let m = k;
        while (MODIFIERS.has(this.name(m) ?? '') && t.kind[m + 1] === J_NAME) m++;
        if (jsIs(t, m, '...')) m++;
        const n = this.name(m);
        out.push(n && n !== 'this' ? n : '');
      }
      if (o === 40 || o === 91 || o === 123) k = jsClose(t, k);
    }
    return out;
  }

  /** The body `{...}` after a parameter list, skipping a return type annotation. */
  private body(j: number): Range | undefined {
    const t = this.t;
    for (let steps = 0; j < t.count && steps < 200; steps++) {
      const o = jp(t, j);
      if (o === 123) {
        const p = jp(t, j - 1);
        if (p === 58 || p === 124 || p === 38 || p === 60 || p === 44) {
          j = jsClose(t, j) + 1;
          continue;
        }
        return [j, jsClose(t, j)];
      }
      if (o === 59 || o === 125 || o === 41 || jsIs(t, j, '=>')) return undefined;
      if (o === 40 || o === 91) j = jsClose(t, j);
      j++;
    }
    return undefined;
  }

  /** The name a function expression is assigned to (`const NAME = ...`): the engine names the function after it. */
  private assignedName(start: number): { name: string; line: number } | undefined {
    const t = this.t;
    if (jp(t, start - 1) === 61 && t.kind[start - 2] === J_NAME && jp(t, start - 3) !== 46) {
      return { name: jsText(t, start - 2), line: t.line[start - 2] };
    }
    return undefined;
  }

  private addFn(fn: JsFn): void {
    this.fns.push(fn);
    this.fnByStart.set(fn.start, fn);
    if (fn.name && !this.fnByName.has(fn.name)) this.fnByName.set(fn.name, fn);
  }

  private functionKeyword(i: number): void {
    const t = this.t;
    let j = i + 1;
    if (jp(t, j) === 42) j++;
    let name: string | undefined;
    let nameLine = t.line[i];
    if (t.kind[j] === J_NAME) {
      name = jsText(t, j);
      nameLine = t.line[j];
      j++;
    }
    if (jp(t, j) === 60) while (j < t.count && jp(t, j) !== 40 && jp(t, j) !== 123) j++;
    if (jp(t, j) !== 40) return;
    const pClose = jsClose(t, j);
    const b = this.body(pClose + 1);
    if (!b) return;
    const start = jsIs(t, i - 1, 'async') ? i - 1 : i;
    if (!name) {
      const a = this.assignedName(start);
      if (a) {
        name = a.name;
        nameLine = a.line;
      }
    }
    this.addFn({ start, name, nameLine, params: this.params(j, pClose), bodyOpen: b[0], bodyClose: b[1] });
  }

  /**
   * For `(req, res): Promise<void> =>`, the `)` before the return type ending at `k`; `k` itself
   * when there is no annotation.
   */
  private beforeReturnType(k: number): number {
    const t = this.t;
    for (let j = k, steps = 0; j > 1 && steps < 40; j--, steps++) {
      const o = jp(t, j);
      if (o === 58) return jp(t, j - 1) === 41 ? j - 1 : k;
      if (o === 41 || o === 93 || o === 125) {
        if (t.match[j] < 0) return k;
        j = t.match[j];
      } else if (o === 59 || o === 40 || o === 91 || o === 123 || o === 61 || o === 44 || jsIs(t, j, '=>')) return k;
    }
    return k;
  }

  private arrow(i: number): void {
    const t = this.t;
    let p = i - 1;
    let params: string[];
    let start: number;
    if (jp(t, p) !== 41) p = this.beforeReturnType(p);
    if (jp(t, p) === 41) {
      const open = t.match[p];
      if (open < 0) return;
      params = this.params(open, p);
      start = open;
    } else if (t.kind[p] === J_NAME) {
      params = [jsText(t, p)];
      start = p;
    } else return;
    if (jsIs(t, start - 1, 'async')) start--;
    let bodyOpen = i + 1;
    let bodyClose: number;
    if (jp(t, bodyOpen) === 123) bodyClose = jsClose(t, bodyOpen);
    else {
      bodyClose = bodyOpen;
      while (bodyClose < t.count) {
        const o = jp(t, bodyClose);
        if (o === 44 || o === 59 || o === 41 || o === 93 || o === 125) break;
        if (o === 40 || o === 91 || o === 123) bodyClose = jsClose(t, bodyClose);
        bodyClose++;
      }
      bodyClose--;
      bodyOpen = i + 1;
    }
    const a = this.assignedName(start);
    this.addFn({ start, name: a?.name, nameLine: a ? a.line : t.line[start], params, bodyOpen, bodyClose });
  }

  // ---- second pass: registrations and mounts ---------------------------------------------------

  private args(open: number): Range[] {
    const t = this.t;
    const close = jsClose(t, open);
    const out: Range[] = [];
    let s = open + 1;
    for (let k = open + 1; k < close; k++) {
      const o = jp(t, k);
      if (o === 44) {
        if (k > s) out.push([s, k]);
        s = k + 1;
      } else if (o === 40 || o === 91 || o === 123) k = jsClose(t, k);
    }
    if (close > s && close <= t.count) out.push([s, Math.min(close, t.count)]);
    return out;
  }

  /** Literal path(s) of an argument: a string, a substitution-free template, or an array of those. */
  private staticStrings(r: Range): string[] | undefined {
    const t = this.t;
    if (r[1] - r[0] === 1) {
      const v = jsStringValue(t, r[0]);
      return v === undefined ? undefined : [v];
    }
    if (jp(t, r[0]) === 91 && jsClose(t, r[0]) === r[1] - 1) {
      const out: string[] = [];
      for (const item of this.args(r[0])) {
        const v = item[1] - item[0] === 1 ? jsStringValue(t, item[0]) : undefined;
        if (v === undefined) return undefined;
        out.push(v);
      }
      return out.length > 0 ? out : undefined;
    }
    return undefined;
  }

  private objectProps(r: Range): Map<string, Prop> | undefined {
    const t = this.t;
    if (jp(t, r[0]) !== 123 || jsClose(t, r[0]) !== r[1] - 1) return undefined;
    const props = new Map<string, Prop>();
    for (const [s, e] of this.args(r[0])) {
      const key = t.kind[s] === J_NAME ? jsText(t, s) : jsStringValue(t, s);
      if (key === undefined) continue;
      if (jp(t, s + 1) === 58) props.set(key, { range: [s + 2, e], shorthand: false });
      else if (jp(t, s + 1) === 40 || (MODIFIERS.has(key) && t.kind[s + 1] === J_NAME)) {
        // Method shorthand: `handler(req, reply) {}` / `async handler() {}`.
        const k = MODIFIERS.has(key) ? s + 1 : s;
        props.set(jsText(t, k), { range: [s, e], shorthand: true });
      } else if (e - s === 1) props.set(key, { range: [s, e], shorthand: false });
    }
    return props;
  }

  /**
   * The handler in an options object (`{ handler }`). A function written there is named after the
   * property, as the engine names it.
   */
  private propHandler(p: Prop, line: number, depth: number): HandlerInfo {
    if (p.shorthand) return { name: 'handler', line, endLine: this.lineAt(p.range[1] - 1) };
    const h = this.handler(p.range, line, depth + 1);
    if (h.name === '<anonymous>' && this.fnByStart.has(p.range[0])) h.name = 'handler';
    return h;
  }

  private receiver(k: number): { text: string; start: number } | undefined {
    const t = this.t;
    if (t.kind[k] !== J_NAME) return undefined;
    let s = k;
    while (s >= 2 && jp(t, s - 1) === 46 && t.kind[s - 2] === J_NAME) s -= 2;
    const before = jp(t, s - 1);
    if (before === 46 || before === 41 || before === 93 || jsIs(t, s - 1, '?.')) return undefined;
    let text = jsText(t, s);
    for (let m = s + 2; m <= k; m += 2) text += '.' + jsText(t, m);
    return { text, start: s };
  }

  /** Identity of an object named `name` at token `idx`: a parameter of an enclosing function, or a file-level name. */
  private keyFor(name: string, idx: number): string {
    // The last function opened before idx, then up its enclosing functions: with proper nesting
    // every function containing idx is on that chain.
    const fns = this.fns;
    let lo = 0;
    let hi = fns.length - 1;
    let last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (fns[mid].bodyOpen <= idx) {
        last = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let fn: JsFn | undefined = last >= 0 ? fns[last] : undefined; fn; fn = fn.parent) {
      if (fn.bodyClose >= idx && fn.params.includes(name)) return `fn${fn.start}:${name}`;
    }
    return `var:${name}`;
  }

  private handler(r: Range, line: number, depth = 0): HandlerInfo {
    const t = this.t;
    const [s, e] = r;
    const fnHere = this.fnByStart.get(s);
    if (fnHere && fnHere.bodyClose < e) {
      return { name: fnHere.name ?? '<anonymous>', line, endLine: this.lineAt(fnHere.bodyClose), params: fnHere.params.length };
    }
    if (e - s === 1 && t.kind[s] === J_NAME) {
      const name = jsText(t, s);
      const fn = this.fnByName.get(name);
      if (fn) return { name, line: fn.nameLine, endLine: this.lineAt(fn.bodyClose), params: fn.params.length };
      return { name, line };
    }
    let chain = t.kind[s] === J_NAME;
    for (let k = s + 1; k < e && chain; k++) chain = (k - s) % 2 === 1 ? jp(t, k) === 46 : t.kind[k] === J_NAME;
    if (chain && (e - s) % 2 === 1) return { name: jsText(t, e - 1), line };
    if (depth < 3) {
      if (jp(t, s) === 91 && jsClose(t, s) === e - 1) {
        const items = this.args(s);
        if (items.length > 0) return this.handler(items[items.length - 1], line, depth + 1);
      }
      if (t.kind[s] === J_NAME) {
        let k = s + 1;
        while (jp(t, k) === 46 && t.kind[k + 1] === J_NAME) k += 2;
        if (jp(t, k) === 40 && jsClose(t, k) === e - 1) {
          const inner = this.args(k);
          if (inner.length > 0) return this.handler(inner[inner.length - 1], line, depth + 1);
        }
      }
      const h = this.objectProps(r)?.get('handler');
      if (h) return this.propHandler(h, line, depth);
    }
    return { name: '<anonymous>', line };
  }

  private registrations(): void {
    const t = this.t;
    for (let i = 0; i < t.count; i++) {
      if (t.kind[i] !== J_PUNCT) continue;
      if (jp(t, i) === 64 && jsIs(t, i + 1, 'Controller')) {
        this.controller(i);
        continue;
      }
      if (jp(t, i) !== 46 || t.kind[i + 1] !== J_NAME || t.end[i + 1] - t.start[i + 1] > 8) continue;
      const m = jsText(t, i + 1);
      if (!CALLS.has(m)) continue;
      const open = this.skipTypeArgs(i + 2);
      if (jp(t, open) !== 40) continue;
      const recv = this.receiver(i - 1);
      if (!recv) continue;
      const close = jsClose(t, open);
      const args = this.args(open);
      const key = recv.text.includes('.') ? `var:${recv.text}` : this.keyFor(recv.text, i);
      const loop = this.inLoop[i] === 1;
      const line = t.line[recv.start];
      if (m === 'use') this.use(key, args, i, loop);
      else if (m === 'register') this.register(key, args, loop);
      else if (loop) continue;
      else if (m === 'route') this.route(key, recv.text, args, close, line);
      else {
        const method = ROUTE_METHODS.get(m);
        if (!method || args.length < 2) continue;
        const paths = this.staticStrings(args[0]);
        if (!paths) continue;
        const handler = this.handler(args[args.length - 1], line);
        this.regs.push({ key, receiver: recv.text, methods: [method], paths, handler, line, endLine: this.lineAt(close) });
      }
    }
  }

  /** The token after TypeScript type arguments (`get<{ Params: P }>(`) starting at `j`, or `j` itself. */
  private skipTypeArgs(j: number): number {
    const t = this.t;
    if (jp(t, j) !== 60) return j;
    let depth = 0;
    for (let k = j; k < t.count && k < j + 400; k++) {
      const o = jp(t, k);
      if (o === 60) depth++;
      else if (o === 62 && --depth === 0) return k + 1;
      else if (o === 40 || o === 91 || o === 123) k = jsClose(t, k);
      else if (o === 59 || o === 41 || o === 93 || o === 125) return j;
    }
    return j;
  }

  private use(parent: string, args: Range[], idx: number, loop: boolean): void {
    if (args.length === 0) return;
    let prefix: string | null = '';
    let rest = args;
    const first = args[0];
    const single = first[1] - first[0] === 1 && this.t.kind[first[0]] === J_NAME;
    if (!single) {
      const p = this.staticStrings(first);
      prefix = p && p.length === 1 ? p[0] : null;
      rest = args.slice(1);
    }
    for (const [s, e] of rest) {
      if (e - s === 4 && jsIs(this.t, s, 'require') && jp(this.t, s + 1) === 40) {
        // `app.use('/admin', require('./routes/admin'))`: the module's default export.
        const module = jsStringValue(this.t, s + 2);
        if (module !== undefined) this.pluginMounts.push({ module, imported: 'default', parent, prefix: loop ? null : prefix });
        continue;
      }
      if (e - s !== 1 || this.t.kind[s] !== J_NAME) continue;
      const child = this.keyFor(jsText(this.t, s), idx);
      const list = this.mounts.get(child) ?? [];
      list.push({ parent, prefix: loop ? null : prefix });
      this.mounts.set(child, list);
    }
  }

  private register(parent: string, args: Range[], loop: boolean): void {
    const t = this.t;
    if (args.length === 0) return;
    const [s, e] = args[0];
    let fn: JsFn | undefined = this.fnByStart.get(s);
    if (!fn && e - s === 1 && t.kind[s] === J_NAME) fn = this.fnByName.get(jsText(t, s));
    if (!fn) {
      // A plugin from another module: `register(usersRoutes, ...)` with it imported, or
      // `register(require('./routes/users'), ...)` / `register(import('./routes/users'), ...)`.
      let imported: { module: string; imported: string } | undefined;
      if (e - s === 1 && t.kind[s] === J_NAME) imported = this.imports.get(jsText(t, s));
      else if ((jsIs(t, s, 'require') || jsIs(t, s, 'import')) && jp(t, s + 1) === 40 && e - s === 4) {
        const module = jsStringValue(t, s + 2);
        if (module !== undefined) imported = { module, imported: 'default' };
      }
      if (imported) this.pluginMounts.push({ ...imported, parent, prefix: loop ? null : this.registerPrefix(args) });
      return;
    }
    if (!fn.params[0]) return;
    const prefix = this.registerPrefix(args);
    const child = `fn${fn.start}:${fn.params[0]}`;
    const list = this.mounts.get(child) ?? [];
    list.push({ parent, prefix: loop ? null : prefix });
    this.mounts.set(child, list);
  }

  /** Fastify plugins registered here that come from another module. */
  private readonly pluginMounts: { module: string; imported: string; parent: string; prefix: string | null }[] = [];

  /** The `prefix` of `register(plugin, { prefix })`: '' when absent, null when not a literal. */
  private registerPrefix(args: Range[]): string | null {
    let prefix: string | null = '';
    if (args[1]) {
      const props = this.objectProps(args[1]);
      const p = props?.get('prefix');
      if (!props) prefix = null;
      else if (p) {
        const v = this.staticStrings(p.range);
        prefix = v && v.length === 1 ? v[0] : null;
      }
    }
    return prefix;
  }

  private route(key: string, receiver: string, args: Range[], close: number, line: number): void {
    const t = this.t;
    if (args.length !== 1) return;
    const props = this.objectProps(args[0]);
    if (props) {
      // fastify.route({ method, url, handler })
      const method = props.get('method');
      const url = props.get('url') ?? props.get('path');
      const handler = props.get('handler');
      const methods = method ? this.staticStrings(method.range) : undefined;
      const paths = url ? this.staticStrings(url.range) : undefined;
      if (!methods || !paths || !handler) return;
      const h = this.propHandler(handler, line, 0);
      this.regs.push({ key, receiver, methods: methods.map((m) => m.toUpperCase()), paths, handler: h, line, endLine: this.lineAt(close) });
      return;
    }
    // app.route('/x').get(h).post(h)
    const paths = this.staticStrings(args[0]);
    if (!paths) return;
    let k = close + 1;
    while (jp(t, k) === 46 && t.kind[k + 1] === J_NAME && jp(t, this.skipTypeArgs(k + 2)) === 40) {
      const method = ROUTE_METHODS.get(jsText(t, k + 1));
      const open = this.skipTypeArgs(k + 2);
      const c = jsClose(t, open);
      const a = this.args(open);
      if (!method || a.length === 0) break;
      const h = this.handler(a[a.length - 1], t.line[k + 1]);
      this.regs.push({ key, receiver, methods: [method], paths, handler: h, line, endLine: this.lineAt(c) });
      k = c + 1;
    }
  }

  // ---- NestJS ----------------------------------------------------------------------------------

  private controller(at: number): void {
    const t = this.t;
    let j = at + 2;
    let paths: string[] | undefined = [''];
    if (jp(t, j) === 40) {
      const a = this.args(j);
      j = jsClose(t, j) + 1;
      if (a.length > 0) {
        const props = this.objectProps(a[0]);
        if (props) {
          const p = props.get('path');
          paths = p ? this.staticStrings(p.range) : [''];
        } else paths = this.staticStrings(a[0]);
      }
    }
    if (!paths) return;
    let steps = 0;
    while (j < t.count && !jsIs(t, j, 'class') && steps++ < 100) {
      if (jp(t, j) === 40) j = jsClose(t, j);
      j++;
    }
    if (!jsIs(t, j, 'class')) return;
    const className = this.name(j + 1) ?? '<anonymous>';
    while (j < t.count && jp(t, j) !== 123) {
      if (jp(t, j) === 40 || jp(t, j) === 91) j = jsClose(t, j);
      j++;
    }
    if (j >= t.count) return;
    this.controllerBody(j, jsClose(t, j), className, paths);
  }

  private controllerBody(open: number, close: number, className: string, ctrlPaths: string[]): void {
    const t = this.t;
    let j = open + 1;
    while (j < close) {
      if (jp(t, j) !== 64) {
        const o = jp(t, j);
        j = o === 40 || o === 91 || o === 123 ? jsClose(t, j) + 1 : j + 1;
        continue;
      }
      const stackLine = t.line[j];
      const decorators: Array<{ name: string; args?: number }> = [];
      while (jp(t, j) === 64 && t.kind[j + 1] === J_NAME) {
        let k = j + 1;
        while (jp(t, k + 1) === 46 && t.kind[k + 2] === J_NAME) k += 2;
        const d: { name: string; args?: number } = { name: jsText(t, k) };
        k++;
        if (jp(t, k) === 40) {
          d.args = k;
          k = jsClose(t, k) + 1;
        }
        decorators.push(d);
        j = k;
      }
      if (decorators.length === 0) {
        j++;
        continue;
      }
      while (MODIFIERS.has(this.name(j) ?? '') && (t.kind[j + 1] === J_NAME || jp(t, j + 1) === 91)) j++;
      const methodName = this.name(j);
      if (!methodName || (jp(t, j + 1) !== 40 && jp(t, j + 1) !== 60)) continue;
      const nameIdx = j;
      let p = j + 1;
      while (p < close && jp(t, p) !== 40) p++;
      const pClose = jsClose(t, p);
      const b = this.body(pClose + 1);
      const end = b ? b[1] : pClose;
      j = end + 1;
      for (const d of decorators) {
        const method = NEST_METHODS.get(d.name);
        if (!method) continue;
        let paths: string[] | undefined = [''];
        if (d.args !== undefined) {
          const a = this.args(d.args);
          if (a.length > 0) paths = this.staticStrings(a[0]);
        }
        if (!paths) continue;
        for (const c of ctrlPaths) {
          for (const mp of paths) {
            const route = nestJoin(c, mp);
            this.nest.push({
              method,
              route,
              normalized: normalizeRoute(route),
              framework: 'nestjs',
              handlerName: methodName,
              line: t.line[nameIdx],
              decoratorLine: stackLine,
              endLine: this.lineAt(end),
              className,
              partial: true,
            });
          }
        }
      }
    }
  }

  // ---- resolution --------------------------------------------------------------------------------

  private varKind(key: string): VarKind | undefined {
    return key.startsWith('var:') ? this.vars.get(key.slice(4)) : undefined;
  }

  private frameworkOfKey(key: string, depth: number): Framework | undefined {
    const kind = this.varKind(key);
    if (kind) return kind === 'fastify' ? 'fastify' : 'express';
    if (depth > 8) return undefined;
    for (const m of this.mounts.get(key) ?? []) {
      const f = this.frameworkOfKey(m.parent, depth + 1);
      if (f) return f;
    }
    return undefined;
  }

  private guess(reg: Reg): Framework | undefined {
    if (!reg.paths.every((p) => p.startsWith('/') || p === '*')) return undefined;
    const last = reg.receiver.slice(reg.receiver.lastIndexOf('.') + 1);
    const fastify = this.modules.has('fastify') || this.modules.has('fastify-plugin');
    const express = this.modules.has('express');
    if (last === 'fastify' || (fastify && !express)) return 'fastify';
    if (express) return 'express';
    if (APP_LIKE.test(last) && (reg.handler.params ?? 0) >= 2) return 'express';
    return undefined;
  }

  private prefixes(key: string, depth: number): Array<{ prefix: string; partial: boolean }> {
    const kind = this.varKind(key);
    const local = this.mounts.get(key) ?? [];
    const external = (kind === 'express-router' || key.startsWith('fn')) && this.external ? this.external(key, depth + 1) : [];
    if (local.length === 0 && external.length === 0) return [{ prefix: '', partial: kind !== 'express-app' && kind !== 'fastify' }];
    if (depth > 8) return [];
    const out: Array<{ prefix: string; partial: boolean }> = [];
    for (const m of local) {
      if (m.prefix === null) continue;
      for (const pp of this.prefixes(m.parent, depth + 1)) out.push({ prefix: joinSlash(pp.prefix, m.prefix), partial: pp.partial });
    }
    for (const m of external) {
      if (m.prefix === null) continue;
      for (const pp of m.parents) out.push({ prefix: joinSlash(pp.prefix, m.prefix), partial: pp.partial });
    }
    return out;
  }

  private resolve(): DetectedRoute[] {
    const out: DetectedRoute[] = [];
    const seen = new Set<string>();
    for (const reg of this.regs) {
      const framework = this.frameworkOfKey(reg.key, 0) ?? this.guess(reg);
      if (!framework) continue;
      for (const p of this.prefixes(reg.key, 0)) {
        for (const path of reg.paths) {
          const route = p.prefix ? joinSlash(p.prefix, path) : path;
          const normalized = normalizeRoute(route);
          for (const method of reg.methods) {
            const k = `${method} ${route} ${reg.handler.line} ${reg.line}`;
            if (seen.has(k)) continue;
            seen.add(k);
            const r: DetectedRoute = {
              method,
              route,
              normalized,
              framework,
              handlerName: reg.handler.name,
              line: reg.handler.line,
              decoratorLine: reg.line,
              endLine: reg.handler.endLine ?? (reg.handler.line === reg.line ? reg.endLine : reg.handler.line),
            };
            if (p.partial) r.partial = true;
            out.push(r);
          }
        }
      }
    }
    return out;
  }
}

export function detectJsRoutes(text: string): DetectedRoute[] {
  return new JsAnalyzer(tokenizeJs(text)).run();
}

/** Mounts of one of a file's routers (by key) made in other files, with the parents' full prefixes. */
export type JsExternalMounts = (key: string, depth: number) => { prefix: string | null; parents: Array<{ prefix: string; partial: boolean }> }[];

export type JsModule = JsAnalyzer;

/** A JavaScript/TypeScript file analysed once, for the workspace route graph. */
export function analyzeJs(text: string): JsModule {
  return new JsAnalyzer(tokenizeJs(text)).analyze();
}

