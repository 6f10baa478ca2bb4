/**
 * A journey across three real server processes (FastAPI -> Flask -> Django), each started with the
 * Python agent through the environment only, against the real collector: one trace id across them,
 * client spans (httpx, requests, sqlite3 directly and through Django) linked parent to child across
 * processes, their attributes and calling lines checked against the files, no literal or parameter
 * value in any statement, and the trace panel's model nesting the whole journey.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Span } from '../../../src/core/model';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { handleQuery } from '../../../src/core/collector/queryApi';
import { analyseTraceView, type Finding } from '../../../src/core/findings';
import { TelemetryStore } from '../../../src/core/store/store';
import { buildTraceView } from '../../../src/features/traces/model';
import { freePort, httpStatus, until } from '../../support/net';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const TESTS = join(ROOT, 'agents', 'python', 'tests');
const APPS = join(TESTS, 'sample_apps');
const PYTHON = '/usr/bin/python3';
const TOKEN = 'agent-journey-token-0123456789';
const FRONT = join(APPS, 'journey_front.py');
const INVENTORY = join(APPS, 'journey_inventory.py');
const PAYMENTS = join(TESTS, 'journeyapp', 'views.py');

/** 1-based line of the only line ending in `# marker`. */
function markerLine(file: string, marker: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const found = lines.flatMap((l, i) => (l.trimEnd().endsWith(`# ${marker}`) ? [i + 1] : []));
  assert.equal(found.length, 1, `${marker} in ${file}`);
  return found[0];
}

interface App {
  proc: ChildProcess;
  port: number;
}

