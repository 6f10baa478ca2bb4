/**
 * A real pytest run against the real collector: the tests' TestClient requests come in as test
 * traffic (the agent started through the bootstrap sitecustomize, as "Debug Test" does), stay out
 * of the running server's route figures, and are listed per test at /api/v1/tests.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { TelemetryStore } from '../../../src/core/store/store';
import { until } from '../../support/net';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const PYTHON = '/usr/bin/python3';

const TESTS = `
import time
from fastapi import FastAPI
from starlette.testclient import TestClient

app = FastAPI()

@app.get("/orders/{order_id}")
def read_order(order_id: int):
    if order_id == 13:
        time.sleep(0.25)
    if order_id == 500:
        raise RuntimeError("boom")
    return {"id": order_id}

client = TestClient(app, raise_server_exceptions=False)

def test_reads():
    for i in range(5):
        assert client.get("/orders/%d" % i).status_code == 200

def test_slow_one():
    assert client.get("/orders/13").status_code == 200

def test_failure():
    assert client.get("/orders/500").status_code == 500
`;

describe('a pytest run against the real collector', function () {
  this.timeout(60_000);
  let rt: Runtime | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await rt?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the test-client requests per test and keeps them out of the route figures', async () => {
    const store = new TelemetryStore();
    rt = await startRuntime({ port: 0, token: 'test-runs-token-0123456789', log: silentLogger, store });
    dir = mkdtempSync(join(tmpdir(), 'routelens-pytest-'));
    writeFileSync(join(dir, 'test_orders.py'), TESTS);
    const env: Record<string, string | undefined> = { ...process.env, PYTHONPATH: join(ROOT, 'agents', 'python', 'bootstrap'), ROUTELENS_ENDPOINT: rt.collector.url, ROUTELENS_SERVICE_NAME: 'orders', PYTHONDONTWRITEBYTECODE: '1' };
    delete env.PYTEST_CURRENT_TEST;
    const proc = spawn(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'test_orders.py'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    assert.equal(code, 0, out.slice(-1500));

    const tests = await until(() => {
      const t = store.testTraffic.summaries('orders');
      return t.length === 3 && t.reduce((n, x) => n + x.requests, 0) === 7 && t;
    }, () => `three tests' requests (${JSON.stringify(store.testTraffic.summaries())})`, 10_000);
    const byId = Object.fromEntries(tests.map((t) => [t.id, t]));
    assert.equal(byId['test_orders.py::test_reads'].requests, 5);
    assert.equal(byId['test_orders.py::test_reads'].errors, 0);
    assert.ok(byId['test_orders.py::test_slow_one'].slowestMs >= 250, `slowest ${byId['test_orders.py::test_slow_one'].slowestMs}`);
    assert.equal(byId['test_orders.py::test_failure'].errors, 1);
    assert.deepEqual(byId['test_orders.py::test_failure'].routes, ['GET /orders/{order_id}']);
    assert.deepEqual(store.routeSummaries(60, 'orders'), [], 'no server route figures from test traffic');
    assert.ok(store.allSpans().filter((s) => s.kind === 'server').length >= 7, 'the spans themselves are kept');
    console.log(`      /api/v1/tests: ${tests.map((t) => `${t.id} ${t.requests} req, ${t.errors} err, slowest ${t.slowestMs.toFixed(1)} ms`).join('; ')}`);
  });
});
