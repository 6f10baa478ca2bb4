/**
 * A JavaScript/TypeScript tokenizer sufficient to find route registrations without being fooled
 * by strings, template literals (substitutions nest), comments or regular expression literals.
 * A regex and a division are told apart by the previous token, which is right for real code
 * except for contrived cases such as a regex literal directly after a block's closing brace.
 */
import { grownTo } from './grow';

export const J_NAME = 1;
export const J_NUMBER = 2;
export const J_STRING = 3;
export const J_TEMPLATE = 4;
export const J_REGEX = 5;
export const J_PUNCT = 6;

/** A template literal with `${}` substitutions: not a static value. */
export const JF_DYNAMIC = 1;
export const JF_UNTERMINATED = 2;

export interface JsTokens {
  text: string;
  count: number;
  kind: Uint8Array;
  flags: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  line: Int32Array;
  match: Int32Array;
}

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36 || c === 92 || c >= 128;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57);
}

/** Keywords after which a `/` starts a regex literal; compared in place to avoid slicing every identifier. */
const REGEX_AFTER_WORD: string[][] = [];
for (const w of ['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']) {
  (REGEX_AFTER_WORD[w.length] ??= []).push(w);
}

function regexMayFollow(text: string, i: number, len: number): boolean {
  const words = REGEX_AFTER_WORD[len];
  if (!words) return false;
  for (const w of words) if (text.startsWith(w, i)) return true;
  return false;
}

let scanLine = 0;
let scanDynamic = false;
let scanUnterminated = false;

function scanQuoted(text: string, i: number): number {
  const n = text.length;
  const q = text.charCodeAt(i);
  i++;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === q) {
      scanUnterminated = false;
      return i + 1;
    }
    if (c === 92) {
      const d = text.charCodeAt(i + 1);
      if (d === 10) scanLine++;
      else if (d === 13) {
        scanLine++;
        if (text.charCodeAt(i + 2) === 10) i++;
      }
      i += 2;
      continue;
    }
    if (c === 10 || c === 13) break;
    i++;
  }
  scanUnterminated = true;
  return Math.min(i, n);
}

function skipComment(text: string, i: number): number {
  const n = text.length;
  if (text.charCodeAt(i + 1) === 47) {
    while (i < n && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++;
    return i;
  }
  i += 2;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 42 && text.charCodeAt(i + 1) === 47) return i + 2;
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) scanLine++;
    i++;
  }
  return n;
}

/** Skips the code of a `${...}` substitution that starts at `i`; returns the index after its `}`. */
function skipSubstitution(text: string, i: number): number {
  const n = text.length;
  let depth = 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 123) {
      depth++;
      i++;
    } else if (c === 125) {
      i++;
      if (--depth === 0) return i;
    } else if (c === 34 || c === 39) {
      i = scanQuoted(text, i);
    } else if (c === 96) {
      i = scanTemplate(text, i);
    } else if (c === 47 && (text.charCodeAt(i + 1) === 47 || text.charCodeAt(i + 1) === 42)) {
      i = skipComment(text, i);
    } else {
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) scanLine++;
      i++;
    }
  }
  return n;
}

function scanTemplate(text: string, i: number): number {
  const n = text.length;
  let dynamic = false;
  i++;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 96) {
      scanDynamic = dynamic;
      scanUnterminated = false;
      return i + 1;
    }
    if (c === 92) {
      const d = text.charCodeAt(i + 1);
      if (d === 10 || (d === 13 && text.charCodeAt(i + 2) !== 10)) scanLine++;
      i += 2;
      continue;
    }
    if (c === 36 && text.charCodeAt(i + 1) === 123) {
      dynamic = true;
      i = skipSubstitution(text, i + 2);
      continue;
    }
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) scanLine++;
    i++;
  }
  scanDynamic = dynamic;
  scanUnterminated = true;
  return n;
}

function scanRegex(text: string, i: number): number {
  const n = text.length;
  let inClass = false;
  i++;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
    if (c === 92) i += 2;
    else if (c === 91) {
      inClass = true;
      i++;
    } else if (c === 93) {
      inClass = false;
      i++;
    } else if (c === 47 && !inClass) {
      i++;
      while (i < n && isIdentPart(text.charCodeAt(i))) i++;
      return i;
    } else i++;
  }
  return n;
}

