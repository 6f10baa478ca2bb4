/**
 * A Python tokenizer that knows just enough of the language to never mistake the inside of a
 * string or comment for code: every string prefix, triple quotes, f-string replacement fields
 * (with the 3.12 rule that quotes may nest), comments, backslash continuations and brackets that
 * span lines. It produces logical lines (NEWLINE only outside brackets) and each line's indent.
 *
 * Tokens are kept in parallel typed arrays: a 10,000-line file has tens of thousands of tokens
 * and the detector runs on every edit, so no object is allocated per token.
 */
import { grownTo } from './grow';

export const NAME = 1;
export const NUMBER = 2;
export const STRING = 3;
export const OP = 4;
export const NEWLINE = 5;

/** First token of a logical line; `col` then holds the line's indentation. */
export const F_LINE_START = 1;
/** An f-string with at least one replacement field: its value is not known statically. */
export const F_DYNAMIC = 2;
export const F_BYTES = 4;
export const F_FSTRING = 8;
export const F_RAW = 16;
export const F_UNTERMINATED = 32;

export interface PyTokens {
  text: string;
  count: number;
  kind: Uint8Array;
  flags: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  line: Int32Array;
  endLine: Int32Array;
  col: Int32Array;
  /** For a bracket, the index of its partner; -1 when unbalanced. */
  match: Int32Array;
}

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}

function isIdentPart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c >= 128;
}

/** Result registers of `scanString`, to avoid returning an object per string. */
let scanLine = 0;
let scanDynamic = false;
let scanUnterminated = false;

function stringPrefixFlags(text: string, from: number, to: number): number {
  // Valid prefixes are one of r u b f t, or a two-letter pair of r with b, f or t, in any case.
  let flags = 0;
  let r = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k) | 32;
    if (c === 114) r++;
    else if (c === 98) flags |= F_BYTES;
    else if (c === 102 || c === 116) flags |= F_FSTRING;
    else if (c === 117) {
      if (to - from !== 1) return -1;
    } else return -1;
  }
  if (r > 1) return -1;
  if (to - from === 2 && (r !== 1 || flags === 0)) return -1;
  if ((flags & F_BYTES) !== 0 && (flags & F_FSTRING) !== 0) return -1;
  return r ? flags | F_RAW : flags;
}

/**
 * Skips an f-string replacement field starting after its `{`; returns the index after the closing
 * `}`, or the index of a newline that ends a single-quoted string early.
 */
function skipReplacementField(text: string, i: number, triple: boolean): number {
  const n = text.length;
  let depth = 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 123 || c === 40 || c === 91) {
      depth++;
      i++;
    } else if (c === 125 || c === 41 || c === 93) {
      depth--;
      i++;
      if (depth === 0) return i;
    } else if (c === 34 || c === 39) {
      i = scanString(text, i, scanLine, false);
    } else if (c === 10 || c === 13) {
      if (!triple) return i;
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      i++;
      scanLine++;
    } else i++;
  }
  return i;
}

/**
 * Scans a string body whose opening quote is at `i`; returns the index after the closing quote.
 * A single-quoted string that meets a newline stops before it, so one stray quote cannot swallow
 * the rest of the file.
 */
function scanString(text: string, i: number, line: number, fstring: boolean): number {
  const n = text.length;
  const q = text.charCodeAt(i);
  const triple = text.charCodeAt(i + 1) === q && text.charCodeAt(i + 2) === q;
  i += triple ? 3 : 1;
  let dynamic = false;
  scanLine = line;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === q) {
      if (!triple) {
        scanDynamic = dynamic;
        scanUnterminated = false;
        return i + 1;
      }
      if (text.charCodeAt(i + 1) === q && text.charCodeAt(i + 2) === q) {
        scanDynamic = dynamic;
        scanUnterminated = false;
        return i + 3;
      }
      i++;
    } else if (c === 92) {
      // Even in a raw string a backslash keeps the next quote from closing it.
      const d = text.charCodeAt(i + 1);
      if (d === 13) {
        i += text.charCodeAt(i + 2) === 10 ? 3 : 2;
        scanLine++;
      } else if (d === 10) {
        i += 2;
        scanLine++;
      } else i += 2;
    } else if (c === 10 || c === 13) {
      if (!triple) break;
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      i++;
      scanLine++;
    } else if (fstring && c === 123) {
      if (text.charCodeAt(i + 1) === 123) i += 2;
      else {
        dynamic = true;
        i = skipReplacementField(text, i + 1, triple);
      }
    } else i++;
  }
  scanDynamic = dynamic;
  scanUnterminated = true;
  return i > n ? n : i;
}

