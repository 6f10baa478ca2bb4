// The forwarder's cost per span next to ingest alone, in one run: OTLP/HTTP protobuf requests of
// 512 spans go through the receiver's ingest into the store, once without forwarding and once with
// the forwarder sending everything on (redact, encode, gzip, HTTP) to an upstream in a child process
// (so the upstream's own work is not counted). Figures are CPU microseconds per span of this
// process (gzip runs on libuv's thread pool and counts too), best of interleaved rounds.
//
// Run after `npm run build`:  node bench/forward.mjs [--rounds N] [--requests N]
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const out = (p) => require(join(here, '..', 'out', 'src', 'core', p));
const { otlpTypes } = out('otlp/schema.js');
const { OtlpIngest } = out('otlp/ingest.js');
const { Counters } = out('counters.js');
const { silentLogger } = out('log.js');
const { TelemetryStore } = out('store/store.js');
const { Forwarder } = out('forward/forwarder.js');
const { encodeTraces } = out('forward/encode.js');
const { OutgoingRedactor } = out('forward/redact.js');

const args = process.argv.slice(2);
const arg = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const ROUNDS = arg('--rounds', 5);
const REQUESTS = arg('--requests', 40);
const SPANS = 512;

function hex(n, bytes) {
  return n.toString(16).padStart(bytes * 2, '0');
}

/** One request: a FastAPI-like service, one server span and three database spans per trace. */
function makeRequest(seed) {
  const kv = (key, v) => ({ key, value: typeof v === 'string' ? { stringValue: v } : { intValue: v } });
  const base = BigInt(Date.now() - 60_000) * 1_000_000n;
  const spans = [];
  for (let i = 0; i < SPANS; i++) {
    const server = i % 4 === 0;
    const start = base + BigInt(i) * 1_000_000n;
    spans.push({
      traceId: Buffer.from(hex(seed * 1000 + Math.floor(i / 4) + 1, 16), 'hex'),
      spanId: Buffer.from(hex(seed * 10000 + i + 1, 8), 'hex'),
      ...(server ? {} : { parentSpanId: Buffer.from(hex(seed * 10000 + i - (i % 4) + 1, 8), 'hex') }),
      name: server ? 'GET /items/{item_id}' : 'SELECT shop.items',
      kind: server ? 2 : 3,
      startTimeUnixNano: start.toString(),
      endTimeUnixNano: (start + BigInt(500_000 + (i % 97) * 20_000)).toString(),
      attributes: server
        ? [kv('http.request.method', 'GET'), kv('http.route', '/items/{item_id}'), kv('http.response.status_code', i % 40 === 0 ? 500 : 200), kv('url.path', `/items/${i}`), kv('user_agent.original', 'python-httpx/0.27.0'), kv('client.address', '127.0.0.1')]
        : [kv('db.system', 'postgresql'), kv('db.name', 'shop'), kv('db.statement', 'SELECT id, name, price FROM items WHERE id = ?'), kv('server.address', 'db'), kv('server.port', 5432)],
      status: { code: i % 40 === 0 ? 2 : 0 },
    });
  }
  const T = otlpTypes().traceRequest;
  const msg = {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', 'shop-api'), kv('service.instance.id', '6a0f1d3e-2b7c'), kv('telemetry.sdk.name', 'opentelemetry'), kv('telemetry.sdk.version', '1.27.0')] },
        scopeSpans: [{ scope: { name: 'opentelemetry.instrumentation.fastapi', version: '0.48b0' }, spans }],
      },
    ],
  };
  return Buffer.from(T.encode(T.fromObject(msg)).finish());
}

