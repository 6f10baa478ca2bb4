/**
 * What a client span called, read from either generation of the semantic conventions: a database
 * (statement, system, namespace) or an HTTP endpoint (method, host, path template).
 */
import type { AttrValue, Span } from '../model';

export type CallKind = 'db' | 'http';

export interface CallInfo {
  kind: CallKind;
  /** The destination by name: `postgresql inventory`, `redis`, `payments.internal:8443`. */
  target: string;
  /** What was asked, normalized so repeats compare equal: the statement, or `GET /items/{id}`. */
  operation: string;
  /** `db.system.name` for databases. */
  system?: string;
}

function str(v: AttrValue | undefined): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

const normalized = new Map<string, string>();

/** Statement text with literals the agent or an SDK left in replaced, and space folded. */
export function normalizeStatement(text: string): string {
  let n = normalized.get(text);
  if (n === undefined) {
    // Applications repeat a small set of statements: remember the answers, within bounds.
    if (normalized.size >= 4096) normalized.clear();
    normalized.set(text, (n = normalizeUncached(text)));
  }
  return n;
}

function normalizeUncached(text: string): string {
  return text
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\b\d+(?:\.\d+)?\b/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}

/** A URL path with the parts that vary per call (numbers, UUIDs, long hex) as `{id}`. */
export function pathTemplate(path: string): string {
  return path
    .split('/')
    .map((seg) => (/^\d+$/.test(seg) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg) || /^[0-9a-f]{16,}$/i.test(seg) ? '{id}' : seg))
    .join('/');
}

const calls = new WeakMap<Span, CallInfo | null>();

/** The database or HTTP call a span stands for, or undefined for any other span. */
export function callOf(span: Span): CallInfo | undefined {
  let c = calls.get(span);
  if (c === undefined) calls.set(span, (c = readCall(span) ?? null));
  return c ?? undefined;
}

function readCall(span: Span): CallInfo | undefined {
  const a = span.attributes;
  const system = str(a['db.system.name']) ?? str(a['db.system']);
  if (system) {
    const namespace = str(a['db.namespace']) ?? str(a['db.name']);
    const text = str(a['db.query.text']) ?? str(a['db.statement']);
    const op = text ? normalizeStatement(text) : [str(a['db.operation.name']) ?? str(a['db.operation']), str(a['db.collection.name']) ?? str(a['db.sql.table'])].filter(Boolean).join(' ') || span.name;
    return { kind: 'db', system, target: namespace ? `${system} ${namespace}` : system, operation: op };
  }
  if (span.kind !== 'client') return undefined;
  const method = (str(a['http.request.method']) ?? str(a['http.method']))?.toUpperCase();
  if (!method) return undefined;
  const full = str(a['url.full']) ?? str(a['http.url']);
  let host = str(a['server.address']) ?? str(a['net.peer.name']);
  let port: AttrValue | undefined = a['server.port'] ?? a['net.peer.port'];
  let path = str(a['url.path']);
  if (full) {
    try {
      const u = new URL(full);
      host ??= u.hostname;
      port ??= u.port || undefined;
      path ??= u.pathname;
    } catch {
      // an unparseable URL still has a method and maybe a host
    }
  }
  const target = host ? (port !== undefined && port !== null && port !== '' ? `${host}:${String(port)}` : host) : 'unknown host';
  return { kind: 'http', target, operation: `${method} ${path ? pathTemplate(path) : '/'}` };
}
