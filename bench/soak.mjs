// Load and soak: concurrent native-protocol agents against a collector in a child process, so the
// collector's memory and event-loop delay are measured apart from the load generator's.
//
// Run after `npm run build` (it loads the compiled collector from out/):
//   node bench/soak.mjs [--minutes 2] [--agents 50] [--batch 200] [--json]
//
// Three phases, loopback only, bounded in time:
//   1. full speed (60% of the run): every agent sends batches as fast as acks come back (2 in
//      flight each); the accepted rate after the first 10 s is the collector's capacity here.
//   2. below capacity (20%): agents generate spans at half that capacity into a bounded queue
//      (10,000 items, as the Python agent's) and send from it; nothing may be lost: accepted == sent.
//   3. above capacity (20%): generated at twice the capacity; queues overflow, agents drop and report
//      their drops in the next batch's `dropped`, and generated == accepted + dropped exactly.
// Every 10 s: accepted/s, collector RSS and heap (after a full GC in the child), event-loop delay
// p50/p99/max over those 10 s, store sizes. At the end: memory flat within 10% after warm-up, the
// accounting of each phase, and the route statistics holding every request the agents sent.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const TOKEN = 'soak-token-0123456789abcdef0123';

if (args.includes('--child')) await child();
else await parent();

// ---- the collector (child process) ---------------------------------------------------------------

async function child() {
  const { startRuntime } = require(join(here, '..', 'out', 'src', 'core', 'runtime.js'));
  const { silentLogger } = require(join(here, '..', 'out', 'src', 'core', 'log.js'));
  // Default limits: the bounds a user gets.
  const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger });
  const RES = 5;
  const lag = () => {
    const h = monitorEventLoopDelay({ resolution: RES });
    h.enable();
    return h;
  };
  let window = lag();
  let phase = lag();
  // The histogram holds whole timer intervals; the delay is how late each fired.
  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - RES) * 100) / 100);
  const summary = (h) => (h.count ? { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) } : { p50: 0, p99: 0, max: 0 });
  process.on('message', (m) => {
    if (m.type === 'phase') {
      phase.disable();
      phase = lag();
      process.send({ type: 'phase-ok' });
    } else if (m.type === 'sample') {
      const w = summary(window);
      const p = summary(phase);
      const rssBefore = process.memoryUsage().rss;
      // Heap after a full GC is the memory actually held; the GC pause is left out of the delay
      // figures by resetting the window after it.
      global.gc?.();
      const mem = process.memoryUsage();
      window.reset();
      process.send({ type: 'sample', lag: w, phaseLag: p, rss: rssBefore, rssAfterGc: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, arrayBuffers: mem.arrayBuffers, counters: rt.counters.snapshot(), sizes: rt.store.sizes(), limits: rt.store.limits });
    } else if (m.type === 'stop') {
      void rt.stop().then(() => process.exit(0));
    }
  });
  process.send({ type: 'ready', port: rt.collector.port });
}

// ---- the load generator (parent) -----------------------------------------------------------------

