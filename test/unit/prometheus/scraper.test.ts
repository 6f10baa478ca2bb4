import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import * as promClient from 'prom-client';
import { parseArgs, parseScrapeTarget } from '../../../src/cli';
import { silentLogger } from '../../../src/core/log';
import { fetchExposition } from '../../../src/core/prometheus/fetch';
import { parseExposition } from '../../../src/core/prometheus/parser';
import { PrometheusScraper, type TargetHealth } from '../../../src/core/prometheus/scraper';
import { startRuntime } from '../../../src/core/runtime';
import { TelemetryStore } from '../../../src/core/store/store';
import { serverSpan } from '../helpers/telemetry';
import { until } from '../../support/net';
import { MemorySink } from '../../support/memorySink';
import { InstrumentatorApp, serve } from './helpers';

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'prometheus');

/** Starts the Python prometheus_client app; resolves with its base URL. */
function startPythonExporter(): Promise<{ base: string; proc: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const proc = spawn('/usr/bin/python3', [join(FIXTURES, 'py_exporter.py')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`python exporter did not start: ${err}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ base: `http://127.0.0.1:${m[1]}`, proc });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`python exporter exited with ${code}: ${err}`)));
  });
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

describe('Prometheus scraper against Python prometheus_client', function () {
  this.timeout(30_000);
  let py: { base: string; proc: ChildProcess };

  before(async () => {
    py = await startPythonExporter();
  });
  after(() => {
    if (py?.proc.pid && py.proc.exitCode === null) process.kill(py.proc.pid, 'SIGTERM');
  });

  it('negotiates OpenMetrics, ingests every kind, derives routes and keeps exemplars', async () => {
    await get(`${py.base}/reset`);
    await get(`${py.base}/observe?n=3&seconds=0.03`);
    const store = new TelemetryStore();
    const scraper = new PrometheusScraper({ sink: store, routes: store, intervalMs: 3_600_000, log: silentLogger });
    try {
      scraper.addTarget({ url: `${py.base}/metrics`, service: 'py-shop' });
      await scraper.scrapeNow();
      let [h] = scraper.targets();
      assert.equal(h.state, 'up', h.lastError);
      assert.equal(h.format, 'openmetrics');
      assert.equal(h.parseErrors, 0, JSON.stringify(h.firstParseErrors));
      // histogram (1 series), counter, summary, gauge
      assert.equal(h.series, 4);
      assert.equal(h.routes, 1);
      assert.equal(store.metricSeries({ name: 'inprogress_requests' })[0].last!.value, 2);
      // The first scrape is the baseline: what happened before watching is not "now".
      assert.deepEqual(store.routeSummaries(60), []);

      await get(`${py.base}/observe?n=5&seconds=0.07&status=200&trace_id=4bf92f3577b34da6a3ce929d0e0e4736`);
      await get(`${py.base}/observe?n=5&seconds=0.3&status=500`);
      await get(`${py.base}/observe?n=2&method=POST&route=/items&seconds=0.002`);
      await scraper.scrapeNow();
      [h] = scraper.targets();
      assert.equal(h.state, 'up');
      assert.equal(h.scrapes, 2);

      const rows = store.routeSummaries(60);
      const items = rows.find((r) => r.route === '/items/{item_id}' && r.method === 'GET')!;
      assert.equal(items.service, 'py-shop');
      assert.equal(items.count, 10);
      assert.equal(items.errorRate, 0.5);
      assert.equal(items.source, 'metrics');
      // PromQL: rank 5 of 10 is the top of (0.05, 0.1]: p50 = 100 ms; p95 in (0.1, 0.5].
      assert.ok(items.p50Ms! > 50 && items.p50Ms! <= 100.5, `p50 ${items.p50Ms}`);
      assert.ok(items.p95Ms! > 100 && items.p95Ms! <= 502.5, `p95 ${items.p95Ms}`);
      // A route first seen after the baseline is counted whole.
      assert.equal(rows.find((r) => r.method === 'POST')!.count, 2);

      const counter = store.metricSeries({ name: 'http_requests_total' });
      const total = counter.reduce((a, s) => a + (s.last!.value ?? 0), 0);
      assert.equal(total, 12);
      const hist = store.metricSeries({ name: 'http_request_duration_seconds' }).find((s) => s.attributes.method === 'GET')!;
      assert.equal(hist.last!.histogram!.count, 10);
      assert.deepEqual(hist.last!.histogram!.bounds, [0.01, 0.05, 0.1, 0.5, 1]);
      assert.deepEqual(hist.last!.histogram!.counts, [0, 0, 5, 5, 0, 0]);
      const summary = store.metricSeries({ name: 'request_size_bytes' })[0];
      assert.equal(summary.kind, 'summary');
      assert.equal(summary.last!.summary!.count, 15);

      const ex = scraper.exemplars({ route: { service: 'py-shop', method: 'GET', route: '/items/{item_id}' } });
      assert.ok(ex.length >= 1);
      assert.equal(ex[0].traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(ex[0].le, 0.1);
      assert.equal(ex[0].metric, 'http_request_duration_seconds');
      // Repeated on the next scrape, kept once.
      await scraper.scrapeNow();
      assert.equal(scraper.exemplars({ service: 'py-shop' }).length, ex.length);
    } finally {
      scraper.dispose();
    }
  });

  it('reads the same values from its classic text format and its OpenMetrics', async () => {
    await get(`${py.base}/reset`);
    await get(`${py.base}/observe?n=4&seconds=0.2`);
    const text = await fetchExposition(`${py.base}/metrics`, { timeoutMs: 5000, maxBodyBytes: 1 << 20, accept: 'text/plain;version=0.0.4' });
    const om = await fetchExposition(`${py.base}/metrics`, { timeoutMs: 5000, maxBodyBytes: 1 << 20 });
    assert.match(text.contentType, /^text\/plain/);
    assert.match(om.contentType, /^application\/openmetrics-text/);
    const a = parseExposition(text.body, { format: 'text' });
    const b = parseExposition(om.body, { format: 'openmetrics' });
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    const view = (r: typeof a) =>
      r.families
        .filter((f) => !f.name.startsWith('python_') && !f.name.startsWith('process_'))
        .map((f) => ({
          type: f.type,
          series: f.series.map((s) => ({ labels: s.labels, name: s.sampleName, value: s.value, buckets: s.buckets?.map((x) => [x.le, x.count]), sum: s.sum, count: s.count, created: s.createdMs })),
        }));
    assert.deepEqual(view(a), view(b));
    const counter = a.families.find((f) => f.type === 'counter')!;
    assert.equal(counter.name, 'http_requests_total');
    assert.ok(counter.series[0].createdMs! > 1.5e12, 'the _created gauge is tied to its counter');
  });
});

describe('Prometheus scraper against npm prom-client', function () {
  this.timeout(20_000);

  /**
   * An express-prom-bundle style app serving both formats, chosen by Accept as Prometheus servers
   * do. Each format has its own registry and metric objects: prom-client renames a counter shared
   * between a text and an OpenMetrics registry.
   */
  function promClientApp() {
    const make = (om: boolean) => {
      const reg = new promClient.Registry<promClient.RegistryContentType>();
      if (om) reg.setContentType(promClient.Registry.OPENMETRICS_CONTENT_TYPE);
      return {
        reg,
        hist: new promClient.Histogram({
          name: 'http_request_duration_seconds',
          help: 'duration histogram of http responses labeled with: status_code, method, path',
          labelNames: ['status_code', 'method', 'path'],
          buckets: [0.003, 0.03, 0.1, 0.3, 1.5, 10],
          registers: [reg],
        }),
        up: new promClient.Gauge({ name: 'up_seconds', help: 'uptime', registers: [reg] }),
        reqs: new promClient.Counter({ name: 'app_jobs_total', help: 'jobs', labelNames: ['kind'], registers: [reg] }),
        sum: new promClient.Summary({ name: 'app_job_seconds', help: 'job time', percentiles: [0.5, 0.9, 0.99], registers: [reg] }),
      };
    };
    const both = [make(false), make(true)];
    let onlyText = false;
    const server = serve(async (req, res) => {
      const reg = both[!onlyText && /application\/openmetrics-text/.test(String(req.headers.accept)) ? 1 : 0].reg;
      res.setHeader('Content-Type', reg.contentType);
      res.end(await reg.metrics());
    });
    return {
      observe: (labels: { status_code: string; method: string; path: string }, v: number) => both.forEach((m) => m.hist.observe(labels, v)),
      setUp: (v: number) => both.forEach((m) => m.up.set(v)),
      inc: (kind: string, n: number) => both.forEach((m) => m.reqs.inc({ kind }, n)),
      job: (v: number) => both.forEach((m) => m.sum.observe(v)),
      server,
      textOnly: () => (onlyText = true),
    };
  }

  it('scrapes prom-client in OpenMetrics and in the text format', async () => {
    const app = promClientApp();
    const srv = await app.server;
    const store = new TelemetryStore();
    const scraper = new PrometheusScraper({ sink: store, routes: store, intervalMs: 3_600_000 });
    try {
      app.setUp(12);
      app.observe({ status_code: '200', method: 'GET', path: '/orders/#val' }, 0.02);
      app.inc('email', 2);
      app.job(0.4);
      scraper.setTargets([{ url: srv.url, service: 'node-shop' }]);
      await scraper.scrapeNow();
      let [h] = scraper.targets();
      assert.equal(h.state, 'up', h.lastError);
      assert.equal(h.format, 'openmetrics');
      assert.equal(h.parseErrors, 0, JSON.stringify(h.firstParseErrors));
      assert.equal(store.metricSeries({ name: 'up_seconds' })[0].last!.value, 12);
      const summary = store.metricSeries({ name: 'app_job_seconds' })[0].last!.summary!;
      assert.deepEqual(summary.quantiles.map((q) => q.quantile), [0.5, 0.9, 0.99]);
      assert.equal(summary.quantiles[0].value, 0.4);

      for (let i = 0; i < 8; i++) app.observe({ status_code: '200', method: 'GET', path: '/orders/#val' }, 0.05);
      for (let i = 0; i < 2; i++) app.observe({ status_code: '502', method: 'GET', path: '/orders/#val' }, 2);
      app.inc('email', 3);
      app.textOnly();
      await scraper.scrapeNow();
      [h] = scraper.targets();
      assert.equal(h.format, 'text');
      assert.equal(h.state, 'up');
      const [row] = store.routeSummaries(60);
      assert.deepEqual([row.service, row.method, row.route, row.count, row.errorRate], ['node-shop', 'GET', '/orders/#val', 10, 0.2]);
      const jobs = store.metricSeries({ name: 'app_jobs_total' })[0];
      assert.equal(jobs.last!.value, 3);
      assert.equal(jobs.last!.monotonic, true);
    } finally {
      scraper.dispose();
      await srv.close();
    }
  });
});

describe('Prometheus scraper: failures, health and targets', function () {
  this.timeout(20_000);

  it('marks a target down and back up, keeping earlier data and counting the gap once', async () => {
    const app = new InstrumentatorApp();
    const handler: http.RequestListener = (_req, res) => {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.end(app.exposition());
    };
    let srv = await serve(handler);
    const port = srv.port;
    const store = new TelemetryStore();
    const scraper = new PrometheusScraper({ sink: store, routes: store, intervalMs: 3_600_000, timeoutMs: 2000 });
    const events: TargetHealth[][] = [];
    scraper.onDidChangeHealth((t) => events.push(t));
    try {
      scraper.addTarget(srv.url);
      app.observe('GET', '/a', 0.05, '2xx', 1);
      await scraper.scrapeNow();
      app.observe('GET', '/a', 0.05, '2xx', 4);
      await scraper.scrapeNow();
      assert.equal(store.routeSummaries(60)[0].count, 4);
      assert.equal(scraper.targets()[0].service, `127.0.0.1:${port}`);

      await srv.close();
      await scraper.scrapeNow();
      let [h] = scraper.targets();
      assert.equal(h.state, 'down');
      assert.equal(h.up, false);
      assert.match(h.lastError!, /refused|reset/);
      assert.equal(h.consecutiveFailures, 1);
      // Nothing earlier was wiped; the down time is visible as up = 0.
      assert.equal(store.routeSummaries(60)[0].count, 4);
      assert.equal(store.metricSeries({ name: 'up' })[0].last!.value, 0);
      assert.ok(store.metricSeries({ name: 'http_request_duration_seconds' }).length > 0);

      // Requests while it was unreachable, then it comes back on the same port.
      app.observe('GET', '/a', 0.05, '2xx', 6);
      srv = await new Promise((resolve) => {
        const server = http.createServer(handler);
        server.listen(port, '127.0.0.1', () =>
          resolve({
            url: `http://127.0.0.1:${port}/metrics`,
            port,
            server,
            close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
          }),
        );
      });
      await scraper.scrapeNow();
      [h] = scraper.targets();
      assert.equal(h.state, 'up');
      assert.equal(h.lastError, undefined);
      assert.equal(h.consecutiveFailures, 0);
      assert.equal(store.routeSummaries(60)[0].count, 10);
      assert.equal(store.metricSeries({ name: 'up' })[0].last!.value, 1);
      assert.deepEqual(
        events.map((e) => e[0]?.state),
        ['pending', 'up', 'up', 'down', 'up'],
      );
    } finally {
      scraper.dispose();
      await srv.close();
    }
  });

  it('fails bad responses without touching the store: HTTP errors, HTML, cut-short OpenMetrics, oversize, timeouts', async () => {
    let mode = '';
    const srv = await serve((_req, res) => {
      if (mode === 'slow') return; // never answers
      if (mode === '404') {
        res.statusCode = 404;
        return res.end('nope');
      }
      if (mode === 'html') {
        res.setHeader('Content-Type', 'text/html');
        return res.end('<!doctype html>\n<html><body>Login</body></html>\n');
      }
      if (mode === 'cut') {
        res.setHeader('Content-Type', 'application/openmetrics-text; version=1.0.0');
        return res.end('# TYPE a counter\na_total 1\n');
      }
      if (mode === 'big') {
        res.setHeader('Content-Type', 'text/plain');
        return res.end('a 1\n'.repeat(100_000));
      }
      if (mode === 'big-chunked') {
        res.setHeader('Content-Type', 'text/plain');
        for (let i = 0; i < 100; i++) res.write('a 1\n'.repeat(1000));
        return res.end();
      }
      res.setHeader('Content-Type', 'text/plain');
      res.end('# TYPE g gauge\ng 1\n');
    });
    const sink = new MemorySink();
    const scraper = new PrometheusScraper({ sink, intervalMs: 3_600_000, timeoutMs: 500, maxBodyBytes: 64 * 1024 });
    try {
      scraper.addTarget(srv.url);
      await scraper.scrapeNow();
      assert.equal(scraper.targets()[0].state, 'up');
      const expectations: [string, RegExp][] = [
        ['404', /HTTP 404/],
        ['html', /not a metrics exposition/],
        ['cut', /# EOF/],
        ['big', /limit/],
        ['big-chunked', /limit/],
        ['slow', /timed out/],
      ];
      for (const [m, re] of expectations) {
        mode = m;
        const before = sink.metrics.filter((p) => p.name !== 'up').length;
        await scraper.scrapeNow();
        const h = scraper.targets()[0];
        assert.equal(h.state, 'down', m);
        assert.match(h.lastError!, re, m);
        assert.equal(sink.metrics.filter((p) => p.name !== 'up').length, before, `${m}: nothing but up=0 delivered`);
      }
      mode = '';
      await scraper.scrapeNow();
      assert.equal(scraper.targets()[0].state, 'up');
    } finally {
      scraper.dispose();
      await srv.close();
    }
  });

  it('reports malformed lines and still ingests the rest', async () => {
    const srv = await serve((_req, res) => {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.end('good 1\nbad{ 2\nalso_good 3\n');
    });
    const sink = new MemorySink();
    const scraper = new PrometheusScraper({ sink, intervalMs: 3_600_000 });
    try {
      scraper.addTarget(srv.url);
      await scraper.scrapeNow();
      const [h] = scraper.targets();
      assert.equal(h.state, 'up');
      assert.equal(h.parseErrors, 1);
      assert.equal(h.firstParseErrors[0].line, 2);
      assert.equal(sink.named('also_good')[0].value, 3);
    } finally {
      scraper.dispose();
      await srv.close();
    }
  });

  it('decompresses gzip, follows same-origin redirects only, and sends the OpenMetrics-first Accept', async () => {
    let accept = '';
    const srv = await serve((req, res) => {
      if (req.url === '/metrics') {
        res.statusCode = 307;
        res.setHeader('Location', '/metrics/');
        return res.end();
      }
      if (req.url === '/away') {
        res.statusCode = 302;
        res.setHeader('Location', 'http://example.invalid/metrics');
        return res.end();
      }
      accept = String(req.headers.accept);
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.setHeader('Content-Encoding', 'gzip');
      res.end(zlib.gzipSync('# TYPE g gauge\ng 7\n'));
    });
    const sink = new MemorySink();
    const scraper = new PrometheusScraper({ sink, intervalMs: 3_600_000 });
    try {
      scraper.setTargets([srv.url, `http://127.0.0.1:${srv.port}/away`]);
      await scraper.scrapeNow();
      const [ok, away] = scraper.targets();
      assert.equal(ok.state, 'up', ok.lastError);
      assert.equal(sink.named('g')[0].value, 7);
      assert.match(accept, /^application\/openmetrics-text;version=1\.0\.0/);
      assert.match(accept, /text\/plain;version=0\.0\.4;q=0\.5/);
      assert.equal(away.state, 'down');
      assert.match(away.lastError!, /another origin/);
    } finally {
      scraper.dispose();
      await srv.close();
    }
  });

  it('manages targets: set, add, remove, invalid URLs, per-target service and interval', async () => {
    let hits = 0;
    const srv = await serve((_req, res) => {
      hits++;
      res.end('g 1\n');
    });
    const sink = new MemorySink();
    const scraper = new PrometheusScraper({ sink, intervalMs: 100 });
    try {
      scraper.setTargets([srv.url, { url: 'ftp://x/metrics' }, 'not a url', '  ', { url: srv.url, service: 'dup' }]);
      let t = scraper.targets();
      assert.deepEqual(
        t.map((x) => [x.url, x.state]),
        [
          [srv.url, 'pending'],
          ['ftp://x/metrics', 'down'],
          ['not a url', 'down'],
        ],
      );
      assert.match(t[1].lastError!, /only http and https/);
      // Scrapes on its own at the interval.
      await until(() => hits >= 3, 'three scrapes', 5000, 10);
      assert.equal(scraper.health(srv.url)!.state, 'up');
      scraper.setTargets([{ url: srv.url, job: 'api', intervalMs: 3_600_000 }]);
      t = scraper.targets();
      assert.equal(t.length, 1);
      assert.equal(t[0].service, 'api');
      assert.equal(t[0].intervalMs, 3_600_000);
      const settled = hits;
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(hits <= settled + 1, 'the longer interval applies');
      assert.equal(scraper.removeTarget(srv.url), true);
      assert.equal(scraper.removeTarget(srv.url), false);
      assert.deepEqual(scraper.targets(), []);
      scraper.addTarget({ url: srv.url, service: 'again' });
      assert.equal(scraper.targets()[0].service, 'again');
    } finally {
      scraper.dispose();
      await srv.close();
    }
  });
});

describe('Prometheus in the runtime and the CLI', function () {
  this.timeout(20_000);

  it('scrapes targets given to startRuntime and feeds routes once, through the sink', async () => {
    const app = new InstrumentatorApp();
    const srv = await serve((_req, res) => res.end(app.exposition()));
    const runtime = await startRuntime({ port: 0, token: 't', log: silentLogger, scrapeTargets: [{ url: srv.url, service: 'orders-api' }], scrapeIntervalMs: 3_600_000 });
    try {
      await until(() => runtime.prometheus.targets()[0].state !== 'pending', 'first scrape', 5000, 10);
      app.observe('GET', '/items/{item_id}', 0.2, '2xx', 7);
      app.observe('GET', '/spans-too', 0.2, '2xx', 3);
      runtime.store.addSpans([serverSpan({ service: 'orders-api', route: '/spans-too' })]);
      await runtime.prometheus.scrapeNow();
      const rows = runtime.store.routeSummaries(60);
      assert.equal(rows.find((r) => r.route === '/items/{item_id}')!.count, 7);
      assert.equal(rows.find((r) => r.route === '/spans-too')!.count, 1);
    } finally {
      await runtime.stop();
      await srv.close();
    }
    assert.deepEqual(runtime.prometheus.targets(), []);
  });

  it('parses --scrape and --scrape-interval', () => {
    const a = parseArgs(['serve', '--scrape', 'http://127.0.0.1:8000/metrics', '--scrape', 'shop=http://localhost:9000/metrics', '--scrape-interval', '2.5']);
    assert.ok(!('error' in a) && !('help' in a));
    assert.deepEqual(a.scrape, [{ url: 'http://127.0.0.1:8000/metrics' }, { url: 'http://localhost:9000/metrics', service: 'shop' }]);
    assert.equal(a.scrapeIntervalSec, 2.5);
    assert.ok('error' in parseArgs(['serve', '--scrape', 'file:///etc/passwd']));
    assert.ok('error' in parseArgs(['serve', '--scrape-interval', '0']));
    assert.ok('error' in parseArgs(['serve', '--scrape']));
    assert.equal(typeof parseScrapeTarget('nonsense'), 'string');
    const d = parseArgs(['serve']);
    assert.ok(!('error' in d) && !('help' in d));
    assert.deepEqual(d.scrape, []);
    assert.equal(d.scrapeIntervalSec, 5);
  });
});
