/**
 * Real apps (Flask and FastAPI from Debian's packages) started twice with the Python agent
 * against the real collector; the second run makes one handler slower and raise a new exception.
 * Every handler sleeps with random (log-normal) noise, and one raises an old exception now and then
 * in both runs. Through the query API over HTTP: two runs, the first ended; the comparison flags
 * the slowed route and the new error group, and no other route or error.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { isFlagged, type RouteComparison, type RunSummary } from '../../../src/core/runs/compare';
import type { RunErrorGroup } from '../../../src/core/runs/run';
import { TelemetryStore } from '../../../src/core/store/store';
import { freePort, httpStatus, until } from '../../support/net';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const PYTHON = '/usr/bin/python3';
const TOKEN = 'runs-real-apps-token-0123456789';
const PER_ROUTE = 250;

const COMMON = `
import itertools, os, random, time
SLOW = os.environ.get("SLOW_ROUTE", "")
BASE = {"a": 0.010, "b": 0.025, "c": 0.015, "d": 0.005}
counter = itertools.count(1)

def work(name):
    s = BASE[name] * random.lognormvariate(0, 0.25)
    if name == SLOW:
        s += 0.025
    time.sleep(s)

def maybe_fail(name):
    if name == "c" and random.random() < 0.03:
        raise KeyError("old failure")
    if name == SLOW and next(counter) % 5 == 0:
        raise ValueError("new failure")
`;

const FLASK_APP = `${COMMON}
from flask import Flask
app = Flask(__name__)

@app.get("/health")
def health():
    return "ok"

@app.get("/a")
def a():
    work("a"); maybe_fail("a")
    return "a"

@app.get("/b")
def b():
    work("b"); maybe_fail("b")
    return "b"

@app.get("/c")
def c():
    work("c"); maybe_fail("c")
    return "c"

@app.get("/items/<int:item_id>")
def d(item_id):
    work("d"); maybe_fail("d")
    return str(item_id)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
`;

const FASTAPI_APP = `${COMMON}
from fastapi import FastAPI
app = FastAPI()

@app.get("/health")
def health():
    return "ok"

@app.get("/a")
def a():
    work("a"); maybe_fail("a")
    return "a"

@app.get("/b")
def b():
    work("b"); maybe_fail("b")
    return "b"

@app.get("/c")
def c():
    work("c"); maybe_fail("c")
    return "c"

@app.get("/items/{item_id}")
def d(item_id: int):
    work("d"); maybe_fail("d")
    return item_id
`;

function getJson(port: number, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((res, rej) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (r) => {
        let data = '';
        r.on('data', (d) => (data += d));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: JSON.parse(data) }));
      })
      .on('error', rej);
  });
}

/** Each route PER_ROUTE times, in a shuffled order, two requests at a time. */
async function exercise(port: number): Promise<void> {
  const paths: string[] = [];
  for (let i = 0; i < PER_ROUTE; i++) paths.push('/a', '/b', '/c', `/items/${i}`);
  for (let i = paths.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [paths[i], paths[j]] = [paths[j], paths[i]];
  }
  let next = 0;
  // A connection per request: a server may close a kept-alive one after a handler raised.
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++];
      await new Promise<void>((res, rej) => http.get({ host: '127.0.0.1', port, path, agent: false }, (r) => { r.resume(); r.on('end', () => res()); }).on('error', rej));
    }
  };
  await Promise.all([worker(), worker()]);
}