async function startApp(args: string[], cwd: string, port: number, env: Record<string, string>, probe: string): Promise<App> {
  const proc = spawn(PYTHON, args, {
    cwd,
    env: { ...process.env, PYTHONPATH: join(ROOT, 'agents', 'python', 'bootstrap'), PYTHONUNBUFFERED: '1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await until(async () => proc.exitCode === null && (await httpStatus(port, probe)) === 200, () => `${args.join(' ')} to answer (output: ${out.slice(-800)})`, 30_000);
  return { proc, port };
}

const attr = (s: Span, key: string) => s.attributes[key];

describe('a journey across three real services with the Python agent', function () {
  this.timeout(90_000);
  const procs: ChildProcess[] = [];
  let rt: Runtime | undefined;
  let tmp: string | undefined;

  afterEach(async () => {
    for (const p of procs.splice(0)) p.kill('SIGTERM');
    await rt?.stop();
    rt = undefined;
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('FastAPI -> Flask -> Django: one trace, linked across processes, client spans at their lines', async () => {
    const store = new TelemetryStore();
    rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, store });
    const endpoint = `http://127.0.0.1:${rt.collector.port}`;
    tmp = mkdtempSync(join(tmpdir(), 'routelens-journey-'));
    const [frontPort, inventoryPort, paymentsPort] = [await freePort(), await freePort(), await freePort()];
    const payments = await startApp(['-m', 'django', 'runserver', '--noreload', `127.0.0.1:${paymentsPort}`], TESTS, paymentsPort,
      { ROUTELENS_ENDPOINT: endpoint, ROUTELENS_SERVICE_NAME: 'payments', DJANGO_SETTINGS_MODULE: 'journeyapp.settings', JOURNEY_DB: join(tmp, 'pay.sqlite3') }, '/health/');
    procs.push(payments.proc);
    const inventory = await startApp([INVENTORY], APPS, inventoryPort,
      { ROUTELENS_ENDPOINT: endpoint, ROUTELENS_SERVICE_NAME: 'inventory', PAYMENTS_URL: `http://127.0.0.1:${paymentsPort}` }, '/health');
    procs.push(inventory.proc);
    const front = await startApp(['-m', 'uvicorn', 'journey_front:app', '--host', '127.0.0.1', '--port', String(frontPort), '--log-level', 'warning'], APPS, frontPort,
      { ROUTELENS_ENDPOINT: endpoint, ROUTELENS_SERVICE_NAME: 'front', INVENTORY_URL: `http://127.0.0.1:${inventoryPort}` }, '/health');
    procs.push(front.proc);

    assert.equal(await httpStatus(frontPort, '/checkout/7'), 200);

    const root = await until(() => findRoot(store), 'the front service request span');
    const spans = await until(() => {
      const all = store.trace(root.traceId);
      // Each process sends on its own schedule: wait until every expected part has arrived.
      const has = (svc: string, pred: (s: Span) => boolean) => all.some((s) => s.resource.serviceName === svc && pred(s));
      const complete =
        ['front', 'inventory', 'payments'].every((svc) => has(svc, (s) => s.kind === 'server')) &&
        ['front', 'inventory'].every((svc) => has(svc, (s) => s.kind === 'client' && s.attributes['http.request.method'] === 'GET')) &&
        ['front', 'inventory', 'payments'].every((svc) => has(svc, (s) => s.kind === 'client' && s.attributes['db.system.name'] === 'sqlite'));
      return complete ? all : undefined;
    }, () => `the whole trace (have ${store.trace(root.traceId).map((s) => `${s.resource.serviceName}:${s.name}`).join(', ')})`);

    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const only = (pred: (s: Span) => boolean, what: string): Span => {
      const found = spans.filter(pred);
      assert.equal(found.length, 1, `${what}: ${found.map((s) => s.name).join(', ')}`);
      return found[0];
    };
    const service = (s: Span) => s.resource.serviceName;

    // The request span of each service, and the client spans between them.
    const frontServer = only((s) => service(s) === 'front' && s.kind === 'server', 'front server span');
    assert.equal(frontServer.parentSpanId, undefined);
    const toInventory = only((s) => service(s) === 'front' && s.kind === 'client' && attr(s, 'http.request.method') === 'GET', 'front -> inventory');
    const inventoryServer = only((s) => service(s) === 'inventory' && s.kind === 'server', 'inventory server span');
    const toPayments = only((s) => service(s) === 'inventory' && s.kind === 'client' && attr(s, 'http.request.method') === 'GET', 'inventory -> payments');
    const paymentsServer = only((s) => service(s) === 'payments' && s.kind === 'server', 'payments server span');
    assert.equal(toInventory.parentSpanId, frontServer.spanId);
    assert.equal(inventoryServer.parentSpanId, toInventory.spanId, 'the Flask request continues the httpx call');
    assert.equal(toPayments.parentSpanId, inventoryServer.spanId);
    assert.equal(paymentsServer.parentSpanId, toPayments.spanId, 'the Django request continues the requests call');
    for (const s of spans) assert.equal(s.traceId, root.traceId);

    // HTTP client attributes and the lines that made the calls.
    assert.equal(attr(toInventory, 'url.full'), `http://127.0.0.1:${inventoryPort}/stock/7?token=REDACTED`);
    assert.equal(attr(toInventory, 'server.port'), inventoryPort);
    assert.equal(attr(toInventory, 'http.response.status_code'), 200);
    assert.deepEqual([toInventory.code?.file, toInventory.code?.line], [FRONT, markerLine(FRONT, 'call-inventory')]);
    assert.equal(attr(toPayments, 'url.full'), `http://127.0.0.1:${paymentsPort}/pay/7/`);
    assert.deepEqual([toPayments.code?.file, toPayments.code?.line], [INVENTORY, markerLine(INVENTORY, 'call-payments')]);
    assert.equal(toPayments.code?.function, 'stock');

    // Queries: one span each (Django's cursor over sqlite3 is one span), statements without values.
    const frontQuery = only((s) => service(s) === 'front' && attr(s, 'db.system.name') === 'sqlite', 'front query');
    assert.equal(attr(frontQuery, 'db.query.text'), 'SELECT ? * ?, ?');
    assert.deepEqual([frontQuery.code?.file, frontQuery.code?.line], [FRONT, markerLine(FRONT, 'front-query')]);
    assert.equal(frontQuery.parentSpanId, frontServer.spanId);
    const stockQuery = only((s) => service(s) === 'inventory' && attr(s, 'db.query.text') === 'SELECT count FROM stock WHERE item = ?', 'stock query');
    assert.equal(stockQuery.name, 'SELECT stock');
    assert.equal(attr(stockQuery, 'db.collection.name'), 'stock');
    assert.deepEqual([stockQuery.code?.file, stockQuery.code?.line], [INVENTORY, markerLine(INVENTORY, 'stock-query')]);
    const payQuery = only((s) => service(s) === 'payments' && s.kind === 'client' && String(attr(s, 'db.query.text')).includes('AS total'), 'payments query');
    assert.equal(attr(payQuery, 'db.query.text'), 'SELECT %s + ? AS total, ? AS note');
    assert.deepEqual([payQuery.code?.file, payQuery.code?.line], [PAYMENTS, markerLine(PAYMENTS, 'pay-query')]);
    assert.equal(payQuery.parentSpanId, paymentsServer.spanId);
    // The N+1 in the inventory service: found at the line in the loop, on its route, from real spans.
    store.insights.flush();
    const insights = (handleQuery('/api/v1/insights', new URLSearchParams({ kind: 'n+1' }), store, { counters: store.counters, connectionCount: 0, port: 0 }).body as { insights: Finding[] }).insights;
    assert.equal(insights.length, 1, JSON.stringify(insights));
    assert.equal(insights[0].service, 'inventory');
    assert.equal(insights[0].route, '/stock/<int:item>');
    assert.equal(insights[0].callsPerRequest, 6);
    assert.equal(insights[0].operation, 'SELECT note FROM stock WHERE item = ?');
    assert.deepEqual([insights[0].location?.file, insights[0].location?.line], [INVENTORY, markerLine(INVENTORY, 'n-plus-one')]);
    assert.deepEqual(insights[0].exampleTraceIds, [root.traceId]);
    // The whole journey's critical path covers the front request, across the three processes.
    const analysis = analyseTraceView(spans)!;
    assert.equal(analysis.requestSpanId, frontServer.spanId);
    const onPath = new Set(analysis.criticalPath.map((c) => c.spanId));
    for (const s of [frontServer, toInventory, inventoryServer, toPayments, paymentsServer]) assert.ok(onPath.has(s.spanId), `${s.name} (${service(s)}) is on the critical path`);

    const text = JSON.stringify(spans.map((s) => s.attributes));
    for (const secret of ['front-literal', 'inventory-literal', 'payments-literal', 'front-secret']) assert.ok(!text.includes(secret), secret);
    for (const s of spans) if (s.parentSpanId) assert.ok(byId.has(s.parentSpanId), `${s.name}: parent in the trace`);

    // The trace panel's model: the whole journey nested, three services, self time under children.
    const view = buildTraceView(root.traceId, spans, [])!;
    assert.deepEqual(view.services.slice().sort(), ['front', 'inventory', 'payments']);
    assert.equal(view.orphans, 0);
    const depth = new Map(view.spans.map((v) => [v.spanId, v]));
    assert.equal(depth.get(frontServer.spanId)!.depth, 0);
    assert.equal(depth.get(toInventory.spanId)!.depth, 1);
    assert.equal(depth.get(inventoryServer.spanId)!.depth, 2);
    assert.equal(depth.get(toPayments.spanId)!.depth, 3);
    assert.equal(depth.get(paymentsServer.spanId)!.depth, 4);
    assert.equal(depth.get(payQuery.spanId)!.depth, 5);
    assert.equal(depth.get(payQuery.spanId)!.detail, 'SELECT %s + ? AS total, ? AS note');
    const frontView = depth.get(frontServer.spanId)!;
    assert.ok(frontView.selfMs < frontView.durationMs, 'the front request spent part of its time in its calls');
  });
});

function findRoot(store: TelemetryStore): Span | undefined {
  for (const r of store.routeRequestsOf({ service: 'front', method: 'GET', route: '/checkout/{cart_id}' }, { limit: 5 })) {
    const spans = store.trace(r.traceId);
    const server = spans.find((s) => s.kind === 'server' && s.resource.serviceName === 'front');
    if (server) return server;
  }
  return undefined;
}
