/**
 * The Python agent announces the app's own Prometheus endpoint, end to end: a real FastAPI app
 * serving prometheus_client's /metrics, run by uvicorn as its own process and instrumented only
 * through the bootstrap sitecustomize and the environment, against the real collector runtime with
 * no configured scrape targets. After the app's first request the collector scrapes the announced
 * URL under the agent's service name.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { TelemetryStore } from '../../../src/core/store/store';
import { freePort, httpStatus, until } from '../../support/net';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const APPS = join(ROOT, 'agents', 'python', 'tests', 'sample_apps');
const PYTHON = '/usr/bin/python3';
const TOKEN = 'agent-announce-token-0123456789';




describe('the Python agent announces the app\'s /metrics to the real collector', function () {
  this.timeout(60_000);
  let proc: ChildProcess | undefined;
  let rt: Runtime | undefined;

  afterEach(async () => {
    proc?.kill('SIGTERM');
    proc = undefined;
    await rt?.stop();
    rt = undefined;
  });

  it('FastAPI with prometheus_client mounted at /metrics: scraped under the agent\'s service, up, with series', async () => {
    const store = new TelemetryStore();
    rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, store, scrapeIntervalMs: 500 });
    assert.deepEqual(rt.prometheus.targets(), [], 'no configured targets');

    const port = await freePort();
    const service = 'metrics-app';
    proc = spawn(PYTHON, ['-m', 'uvicorn', 'fastapi_metrics_app:app', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], {
      cwd: APPS,
      env: {
        ...process.env,
        PYTHONPATH: join(ROOT, 'agents', 'python', 'bootstrap'),
        ROUTELENS_ENDPOINT: `http://127.0.0.1:${rt.collector.port}`,
        ROUTELENS_SERVICE_NAME: service,
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const app = proc;
    // The app's first request tells the agent which port it serves on.
    await until(async () => app.exitCode === null && (await httpStatus(port, '/orders/1')) === 200, `the app to answer (output: ${out.slice(-500)})`);

    // make_asgi_app() mounted at /metrics answers /metrics/ (Starlette redirects /metrics there).
    const url = `http://127.0.0.1:${port}/metrics/`;
    const target = await until(() => rt!.prometheus.targets().find((t) => t.url === url), `the announced target (have ${JSON.stringify(rt!.prometheus.targets().map((t) => t.url))})`);
    assert.equal(target.service, service, 'scraped under the agent\'s service name');
    assert.equal(rt.prometheus.targets().length, 1);

    const up = await until(() => {
      const h = rt!.prometheus.health(url);
      return h?.state === 'up' && h.series > 0 ? h : undefined;
    }, `the target to be up (health: ${JSON.stringify(rt.prometheus.health(url))})`);
    assert.equal(up.up, true);
    assert.equal(up.lastError, undefined);
    assert.ok(up.samples > 0);

    // The app's own counter arrives as a metric series of the agent's service.
    for (let i = 2; i < 5; i++) assert.equal(await httpStatus(port, `/orders/${i}`), 200);
    await until(() => store.metricSeries({ name: 'sample_order_lookups_total', service }).length > 0, 'the app\'s counter from the scrape');
    await until(() => store.metricSeries({ name: 'up', service }).some((s) => s.last?.value === 1), 'the target\'s up series');
    assert.equal(rt.counters.get('announce.rejected.notLoopback'), 0);
    assert.equal(rt.counters.get('announce.rejected.tooMany'), 0);
    // The agent's traces arrive under the same service.
    await until(() => store.routeSummaries(60).find((r) => r.service === service && r.route === '/orders/{order_id}'), 'the traced route');
  });
});
