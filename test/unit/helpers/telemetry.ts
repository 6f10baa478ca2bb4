import { randomBytes } from 'node:crypto';
import type { Resource, Span } from '../../../src/core/model';

export const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

export function resource(serviceName = 'orders-api'): Resource {
  return { serviceName, attributes: { 'service.name': serviceName } };
}

/** A server span for a route, as the native decoder or OTLP mapping would produce it. */
export function serverSpan(opts: { method?: string; route?: string; durationMs?: number; status?: number; service?: string; startMs?: number } = {}): Span {
  const start = opts.startMs ?? Date.now() - (opts.durationMs ?? 10);
  const method = opts.method ?? 'GET';
  const route = opts.route ?? '/items/{item_id}';
  return {
    traceId: hex(16),
    spanId: hex(8),
    name: `${method} ${route}`,
    kind: 'server',
    startMs: start,
    endMs: start + (opts.durationMs ?? 10),
    status: (opts.status ?? 200) >= 500 ? 'error' : 'unset',
    attributes: { 'http.request.method': method, 'http.route': route, 'http.response.status_code': opts.status ?? 200 },
    events: [],
    links: [],
    resource: resource(opts.service),
    http: { method, route, statusCode: opts.status ?? 200 },
  };
}

/** A native-protocol span object (docs/protocol.md). */
export function nativeSpan(opts: { method?: string; route?: string; durationMs?: number; status?: number; line?: number } = {}): Record<string, unknown> {
  const start = Date.now() - (opts.durationMs ?? 10);
  const method = opts.method ?? 'GET';
  const route = opts.route ?? '/items/{item_id}';
  return {
    traceId: hex(16),
    spanId: hex(8),
    name: `${method} ${route}`,
    kind: 'server',
    startMs: start,
    endMs: start + (opts.durationMs ?? 10),
    status: (opts.status ?? 200) >= 500 ? 'error' : 'unset',
    attributes: {
      'http.request.method': method,
      'http.route': route,
      'http.response.status_code': opts.status ?? 200,
      'code.file.path': '/srv/app/main.py',
      'code.line.number': opts.line ?? 12,
      'code.function.name': 'main.read_item',
    },
  };
}
