// What a log filter costs over 100,000 stored records: the store's indexed query
// (store.queryLogs, what /api/v1/logs and the log view run) next to the plain way, a scan of
// every record with the same predicate (the baseline, in the same run, over the same records).
// Also the ingest rate with the indexes against a plain array push.
//
// Usage: npm run build && node bench/log-query.mjs [--runs 30] [--records 100000]
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { TelemetryStore } = require('../out/src/core/store/store.js');
const { searchTerms } = require('../out/src/core/collector/queryApi.js');

const arg = (name, def) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const runs = arg('--runs', 30);
const N = arg('--records', 100_000);
const T0 = Date.now() - 3_600_000;
const hex = (n, w) => n.toString(16).padStart(w, '0');
const services = ['gateway', 'orders', 'payments', 'inventory', 'accounts'].map((name) => ({ serviceName: name, attributes: { 'service.name': name } }));
const severities = ['debug', 'info', 'info', 'info', 'info', 'info', 'warn', 'error'];
const words = ['user', 'order', 'payment', 'cache', 'query', 'session', 'retry', 'token', 'stock', 'invoice'];

function record(i) {
  const w1 = words[i % 10];
  const w2 = words[(i * 7) % 10];
  return {
    timeMs: T0 + i * 30,
    severity: severities[i % severities.length],
    body: `${w1} ${w2} handled in ${i % 97} ms (request ${i})`,
    attributes: { user_id: i % 5000, status: [200, 200, 200, 404, 500][i % 5], 'logger.name': `app.${w1}`, 'code.file.path': `/srv/app/${w1}.py`, 'code.line.number': 10 + (i % 300), 'code.function.name': w2 },
    resource: services[i % services.length],
    traceId: hex(Math.floor(i / 4) + 1, 32),
  };
}

const records = Array.from({ length: N }, (_, i) => record(i));
const store = new TelemetryStore({ maxLogs: N, maxBytes: 4 * 1024 * 1024 * 1024 });

let t = performance.now();
for (let i = 0; i < N; i += 500) store.addLogs(records.slice(i, i + 500));
const ingestMs = performance.now() - t;
t = performance.now();
const plain = [];
for (const r of records) plain.push({ log: r, bytes: 0 });
const plainMs = performance.now() - t;
if (store.sizes().logs !== N) throw new Error(`store holds ${store.sizes().logs} of ${N}`);

const rank = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };
/** The baseline: every record tested, newest first, lowercasing the body as a scan must. */
function scan(pred, limit) {
  const out = [];
  for (let i = records.length - 1; i >= 0 && out.length < limit; i--) if (pred(records[i])) out.push(records[i]);
  return out;
}
const traceId = hex(12_345, 32);
const cases = [
  {
    name: 'attr.user_id=42',
    query: { attrs: [{ key: 'user_id', value: '42', negate: false }] },
    pred: (r) => String(r.attributes.user_id) === '42',
  },
  {
    name: 'traceId',
    query: { traceId },
    pred: (r) => r.traceId === traceId,
  },
  {
    name: 'service=payments level>=error attr.status!=500',
    query: { service: 'payments', minSeverity: 'error', attrs: [{ key: 'status', value: '500', negate: true }] },
    pred: (r) => r.resource.serviceName === 'payments' && rank[r.severity] >= rank.error && String(r.attributes.status) !== '500',
  },
  {
    name: 'q="payment invoice" (text, no index)',
    query: { terms: searchTerms('"payment invoice"') },
    pred: (r) => r.body.toLowerCase().includes('payment invoice'),
  },
  {
    name: 'q=nomatch (text matching nothing: a full scan)',
    query: { terms: searchTerms('nomatch') },
    pred: (r) => r.body.toLowerCase().includes('nomatch'),
  },
  {
    name: 'attr.user_id=42 + time range (last 10 min)',
    query: { attrs: [{ key: 'user_id', value: '42', negate: false }], sinceMs: T0 + (N * 30 - 600_000) },
    pred: (r) => String(r.attributes.user_id) === '42' && r.timeMs >= T0 + (N * 30 - 600_000),
  },
];

function time(fn) {
  const samples = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    result = fn();
    samples.push(performance.now() - s);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], max: samples[samples.length - 1], result };
}

console.log(`${N.toLocaleString('en-US')} records in the store; ${runs} runs of each filter, limit 200 (and 5,000)`);
console.log(`ingest: ${(N / ingestMs * 1000).toFixed(0)} records/s with the indexes (${ingestMs.toFixed(0)} ms), a plain array ${plainMs.toFixed(1)} ms`);
let worst = 0;
for (const limit of [200, 5000]) {
  for (const c of cases) {
    const indexed = time(() => store.queryLogs(c.query, limit));
    const base = time(() => scan(c.pred, limit));
    if (indexed.result.length !== base.result.length) throw new Error(`${c.name}: ${indexed.result.length} records, the scan found ${base.result.length}`);
    worst = Math.max(worst, indexed.max);
    const ratio = base.median / Math.max(indexed.median, 1e-3);
    console.log(`${c.name.padEnd(48)} limit ${String(limit).padStart(4)}: ${String(indexed.result.length).padStart(4)} found, indexed median ${indexed.median.toFixed(3)} ms (max ${indexed.max.toFixed(2)}), scan ${base.median.toFixed(3)} ms: ${ratio.toFixed(1)}x`);
  }
}
console.log(`slowest single filter: ${worst.toFixed(2)} ms (goal: well under 50 ms)`);
const mem = process.memoryUsage();
console.log(`heap used ${(mem.heapUsed / 1048576).toFixed(0)} MiB with the store and the baseline's copy of the records`);
