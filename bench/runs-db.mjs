// What keeping runs costs: closing a run of 500 routes (each with a whole-run latency sketch, its
// trace sample and a few error groups) into the sql.js database that already holds 19 runs,
// and the file's growth per run, next to writing the same data as JSON in the same process (the
// run alone in its own file, and the whole history as one JSON file, as a snapshot would).
// The same runs also go into a second database with the spans of each route's slowest sample
// traces kept (sampleTraces.ts: 3 per route, each a request with its database and HTTP calls, as
// the store had them), to show what keeping them costs next to the refs alone.
//
// Usage: npm run build && node bench/runs-db.mjs [--runs 20] [--routes 500]
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { TelemetryStore } = require('../out/src/core/store/store.js');
const { RunDatabase } = require('../out/src/core/runs/database.js');
const { runToStored, runFromStored } = require('../out/src/core/runs/run.js');

const arg = (name, def) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const RUNS = arg('--runs', 20);
const ROUTES = arg('--routes', 500);
const REQUESTS = 200;

let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
// Ids from crypto: the seeded generator above repeats itself too soon for unique trace ids.
const hex = (n) => randomBytes(n / 2).toString('hex');

let now = 1_800_000_000_000;
const store = new TelemetryStore({ maxSpans: 1000, tracesPerRoute: 1 }, { now: () => now });
store.runs.runsPerService = RUNS + 1;

function makeRun(k) {
  const resource = { serviceName: 'api', instanceId: `host-${k}`, sdk: 'routelens-python/0.1.0', attributes: { 'process.creation.time': new Date(now).toISOString() } };
  for (let i = 0; i < REQUESTS; i++) {
    const spans = [];
    for (let r = 0; r < ROUTES; r++) {
      const ms = (2 + (r % 50) * 3) * Math.exp(0.5 * gauss());
      const fail = rand() < 0.01;
      const s = { traceId: hex(32), spanId: hex(16), name: `GET /r${r}`, kind: 'server', startMs: now - ms, endMs: now, status: fail ? 'error' : 'unset', attributes: {}, events: [], links: [], resource, http: { method: 'GET', route: `/r${r}/{id}`, statusCode: fail ? 500 : 200 }, code: { file: '/srv/app/routes.py', line: 10 + r, function: `handler_${r}` } };
      if (fail && r % 100 === 0) s.exception = { type: 'ValueError', message: `bad value ${r}`, frames: [{ file: '/srv/app/routes.py', line: 12 + r, function: `handler_${r}` }] };
      spans.push(s);
    }
    store.addSpans(spans);
    now += 50;
  }
  now += 60_000;
}

/**
 * The spans the store had for a sampled request: its server span, 6 queries and an HTTP call
 * (the route's typical shape), with real-looking attributes.
 */
