// What keeping runs costs: closing a run of 500 routes (each with a whole-run latency sketch, its
// trace sample and a few error groups) into the sql.js database that already holds 19 runs,
// and the file's growth per run, next to writing the same data as JSON in the same process (the
// run alone in its own file, and the whole history as one JSON file, as a snapshot would).
//
// Usage: npm run build && node bench/runs-db.mjs [--runs 20] [--routes 500]
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { TelemetryStore } = require('../out/src/core/store/store.js');
const { RunDatabase } = require('../out/src/core/runs/database.js');
const { runToStored } = require('../out/src/core/runs/run.js');

const arg = (name, def) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const RUNS = arg('--runs', 20);
const ROUTES = arg('--routes', 500);
const REQUESTS = 200;

let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const hex = (n) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

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

const dir = mkdtempSync(join(tmpdir(), 'routelens-bench-runs-'));
const log = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
try {
  const db = await RunDatabase.open({ file: join(dir, 'runs.sqlite'), log, maxRunsPerService: RUNS + 5, maxBytes: 1024 * 1024 * 1024 });
  const sqlite = [];
  const json = [];
  const jsonAll = [];
  let prevBytes = 0;
  for (let k = 0; k < RUNS; k++) {
    makeRun(k);
    // The run before this one ended when this one started: that is the close being measured.
    const t0 = performance.now();
    const r = await db.save(store.runs.allRuns(), {});
    const wall = performance.now() - t0;
    const grew = r.bytes - prevBytes;
    prevBytes = r.bytes;
    sqlite.push({ sync: r.syncMs, wall, grew, written: r.written, bytes: r.bytes });

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
  console.log(`  (file check: ${kib(statSync(join(dir, 'runs.sqlite')).size)} on disk)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