async function parent() {
  const { WebSocket } = require('ws');
  const MINUTES = Number(opt('minutes', 2));
  const AGENTS = Number(opt('agents', 50));
  const BATCH = Number(opt('batch', 200));
  const QUEUE = 10_000;
  const IN_FLIGHT = 2;
  const SAMPLE_MS = 10_000;
  const json = args.includes('--json');
  const log = (...a) => {
    if (!json) console.log(...a);
  };
  if (MINUTES > 14) throw new Error('--minutes at most 14: the route statistics used for the accounting cover 15 minutes');

  const proc = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  let waiter;
  proc.on('message', (m) => (waiter ? (waiter(m), (waiter = undefined)) : replies.push(m)));
  const ask = (msg) =>
    new Promise((resolve) => {
      waiter = resolve;
      if (msg) proc.send(msg);
    });
  const ready = replies.length ? replies.shift() : await ask();
  const port = ready.port;
  log(`collector (pid ${proc.pid}) on 127.0.0.1:${port}; ${AGENTS} agents, batches of up to ${BATCH} spans, ${MINUTES} min`);

  // One template per agent: spans as JSON text with a placeholder in the ids, so a batch costs the
  // generator a join and a replaceAll rather than a JSON.stringify. Span times are fixed (statistics
  // go by receive time); durations spread log-uniformly over 1-800 ms, as a real route's do, so
  // each route's latency sketches have realistic sizes.
  const ROUTES = Array.from({ length: 20 }, (_, i) => `/api/r${i}/{id}`);
  const spanText = (agent, i) => {
    const server = i % 10 < 7;
    const route = ROUTES[(agent + i) % ROUTES.length];
    const error = i % 20 === 0;
    const pre = `${agent.toString(16).padStart(4, '0')}${i.toString(16).padStart(4, '0')}`;
    const startMs = 1_700_000_000_000 + i * 1000 + 0.25;
    const durationMs = Math.round(Math.exp(((i * 0.6180339887) % 1) * Math.log(800)) * 100) / 100;
    const base = {
      traceId: `${pre}BBBBBBBBBBBBaaaaaaaaaaaa`,
      spanId: `${i.toString(16).padStart(4, '0')}BBBBBBBBBBBB`,
      name: server ? `GET ${route}` : 'SELECT items',
      kind: server ? 'server' : 'client',
      startMs,
      endMs: startMs + durationMs,
      status: error && server ? 'error' : 'unset',
      attributes: server
        ? { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': error ? 500 : 200, 'url.path': route.replace('{id}', String(i)), 'client.address': '127.0.0.1', 'code.file.path': '/srv/app/main.py', 'code.line.number': 10 + (i % 20), 'code.function.name': 'main.handler' }
        : { 'db.system': 'postgresql', 'db.statement': 'SELECT * FROM items WHERE id = $1', 'server.address': 'db' },
    };
    if (error && i % 60 === 0) base.exception = { type: 'ValueError', message: `bad id ${i % 7}`, frames: [{ file: '/srv/app/main.py', line: 42, function: 'handler' }] };
    return JSON.stringify(base);
  };

  let batchCounter = 1;
  const nextBatchHex = () => (batchCounter++).toString(16).padStart(12, '0');

  class Agent {
    constructor(i) {
      this.i = i;
      this.spans = Array.from({ length: BATCH }, (_, k) => spanText(i, k));
      this.full = `{"v":1,"type":"batch","spans":[${this.spans.join(',')}],"logs":[LOGS],"metrics":[METRIC]}`;
      this.mode = 'full';
      this.queue = 0;
      this.dropped = 0;
      this.inFlight = 0;
      this.sent = { spans: 0, logs: 0, metrics: 0 };
      this.accepted = { spans: 0, logs: 0, metrics: 0 };
      this.rejected = 0;
      this.errors = 0;
      this.generated = 0;
      this.reportedDrops = 0;
      this.serverSent = 0;
      this.stopped = false;
    }
    connect() {
      return new Promise((resolve, reject) => {
        this.ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { perMessageDeflate: false });
        this.ws.on('open', () => {
          this.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': `soak-${this.i % 5}`, 'service.instance.id': `agent-${this.i}`, 'process.pid': 10_000 + this.i } }));
        });
        this.ws.on('message', (d) => {
          const m = JSON.parse(d);
          if (m.type === 'welcome') return resolve();
          if (m.type === 'ack') {
            this.inFlight--;
            for (const k of ['spans', 'logs', 'metrics']) this.accepted[k] += m.accepted[k];
            this.rejected += m.rejected.spans + m.rejected.logs + m.rejected.metrics;
            this.pump();
          } else if (m.type === 'error') this.errors++;
        });
        this.ws.on('error', reject);
        this.ws.on('close', (code) => {
          this.closed = code;
          if (!this.stopped) console.error(`agent ${this.i}: connection closed (${code}) with ${this.inFlight} batches unacknowledged`);
        });
      });
    }
    batchText(k) {
      const now = String(Date.now());
      const logs = Math.floor(k / 20);
      const logText = `{"timeMs":${now},"severity":"info","body":"handled request","attributes":{"logger.name":"app"}}`;
      const metric = `{"name":"process.memory.usage","kind":"gauge","value":${50_000_000 + this.i},"timeMs":${now},"unit":"By"}`;
      const body = k === BATCH ? this.full : `{"v":1,"type":"batch","spans":[${this.spans.slice(0, k).join(',')}],"logs":[LOGS],"metrics":[METRIC]}`;
      this.sent.spans += k;
      this.serverSent += Math.floor(k / 10) * 7 + Math.min(k % 10, 7);
      this.sent.logs += logs;
      this.sent.metrics += 1;
      let text = body.replaceAll('BBBBBBBBBBBB', nextBatchHex()).replace('LOGS', Array(logs).fill(logText).join(',')).replace('METRIC', metric);
      if (this.dropped) {
        text = text.replace('"type":"batch",', `"type":"batch","dropped":{"spans":${this.dropped},"logs":0,"metrics":0},`);
        this.reportedDrops += this.dropped;
        this.dropped = 0;
      }
      return text;
    }
    pump() {
      while (this.inFlight < IN_FLIGHT && !this.stopped) {
        let k = BATCH;
        if (this.mode !== 'full') {
          k = Math.min(this.queue, BATCH);
          // An empty batch still goes out when it has drops to report.
          if (k === 0 && this.dropped === 0) return;
          this.queue -= k;
        }
        this.inFlight++;
        this.ws.send(this.batchText(k));
      }
    }
    generate(n) {
      this.generated += n;
      const room = QUEUE - this.queue;
      const take = Math.min(room, n);
      this.queue += take;
      this.dropped += n - take;
      this.pump();
    }
  }

  const agents = Array.from({ length: AGENTS }, (_, i) => new Agent(i));
  await Promise.all(agents.map((a) => a.connect()));

  const totalMs = MINUTES * 60_000;
  const phases = [
    { name: 'full speed', ms: totalMs * 0.6 },
    { name: 'below capacity', ms: totalMs * 0.2, factor: 0.5 },
    { name: 'above capacity', ms: totalMs * 0.2, factor: 2 },
  ];
  const samples = [];
  const t0 = Date.now();
  let lastCounters = {};
  let lastSampleAt = t0;
  const accepted = (c) => (c['ws.accepted.spans'] ?? 0) + (c['ws.accepted.logs'] ?? 0) + (c['ws.accepted.metrics'] ?? 0);
  const acceptedSpans = (c) => c['ws.accepted.spans'] ?? 0;
  const mib = (b) => Math.round((b / 1048576) * 10) / 10;
  let phaseName = phases[0].name;

  const sample = async () => {
    const s = await ask({ type: 'sample' });
    const now = Date.now();
    const dt = (now - lastSampleAt) / 1000;
    const row = {
      t: Math.round((now - t0) / 1000),
      phase: phaseName,
      itemsPerS: Math.round((accepted(s.counters) - accepted(lastCounters)) / dt),
      spansPerS: Math.round((acceptedSpans(s.counters) - acceptedSpans(lastCounters)) / dt),
      rssMiB: mib(s.rss),
      rssAfterGcMiB: mib(s.rssAfterGc),
      heapTotalMiB: mib(s.heapTotal),
      heapMiB: mib(s.heapUsed),
      arrayBuffersMiB: mib(s.arrayBuffers),
      lag: s.lag,
      phaseLag: s.phaseLag,
      sizes: s.sizes,
      counters: s.counters,
      limits: s.limits,
    };
    lastCounters = s.counters;
    lastSampleAt = now;
    samples.push(row);
    log(
      `${String(row.t).padStart(4)} s  ${row.phase.padEnd(15)} ${String(row.spansPerS).padStart(7)} spans/s ${String(row.itemsPerS).padStart(7)} items/s  rss ${String(row.rssMiB).padStart(6)} MiB (${String(row.rssAfterGcMiB).padStart(6)} after GC)  heap ${String(row.heapMiB).padStart(6)}/${String(row.heapTotalMiB).padStart(6)} MiB + buffers ${String(row.arrayBuffersMiB).padStart(5)} MiB  lag p50/p99/max ${row.lag.p50}/${row.lag.p99}/${row.lag.max} ms  store ${row.sizes.spans} spans ${row.sizes.logs} logs ${mib(row.sizes.bytes)} MiB`,
    );
    return row;
  };

  const sampler = setInterval(() => void sample(), SAMPLE_MS);
  const results = {};
  let capacity = 0;
  const snapshotAgents = () => ({
    generated: agents.reduce((n, a) => n + a.generated, 0),
    sentSpans: agents.reduce((n, a) => n + a.sent.spans, 0),
    acceptedSpans: agents.reduce((n, a) => n + a.accepted.spans, 0),
    acceptedLogs: agents.reduce((n, a) => n + a.accepted.logs, 0),
    acceptedMetrics: agents.reduce((n, a) => n + a.accepted.metrics, 0),
    sentLogs: agents.reduce((n, a) => n + a.sent.logs, 0),
    sentMetrics: agents.reduce((n, a) => n + a.sent.metrics, 0),
    drops: agents.reduce((n, a) => n + a.reportedDrops + a.dropped, 0),
    rejected: agents.reduce((n, a) => n + a.rejected, 0),
    errors: agents.reduce((n, a) => n + a.errors, 0),
  });
  const drain = async () => {
    // Stop generating; send what is queued (and any drops not yet reported), then wait for the acks.
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      for (const a of agents) a.pump();
      if (agents.every((a) => a.inFlight === 0 && a.queue === 0 && a.dropped === 0)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  };

  for (const phase of phases) {
    phaseName = phase.name;
    await ask({ type: 'phase' });
    const before = snapshotAgents();
    const started = Date.now();
    let ticker;
    if (!phase.factor) {
      for (const a of agents) {
        a.mode = 'full';
        a.pump();
      }
      // Capacity: the full-speed rate once warm, measured by the agents' acks over the phase.
      await new Promise((r) => setTimeout(r, Math.min(10_000, phase.ms / 3)));
      const warm = snapshotAgents();
      const warmAt = Date.now();
      await new Promise((r) => setTimeout(r, started + phase.ms - Date.now()));
      for (const a of agents) a.stopped = true;
      await drain();
      capacity = (snapshotAgents().acceptedSpans - warm.acceptedSpans) / ((Date.now() - warmAt) / 1000);
      for (const a of agents) a.stopped = false;
      log(`  capacity at full speed: ${Math.round(capacity)} spans/s (plus one log per 20 spans and a metric point per batch)`);
    } else {
      const rate = capacity * phase.factor;
      for (const a of agents) a.mode = 'queue';
      const perTick = rate / AGENTS / 100;
      let carry = 0;
      ticker = setInterval(() => {
        carry += perTick;
        const n = Math.floor(carry);
        carry -= n;
        if (n > 0) for (const a of agents) a.generate(n);
      }, 10);
      await new Promise((r) => setTimeout(r, phase.ms));
      clearInterval(ticker);
      const drained = await drain();
      const after = snapshotAgents();
      const d = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
      results[phase.name] = { targetRate: Math.round(rate), generatedPerS: Math.round(d.generated / (phase.ms / 1000)), ...d, drained };
      log(`  ${phase.name}: target ${Math.round(rate)} spans/s; generated ${d.generated}, accepted ${d.acceptedSpans}, dropped by agents (reported) ${d.drops}, rejected ${d.rejected}`);
    }
  }
  clearInterval(sampler);
  await sample();

  // The route statistics must hold every server request the agents sent, although raw spans have
  // long been evicted from the bounded store.
  const routes = await new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/api/v1/routes?window=900', headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      })
      .on('error', reject);
  });
  const stats = await new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/api/v1/stats', headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      })
      .on('error', reject);
  });
  const routeCount = routes.routes.reduce((n, r) => n + r.count, 0);
  const totals = snapshotAgents();
  const serverSpansSent = agents.reduce((n, a) => n + a.serverSent, 0);

  const closedEarly = agents.filter((a) => a.closed !== undefined).length;
  for (const a of agents) {
    a.stopped = true;
    a.ws.close();
  }
  proc.send({ type: 'stop' });
  await new Promise((r) => proc.once('exit', r));

  // ---- verdicts ---------------------------------------------------------------------------------
  const warmUpS = Math.min(30, (totalMs / 1000) * 0.25);
  const steady = samples.filter((s) => s.t > warmUpS);
  const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / Math.min(...xs);
  const heapSpread = spread(steady.map((s) => s.heapMiB));
  const rssSpread = spread(steady.map((s) => s.rssMiB));
  // RSS also holds V8's reserved heap, which V8 sizes by allocation rate: it steps when the load
  // changes. Flat means no drift under a given load, so it is judged within each phase (samples
  // taken while a phase drains its queues are left out: the load is falling there).
  const phaseRss = phases.map((p) => steady.filter((s) => s.phase === p.name && s.itemsPerS > 0).map((s) => s.rssMiB)).filter((xs) => xs.length >= 2);
  const rssPhaseSpread = Math.max(0, ...phaseRss.map(spread));
  const last = samples[samples.length - 1];
  const c = last.counters;
  const below = results['below capacity'];
  const above = results['above capacity'];
  const phaseLag = (name) => {
    const rows = samples.filter((s) => s.phase === name);
    return rows.length ? rows[rows.length - 1].phaseLag : undefined;
  };
  const checks = [
    [`collector heap (after GC) flat within 10% after ${warmUpS} s warm-up`, heapSpread <= 0.1, `${(heapSpread * 100).toFixed(1)}% spread, ${Math.min(...steady.map((s) => s.heapMiB))}–${Math.max(...steady.map((s) => s.heapMiB))} MiB`],
    [`collector RSS flat within 10% under each load after warm-up`, rssPhaseSpread <= 0.1, `${(rssPhaseSpread * 100).toFixed(1)}% largest spread within a phase; ${(rssSpread * 100).toFixed(1)}% across phases, ${Math.min(...steady.map((s) => s.rssMiB))}–${Math.max(...steady.map((s) => s.rssMiB))} MiB`],
    ['store within its configured bounds', samples.every((s) => s.sizes.spans <= s.limits.maxSpans && s.sizes.logs <= s.limits.maxLogs && s.sizes.bytes <= s.limits.maxBytes), `max ${Math.max(...samples.map((s) => s.sizes.spans))} spans, ${Math.max(...samples.map((s) => s.sizes.logs))} logs, ${mib(Math.max(...samples.map((s) => s.sizes.bytes)))} MiB of ${mib(last.limits.maxBytes)}`],
    ['below capacity: nothing lost (accepted == generated, no drops)', below.drained && below.acceptedSpans === below.generated && below.drops === 0 && below.rejected === 0, `generated ${below.generated}, accepted ${below.acceptedSpans}, dropped ${below.drops}`],
    ['above capacity: drops happen and are counted (generated == accepted + dropped)', above.drained && above.drops > 0 && above.generated === above.acceptedSpans + above.drops, `generated ${above.generated}, accepted ${above.acceptedSpans}, dropped ${above.drops}`],
    ["collector's agent.dropped.spans equals the drops agents reported", (c['agent.dropped.spans'] ?? 0) === totals.drops, `${c['agent.dropped.spans'] ?? 0} vs ${totals.drops}`],
    ['every item sent was accepted (ws.accepted == sent)', c['ws.accepted.spans'] === totals.sentSpans && c['ws.accepted.logs'] === totals.sentLogs && c['ws.accepted.metrics'] === totals.sentMetrics, `spans ${c['ws.accepted.spans']}/${totals.sentSpans}, logs ${c['ws.accepted.logs']}/${totals.sentLogs}, metrics ${c['ws.accepted.metrics']}/${totals.sentMetrics}`],
    ['route statistics count every server request sent', routeCount === serverSpansSent, `${routeCount} counted, ${serverSpansSent} sent`],
    ['no protocol errors, no connection lost', totals.errors === 0 && totals.rejected === 0 && !(c['ws.closed.unresponsive'] > 0) && closedEarly === 0, `${totals.errors} errors, ${totals.rejected} rejected items, ${closedEarly} agents disconnected (${c['ws.closed.unresponsive'] ?? 0} for missed pongs)`],
  ];

  const report = {
    minutes: MINUTES,
    agents: AGENTS,
    batch: BATCH,
    capacitySpansPerS: Math.round(capacity),
    lag: { fullSpeed: phaseLag('full speed'), belowCapacity: phaseLag('below capacity'), aboveCapacity: phaseLag('above capacity') },
    memory: { heapSpread, rssSpread, rssPhaseSpread, steadyHeapMiB: steady.map((s) => s.heapMiB), steadyRssMiB: steady.map((s) => s.rssMiB) },
    below,
    above,
    statsProcess: stats.process,
    samples: samples.map(({ counters: _c, limits: _l, ...s }) => s),
    checks: checks.map(([name, ok, detail]) => ({ name, ok, detail })),
  };
  if (json) console.log(JSON.stringify(report, null, 2));
  else {
    log('\nevent-loop delay in the collector (ms over each phase): p50 / p99 / max');
    for (const [k, v] of Object.entries(report.lag)) if (v) log(`  ${k.padEnd(14)} ${v.p50} / ${v.p99} / ${v.max}`);
    log(`\n/api/v1/stats process: rss ${mib(stats.process.rssBytes)} MiB, heap ${mib(stats.process.heapUsedBytes)} MiB, loop delay ${JSON.stringify(stats.process.eventLoopDelayMs)}`);
    log('\nchecks:');
    for (const [name, ok, detail] of checks) log(`  ${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`);
  }
  process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
}
