/**
 * A tiny expression reader over Python tokens. It recognises only what route registrations are
 * made of (string literals, dotted names, calls, lists, tuples, dicts) and reduces anything
 * computed (`+`, `%`, `.format()`, conditionals, comprehensions, f-strings with fields) to
 * `other`, so that a route built at run time is never taken for a literal.
 */
import * as tk from './pyTokenizer';
import type { PyTokens } from './pyTokenizer';

// Bound once: the per-file CommonJS build turns each use of an imported name into getter calls,
// which would dominate the token loops.
const { NAME, NEWLINE, STRING, closeOf, isName, isOp, op1, pyStringValue, tokText } = tk;

export type PyValue =
  | { kind: 'str'; value: string; line: number }
  | { kind: 'name'; name: string; line: number }
  | { kind: 'list'; items: PyValue[] }
  | { kind: 'dict'; entries: Array<[PyValue, PyValue]> }
  | { kind: 'call'; callee: string; args: PyValue[]; kwargs: Map<string, PyValue>; line: number; close: number; star: boolean }
  | { kind: 'none' }
  | { kind: 'other' };

export const OTHER: PyValue = { kind: 'other' };
const NONE: PyValue = { kind: 'none' };

export interface PyArgs {
  args: PyValue[];
  kwargs: Map<string, PyValue>;
  /** `*args` or `**kwargs` were passed: arguments may come from elsewhere. */
  star: boolean;
  close: number;
}

const CLOSERS = new Set([41, 93, 125]);

export class PyParser {
  /** Index of the token after the last value read. */
  pos = 0;

  constructor(readonly t: PyTokens) {}

  private terminates(j: number): boolean {
    const t = this.t;
    if (j >= t.count || t.kind[j] === NEWLINE) return true;
    const o = op1(t, j);
    if (o === 44 || o === 61 || o === 58 || CLOSERS.has(o)) return true;
    return isName(t, j, 'for') || isName(t, j, 'async');
  }

  /** Skips the rest of an expression: to the next `,`, `=`, closing bracket or end of line at this depth. */
  skipExpr(j: number): number {
    const t = this.t;
    while (j < t.count && t.kind[j] !== NEWLINE) {
      const o = op1(t, j);
      if (o === 44 || o === 61 || CLOSERS.has(o)) break;
      if (o === 40 || o === 91 || o === 123) {
        j = closeOf(t, j);
        if (op1(t, j) === 0) break;
      }
      j++;
    }
    return j;
  }

  value(i: number): PyValue {
    const t = this.t;
    let j = i;
    let v: PyValue;
    const k = t.kind[j];
    if (j >= t.count || k === NEWLINE) {
      this.pos = j;
      return OTHER;
    }
    if (k === STRING) {
      let s = '';
      let ok = true;
      const line = t.line[j];
      while (j < t.count && t.kind[j] === STRING) {
        const d = pyStringValue(t, j);
        if (d === undefined) ok = false;
        else s += d;
        j++;
      }
      v = ok ? { kind: 'str', value: s, line } : OTHER;
    } else if (k === NAME) {
      if (isName(t, j, 'None')) {
        v = NONE;
        j++;
      } else if (isName(t, j, 'lambda') || isName(t, j, 'not') || isName(t, j, 'await') || isName(t, j, 'yield')) {
        this.pos = this.skipExpr(j + 1);
        return OTHER;
      } else {
        const line = t.line[j];
        let name = tokText(t, j);
        j++;
        while (op1(t, j) === 46 && t.kind[j + 1] === NAME) {
          name += '.' + tokText(t, j + 1);
          j += 2;
        }
        v = { kind: 'name', name, line };
      }
    } else {
      const o = op1(t, j);
      if (o === 40 || o === 91 || o === 123) {
        v = this.collection(j);
        j = closeOf(t, j) + 1;
      } else {
        // Unary operators, numbers, `*` unpacking and the like: nothing a route is made of.
        this.pos = this.terminates(j) ? j : this.skipExpr(j + 1);
        return OTHER;
      }
    }
    for (;;) {
      const o = op1(t, j);
      if (o === 40) {
        const a = this.args(j);
        v = {
          kind: 'call',
          callee: v.kind === 'name' ? v.name : '',
          args: a.args,
          kwargs: a.kwargs,
          line: v.kind === 'name' ? v.line : t.line[j],
          close: a.close,
          star: a.star,
        };
        j = a.close + 1;
      } else if (o === 46 && t.kind[j + 1] === NAME) {
        v = v.kind === 'name' ? { kind: 'name', name: v.name + '.' + tokText(t, j + 1), line: v.line } : OTHER;
        j += 2;
      } else if (o === 91) {
        v = OTHER;
        j = closeOf(t, j) + 1;
      } else break;
    }
    if (!this.terminates(j)) {
      this.pos = this.skipExpr(j);
      return OTHER;
    }
    this.pos = j;
    return v;
  }

