/**
 * Route figures from a remote Prometheus: a real Prometheus server (Debian's package, private
 * storage and port, basic auth on its API) scraping a real Flask app instrumented with
 * prometheus_client, under load. The figures Routelens shows must equal what the test asks
 * Prometheus for directly with the same PromQL at the same evaluation time; refused credentials
 * and an unreachable server give their error once.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { silentLogger, type Logger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { PRESETS, parseRange, routeQueries, selectorMatchers } from '../../../src/core/remote/presets';
import { parseArgs } from '../../../src/cli';
import { freePort, until } from '../../support/net';
import { startPrometheus, type PrometheusServer } from '../../support/prometheusServer';

const TOKEN = 'remote-test-token-0123456789';
const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'remote');
const APP = join(FIXTURES, 'flask_metrics_app.py');
const CREDS = { username: 'routelens', password: 'prod-reader-pass' };

function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(JSON.parse(b) as Record<string, unknown>));
      })
      .on('error', reject);
  });
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, trace: () => {}, debug: () => {}, info: push, warn: push, error: push };
}

async function startApp(file: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('/usr/bin/python3', [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim().split('\n')[0])));
    child.once('exit', (c) => reject(new Error(`the app exited (${c})`)));
  });
  return { child, port };
}

/** Requests from `workers` concurrent clients for `ms`. */
async function load(port: number, ms: number, workers = 4, paths = (i: number) => (i % 3 === 0 ? '/orders' : `/items/${i % 40}`), pauseMs = 0): Promise<number> {
  const end = Date.now() + ms;
  let n = 0;
  // A fresh connection each time: wsgiref's server closes every connection after one answer.
  const one = (path: string) =>
    new Promise<boolean>((resolve) => {
      http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => (res.resume(), res.on('end', () => resolve(true)))).on('error', () => resolve(false));
    });
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      let i = w;
      while (Date.now() < end) {
        if (await one(paths(i))) n++;
        i += workers;
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    }),
  );
  return n;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