/** True when a physical line inside open brackets can only be the start of a new statement. */
function looksLikeStatementStart(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c === 64) return isIdentStart(text.charCodeAt(i + 1));
  let word: string | undefined;
  if (c === 100) word = 'def';
  else if (c === 99) word = 'class';
  else if (c === 97) word = 'async';
  if (!word || !text.startsWith(word, i)) return false;
  const after = text.charCodeAt(i + word.length);
  return after === 32 || after === 9;
}

export function tokenizePython(text: string): PyTokens {
  const n = text.length;
  // About one token per three characters in real code: sized to avoid regrowing in the common case.
  let cap = Math.max(256, Math.ceil(n / 3));
  let kind = new Uint8Array(cap);
  let flags = new Uint8Array(cap);
  let start = new Int32Array(cap);
  let end = new Int32Array(cap);
  let line = new Int32Array(cap);
  let endLine = new Int32Array(cap);
  let col = new Int32Array(cap);
  let count = 0;

  const grow = (): void => {
    cap *= 2;
    kind = grownTo(kind, cap);
    flags = grownTo(flags, cap);
    start = grownTo(start, cap);
    end = grownTo(end, cap);
    line = grownTo(line, cap);
    endLine = grownTo(endLine, cap);
    col = grownTo(col, cap);
  };

  const stack: number[] = [];
  const pairs: number[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let ln = 0;
  let lineStart = i;
  let logicalStart = true;
  let logicalIndent = 0;

  const emitNewline = (at: number): void => {
    if (count === cap) grow();
    kind[count] = NEWLINE;
    flags[count] = 0;
    start[count] = at;
    end[count] = at;
    line[count] = ln;
    endLine[count] = ln;
    col[count] = at - lineStart;
    count++;
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 12) {
      i++;
      continue;
    }
    if (c === 10 || c === 13) {
      if (stack.length === 0 && !logicalStart) {
        emitNewline(i);
        logicalStart = true;
      }
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
      ln++;
      lineStart = i;
      if (stack.length > 0) {
        // An unclosed bracket while the user types must not hide every route below it: a `def`,
        // `class` or decorator cannot occur inside brackets, so one at the statement's indent
        // closes the broken statement.
        let j = i;
        while (j < n && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9)) j++;
        if (j - i <= logicalIndent && looksLikeStatementStart(text, j)) {
          stack.length = 0;
          emitNewline(i);
          logicalStart = true;
        }
      }
      continue;
    }
    if (c === 35) {
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 10 || d === 13) break;
        i++;
      }
      continue;
    }
    if (c === 92) {
      const d = text.charCodeAt(i + 1);
      if (d === 10 || d === 13) {
        i += d === 13 && text.charCodeAt(i + 2) === 10 ? 3 : 2;
        ln++;
        lineStart = i;
        continue;
      }
      i++;
      continue;
    }

    if (count === cap) grow();
    const idx = count;
    let f = 0;
    if (logicalStart) {
      f = F_LINE_START;
      logicalStart = false;
      logicalIndent = i - lineStart;
    }
    start[idx] = i;
    line[idx] = ln;
    col[idx] = i - lineStart;

    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(text.charCodeAt(j))) j++;
      const q = text.charCodeAt(j);
      const pf = (q === 34 || q === 39) && j - i <= 2 ? stringPrefixFlags(text, i, j) : -1;
      if (pf >= 0) {
        const e = scanString(text, j, ln, (pf & F_FSTRING) !== 0);
        kind[idx] = STRING;
        f |= pf;
        if (scanDynamic) f |= F_DYNAMIC;
        if (scanUnterminated) f |= F_UNTERMINATED;
        ln = scanLine;
        i = e;
      } else {
        kind[idx] = NAME;
        i = j;
      }
    } else if ((c >= 48 && c <= 57) || (c === 46 && text.charCodeAt(i + 1) >= 48 && text.charCodeAt(i + 1) <= 57)) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (isIdentPart(d) || d === 46) j++;
        else if ((d === 43 || d === 45) && (text.charCodeAt(j - 1) | 32) === 101 && c !== 48) j++;
        else break;
      }
      kind[idx] = NUMBER;
      i = j;
    } else if (c === 34 || c === 39) {
      const e = scanString(text, i, ln, false);
      kind[idx] = STRING;
      if (scanUnterminated) f |= F_UNTERMINATED;
      ln = scanLine;
      i = e;
    } else {
      kind[idx] = OP;
      const c2 = text.charCodeAt(i + 1);
      let len = 1;
      if (c === 40 || c === 91 || c === 123) {
        stack.push(idx);
      } else if (c === 41 || c === 93 || c === 125) {
        if (stack.length > 0) {
          pairs.push(stack.pop() as number, idx);
        }
      } else if (c2 === 61 && (c === 61 || c === 33 || c === 60 || c === 62 || c === 43 || c === 45 || c === 42 || c === 47 || c === 37 || c === 38 || c === 124 || c === 94 || c === 64 || c === 58)) {
        len = 2;
      } else if (c === 45 && c2 === 62) {
        len = 2;
      } else if ((c === 42 || c === 47 || c === 60 || c === 62) && c2 === c) {
        len = text.charCodeAt(i + 2) === 61 ? 3 : 2;
      } else if (c === 46 && c2 === 46 && text.charCodeAt(i + 2) === 46) {
        len = 3;
      }
      i += len;
    }
    flags[idx] = f;
    end[idx] = i;
    endLine[idx] = ln;
    count++;
  }
  if (!logicalStart) emitNewline(n);

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
    endLine: endLine.subarray(0, count),
    col: col.subarray(0, count),
    match,
  };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
};