// The upstream: a bare HTTP server in its own process that reads and discards what it gets.
const upstream = spawn(
  process.execPath,
  ['-e', "const s=require('node:http').createServer((q,r)=>{q.resume();q.on('end',()=>{r.writeHead(200,{'Content-Type':'application/x-protobuf'});r.end();});}).listen(0,'127.0.0.1',()=>console.log(s.address().port));"],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const upstreamPort = await new Promise((r) => upstream.stdout.once('data', (d) => r(Number(String(d).trim()))));

const bodies = Array.from({ length: REQUESTS }, (_, i) => makeRequest(i + 1));

function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function round(forward) {
  const counters = new Counters();
  const store = new TelemetryStore({}, { counters });
  const forwarder = forward ? new Forwarder({ url: `http://127.0.0.1:${upstreamPort}`, log: silentLogger, counters, maxQueue: REQUESTS * SPANS, flushMs: 50 }) : undefined;
  const sink = forwarder ? forwarder.tee(store) : store;
  const ingest = new OtlpIngest(sink, { counters, log: silentLogger });
  global.gc?.();
  const c0 = cpuUs();
  const t0 = performance.now();
  for (const b of bodies) ingest.ingest('traces', 'protobuf', b);
  if (forwarder) {
    const ok = await forwarder.flush(60_000);
    if (!ok || forwarder.state().sent.traces !== REQUESTS * SPANS) throw new Error(`forwarder did not send everything: ${JSON.stringify(forwarder.state())}`);
    await forwarder.stop();
  }
  const wall = performance.now() - t0;
  const cpu = cpuUs() - c0;
  return { cpuPerSpanUs: cpu / (REQUESTS * SPANS), wallMs: wall };
}

function encodeOnly() {
  // Redact + encode alone, on the spans the receiver made from the same requests.
  const store = new TelemetryStore({}, { counters: new Counters() });
  const spans = [];
  const sink = { addSpans: (s) => spans.push(...s), addLogs() {}, addMetrics() {} };
  const ingest = new OtlpIngest(sink, { counters: store.counters, log: silentLogger });
  for (const b of bodies) ingest.ingest('traces', 'protobuf', b);
  const r = new OutgoingRedactor();
  const c0 = cpuUs();
  const encoded = [];
  for (let i = 0; i < spans.length; i += 512) encoded.push(encodeTraces(spans.slice(i, i + 512).map((s) => r.span(s))));
  const c1 = cpuUs();
  let bytes = 0;
  let gz = 0;
  for (const e of encoded) {
    bytes += e.length;
    gz += gzipSync(e, { level: 1 }).length;
  }
  const c2 = cpuUs();
  return { encode: (c1 - c0) / spans.length, gzip: (c2 - c1) / spans.length, bytesPerSpan: bytes / spans.length, gzipBytesPerSpan: gz / spans.length };
}

const best = { ingest: Infinity, forward: Infinity, encode: Infinity, gzip: Infinity, bytes: 0, gzBytes: 0 };
await round(false);
await round(true);
for (let i = 0; i < ROUNDS; i++) {
  best.ingest = Math.min(best.ingest, (await round(false)).cpuPerSpanUs);
  best.forward = Math.min(best.forward, (await round(true)).cpuPerSpanUs);
  const e = encodeOnly();
  best.encode = Math.min(best.encode, e.encode);
  best.gzip = Math.min(best.gzip, e.gzip);
  best.bytes = e.bytesPerSpan;
  best.gzBytes = e.gzipBytesPerSpan;
}
upstream.kill();

const f = (x) => x.toFixed(2);
console.log(`forward: ${REQUESTS} requests x ${SPANS} spans, best of ${ROUNDS} rounds, CPU µs per span of the receiving process`);
console.log(`  ingest alone (decode, map, store):            ${f(best.ingest)} µs/span`);
console.log(`  ingest + forwarding (redact, encode, gzip, HTTP): ${f(best.forward)} µs/span`);
console.log(`  forwarder's own cost:                          ${f(best.forward - best.ingest)} µs/span`);
console.log(`    of which redact + encode:                    ${f(best.encode)} µs/span`);
console.log(`    of which gzip (level 1):                     ${f(best.gzip)} µs/span (${best.bytes.toFixed(0)} bytes/span, ${best.gzBytes.toFixed(0)} gzipped)`);
console.log(`  ratio ingest+forward / ingest alone:           ${(best.forward / best.ingest).toFixed(2)}x`);