describe('route figures from a remote Prometheus', function () {
  this.timeout(90_000);
  let app: ChildProcess;
  let appPort: number;
  let prom: PrometheusServer;

  before(async function () {
    ({ child: app, port: appPort } = await startApp(APP));
    prom = await startPrometheus({ targets: [`127.0.0.1:${appPort}`], scrapeIntervalS: 1, basicAuth: CREDS });
    // Load for long enough that a 1-minute rate has many scrapes in it.
    const sent = await load(appPort, 6000, 3, undefined, 2);
    assert.ok(sent > 100, `only ${sent} requests answered`);
    await until(async () => (await prom.query('sum(rate(http_requests_total{handler="/orders"}[1m])) > 0', Date.now() / 1000)).length > 0, 'Prometheus to hold the requests', 20_000, 500);
    await new Promise((r) => setTimeout(r, 2000));
  });

  after(async () => {
    await prom?.stop();
    if (app && app.exitCode === null) app.kill('SIGTERM');
  });

  it('shows per route what Prometheus computes with the same PromQL, beside the local figures, and lists remote-only routes', async () => {
    let rt: Runtime | undefined;
    try {
      rt = await startRuntime({
        port: 0,
        token: TOKEN,
        log: silentLogger,
        remotePrometheus: { url: prom.url, selector: '{env="prod", service="shop"}', range: '1m', refreshMs: 3_600_000, auth: { basic: CREDS } },
      });
      // A local request on one of the routes: that route carries both sources.
      const ws = new WebSocket(`ws://127.0.0.1:${rt.collector.port}/v1/ws`);
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'shop' } }));
      const now = Date.now();
      ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [{ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), name: 'GET /orders', kind: 'server', startMs: now - 20, endMs: now - 8, attributes: { 'http.request.method': 'GET', 'http.route': '/orders', 'http.response.status_code': 200 } }], logs: [], metrics: [] }));
      await until(() => rt!.store.routeSummaries(60).length === 1, 'the local request');
      ws.close();
      const remote = rt.remote!;
      await remote.refresh();
      assert.equal(remote.state().state, 'ok', JSON.stringify(remote.state()));
      assert.equal(remote.presetName, 'fastapi-instrumentator', 'found by asking the server (the histogram has a handler label)');
      const T = remote.lastEvalTimeS!;
      const q = remote.queries()!;
      assert.match(q.quantile(0.95), /^histogram_quantile\(0\.95, sum by \(le, handler, method\) \(rate\(http_request_duration_seconds_bucket\{env="prod", service="shop"\}\[60s\]\)\)\)$/);

      // The same PromQL, asked directly, at the same time.
      const direct = async (promql: string) => new Map((await prom.query(promql, T)).map((s) => [`${s.metric.method} ${s.metric.handler}`, Number(s.value[1])]));
      const [p50, p95, p99, rps, errors, total] = await Promise.all([direct(q.quantile(0.5)), direct(q.quantile(0.95)), direct(q.quantile(0.99)), direct(q.rps), direct(q.errors), direct(q.total)]);
      const body = (await getJson(rt.collector.port, '/api/v1/routes?window=60')) as { routes: Record<string, unknown>[] };
      const items = body.routes.find((r) => r.route === '/items/<int:item_id>')!;
      const orders = body.routes.find((r) => r.route === '/orders')!;
      assert.ok(items && orders, JSON.stringify(body.routes));
      // /orders: the local figures and the remote ones side by side.
      assert.equal(orders.count, 1);
      assert.equal(orders.source, 'spans');
      assert.equal(orders.service, 'shop');
      // /items: known only remotely, listed with no local requests.
      assert.equal(items.count, 0);
      assert.equal(items.source, 'remote');
      for (const r of [items, orders]) {
        const key = `GET ${r.route as string}`;
        const f = r.remote as Record<string, number>;
        assert.equal(f.p50Ms, round3(p50.get(key)! * 1000), `${key} p50`);
        assert.equal(f.p95Ms, round3(p95.get(key)! * 1000), `${key} p95`);
        assert.equal(f.p99Ms, round3(p99.get(key)! * 1000), `${key} p99`);
        assert.equal(f.rps, rps.get(key), `${key} rps`);
        assert.equal(f.errorRate, (errors.get(key) ?? 0) / total.get(key)!, `${key} error rate`);
        assert.equal(f.rangeS, 60);
        assert.equal(f.asOfMs, T * 1000);
        assert.ok(f.rps > 0);
      }
      // Sanity against the app's own behaviour: a quarter of /orders fail; /items sleep 0..39 ms.
      const of = orders.remote as Record<string, number>;
      assert.ok(of.errorRate > 0.15 && of.errorRate < 0.35, `orders error rate ${of.errorRate}`);
      assert.equal((items.remote as Record<string, number>).errorRate, 0);
      const ip50 = (items.remote as Record<string, number>).p50Ms;
      assert.ok(ip50 > 5 && ip50 < 50, `items p50 ${ip50} ms`);

      const stats = (await getJson(rt.collector.port, '/api/v1/stats')).remotePrometheus as Record<string, unknown>;
      assert.equal(stats.state, 'ok');
      assert.equal(stats.preset, 'fastapi-instrumentator');
      assert.equal(stats.rangeS, 60);
      assert.ok((stats.routes as number) >= 2);
      assert.equal(stats.url, prom.url);
    } finally {
      await rt?.stop();
    }
  });

  it('refused credentials: the error once, however many refreshes; the local views go on', async () => {
    const log = recordingLogger();
    const rt = await startRuntime({ port: 0, token: TOKEN, log, remotePrometheus: { url: prom.url, preset: 'fastapi-instrumentator', range: '1m', refreshMs: 150, auth: { basic: { username: CREDS.username, password: 'wrong' } } } });
    try {
      await until(() => rt.remote!.state().state === 'error', 'the refusal');
      const before = rt.remote!.state().lastAttemptMs!;
      await until(() => rt.remote!.state().lastAttemptMs! > before + 500, 'more refreshes');
      assert.match(rt.remote!.state().error!, /HTTP 401: the server refused the credentials/);
      assert.equal(log.lines.filter((l) => l.includes('remote-prometheus')).length, 1, log.lines.join('\n'));
      const body = (await getJson(rt.collector.port, '/api/v1/routes')) as { routes: unknown[] };
      assert.deepEqual(body.routes, []);
      assert.equal(((await getJson(rt.collector.port, '/api/v1/stats')).remotePrometheus as { state: string }).state, 'error');
    } finally {
      await rt.stop();
    }
  });

  it('an unreachable server: the error once, and it says so', async () => {
    const log = recordingLogger();
    const port = await freePort();
    const rt = await startRuntime({ port: 0, token: TOKEN, log, remotePrometheus: { url: `http://127.0.0.1:${port}`, refreshMs: 150 } });
    try {
      await until(() => rt.remote!.state().state === 'error', 'the failure');
      const before = rt.remote!.state().lastAttemptMs!;
      await until(() => rt.remote!.state().lastAttemptMs! > before + 500, 'more refreshes');
      assert.match(rt.remote!.state().error!, /unreachable \(connection refused/);
      assert.equal(log.lines.filter((l) => l.includes('remote-prometheus')).length, 1, log.lines.join('\n'));
    } finally {
      await rt.stop();
    }
  });

  it('a bad selector or range is refused before anything is asked', async () => {
    assert.deepEqual(selectorMatchers('{env="prod", service=~"ord.*"}'), 'env="prod", service=~"ord.*"');
    assert.ok(typeof selectorMatchers('env="prod"') !== 'string');
    assert.ok(typeof selectorMatchers('{env="prod"} or vector(1)') !== 'string');
    assert.ok(typeof selectorMatchers('{env=prod}') !== 'string');
    assert.equal(parseRange('1h'), 3600);
    assert.equal(parseRange('1h30m'), 5400);
    assert.equal(parseRange('soon'), undefined);
    const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, remotePrometheus: { url: prom.url, selector: '{env=prod}' } });
    try {
      assert.equal(rt.remote, undefined);
      assert.match(rt.remoteError!, /label="value"/);
    } finally {
      await rt.stop();
    }
    const p = parseArgs(['serve', '--remote-prometheus', 'http://prom:9090', '--remote-selector', '{env="prod"}', '--remote-preset', 'django-prometheus', '--remote-range', '30m']);
    assert.deepEqual((p as { remote: unknown }).remote, { url: 'http://prom:9090', selector: '{env="prod"}', preset: 'django-prometheus', range: '30m' });
    assert.ok('error' in (parseArgs(['serve', '--remote-preset', 'nope']) as object));
    assert.ok('error' in (parseArgs(['serve', '--remote-selector', '{env="prod"}']) as object));
  });

  it('writes each preset\'s PromQL with its exporter\'s metric and label names', () => {
    const m = 'env="prod"';
    const django = routeQueries(PRESETS['django-prometheus'], m, '3600s');
    assert.equal(django.quantile(0.99), 'histogram_quantile(0.99, sum by (le, view, method) (rate(django_http_requests_latency_seconds_by_view_method_bucket{env="prod"}[3600s])))');
    assert.equal(django.errors, 'sum by (view, method) (rate(django_http_responses_total_by_status_view_method_total{env="prod", status=~"5.."}[3600s]))');
    const otel = routeQueries(PRESETS.otel, '', '60s');
    assert.equal(otel.rps, 'sum by (http_route, http_request_method) (rate(http_server_request_duration_seconds_count[60s]))');
    assert.equal(otel.errors, 'sum by (http_route, http_request_method) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[60s]))');
    const flask = routeQueries(PRESETS['flask-exporter'], m, '60s');
    assert.match(flask.quantile(0.5), /sum by \(le, url_rule, path, endpoint, method\) \(rate\(flask_http_request_duration_seconds_bucket/);
    assert.match(routeQueries(PRESETS['prom-client'], m, '60s').errors, /status_code=~"5\.\."\}.* or .*code=~"5\.\."/);
  });
});

