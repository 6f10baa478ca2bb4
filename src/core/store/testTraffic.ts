/**
 * Requests made by test clients while a test runs (a server span with `test.case.name`, see
 * docs/protocol.md): kept apart from the server's route figures, summed per test instead. Bounded:
 * at most MAX_TESTS tests (the one seen least recently goes) and MAX_ROUTES routes per test.
 */
import type { Span } from '../model';

/** The span attribute that marks test traffic and names the test (pytest's node id). */
export const TEST_ID_ATTRIBUTE = 'test.case.name';
export const MAX_TESTS = 2000;
const MAX_ROUTES = 32;
const MAX_TEST_ID = 512;

export interface TestSummary {
  /** The test's id as the agent sent it (pytest: `tests/test_api.py::test_create_order`). */
  id: string;
  service: string;
  requests: number;
  errors: number;
  slowestMs: number;
  /** The trace of the slowest request. */
  slowestTraceId: string;
  firstSeenMs: number;
  lastSeenMs: number;
  /** `METHOD route` of the routes the test called, in the order first called. */
  routes: string[];
}

/** The test id of a span, or undefined when it is not test traffic. */
export function testIdOf(span: Span): string | undefined {
  const id = span.attributes[TEST_ID_ATTRIBUTE];
  return typeof id === 'string' && id !== '' ? id.slice(0, MAX_TEST_ID) : undefined;
}

export class TestTraffic {
  private readonly tests = new Map<string, TestSummary>();
  /** Tests forgotten to keep the bound. */
  forgotten = 0;

  record(id: string, span: Span, durationMs: number, error: boolean, received: number): void {
    const service = span.resource.serviceName;
    const key = `${service}\u0000${id}`;
    let t = this.tests.get(key);
    if (t) {
      this.tests.delete(key);
    } else {
      if (this.tests.size >= MAX_TESTS) {
        this.tests.delete(this.tests.keys().next().value as string);
        this.forgotten++;
      }
      t = { id, service, requests: 0, errors: 0, slowestMs: 0, slowestTraceId: span.traceId, firstSeenMs: received, lastSeenMs: received, routes: [] };
    }
    // Most recently seen last, so the first key is the one to forget.
    this.tests.set(key, t);
    t.requests++;
    if (error) t.errors++;
    if (durationMs >= t.slowestMs) {
      t.slowestMs = durationMs;
      t.slowestTraceId = span.traceId;
    }
    t.lastSeenMs = Math.max(t.lastSeenMs, received);
    const route = span.http?.route ? `${span.http.method} ${span.http.route}` : undefined;
    if (route && t.routes.length < MAX_ROUTES && !t.routes.includes(route)) t.routes.push(route);
  }

  /** Every test, most recently seen first; only `service`'s when given. */
  summaries(service?: string): TestSummary[] {
    const out: TestSummary[] = [];
    for (const t of this.tests.values()) if (!service || t.service === service) out.push({ ...t, routes: [...t.routes] });
    return out.reverse();
  }

  get size(): number {
    return this.tests.size;
  }

  clear(): void {
    this.tests.clear();
  }
}
