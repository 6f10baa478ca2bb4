import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { MetricPoint } from '../../../src/core/model';
import { ExpositionTracker } from '../../../src/core/prometheus/convert';
import { parseExposition } from '../../../src/core/prometheus/parser';
import { histogramQuantile } from '../../../src/core/prometheus/quantile';
import { BucketIncreaseSlots, MAX_LES_PER_SLOT } from '../../../src/core/stats/bucketSlots';
import { RouteDeriver } from '../../../src/core/prometheus/routes';
import { handlerStatsForFile } from '../../../src/core/routes/handlerStats';
import { hoverSourceNote, lensTitle, FROM_BUCKETS_TAG } from '../../../src/features/codeLens/lensText';
import { RouteIndex } from '../../../src/core/routes/routeIndex';
import { detectRoutes } from '../../../src/core/routes';
import { metricsAwareSink } from '../../../src/core/stats/histogramRoutes';
import { TelemetryStore } from '../../../src/core/store/store';
import { latencyChart, routeRows } from '../../../src/features/dashboard/model';
import { histogramFeeds, seriesOf, totalsOf } from '../../../src/core/stats/totals';
import { resource, serverSpan } from '../helpers/telemetry';
import { InstrumentatorApp } from './helpers';

/** A whole 10-second slot boundary, so which scrapes a window covers is easy to reason about. */
const T0 = 1_700_000_000_000;

/** Scrapes through the real tracker, deriver and store; the clock is set per scrape. */
function pipeline(service = 'shop') {
  let now = T0;
  const store = new TelemetryStore({}, { now: () => now });
  const tracker = new ExpositionTracker();
  const deriver = new RouteDeriver();
  let scrapes = 0;
  return {
    store,
    at(ms: number) {
      now = ms;
    },
    scrape(text: string): MetricPoint[] {
      const { points } = tracker.convert(parseExposition(text), { resource: resource(service), scrapeMs: now, hasBaseline: scrapes > 0, watchStartMs: T0 });
      store.addMetrics(points);
      for (const r of deriver.derive(points)) store.recordRouteHistogram(r.key, r.observations, r.buckets);
      scrapes++;
      return points;
    },
  };
}

const near = (got: number | null, want: number, what: string) => assert.ok(got !== null && Math.abs(got - want) <= 1e-9 * Math.max(1, want), `${what}: ${got}, PromQL says ${want}`);

/** An OpenTelemetry-named histogram in the classic text format, from cumulative counts per le. */
function otelText(les: string[], cum: number[]): string {
  const lines = ['# TYPE http_server_request_duration_seconds histogram'];
  les.forEach((le, i) => lines.push(`http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/r",le="${le}"} ${cum[i]}`));
  lines.push(`http_server_request_duration_seconds_count{http_request_method="GET",http_route="/r"} ${cum[cum.length - 1]}`);
  return lines.join('\n') + '\n';
}