  private collection(open: number): PyValue {
    const t = this.t;
    const close = closeOf(t, open);
    const brace = op1(t, open) === 123;
    const paren = op1(t, open) === 40;
    const items: PyValue[] = [];
    const entries: Array<[PyValue, PyValue]> = [];
    let commas = 0;
    let j = open + 1;
    while (j < close) {
      const o = op1(t, j);
      if (o === 42 || isOp(t, j, '**')) return OTHER;
      const before = j;
      const v = this.value(j);
      j = this.pos;
      if (isName(t, j, 'for') || isName(t, j, 'async')) return OTHER;
      if (brace && op1(t, j) === 58) {
        const val = this.value(j + 1);
        j = this.pos;
        entries.push([v, val]);
      } else if (brace && entries.length > 0) {
        return OTHER;
      } else items.push(v);
      if (op1(t, j) === 44) {
        commas++;
        j++;
      } else if (j !== close) return OTHER;
      if (j === before) return OTHER;
    }
    if (brace) return entries.length > 0 || items.length === 0 ? { kind: 'dict', entries } : { kind: 'list', items };
    if (paren && commas === 0) return items.length === 1 ? items[0] : OTHER;
    return { kind: 'list', items };
  }

  args(open: number): PyArgs {
    const t = this.t;
    const close = closeOf(t, open);
    const args: PyValue[] = [];
    const kwargs = new Map<string, PyValue>();
    let star = false;
    let j = open + 1;
    while (j < close) {
      const before = j;
      if (t.kind[j] === NAME && op1(t, j + 1) === 61) {
        kwargs.set(tokText(t, j), this.value(j + 2));
        j = this.pos;
      } else if (op1(t, j) === 42 || isOp(t, j, '**')) {
        star = true;
        this.value(j + 1);
        j = this.pos;
      } else {
        const v = this.value(j);
        j = this.pos;
        if (isName(t, j, 'for') || isName(t, j, 'async')) {
          // A generator expression as the only argument: nothing static in it.
          args.push(OTHER);
          break;
        }
        args.push(v);
      }
      if (op1(t, j) === 44) j++;
      else if (j !== close) {
        j = this.skipExpr(j + 1);
        if (op1(t, j) === 44) j++;
      }
      if (j <= before) j = before + 1;
    }
    this.pos = close + 1;
    return { args, kwargs, star, close };
  }
}

/** A positional argument or its keyword form. */
export function argOf(call: { args: PyValue[]; kwargs: Map<string, PyValue> }, index: number, ...names: string[]): PyValue | undefined {
  for (const n of names) {
    const v = call.kwargs.get(n);
    if (v) return v;
  }
  return call.args[index];
}

/**
 * A list of static strings (upper-cased), undefined when absent or None, or null when any element
 * is not a literal.
 */
export function stringList(v: PyValue | undefined): string[] | undefined | null {
  if (!v || v.kind === 'none') return undefined;
  if (v.kind === 'str') return [v.value.toUpperCase()];
  if (v.kind !== 'list') return null;
  const out: string[] = [];
  for (const item of v.items) {
    if (item.kind !== 'str') return null;
    out.push(item.value.toUpperCase());
  }
  return out;
}

export function lastSegment(dotted: string): string {
  const k = dotted.lastIndexOf('.');
  return k < 0 ? dotted : dotted.slice(k + 1);
}