describe('route figures from a remote Prometheus scraping django-prometheus', function () {
  this.timeout(90_000);

  it('finds the django-prometheus preset by asking the server, and its figures equal the direct PromQL answers', async () => {
    const app = await startApp(join(FIXTURES, 'django_metrics_app.py'));
    const prom = await startPrometheus({ targets: [`127.0.0.1:${app.port}`], scrapeIntervalS: 1 });
    let rt: Runtime | undefined;
    try {
      // Two clients: flat out, more would starve Prometheus' own scrapes of the single Python process.
      const sent = await load(app.port, 6000, 2, (i) => (i % 4 < 2 ? `/books/${(i * 7) % 30}` : '/checkout'), 2);
      assert.ok(sent > 100, `only ${sent} requests answered`);
      await until(async () => (await prom.query('sum(rate(django_http_requests_latency_seconds_by_view_method_count{view="checkout"}[1m])) > 0', Date.now() / 1000)).length > 0, 'Prometheus to hold the requests', 20_000, 500);
      await new Promise((r) => setTimeout(r, 2000));
      rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, remotePrometheus: { url: prom.url, selector: '{service="shop"}', range: '1m', refreshMs: 3_600_000 } });
      const remote = rt.remote!;
      await remote.refresh();
      assert.equal(remote.state().state, 'ok', JSON.stringify(remote.state()));
      assert.equal(remote.presetName, 'django-prometheus');
      const T = remote.lastEvalTimeS!;
      const q = remote.queries()!;
      const direct = async (promql: string) => new Map((await prom.query(promql, T)).map((s) => [`${s.metric.method} ${s.metric.view}`, Number(s.value[1])]));
      const [p50, p95, p99, rps, errors, total] = await Promise.all([direct(q.quantile(0.5)), direct(q.quantile(0.95)), direct(q.quantile(0.99)), direct(q.rps), direct(q.errors), direct(q.total)]);
      // The /metrics view (Prometheus' own scrapes) is left out.
      const routes = ((await getJson(rt.collector.port, '/api/v1/routes')) as { routes: Record<string, unknown>[] }).routes;
      assert.deepEqual(routes.map((r) => r.route).sort(), ['book', 'checkout']);
      for (const r of routes) {
        const key = `GET ${r.route as string}`;
        const f = r.remote as Record<string, number>;
        assert.equal(f.p50Ms, round3(p50.get(key)! * 1000), `${key} p50`);
        assert.equal(f.p95Ms, round3(p95.get(key)! * 1000), `${key} p95`);
        assert.equal(f.p99Ms, round3(p99.get(key)! * 1000), `${key} p99`);
        assert.equal(f.rps, rps.get(key), `${key} rps`);
        assert.equal(f.errorRate, (errors.get(key) ?? 0) / total.get(key)!, `${key} error rate`);
      }
      const checkout = routes.find((r) => r.route === 'checkout')!.remote as Record<string, number>;
      assert.ok(checkout.errorRate > 0.2 && checkout.errorRate < 0.45, `checkout error rate ${checkout.errorRate}`);
    } finally {
      await rt?.stop();
      await prom.stop();
      if (app.child.exitCode === null) app.child.kill('SIGTERM');
    }
  });
});
