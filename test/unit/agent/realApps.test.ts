/**
 * The Python agent end to end against the real collector: FastAPI, Flask and Django apps run as
 * real server processes, instrumented only through the bootstrap sitecustomize and the environment.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { TelemetryStore } from '../../../src/core/store/store';
import { freePort, httpStatus, until } from '../../support/net';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const TESTS = join(ROOT, 'agents', 'python', 'tests');
const APPS = join(TESTS, 'sample_apps');
const PYTHON = '/usr/bin/python3';
const TOKEN = 'agent-e2e-token-0123456789';




/** 1-based line of the first line containing `needle`. */
function lineOf(file: string, needle: string): number {
  return readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;
}

interface App {
  proc: ChildProcess;
  port: number;
  output(): string;
}

async function startApp(kind: 'flask' | 'fastapi' | 'django', collectorPort: number, service: string): Promise<App> {
  const port = await freePort();
  const env = {
    ...process.env,
    PYTHONPATH: join(ROOT, 'agents', 'python', 'bootstrap'),
    ROUTELENS_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
    ROUTELENS_SERVICE_NAME: service,
    PORT: String(port),
    PYTHONUNBUFFERED: '1',
  };
  const [args, cwd, extra] =
    kind === 'flask'
      ? [[join(APPS, 'flask_app.py')], APPS, {}]
      : kind === 'fastapi'
        ? [['-m', 'uvicorn', 'fastapi_app:app', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], APPS, {}]
        : [['-m', 'django', 'runserver', '--noreload', `127.0.0.1:${port}`], TESTS, { DJANGO_SETTINGS_MODULE: 'djangoapp.settings' }];
  const proc = spawn(PYTHON, args as string[], { cwd: cwd as string, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const app = { proc, port, output: () => out };
  const probe = kind === 'flask' ? '/hello/probe' : kind === 'fastapi' ? '/orders/0' : '/';
  await until(async () => proc.exitCode === null && (await httpStatus(port, probe)) === 200, `the ${kind} app to answer (output: ${out.slice(-500)})`);
  return app;
}

describe('the Python agent with real apps against the real collector', function () {
  this.timeout(60_000);
  const procs: ChildProcess[] = [];
  let rt: Runtime | undefined;

  afterEach(async () => {
    for (const p of procs.splice(0)) p.kill('SIGTERM');
    await rt?.stop();
    rt = undefined;
  });

  const cases = [
    { kind: 'flask' as const, good: '/hello/ada', template: '/hello/<name>', file: join(APPS, 'flask_app.py'), def: 'def hello', crash: '/crash' },
    { kind: 'fastapi' as const, good: '/orders/7', template: '/orders/{order_id}', file: join(APPS, 'fastapi_app.py'), def: 'async def get_order', crash: '/crash' },
    { kind: 'django' as const, good: '/users/5/', template: 'users/<int:user_id>/', file: join(TESTS, 'djangoapp', 'views.py'), def: 'def user_detail', crash: '/explode/' },
  ];

  for (const c of cases) {
    it(`${c.kind}: routes, statuses, code locations, exceptions, correlated logs and process metrics`, async () => {
      const store = new TelemetryStore();
      rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, store });
      const service = `${c.kind}-app`;
      const app = await startApp(c.kind, rt.collector.port, service);
      procs.push(app.proc);
      store.clear();
      for (let i = 0; i < 3; i++) assert.equal(await httpStatus(app.port, c.good), 200);
      assert.equal(await httpStatus(app.port, c.crash), 500);

      const route = await until(() => store.routeSummaries(60).find((r) => r.route.replace(/^\//, '') === c.template.replace(/^\//, '') && r.count >= 3), `the ${c.template} route`);
      assert.equal(route.service, service);
      assert.equal(route.method, 'GET');
      assert.equal(route.errorRate, 0);
      assert.ok(route.code, 'code location');
      assert.equal(route.code.file, c.file);
      assert.equal(route.code.line, lineOf(c.file, c.def));

      const group = await until(() => store.errorGroups().find((g) => g.type === 'RuntimeError'), 'the RuntimeError group');
      const raiseFile = c.file;
      const raiseLine = lineOf(raiseFile, c.kind === 'django' ? 'raise-here' : 'sample-raise');
      assert.ok(group.frames.some((f) => f.file === raiseFile && f.line === raiseLine), `frames: ${JSON.stringify(group.frames.slice(-3))}`);
      assert.deepEqual(group.location, { file: raiseFile, line: raiseLine, function: group.location!.function });
      const crashRoute = store.routeSummaries(60).find((r) => r.errorRate === 1);
      assert.ok(crashRoute, 'the crashing route counts as errors');

      const warn = await until(() => store.logs({ service }).find((l) => l.severity === 'warn' && l.traceId), 'a correlated warning');
      assert.ok(store.trace(warn.traceId!).length > 0, 'the log record names a stored trace');

      await until(() => store.metricSeries({ name: 'process.memory.usage', service }).some((s) => (s.last?.value ?? 0) > 1_000_000), 'process memory metrics', 5000);
    });
  }

  it('faults: the app works with no collector, connects when one starts, and reconnects after a restart', async () => {
    const port = await freePort();
    const app = await startApp('fastapi', port, 'fault-app');
    procs.push(app.proc);
    assert.equal(await httpStatus(app.port, '/orders/1'), 200, 'no collector: the app is unaffected');

    const store = new TelemetryStore();
    rt = await startRuntime({ port, token: TOKEN, log: silentLogger, store });
    await until(async () => {
      await httpStatus(app.port, '/orders/2');
      return store.routeSummaries(60).some((r) => r.route === '/orders/{order_id}');
    }, 'the agent to connect to a collector that started late', 15_000);

    await rt.stop();
    rt = undefined;
    for (let i = 0; i < 5; i++) assert.equal(await httpStatus(app.port, '/orders/3'), 200, 'collector gone: the app is unaffected');
    const store2 = new TelemetryStore();
    rt = await startRuntime({ port, token: TOKEN, log: silentLogger, store: store2 });
    const t0 = Date.now();
    await until(async () => {
      await httpStatus(app.port, '/orders/4');
      return store2.routeSummaries(60).some((r) => r.route === '/orders/{order_id}');
    }, 'the agent to reconnect after a restart', 15_000);
    assert.ok(Date.now() - t0 < 8000, `reconnected in ${Date.now() - t0} ms`);
  });
});