function traceOf(run, traceId) {
  for (const route of run.routes.values()) {
    const sample = route.slowest.find((x) => x.traceId === traceId);
    if (!sample) continue;
    const resource = { serviceName: 'api', instanceId: run.instances[0], sdk: 'routelens-python/0.1.0', attributes: { 'process.creation.time': new Date(run.startMs).toISOString(), 'host.name': 'dev-laptop' } };
    const end = sample.endMs;
    const start = end - sample.durationMs;
    const server = { traceId, spanId: sample.spanId, name: `GET ${route.route}`, kind: 'server', startMs: start, endMs: end, status: sample.error ? 'error' : 'unset', attributes: { 'http.request.method': 'GET', 'http.route': route.route, 'http.response.status_code': sample.statusCode ?? 200, 'url.path': route.route.replace('{id}', '42'), 'code.function.name': route.code?.function ?? 'handler' }, events: [], links: [], resource, http: { method: 'GET', route: route.route, statusCode: sample.statusCode ?? 200 }, ...(route.code ? { code: route.code } : {}) };
    const step = sample.durationMs / 9;
    const kids = Array.from({ length: 7 }, (_, i) => {
      const http = i === 6;
      return {
        traceId,
        spanId: hex(16),
        parentSpanId: sample.spanId,
        name: http ? 'GET' : `SELECT ${route.route.split('/')[1]}`,
        kind: 'client',
        startMs: start + step * (i + 1),
        endMs: start + step * (i + 1.8),
        status: 'unset',
        attributes: http ? { 'http.request.method': 'GET', 'url.full': `http://pricing.internal:8080/v1/prices/${i}?currency=EUR`, 'http.response.status_code': 200, 'server.address': 'pricing.internal' } : { 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.query.text': `SELECT id, name, price, stock FROM ${route.route.split('/')[1]} WHERE id = $1 AND tenant_id = $2 ORDER BY updated_at DESC LIMIT 50`, 'db.operation.name': 'SELECT', 'server.address': 'localhost', 'server.port': 5432 },
        events: [],
        links: [],
        resource,
      };
    });
    return [server, ...kids];
  }
  return [];
}

const dir = mkdtempSync(join(tmpdir(), 'routelens-bench-runs-'));
const log = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
try {
  const db = await RunDatabase.open({ file: join(dir, 'runs.sqlite'), log, maxRunsPerService: RUNS + 5, maxBytes: 1024 * 1024 * 1024 });
  const dbSpans = await RunDatabase.open({ file: join(dir, 'runs-spans.sqlite'), log, maxRunsPerService: RUNS + 5, maxBytes: 1024 * 1024 * 1024 });
  const withSpans = [];
  const sqlite = [];
  const json = [];
  const jsonAll = [];
  let prevBytes = 0;
  for (let k = 0; k < RUNS; k++) {
    makeRun(k);
    // The run before this one ended when this one started: that is the close being measured.
    // The refs alone: the same runs without the spans they keep (same revisions).
    const refsOnly = store.runs.allRuns().map((run) => Object.assign(runFromStored(runToStored(run)), { revision: run.revision }));
    const t0 = performance.now();
    const r = await db.save(refsOnly, {});
    const wall = performance.now() - t0;
    const grew = r.bytes - prevBytes;
    prevBytes = r.bytes;
    sqlite.push({ sync: r.syncMs, wall, grew, written: r.written, bytes: r.bytes });

    // With the sample spans: taken from "the store" (traceOf), then saved.
    // (Only the two newest runs changed: the spans are built for them beforehand, out of the timing.)
    const had = new Map();
    for (const run of store.runs.runs('api').slice(0, 2)) for (const route of run.routes.values()) for (const x of route.slowest.slice(0, 3)) had.set(x.traceId, traceOf(run, x.traceId));
    const tc = performance.now();
    store.runs.captureSampleTraces((id) => had.get(id) ?? []);
    const captureMs = performance.now() - tc;
    const t3 = performance.now();
    const rs = await dbSpans.save(store.runs.allRuns(), {});
    const wallS = performance.now() - t3;
    const latest = store.runs.latest('api');
    const traces = [...latest.routes.values()].reduce((n, x) => n + x.traces.size, 0);
    withSpans.push({ sync: rs.syncMs, wall: wallS, capture: captureMs, bytes: rs.bytes, grew: rs.bytes - (withSpans.at(-1)?.bytes ?? 0), traces, traceBytes: latest.traceBytes });

    const ended = store.runs.runs('api')[1] ?? store.runs.latest('api');
    const t1 = performance.now();
    const one = JSON.stringify(runToStored(ended));
    const t1b = performance.now();
    await writeFile(join(dir, `run-${k}.json`), one);
    json.push({ sync: t1b - t1, wall: performance.now() - t1, bytes: one.length });

    const t2 = performance.now();
    const all = JSON.stringify(store.runs.allRuns().map(runToStored));
    const t2b = performance.now();
    await writeFile(join(dir, 'all.json'), all);
    jsonAll.push({ sync: t2b - t2, wall: performance.now() - t2, bytes: all.length });
  }
  await db.close();
  const spanStats = dbSpans.traceStats();
  await dbSpans.close();
  const last = (a) => a[a.length - 1];
  // Steady state: the saves after the first few (the database holds history by then).
  const steady = (a, key) => {
    const xs = a.slice(Math.min(3, a.length - 1)).map((x) => x[key]).sort((p, q) => p - q);
    return xs[Math.floor(xs.length / 2)];
  };
  const fmt = (x) => x.toFixed(1);
  const kib = (x) => `${(x / 1024).toFixed(1)} KiB`;
  console.log(`runs of ${ROUTES} routes, ${REQUESTS} requests per route; ${RUNS} runs saved one after another (median from the 4th on)`);
  console.log(`  sqlite (sql.js) save on run close: ${fmt(steady(sqlite, 'sync'))} ms on the thread (SQL + export), ${fmt(steady(sqlite, 'wall'))} ms with the file write; file ${kib(last(sqlite).bytes)} for ${RUNS} runs, +${kib(steady(sqlite, 'grew'))} per run`);
  console.log(`  JSON, the ended run alone:          ${fmt(steady(json, 'sync'))} ms stringify, ${fmt(steady(json, 'wall'))} ms with the file write; ${kib(steady(json, 'bytes'))} per run`);
  console.log(`  JSON, the whole history:            ${fmt(steady(jsonAll, 'sync'))} ms stringify, ${fmt(steady(jsonAll, 'wall'))} ms with the file write; ${kib(last(jsonAll).bytes)} for ${RUNS} runs`);
  console.log(`  ratios: sqlite/JSON-one-run time ${(steady(sqlite, 'wall') / steady(json, 'wall')).toFixed(2)}, sqlite/JSON-history time ${(steady(sqlite, 'wall') / steady(jsonAll, 'wall')).toFixed(2)}; bytes per run sqlite/JSON ${(steady(sqlite, 'grew') / steady(json, 'bytes')).toFixed(2)}`);
  const w = last(withSpans);
  console.log(`  with sample spans kept (3 slowest per route, 8 spans each): ${fmt(steady(withSpans, 'sync'))} ms on the thread, ${fmt(steady(withSpans, 'wall'))} ms with the file write (+${fmt(steady(withSpans, 'capture'))} ms to take the spans); file ${kib(w.bytes)} for ${RUNS} runs, +${kib(steady(withSpans, 'grew'))} per run`);
  console.log(`    a run keeps ${w.traces} traces of ${ROUTES * 3} (${kib(w.traceBytes)}, bound ${kib(512 * 1024)} per run; ${(w.traceBytes / Math.max(1, w.traces)).toFixed(0)} bytes a trace); ${spanStats.traces} traces in the file, ${kib(spanStats.bytes)}`);
  console.log(`    ratios with/without sample spans: bytes per run ${(steady(withSpans, 'grew') / steady(sqlite, 'grew')).toFixed(2)}, save time ${(steady(withSpans, 'wall') / steady(sqlite, 'wall')).toFixed(2)}`);
  console.log(`  (file check: ${kib(statSync(join(dir, 'runs.sqlite')).size)} on disk)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
