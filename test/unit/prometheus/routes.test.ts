import * as assert from 'node:assert/strict';
import type { HistogramValue, MetricPoint } from '../../../src/core/model';
import { ExpositionTracker } from '../../../src/core/prometheus/convert';
import { parseExposition } from '../../../src/core/prometheus/parser';
import { histogramValueQuantile, mergeHistograms } from '../../../src/core/prometheus/quantile';
import { isServerErrorStatus, RouteDeriver } from '../../../src/core/prometheus/routes';
import { TelemetryStore } from '../../../src/core/store/store';
import { resource, serverSpan } from '../helpers/telemetry';
import { InstrumentatorApp } from './helpers';

const T0 = 1_700_000_000_000;

/** Scrapes `texts` in turn (5 s apart) through tracker + deriver into a store. */
function pipeline(service = 'shop') {
  let now = T0;
  const store = new TelemetryStore({}, { now: () => now });
  const tracker = new ExpositionTracker();
  const deriver = new RouteDeriver();
  let scrapes = 0;
  const deltas: MetricPoint[] = [];
  return {
    store,
    deltas,
    scrape(text: string) {
      const { points } = tracker.convert(parseExposition(text), { resource: resource(service), scrapeMs: now, hasBaseline: scrapes > 0, watchStartMs: T0 });
      deltas.push(...points);
      store.addMetrics(points);
      for (const r of deriver.derive(points)) store.recordRouteHistogram(r.key, r.observations, r.buckets);
      scrapes++;
      now += 5000;
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('route statistics from HTTP latency histograms', () => {
  it('feeds prometheus-fastapi-instrumentator routes with counts, errors and latency', () => {
    const app = new InstrumentatorApp();
    const p = pipeline();
    app.observe('GET', '/items/{item_id}', 0.05, '2xx', 3);
    p.scrape(app.exposition()); // baseline: history before watching is not "now"
    assert.deepEqual(p.store.routeSummaries(60), []);
    app.observe('GET', '/items/{item_id}', 0.05, '2xx', 60);
    app.observe('GET', '/items/{item_id}', 0.3, '2xx', 30);
    app.observe('GET', '/items/{item_id}', 0.8, '5xx', 10);
    app.observe('POST', '/items', 0.2, '2xx', 5);
    app.observe('GET', 'none', 0.01, '4xx', 7); // unmatched paths: no route
    p.scrape(app.exposition());
    const rows = p.store.routeSummaries(60);
    assert.deepEqual(
      rows.map((r) => [r.method, r.route, r.count, r.source]),
      [
        ['GET', '/items/{item_id}', 100, 'metrics'],
        ['POST', '/items', 5, 'metrics'],
      ],
    );
    const get = rows[0];
    assert.equal(get.service, 'shop');
    // 5xx share from http_requests_total of the same scrape.
    assert.ok(Math.abs(get.errorRate - 0.1) < 1e-9, `error rate ${get.errorRate}`);
    // PromQL over the same delta: p50 = 0.1 * 50/60 s, p95 = 0.5 + 0.5 * (95 - 90) / 10 s.
    assert.ok(Math.abs(get.p50Ms! - 83.33) < 83.33 * 0.05, `p50 ${get.p50Ms}`);
    assert.ok(get.p95Ms! > 500 && get.p95Ms! <= 1000 * 1.005, `p95 ${get.p95Ms}`);
  });

  it('never counts a route twice: spans win over histograms', () => {
    const app = new InstrumentatorApp();
    const p = pipeline('orders-api');
    app.observe('GET', '/items/{item_id}', 0.05);
    p.scrape(app.exposition());
    // Spans for the route already: the histogram adds nothing.
    for (let i = 0; i < 4; i++) p.store.addSpans([serverSpan({ service: 'orders-api', durationMs: 20 })]);
    app.observe('GET', '/items/{item_id}', 0.05, '2xx', 4);
    app.observe('GET', '/other', 0.05, '2xx', 2);
    p.scrape(app.exposition());
    const rows = p.store.routeSummaries(60);
    const items = rows.find((r) => r.route === '/items/{item_id}')!;
    assert.equal(items.count, 4);
    assert.equal(items.source, 'spans');
    assert.equal(rows.find((r) => r.route === '/other')!.count, 2);
    // A metrics-fed route that starts sending spans switches to spans, starting afresh.
    p.store.addSpans([serverSpan({ service: 'orders-api', route: '/other', durationMs: 5 })]);
    const other = p.store.routeSummaries(60).find((r) => r.route === '/other')!;
    assert.equal(other.count, 1);
    assert.equal(other.source, 'spans');
  });

  it('reads the other exporters: flask, django, express-prom-bundle and OpenTelemetry', () => {
    const buckets = (name: string, labels: string, counts: number[], bounds = ['0.1', '1', '+Inf']) =>
      bounds.map((le, i) => `${name}_bucket{${labels},le="${le}"} ${counts[i]}`).join('\n') + `\n${name}_count{${labels}} ${counts[counts.length - 1]}\n${name}_sum{${labels}} 1\n`;
    const expo = (k: number) =>
      [
        '# TYPE flask_http_request_duration_seconds histogram',
        buckets('flask_http_request_duration_seconds', 'method="GET",path="/users/<int:user_id>",status="200"', [k, 2 * k, 2 * k]),
        buckets('flask_http_request_duration_seconds', 'method="GET",path="/users/<int:user_id>",status="500"', [0, k, k]),
        '# TYPE django_http_requests_latency_seconds_by_view_method histogram',
        buckets('django_http_requests_latency_seconds_by_view_method', 'method="GET",view="items-detail"', [k, k, k]),
        '# TYPE django_http_responses_total_by_status_view_method_total counter',
        `django_http_responses_total_by_status_view_method_total{method="GET",status="503",view="items-detail"} ${k}`,
        '# TYPE http_request_duration_seconds histogram',
        buckets('http_request_duration_seconds', 'method="post",path="/orders/#val",status_code="201"', [k, k, k]),
        '# TYPE http_server_request_duration_seconds histogram',
        buckets('http_server_request_duration_seconds', 'http_request_method="DELETE",http_response_status_code="204",http_route="/carts/{id}"', [0, 0, k]),
        '# TYPE http_server_duration_milliseconds histogram',
        buckets('http_server_duration_milliseconds', 'http_method="PUT",http_route="/old/{x}",http_status_code="200"', [k, k, k], ['5', '50', '+Inf']),
      ].join('\n');
    const p = pipeline();
    p.scrape(expo(1));
    p.scrape(expo(3));
    const rows = p.store.routeSummaries(60);
    const get = (m: string, r: string) => rows.find((x) => x.method === m && x.route === r)!;
    const flask = get('GET', '/users/<int:user_id>');
    assert.equal(flask.count, 6);
    assert.ok(Math.abs(flask.errorRate - 2 / 6) < 1e-3);
    const django = get('GET', 'items-detail');
    assert.equal(django.count, 2);
    assert.equal(django.errorRate, 1);
    assert.equal(get('POST', '/orders/#val').count, 2);
    // All in +Inf: PromQL answers the highest finite bound (1 s).
    const otel = get('DELETE', '/carts/{id}');
    assert.equal(otel.count, 2);
    assert.ok(Math.abs(otel.p50Ms! - 1000) <= 5, `p50 ${otel.p50Ms}`);
    // Milliseconds as they are: all in (0, 5] ms.
    assert.ok(get('PUT', '/old/{x}').p99Ms! <= 5 * 1.005);
  });

  it('reads 5xx in the forms exporters write', () => {
    for (const s of ['500', '503', '5xx', '5XX', '599']) assert.ok(isServerErrorStatus(s), s);
    for (const s of ['200', '4xx', '404', '50', '5000', '', undefined]) assert.ok(!isServerErrorStatus(s), String(s));
  });

  it('equals histogram_quantile over the summed deltas, scrape after scrape', () => {
    // A seeded mix of latencies over 30 scrapes; compare the store's p50/p90/p95/p99 with
    // histogram_quantile over the sum of the same deltas.
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const app = new InstrumentatorApp([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5]);
    const p = pipeline();
    p.scrape(app.exposition());
    for (let s = 0; s < 30; s++) {
      const n = 1 + Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) app.observe('GET', '/r', Math.exp(Math.log(0.002) + rand() * Math.log(1500)));
      p.scrape(app.exposition());
      p.advance(-3000); // keep all scrapes inside the 60 s window's slots
    }
    const hist = mergeHistograms(p.deltas.filter((d) => d.kind === 'histogram').map((d) => d.histogram as HistogramValue))!;
    const row = p.store.routeSummaries(900)[0];
    assert.ok(Math.abs(row.count - hist.count) < 1e-6, `${row.count} vs ${hist.count}`);
    for (const [q, got] of [
      [0.5, row.p50Ms],
      [0.95, row.p95Ms],
      [0.99, row.p99Ms],
    ] as [number, number][]) {
      const want = histogramValueQuantile(q, hist) * 1000;
      assert.ok(Math.abs(got - want) <= 1e-9 * want, `q${q}: ${got} where PromQL says ${want}`);
    }
  });
});
