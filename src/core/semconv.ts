/**
 * Semantic-convention resolution at the edge: both generations of the HTTP and code.* attribute
 * names map to one shape, so nothing downstream cares which one a sender used.
 */
import type { Attributes, AttrValue, CodeLocation, ExceptionInfo, HttpInfo, SpanEvent, StackFrame } from './model';

function str(v: AttrValue | undefined): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  return undefined;
}

function num(v: AttrValue | undefined): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * HTTP facts from a span's attributes (stable names first, then the older ones). The span name is
 * the fallback for the route: `{method} {route}` as the conventions name server spans.
 */
export function resolveHttp(attrs: Attributes, spanName?: string): HttpInfo | undefined {
  let method = str(attrs['http.request.method']) ?? str(attrs['http.method']);
  let route = str(attrs['http.route']);
  const statusCode = num(attrs['http.response.status_code']) ?? num(attrs['http.status_code']);
  const path = str(attrs['url.path']) ?? pathOfTarget(str(attrs['http.target']));
  if (spanName) {
    const m = /^([A-Z]+) (\/\S*)$/.exec(spanName);
    if (m && METHODS.has(m[1])) {
      method ??= m[1];
      if (!route && (!method || method === m[1])) route = m[2];
    }
  }
  if (!method) return undefined;
  method = method.toUpperCase();
  if (method === '_OTHER') method = 'OTHER';
  const info: HttpInfo = { method };
  if (route) info.route = route;
  if (statusCode !== undefined) info.statusCode = statusCode;
  if (path) info.path = path;
  return info;
}

function pathOfTarget(target: string | undefined): string | undefined {
  if (!target) return undefined;
  const q = target.indexOf('?');
  return q >= 0 ? target.slice(0, q) : target;
}

/** The handler's code location (stable `code.file.path` etc., or the deprecated `code.filepath` etc.). */
export function resolveCode(attrs: Attributes): CodeLocation | undefined {
  const file = str(attrs['code.file.path']) ?? str(attrs['code.filepath']);
  if (!file) return undefined;
  const line = num(attrs['code.line.number']) ?? num(attrs['code.lineno']) ?? 0;
  let fn = str(attrs['code.function.name']);
  if (!fn) {
    const f = str(attrs['code.function']);
    const ns = str(attrs['code.namespace']);
    fn = f && ns ? `${ns}.${f}` : f ?? '';
  }
  return { file, line: Math.max(0, Math.trunc(line)), function: fn };
}

/**
 * Frames from a Python or JavaScript stack trace text. Python tracebacks list the innermost frame
 * last; V8 stacks list it first, so those are reversed to keep one order (innermost last).
 */
export function parseStacktrace(text: string): StackFrame[] {
  const frames: StackFrame[] = [];
  const py = /^\s*File "([^"]+)", line (\d+), in (.+)$/;
  const v8 = /^\s*at (?:(.+?) \()?(.+?):(\d+):\d+\)?$/;
  let sawV8 = false;
  for (const line of text.split('\n')) {
    let m = py.exec(line);
    if (m) {
      frames.push({ file: m[1], line: Number(m[2]), function: m[3].trim() });
      continue;
    }
    m = v8.exec(line);
    if (m) {
      sawV8 = true;
      frames.push({ file: m[2], line: Number(m[3]), function: m[1] ?? '<anonymous>' });
    }
  }
  return sawV8 ? frames.reverse() : frames;
}

/** Exception facts from `exception.*` attributes (span events and log records carry the same names). */
export function resolveException(attrs: Attributes): ExceptionInfo | undefined {
  const type = str(attrs['exception.type']);
  const message = str(attrs['exception.message']);
  if (!type && !message) return undefined;
  const stacktrace = str(attrs['exception.stacktrace']);
  return {
    type: type ?? 'Exception',
    message: message ?? '',
    frames: stacktrace ? parseStacktrace(stacktrace) : [],
    ...(stacktrace ? { stacktrace } : {}),
  };
}

/** The first `exception` event of a span, resolved. */
export function exceptionFromEvents(events: SpanEvent[]): ExceptionInfo | undefined {
  for (const e of events) {
    if (e.name === 'exception') {
      const ex = resolveException(e.attributes);
      if (ex) return ex;
    }
  }
  return undefined;
}

/** Server spans are errors only for 5xx (client errors are the client's). */
export function isServerError(statusCode: number | undefined): boolean {
  return statusCode !== undefined && statusCode >= 500;
}
