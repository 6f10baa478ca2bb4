// What the findings cost: the analysis of one 2,000-span trace (critical path, self times,
// breakdown, N+1 and slow-query detection) next to building the trace panel's view of the same
// trace (the baseline, in the same run), and the store's ingest rate of three-span requests with
// and without the insights engine settling and analysing every trace.
//
// Usage: npm run build && node bench/findings.mjs [--runs 30]
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { analyseTraceView } = require('../out/src/core/findings/index.js');
const { buildTraceView } = require('../out/src/features/traces/model.js');
const { TelemetryStore } = require('../out/src/core/store/store.js');

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 30;
const T0 = Date.now() - 60_000;
const hex = (n, w) => n.toString(16).padStart(w, '0');
const resource = (name, pid) => ({ serviceName: name, pid, attributes: { 'service.name': name } });

/** A gateway request calling three services; each runs 600 queries, 60 distinct statements in a loop. */
function bigTrace(traceNo) {
  const traceId = hex(traceNo + 1, 32);
  let id = 1;
  const mk = (parent, start, end, o = {}) => ({
    traceId,
    spanId: hex(id++, 16),
    parentSpanId: parent?.spanId,
    name: o.name ?? 'work',
    kind: o.kind ?? 'internal',
    startMs: T0 + start,
    endMs: T0 + end,
    status: 'unset',
    attributes: o.attributes ?? {},
    events: [],
    links: [],
    resource: o.resource ?? parent.resource,
    ...(o.http ? { http: o.http } : {}),
    ...(o.code ? { code: o.code } : {}),
  });
  const root = mk(undefined, 0, 3000, { kind: 'server', name: 'GET /checkout', resource: resource('gateway', 1), http: { method: 'GET', route: '/checkout', statusCode: 200 } });
  const spans = [root];
  for (let s = 0; s < 3; s++) {
    const call = mk(root, 10 + s * 990, 990 + s * 990, { kind: 'client', name: 'GET', attributes: { 'http.request.method': 'GET', 'url.full': `http://svc${s}:8000/work`, 'server.address': `svc${s}`, 'server.port': 8000 } });
    const srv = mk(call, 20 + s * 990, 980 + s * 990, { kind: 'server', name: 'GET /work', resource: resource(`svc${s}`, 10 + s), http: { method: 'GET', route: '/work', statusCode: 200 } });
    spans.push(call, srv);
    for (let q = 0; q < 664; q++) {
      const start = 25 + s * 990 + q * 1.4;
      spans.push(mk(srv, start, start + 1.2, { kind: 'client', name: 'SELECT', code: { file: `/srv/svc${s}/views.py`, line: 40 + (q % 60), function: 'work' }, attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.query.text': `SELECT * FROM t${q % 60} WHERE id = ?` } }));
    }
  }
  return spans;
}

function time(label, fn) {
  fn();
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const med = samples[Math.floor(samples.length / 2)];
  console.log(`${label.padEnd(52)} median ${med.toFixed(2)} ms  (p90 ${samples[Math.floor(samples.length * 0.9)].toFixed(2)} ms)`);
  return med;
}

const trace = bigTrace(0);
console.log(`one trace of ${trace.length} spans over 4 services (1,992 queries), ${runs} runs`);
const base = time('baseline: trace panel view model (buildTraceView)', () => buildTraceView(trace[0].traceId, trace, []));
const analysis = time('analysis: critical path, breakdown, N+1, slow', () => analyseTraceView(trace));
console.log(`ratio analysis / view model: ${(analysis / base).toFixed(2)}`);
const a = analyseTraceView(trace);
console.log(`  findings in it: ${a.findings.length}; critical path ${a.criticalPath.length} segments`);

// Ingest: 20,000 requests of three spans (server, query, query) in batches of 100, traces settling.
function ingest(withInsights) {
  const clock = { now: T0 };
  const store = new TelemetryStore({ maxSpans: 20_000 }, { now: () => clock.now });
  if (!withInsights) {
    store.insights.observe = () => {};
  }
  const t = performance.now();
  let n = 0;
  for (let b = 0; b < 200; b++) {
    const batch = [];
    for (let k = 0; k < 100; k++, n++) {
      const traceId = hex(n + 1, 32);
      const res = resource('api', 1);
      const root = { traceId, spanId: hex(3 * n + 1, 16), name: 'GET /items', kind: 'server', startMs: clock.now - 10, endMs: clock.now, status: 'unset', attributes: {}, events: [], links: [], resource: res, http: { method: 'GET', route: '/items', statusCode: 200 } };
      batch.push(root);
      for (let q = 0; q < 2; q++) batch.push({ traceId, spanId: hex(3 * n + 2 + q, 16), parentSpanId: root.spanId, name: 'SELECT', kind: 'client', startMs: clock.now - 9 + q * 4, endMs: clock.now - 6 + q * 4, status: 'unset', attributes: { 'db.system.name': 'sqlite', 'db.query.text': 'SELECT * FROM items WHERE id = ?' }, events: [], links: [], resource: res, code: { file: '/app/main.py', line: 12, function: 'items' } });
    }
    store.addSpans(batch);
    clock.now += 100;
  }
  store.insights.process(clock.now + 10_000);
  return { ms: performance.now() - t, requests: n, analysed: store.insights.stats.requests };
}
ingest(false);
ingest(true);
const off = ingest(false);
const on = ingest(true);
console.log(`ingest of ${off.requests} three-span requests: ${(off.requests / (off.ms / 1000)).toFixed(0)} req/s without the insights engine, ${(on.requests / (on.ms / 1000)).toFixed(0)} req/s with it (${on.analysed} analysed); ratio ${(on.ms / off.ms).toFixed(2)}`);
