import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Cumulative state of an app instrumented with prometheus-fastapi-instrumentator, written the way
 * prometheus_client writes it (classic text format, sorted labels, `_created` gauges).
 */
export class InstrumentatorApp {
  readonly bounds: number[];
  private readonly hist = new Map<string, { handler: string; method: string; cum: number[]; sum: number; created: number }>();
  private readonly reqs = new Map<string, { handler: string; method: string; status: string; value: number; created: number }>();

  constructor(bounds = [0.1, 0.5, 1]) {
    this.bounds = bounds;
  }

  observe(method: string, handler: string, seconds: number, status = '2xx', n = 1, createdSec = 1_700_000_000): void {
    const hk = `${handler}|${method}`;
    let h = this.hist.get(hk);
    if (!h) this.hist.set(hk, (h = { handler, method, cum: new Array(this.bounds.length + 1).fill(0), sum: 0, created: createdSec }));
    for (let i = 0; i <= this.bounds.length; i++) if (i === this.bounds.length || seconds <= this.bounds[i]) h.cum[i] += n;
    h.sum += seconds * n;
    const ck = `${handler}|${method}|${status}`;
    let c = this.reqs.get(ck);
    if (!c) this.reqs.set(ck, (c = { handler, method, status, value: 0, created: createdSec }));
    c.value += n;
  }

  /** Forgets everything, as a restarted process would. */
  restart(): void {
    this.hist.clear();
    this.reqs.clear();
  }

  exposition(): string {
    const out: string[] = [];
    out.push('# HELP http_requests_total Total number of requests by method, status and handler.', '# TYPE http_requests_total counter');
    for (const c of this.reqs.values()) out.push(`http_requests_total{handler="${c.handler}",method="${c.method}",status="${c.status}"} ${fmt(c.value)}`);
    out.push('# HELP http_requests_created Total number of requests by method, status and handler.', '# TYPE http_requests_created gauge');
    for (const c of this.reqs.values()) out.push(`http_requests_created{handler="${c.handler}",method="${c.method}",status="${c.status}"} ${c.created}`);
    out.push('# HELP http_request_duration_seconds Latency with only few buckets by handler.', '# TYPE http_request_duration_seconds histogram');
    for (const h of this.hist.values()) {
      for (let i = 0; i <= this.bounds.length; i++) {
        const le = i === this.bounds.length ? '+Inf' : fmt(this.bounds[i]);
        out.push(`http_request_duration_seconds_bucket{handler="${h.handler}",le="${le}",method="${h.method}"} ${fmt(h.cum[i])}`);
      }
      out.push(`http_request_duration_seconds_count{handler="${h.handler}",method="${h.method}"} ${fmt(h.cum[this.bounds.length])}`);
      out.push(`http_request_duration_seconds_sum{handler="${h.handler}",method="${h.method}"} ${h.sum}`);
    }
    return out.join('\n') + '\n';
  }
}

/** prometheus_client writes floats with a decimal point. */
function fmt(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** A tiny HTTP server answering every request with `handler`. */
export async function serve(handler: http.RequestListener): Promise<{ url: string; port: number; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