export function tokenizeJs(text: string): JsTokens {
  const n = text.length;
  // About one token per three characters in real code: sized to avoid regrowing in the common case.
  let cap = Math.max(256, Math.ceil(n / 3));
  let kind = new Uint8Array(cap);
  let flags = new Uint8Array(cap);
  let start = new Int32Array(cap);
  let end = new Int32Array(cap);
  let line = new Int32Array(cap);
  let count = 0;
  const grow = (): void => {
    cap *= 2;
    kind = grownTo(kind, cap);
    flags = grownTo(flags, cap);
    start = grownTo(start, cap);
    end = grownTo(end, cap);
    line = grownTo(line, cap);
  };
  const stack: number[] = [];
  const pairs: number[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (text.startsWith('#!', i)) while (i < n && text.charCodeAt(i) !== 10) i++;
  scanLine = 0;
  let regexOk = true;

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      scanLine++;
      i++;
      continue;
    }
    if (c === 13) {
      if (text.charCodeAt(i + 1) !== 10) scanLine++;
      i++;
      continue;
    }
    if (c === 32 || c === 9 || c === 11 || c === 12 || c === 160 || c === 0xfeff) {
      i++;
      continue;
    }
    if (c === 0x2028 || c === 0x2029) {
      scanLine++;
      i++;
      continue;
    }
    if (c === 47) {
      const d = text.charCodeAt(i + 1);
      if (d === 47 || d === 42) {
        i = skipComment(text, i);
        continue;
      }
    }
    if (count === cap) grow();
    const idx = count;
    start[idx] = i;
    line[idx] = scanLine;
    let f = 0;
    if (isIdentStart(c) || (c === 35 && isIdentStart(text.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < n && isIdentPart(text.charCodeAt(j))) j++;
      kind[idx] = J_NAME;
      regexOk = regexMayFollow(text, i, j - i);
      i = j;
    } else if ((c >= 48 && c <= 57) || (c === 46 && text.charCodeAt(i + 1) >= 48 && text.charCodeAt(i + 1) <= 57)) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (isIdentPart(d) || d === 46) j++;
        else if ((d === 43 || d === 45) && (text.charCodeAt(j - 1) | 32) === 101 && c !== 48) j++;
        else break;
      }
      kind[idx] = J_NUMBER;
      regexOk = false;
      i = j;
    } else if (c === 34 || c === 39) {
      i = scanQuoted(text, i);
      kind[idx] = J_STRING;
      if (scanUnterminated) f |= JF_UNTERMINATED;
      regexOk = false;
    } else if (c === 96) {
      i = scanTemplate(text, i);
      kind[idx] = J_TEMPLATE;
      if (scanDynamic) f |= JF_DYNAMIC;
      if (scanUnterminated) f |= JF_UNTERMINATED;
      regexOk = false;
    } else if (c === 47 && regexOk) {
      i = scanRegex(text, i);
      kind[idx] = J_REGEX;
      regexOk = false;
    } else {
      kind[idx] = J_PUNCT;
      const c2 = text.charCodeAt(i + 1);
      let len = 1;
      if (c === 40 || c === 91 || c === 123) stack.push(idx);
      else if (c === 41 || c === 93 || c === 125) {
        // Pop to the matching opener so that one stray bracket does not unbalance the rest.
        const want = c === 41 ? 40 : c === 93 ? 91 : 123;
        let k = stack.length - 1;
        while (k >= 0 && text.charCodeAt(start[stack[k]]) !== want) k--;
        if (k >= 0) {
          pairs.push(stack[k], idx);
          if (k === stack.length - 1) stack.pop();
          else stack.length = k;
        }
      } else if (c === 61 && c2 === 62) len = 2;
      else if (c === 46 && c2 === 46 && text.charCodeAt(i + 2) === 46) len = 3;
      else if (c === 63 && c2 === 46 && !(text.charCodeAt(i + 2) >= 48 && text.charCodeAt(i + 2) <= 57)) len = 2;
      else if (c2 === 61 && (c === 61 || c === 33)) len = text.charCodeAt(i + 2) === 61 ? 3 : 2;
      else if (c2 === 61 && (c === 43 || c === 45 || c === 42 || c === 47 || c === 37 || c === 38 || c === 124 || c === 94 || c === 60)) len = 2;
      else if ((c === 38 || c === 124 || c === 63 || c === 43 || c === 45 || c === 42) && c2 === c) len = text.charCodeAt(i + 2) === 61 ? 3 : 2;
      regexOk = !(c === 41 || c === 93 || c === 125) && !((c === 43 || c === 45) && c2 === c);
      i += len;
    }
    flags[idx] = f;
    end[idx] = i;
    count++;
  }
  const match = new Int32Array(count).fill(-1);
  for (let k = 0; k < pairs.length; k += 2) {
    match[pairs[k]] = pairs[k + 1];
    match[pairs[k + 1]] = pairs[k];
  }
  return {
    text,
    count,
    kind: kind.subarray(0, count),
    flags: flags.subarray(0, count),
    start: start.subarray(0, count),
    end: end.subarray(0, count),
    line: line.subarray(0, count),
    match,
  };
}

export function jsText(t: JsTokens, i: number): string {
  return t.text.slice(t.start[i], t.end[i]);
}

/** Character code of a one-character punctuator, else 0. */
export function jp(t: JsTokens, i: number): number {
  if (i < 0 || i >= t.count || t.kind[i] !== J_PUNCT || t.end[i] - t.start[i] !== 1) return 0;
  return t.text.charCodeAt(t.start[i]);
}

export function jsIs(t: JsTokens, i: number, s: string): boolean {
  return i >= 0 && i < t.count && t.end[i] - t.start[i] === s.length && t.text.startsWith(s, t.start[i]) && (t.kind[i] === J_NAME || t.kind[i] === J_PUNCT);
}

export function jsClose(t: JsTokens, i: number): number {
  const m = t.match[i];
  return m > i ? m : t.count;
}

/** The value of a string or substitution-free template token; undefined otherwise. */
export function jsStringValue(t: JsTokens, i: number): string | undefined {
  const k = t.kind[i];
  if ((k !== J_STRING && k !== J_TEMPLATE) || (t.flags[i] & JF_DYNAMIC) !== 0) return undefined;
  const s = t.start[i] + 1;
  const e = (t.flags[i] & JF_UNTERMINATED) !== 0 ? t.end[i] : t.end[i] - 1;
  const body = t.text.slice(s, Math.max(s, e));
  if (body.indexOf('\\') < 0) return body;
  return body.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r\n|[\s\S])/g, (_m, e1: string) => {
    switch (e1[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        return '\0';
      case '\n':
      case '\r':
      case '\u2028':
      case '\u2029':
        return '';
      case 'x':
        return String.fromCharCode(parseInt(e1.slice(1), 16));
      case 'u': {
        const cp = parseInt(e1[1] === '{' ? e1.slice(2, -1) : e1.slice(1), 16);
        return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }
      default:
        return e1;
    }
  });
}