describe('route quantiles from histograms are PromQL histogram_quantile over the window', () => {
  it('a single scrape: the hand-computed histogram_quantile', () => {
    const app = new InstrumentatorApp([0.1, 0.5, 1]);
    const p = pipeline();
    app.observe('GET', '/items/{item_id}', 0.05, '2xx', 1);
    p.scrape(app.exposition()); // baseline
    p.at(T0 + 5000);
    app.observe('GET', '/items/{item_id}', 0.05, '2xx', 60);
    app.observe('GET', '/items/{item_id}', 0.3, '2xx', 30);
    app.observe('GET', '/items/{item_id}', 0.8, '5xx', 10);
    p.scrape(app.exposition());
    const [row] = p.store.routeSummaries(60);
    assert.equal(row.source, 'metrics');
    assert.equal(row.count, 100);
    // Increase per le: 0.1 → 60, 0.5 → 90, 1 → 100, +Inf → 100.
    near(row.p50Ms, (0.1 * 50) / 60 * 1000, 'p50'); // rank 50 in (0, 0.1]
    near(row.p95Ms, (0.5 + 0.5 * (95 - 90) / 10) * 1000, 'p95'); // 750 ms
    near(row.p99Ms, (0.5 + 0.5 * (99 - 90) / 10) * 1000, 'p99'); // 950 ms
  });

  it('a window of many scrapes sums the bucket increases of the scrapes it covers', () => {
    const app = new InstrumentatorApp([0.1, 0.5, 1]);
    const p = pipeline();
    p.scrape(app.exposition());
    // Scrapes every 5 s for 100 s: the first nine see slow requests, the rest fast ones.
    for (let k = 1; k <= 20; k++) {
      p.at(T0 + k * 5000);
      app.observe('GET', '/r', k <= 9 ? 0.8 : 0.05, '2xx', 10);
      p.scrape(app.exposition());
    }
    // 60 s ending at T0 + 100 s covers whole slots from T0 + 50 s: scrapes 10..20, 110 fast requests.
    const w60 = p.store.routeSummaries(60)[0];
    assert.equal(w60.count, 110);
    near(w60.p50Ms, 100 * 0.5, 'p50 over 60 s');
    near(w60.p95Ms, 100 * 0.95, 'p95 over 60 s');
    // 15 minutes: 90 slow and 110 fast. p50: rank 100 of 110 in (0, 100]; p95: rank 190, 80 into the 90 of (500, 1000].
    const w900 = p.store.routeSummaries(900)[0];
    assert.equal(w900.count, 200);
    near(w900.p50Ms, (100 * 100) / 110, 'p50 over 15 min');
    near(w900.p95Ms, 500 + (500 * 80) / 90, 'p95 over 15 min');
    near(w900.p99Ms, 500 + (500 * 88) / 90, 'p99 over 15 min');
  });

  it('a reset: each bucket series is judged on its own, as PromQL increase does', () => {
    const les = ['0.1', '0.5', '1', '+Inf'];
    const p = pipeline();
    p.scrape(otelText(les, [50, 80, 100, 100]));
    p.at(T0 + 5000);
    p.scrape(otelText(les, [60, 90, 110, 110]));
    // The process restarts and counts 70 fast and 5 slow requests: le=0.1 rose from 60 to 70
    // (PromQL sees +10, no reset), the others went down (resets: their whole value is new).
    p.at(T0 + 10_000);
    p.scrape(otelText(les, [70, 70, 75, 75]));
    // Window increase per le: 0.1 → 10 + 10, 0.5 → 10 + 70, 1 → 10 + 75, +Inf → 10 + 75.
    const want = [
      { upperBound: 0.1, count: 20 },
      { upperBound: 0.5, count: 80 },
      { upperBound: 1, count: 85 },
      { upperBound: Infinity, count: 85 },
    ];
    const row = p.store.routeSummaries(60)[0];
    near(row.p50Ms, (0.1 + 0.4 * (42.5 - 20) / 60) * 1000, 'p50'); // 250 ms
    near(row.p95Ms, (0.5 + 0.5 * (80.75 - 80) / 5) * 1000, 'p95'); // 575 ms
    near(row.p50Ms, histogramQuantile(0.5, want) * 1000, 'p50 vs histogramQuantile');
    near(row.p99Ms, histogramQuantile(0.99, want) * 1000, 'p99 vs histogramQuantile');
    // Every bucket down (the usual restart): the restarted process's counts are the increase.
    p.at(T0 + 15_000);
    p.scrape(otelText(les, [2, 2, 3, 3]));
    const after = p.store.routeSummaries(60)[0];
    const want2 = want.map((b, i) => ({ upperBound: b.upperBound, count: b.count + [2, 2, 3, 3][i] }));
    near(after.p95Ms, histogramQuantile(0.95, want2) * 1000, 'p95 after a full reset');
    assert.equal(after.count, 88);
  });

  it('added buckets: a new le counts from its second scrape, and monotonicity is forced after summing, as PromQL does', () => {
    const p = pipeline();
    p.scrape(otelText(['0.1', '1', '+Inf'], [10, 20, 20]));
    p.at(T0 + 5000);
    // le=0.5 appears: its first value is its baseline. le=0.1 +5, le=1 +10, +Inf +10.
    p.scrape(otelText(['0.1', '0.5', '1', '+Inf'], [15, 18, 30, 30]));
    p.at(T0 + 10_000);
    // +5, +7, +10, +10.
    p.scrape(otelText(['0.1', '0.5', '1', '+Inf'], [20, 25, 40, 40]));
    // Summed by le: 0.1 → 10, 0.5 → 7, 1 → 20, +Inf → 20; histogram_quantile raises 0.5 to 10.
    const row = p.store.routeSummaries(60)[0];
    assert.equal(row.count, 20);
    near(row.p50Ms, 100, 'p50'); // rank 10 reaches the top of (0, 0.1]
    near(row.p95Ms, (0.5 + 0.5 * (19 - 10) / 10) * 1000, 'p95'); // 950 ms; forcing each scrape first would give 937.5
  });

  it("the issue's example: prometheus_client, default buckets, 1,000 observations evenly over 0-200 ms, p95 234.97 ms", function () {
    this.timeout(30_000);
    // The real client library writes the exposition, before and after the observations.
    const script = [
      'from prometheus_client import CollectorRegistry, Histogram, generate_latest',
      'r = CollectorRegistry()',
      "h = Histogram('http_request_duration_seconds', 'Latency', ['handler', 'method'], registry=r)",
      "child = h.labels('/items/{item_id}', 'GET')",
      'import sys',
      "sys.stdout.write(generate_latest(r).decode() + '\\n=====\\n')",
      'for i in range(1000): child.observe(i * 0.2 / 1000)',
      'sys.stdout.write(generate_latest(r).decode())',
    ].join('\n');
    const out = execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
    const [before, after] = out.split('\n=====\n');
    const p = pipeline();
    p.scrape(before);
    p.at(T0 + 5000);
    const points = p.scrape(after);
    const row = p.store.routeSummaries(60)[0];
    assert.equal(row.count, 1000);
    // 501 observations at or below 100 ms (0, 0.2, …, 100), 499 more up to 199.8 ms in (100, 250]:
    // rank 950 is 449 of those 499.
    near(row.p95Ms, 100 + (150 * 449) / 499, 'p95');
    assert.equal(Math.round(row.p95Ms! * 100) / 100, 234.97);
    // And the same as histogram_quantile over the bucket increase the tracker produced.
    const h = points.find((x) => x.name === 'http_request_duration_seconds')!.histogram!;
    let acc = 0;
    const buckets = h.counts.map((c, i) => ({ upperBound: i < h.bounds.length ? h.bounds[i] : Infinity, count: (acc += c) }));
    for (const [q, got] of [
      [0.5, row.p50Ms],
      [0.95, row.p95Ms],
      [0.99, row.p99Ms],
    ] as [number, number][])
      near(got, histogramQuantile(q, buckets) * 1000, `q${q}`);
  });

  it('the lens, hover, sidebar row and /api/v1/routes show the same figures, and say they come from buckets', () => {
    const app = new InstrumentatorApp([0.1, 0.5, 1]);
    const p = pipeline();
    p.scrape(app.exposition());
    p.at(T0 + 5000);
    app.observe('GET', '/items/{item_id}', 0.05, '2xx', 60);
    app.observe('GET', '/items/{item_id}', 0.3, '2xx', 40);
    p.scrape(app.exposition());
    const file = '/ws/app/main.py';
    const src = 'from fastapi import FastAPI\napp = FastAPI()\n\n@app.get("/items/{item_id}")\ndef read_item(item_id: int):\n    return {}\n';
    const index = new RouteIndex();
    index.setFile(`file://${file}`, detectRoutes(src, 'python', file));
    const [lens] = handlerStatsForFile(`file://${file}`, index, p.store, 60, T0 + 5000);
    const [summary] = p.store.routeSummaries(60); // what /api/v1/routes returns
    const [row] = routeRows(p.store, p.store.routeSummaries(60), (T0 + 5000) / 1000);
    for (const k of ['p50Ms', 'p95Ms', 'p99Ms', 'rps', 'errorRate', 'count'] as const) {
      assert.equal(lens[k], summary[k], `lens ${k}`);
      assert.equal(row[k], summary[k], `sidebar ${k}`);
    }
    near(summary.p95Ms, (0.1 + 0.4 * (95 - 60) / 40) * 1000, 'p95');
    assert.equal(lens.source, 'metrics');
    assert.equal(row.fromBuckets, true);
    assert.ok(lensTitle(lens, true).endsWith(FROM_BUCKETS_TAG), lensTitle(lens, true));
    assert.match(hoverSourceNote(lens), /interpolated inside histogram buckets/);
  });

  it("the dashboard's totals and latency chart of a service fed by histograms only are histogram_quantile too", () => {
    const app = new InstrumentatorApp([0.1, 0.5, 1]);
    const p = pipeline();
    p.scrape(app.exposition());
    p.at(T0 + 5000);
    app.observe('GET', '/a', 0.05, '2xx', 60);
    app.observe('POST', '/b', 0.3, '2xx', 40);
    p.scrape(app.exposition());
    const summaries = p.store.routeSummaries(60);
    const services = ['shop'];
    const feeds = histogramFeeds(p.store, summaries, null, services);
    assert.equal(feeds?.length, 2);
    const nowSec = (T0 + 5000) / 1000;
    const totals = totalsOf(seriesOf(p.store, summaries, null, services), nowSec, 60, feeds);
    // Both routes summed by le: 0.1 → 60, 0.5 → 100: p95 = 100 + 400 * 35/40 ms.
    assert.equal(totals.requests, 100);
    assert.equal(totals.p95Ms, Math.round((100 + (400 * 35) / 40) * 100) / 100);
    const chart = latencyChart(seriesOf(p.store, summaries, null, services), nowSec, 60, feeds);
    const at = chart.t.indexOf(Math.floor(nowSec / 10) * 10);
    assert.equal(chart.lines[1][at], totals.p95Ms);
    // Spans anywhere in scope: the sketches again (no bucket figures to sum with them).
    p.store.addSpans([serverSpan({ service: 'shop', route: '/c', durationMs: 5 })]);
    assert.equal(histogramFeeds(p.store, p.store.routeSummaries(60), null, services), undefined);
  });

  it('OTLP http.server.request.duration histograms get the same exact quantiles', () => {
    let now = T0;
    const store = new TelemetryStore({}, { now: () => now });
    const sink = metricsAwareSink(store);
    const point = (counts: number[], status: number): MetricPoint => ({
      name: 'http.server.request.duration',
      kind: 'histogram',
      unit: 's',
      timeMs: now,
      attributes: { 'http.route': '/orders/{id}', 'http.request.method': 'POST', 'http.response.status_code': status },
      resource: resource('orders'),
      histogram: { bounds: [0.01, 0.1, 1], counts, sum: 0, count: counts.reduce((a, b) => a + b, 0) },
    });
    // Delta temporality, two status codes in one export, then a second export.
    sink.addMetrics([point([5, 10, 0, 0], 200), point([0, 0, 5, 0], 500)]);
    now += 5000;
    sink.addMetrics([point([5, 0, 0, 0], 200)]);
    const [row] = store.routeSummaries(60);
    assert.equal(row.count, 25);
    assert.equal(row.source, 'metrics');
    const want = [
      { upperBound: 10, count: 10 },
      { upperBound: 100, count: 20 },
      { upperBound: 1000, count: 25 },
      { upperBound: Infinity, count: 25 },
    ];
    for (const [q, got] of [
      [0.5, row.p50Ms],
      [0.95, row.p95Ms],
      [0.99, row.p99Ms],
    ] as [number, number][])
      near(got, histogramQuantile(q, want), `q${q}`);
    near(row.p95Ms, 100 + (900 * 3.75) / 5, 'p95 by hand');
  });
});