function decodeEscapes(s: string, unicode: boolean): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  let last = 0;
  let i = 0;
  while ((i = s.indexOf('\\', last)) >= 0) {
    out += s.slice(last, i);
    const c = s[i + 1];
    if (c === undefined) {
      out += '\\';
      last = i + 1;
      break;
    }
    if (c === '\n') {
      last = i + 2;
    } else if (c === '\r') {
      last = s[i + 2] === '\n' ? i + 3 : i + 2;
    } else if (SIMPLE_ESCAPES[c] !== undefined) {
      out += SIMPLE_ESCAPES[c];
      last = i + 2;
    } else if (c >= '0' && c <= '7') {
      let j = i + 1;
      while (j < i + 4 && s[j] >= '0' && s[j] <= '7') j++;
      out += String.fromCharCode(parseInt(s.slice(i + 1, j), 8));
      last = j;
    } else if (c === 'x' || (unicode && (c === 'u' || c === 'U'))) {
      const len = c === 'x' ? 2 : c === 'u' ? 4 : 8;
      const hex = s.slice(i + 2, i + 2 + len);
      if (hex.length === len && /^[0-9a-fA-F]+$/.test(hex)) {
        const cp = parseInt(hex, 16);
        out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
        last = i + 2 + len;
      } else {
        out += '\\' + c;
        last = i + 2;
      }
    } else if (unicode && c === 'N' && s[i + 2] === '{') {
      const close = s.indexOf('}', i + 3);
      // Character names need the Unicode database; a placeholder keeps the rest of the value intact.
      out += '\ufffd';
      last = close < 0 ? s.length : close + 1;
    } else {
      out += '\\' + c;
      last = i + 2;
    }
  }
  return out + s.slice(last);
}

/**
 * The value of a string token, or undefined when it is not a static text value (an f-string with
 * replacement fields, or bytes).
 */
export function pyStringValue(t: PyTokens, i: number): string | undefined {
  const f = t.flags[i];
  if ((f & (F_DYNAMIC | F_BYTES)) !== 0) return undefined;
  const text = t.text;
  let s = t.start[i];
  let e = t.end[i];
  let q = text.charCodeAt(s);
  while (q !== 34 && q !== 39) q = text.charCodeAt(++s);
  const triple = text.charCodeAt(s + 1) === q && text.charCodeAt(s + 2) === q && e - s >= 6;
  const ql = triple ? 3 : 1;
  s += ql;
  if ((f & F_UNTERMINATED) === 0) e -= ql;
  if (e < s) e = s;
  let body = text.slice(s, e);
  if ((f & F_FSTRING) !== 0) body = body.replace(/\{\{/g, '{').replace(/\}\}/g, '}');
  return (f & F_RAW) !== 0 ? body : decodeEscapes(body, true);
}

export function tokText(t: PyTokens, i: number): string {
  return t.text.slice(t.start[i], t.end[i]);
}

/** The character code of a one-character operator token, else 0. */
export function op1(t: PyTokens, i: number): number {
  if (i >= t.count || t.kind[i] !== OP || t.end[i] - t.start[i] !== 1) return 0;
  return t.text.charCodeAt(t.start[i]);
}

export function isOp(t: PyTokens, i: number, op: string): boolean {
  return i < t.count && t.kind[i] === OP && t.end[i] - t.start[i] === op.length && t.text.startsWith(op, t.start[i]);
}

export function isName(t: PyTokens, i: number, word: string): boolean {
  return i < t.count && t.kind[i] === NAME && t.end[i] - t.start[i] === word.length && t.text.startsWith(word, t.start[i]);
}

/** The index of the bracket closing the one at `i`, or of the end of the logical line when it is unbalanced. */
export function closeOf(t: PyTokens, i: number): number {
  const m = t.match[i];
  if (m > i) return m;
  let j = i + 1;
  while (j < t.count && t.kind[j] !== NEWLINE) j++;
  return j;
}