for (const framework of ['flask', 'fastapi'] as const) {
  describe(`runs with a real ${framework} app started twice`, function () {
    this.timeout(180_000);
    let rt: Runtime | undefined;
    let proc: ChildProcess | undefined;
    let tmp: string | undefined;

    afterEach(async () => {
      if (proc && proc.exitCode === null) proc.kill('SIGTERM');
      await rt?.stop();
      rt = undefined;
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('flags the slowed handler and its new exception, and no other route or error', async () => {
      const store = new TelemetryStore();
      rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, store });
      const collectorPort = rt.collector.port;
      tmp = mkdtempSync(join(tmpdir(), `routelens-runs-${framework}-`));
      writeFileSync(join(tmp, 'app.py'), framework === 'flask' ? FLASK_APP : FASTAPI_APP);
      const service = `runs-${framework}`;

      const start = async (slow: string) => {
        const port = await freePort();
        const args = framework === 'flask' ? ['app.py'] : ['-m', 'uvicorn', 'app:app', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'];
        let out = '';
        const p = spawn(PYTHON, args, {
          cwd: tmp,
          env: { ...process.env, PYTHONPATH: join(ROOT, 'agents', 'python', 'bootstrap'), PYTHONUNBUFFERED: '1', PORT: String(port), ROUTELENS_ENDPOINT: `http://127.0.0.1:${collectorPort}`, ROUTELENS_SERVICE_NAME: service, SLOW_ROUTE: slow },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        p.stdout!.on('data', (d) => (out += d));
        p.stderr!.on('data', (d) => (out += d));
        proc = p;
        await until(async () => p.exitCode === null && (await httpStatus(port, '/health')) === 200, () => `the app to answer (output: ${out.slice(-800)})`, 30_000);
        return { p, port };
      };
      const stop = async (p: ChildProcess) => {
        p.kill('SIGTERM');
        await until(() => p.exitCode !== null || p.signalCode !== null, 'the app to exit');
      };
      const requestsOfLatest = () => store.runs.latest(service)?.requests ?? 0;

      const first = await start('');
      await exercise(first.port);
      await until(() => requestsOfLatest() > 4 * PER_ROUTE, () => `the first run's requests (${requestsOfLatest()})`, 30_000);
      await stop(first.p);

      const second = await start('b');
      await exercise(second.port);
      await until(() => store.runs.runs(service).length === 2 && requestsOfLatest() > 4 * PER_ROUTE, () => `the second run's requests (${store.runs.runs(service).map((r) => r.requests)})`, 30_000);
      await stop(second.p);

      const runs = (await getJson(collectorPort, `/api/v1/runs?service=${service}`)).body as { runs: RunSummary[] };
      assert.equal(runs.runs.length, 2, 'one run per process start');
      assert.equal(runs.runs[0].endMs, null);
      assert.ok(runs.runs[1].endMs! <= runs.runs[0].startMs + 1000, 'the first run ended when the second started');
      assert.equal(runs.runs[0].source, 'agent');

      const res = await getJson(collectorPort, `/api/v1/routes?window=run&compare=baseline&service=${service}`);
      assert.equal(res.status, 200);
      const c = res.body as { baselineKind: string; routes: RouteComparison[]; newErrorGroups: RunErrorGroup[]; newRoutes: unknown[]; goneRoutes: unknown[] };
      assert.equal(c.baselineKind, 'previous');
      // The readiness probe's /health is in both runs too: left out of what is checked below.
      c.routes = c.routes.filter((r) => r.route !== '/health');
      assert.deepEqual(c.routes.map((r) => r.route).sort(), ['/a', '/b', '/c', framework === 'flask' ? '/items/<int:item_id>' : '/items/{item_id}'].sort());
      assert.ok(c.routes.every((r) => r.count === PER_ROUTE && r.baseline?.count === PER_ROUTE), JSON.stringify(c.routes.map((r) => [r.route, r.count, r.baseline?.count])));
      const flagged = c.routes.filter((r) => isFlagged(r.change));
      assert.deepEqual(flagged.map((r) => r.route), ['/b'], JSON.stringify(c.routes.map((r) => [r.route, r.p95Ms, r.baseline?.p95Ms, r.change])));
      const b = flagged[0];
      const latency = b.change.p95Ms ?? b.change.p50Ms;
      assert.ok(latency && latency.delta > 10, JSON.stringify(b.change));
      assert.ok(b.change.errorRate && b.change.errorRate.to >= 0.15, JSON.stringify(b.change));
      assert.deepEqual(c.newErrorGroups.map((g) => [g.type, g.route]), [['ValueError', '/b']]);
      assert.ok(c.newErrorGroups[0].location?.file.endsWith('app.py'));
      assert.deepEqual(c.newRoutes, []);
      assert.deepEqual(c.goneRoutes, []);
      // The old exception is in both runs: no new group.
      const latest = store.runs.latest(service)!;
      assert.ok([...latest.errorGroups.values()].some((g) => g.type === 'KeyError'), 'the old failure happened in this run too');
    });
  });
}