describe('BucketIncreaseSlots: bounded memory, bad input refused', () => {
  it('keeps 15 minutes of slots, reuses them, caps the bounds per slot and refuses malformed increases', () => {
    const slots = new BucketIncreaseSlots();
    const t0 = T0 / 1000;
    for (let s = 0; s < 3600; s += 5) assert.ok(slots.add(t0 + s, { boundsMs: [10, 100], cumulative: [1, 2, 3] }));
    const bytesAfterAnHour = slots.bytes();
    for (let s = 3600; s < 7200; s += 5) slots.add(t0 + s, { boundsMs: [10, 100], cumulative: [1, 2, 3] });
    assert.equal(slots.bytes(), bytesAfterAnHour);
    // The 15-minute window holds 90 slots of two scrapes: 180 observations.
    const inf = slots.windowBuckets(t0 + 7195, 900).find((b) => b.upperBound === Infinity)!;
    assert.equal(inf.count, 180 * 3);
    // A sender changing its bounds every scrape: the slot stops growing at the cap.
    const churn = new BucketIncreaseSlots();
    let refused = 0;
    for (let i = 0; i < 500; i++) if (!churn.add(t0, { boundsMs: [i + 0.5], cumulative: [1, 1] })) refused++;
    assert.ok(refused > 0 && churn.refused === refused);
    assert.ok(churn.windowBuckets(t0, 60).length <= MAX_LES_PER_SLOT);
    for (const bad of [
      { boundsMs: [10, 5], cumulative: [1, 2, 3] },
      { boundsMs: [10], cumulative: [1] },
      { boundsMs: [NaN], cumulative: [1, 2] },
      { boundsMs: [10], cumulative: [1, Infinity] },
    ])
      assert.equal(slots.add(t0 + 7200, bad), false, JSON.stringify(bad));
  });
});
