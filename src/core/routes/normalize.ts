/**
 * One spelling for every framework's route templates, so that a template from telemetry (written
 * by the framework at run time) and one found in the source compare equal:
 *
 *   FastAPI/Starlette `{id}` `{p:path}`, Flask `<id>` `<int:id>`, Django `<slug:s>`,
 *   Express/Fastify/NestJS `:id` `:id?` `:id(\d+)` `*`, Django `re_path` groups `(?P<y>[0-9]{4})`
 *   all become `{}`; duplicate slashes collapse; a leading slash is added; a trailing slash is
 *   dropped except for the root.
 *
 * The trailing slash is dropped because telemetry and source agree on it for a given app, while a
 * route and its slash twin are almost never two different handlers; keeping the distinction would
 * only make Django's `items/` fail to meet an instrumentation that reports `/items`.
 */

const BRACE_PARAM = /^[A-Za-z_][\w]*(?::[^{}]*)?$/;
const ANGLE_PARAM = /^(?:[A-Za-z_]\w*(?:\([^()]*\))?:)?[A-Za-z_]\w*$/;

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '$';
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}

/** Index after the `)` balancing the `(` at `i`, honouring backslash escapes. */
function skipGroup(s: string, i: number): number {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (c === '\\') j++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return j + 1;
  }
  return s.length;
}

function looksLikeRegex(s: string): boolean {
  return s.startsWith('^') || s.endsWith('$') || s.includes('(?P<');
}

function regexToTemplate(s: string): string {
  if (s.startsWith('^')) s = s.slice(1);
  if (s.endsWith('\\Z') || s.endsWith('\\z')) s = s.slice(0, -2);
  else if (s.endsWith('$') && !s.endsWith('\\$')) s = s.slice(0, -1);
  if (s.endsWith('/?')) s = s.slice(0, -2);
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      const d = s[i + 1];
      out += /[./\-_~]/.test(d) ? d : c + d;
      i += 2;
    } else if (c === '(' && s[i + 1] === '?' && s[i + 2] !== 'P') {
      out += c;
      i++;
    } else if (c === '(') {
      out += '{}';
      i = skipGroup(s, i);
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function placeholders(s: string): string {
  let out = '';
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i];
    const prev = out.length > 0 ? out[out.length - 1] : '/';
    const atBoundary = prev === '/' || prev === '-' || prev === '.' || prev === '~';
    if (c === '{') {
      const close = s.indexOf('}', i + 1);
      const inner = close < 0 ? '' : s.slice(i + 1, close);
      if (close > 0 && (inner === '' || BRACE_PARAM.test(inner))) {
        out += '{}';
        i = close + 1;
        continue;
      }
    } else if (c === '<') {
      const close = s.indexOf('>', i + 1);
      if (close > 0 && ANGLE_PARAM.test(s.slice(i + 1, close))) {
        out += '{}';
        i = close + 1;
        continue;
      }
    } else if (c === ':' && s[i + 1] === ':') {
      // Fastify's escape for a literal colon.
      out += ':';
      i += 2;
      continue;
    } else if (c === ':' && atBoundary && i + 1 < n && isIdentStart(s[i + 1])) {
      let j = i + 2;
      while (j < n && isIdentPart(s[j])) j++;
      if (s[j] === '(') j = skipGroup(s, j);
      if (s[j] === '?' || s[j] === '*' || s[j] === '+') j++;
      out += '{}';
      i = j;
      continue;
    } else if (c === '*' && (prev === '/' || out.length === 0)) {
      let j = i + 1;
      while (j < n && isIdentPart(s[j])) j++;
      out += '{}';
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

export function normalizeRoute(template: string): string {
  let s = template.trim();
  // A regex include() prefix can meet a path() converter in one Django route, so both passes run.
  s = placeholders(looksLikeRegex(s) ? regexToTemplate(s) : s);
  s = s.replace(/\/{2,}/g, '/');
  if (!s.startsWith('/')) s = '/' + s;
  if (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** Upper-case method; `*` for an absent method or semantic conventions' `_OTHER`. */
export function normalizeMethod(method: string | undefined): string {
  if (!method) return '*';
  const m = method.trim().toUpperCase();
  return m === '' || m === '_OTHER' ? '*' : m;
}
