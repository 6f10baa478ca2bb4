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
// Every 10 s: accepted/s, collector RSS and what it is made of (V8 heap after a full GC in the
// child and as reserved, array buffers, the malloc heap), event-loop delay p50/p99/max over those
// 10 s, store sizes and the memory of the route statistics. At the end: heap and RSS flat within
// 10% over the whole run after warm-up, the accounting of each phase, and the route statistics
// holding every request the agents sent. The agents and the phases are in bench/lib/nativeAgents.mjs
// (bench/exthost-load.mjs runs the same load against the collector inside VS Code's extension host).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { PHASES, runLoadPhases, startFleet } from './lib/nativeAgents.mjs';

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
      process.send({ type: 'sample', lag: w, phaseLag: p, rss: rssBefore, rssAfterGc: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, arrayBuffers: mem.arrayBuffers, mallocHeap: mallocHeapBytes(), counters: rt.counters.snapshot(), sizes: rt.store.sizes(), limits: rt.store.limits });
    } else if (m.type === 'stop') {
      void rt.stop().then(() => process.exit(0));
    }
  });
  process.send({ type: 'ready', port: rt.collector.port });
}

/**
 * Resident bytes of glibc's main malloc heap (the `[heap]` mapping): where Node's buffers of up to
 * the mmap threshold come from. Linux only; null elsewhere.
 */
function mallocHeapBytes() {
  try {
    const lines = readFileSync('/proc/self/smaps', 'utf8').split('\n');
    let inHeap = false;
    let kb = 0;
    for (const line of lines) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inHeap = line.endsWith('[heap]');
      else if (inHeap && line.startsWith('Rss:')) kb += Number(line.slice(4).trim().split(/\s+/)[0]);
    }
    return kb * 1024;
  } catch {
    return null;
  }
}


// ---- the load generator (parent) -----------------------------------------------------------------

async function parent() {
  const MINUTES = Number(opt('minutes', 2));
  const AGENTS = Number(opt('agents', 50));
  const BATCH = Number(opt('batch', 200));
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

  const fleet = await startFleet({ port, agents: AGENTS, batch: BATCH, log });
  const totalMs = MINUTES * 60_000;
  const samples = [];
  const t0 = Date.now();
  let lastCounters = {};
  let lastSampleAt = t0;
  const accepted = (c) => (c['ws.accepted.spans'] ?? 0) + (c['ws.accepted.logs'] ?? 0) + (c['ws.accepted.metrics'] ?? 0);
  const acceptedSpans = (c) => c['ws.accepted.spans'] ?? 0;
  const mib = (b) => (b == null ? null : Math.round((b / 1048576) * 10) / 10);
  let phaseName = PHASES[0];

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
      mallocHeapMiB: mib(s.mallocHeap),
      routeStatsMiB: mib(s.sizes.routeStatsBytes),
      lag: s.lag,
      phaseLag: s.phaseLag,
      sizes: s.sizes,
      counters: s.counters,
      limits: s.limits,
    };
    lastCounters = s.counters;
    lastSampleAt = now;
    samples.push(row);
    const n = (x, w) => String(x).padStart(w);
    log(
      `${n(row.t, 4)} s  ${row.phase.padEnd(15)} ${n(row.spansPerS, 7)} spans/s ${n(row.itemsPerS, 7)} items/s  rss ${n(row.rssMiB, 6)} MiB (V8 heap ${n(row.heapMiB, 5)} after GC, ${n(row.heapTotalMiB, 6)} reserved; buffers ${n(row.arrayBuffersMiB, 5)}; malloc heap ${n(row.mallocHeapMiB, 5)})  lag p50/p99/max ${row.lag.p50}/${row.lag.p99}/${row.lag.max} ms  store ${row.sizes.spans} spans ${row.sizes.logs} logs ${mib(row.sizes.bytes)} MiB, route stats ${row.routeStatsMiB} MiB`,
    );
    return row;
  };

  const sampler = setInterval(() => void sample(), SAMPLE_MS);
  const { capacity, results } = await runLoadPhases(fleet, totalMs, async (name) => {
    phaseName = name;
    await ask({ type: 'phase' });
  });
  clearInterval(sampler);
  await sample();

  // The route statistics must hold every server request the agents sent, although raw spans have
  // long been evicted from the bounded store.
  const get = (path) =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
        })
        .on('error', reject);
    });
  const routes = await get('/api/v1/routes?window=900');
  const stats = await get('/api/v1/stats');
  const routeCount = routes.routes.reduce((n, r) => n + r.count, 0);
  const totals = fleet.snapshot();
  const serverSpansSent = fleet.serverSpansSent();
  const closedEarly = fleet.closedEarly();
  fleet.close();
  proc.send({ type: 'stop' });
  await new Promise((r) => proc.once('exit', r));

  // ---- verdicts ---------------------------------------------------------------------------------
  const warmUpS = Math.min(30, (totalMs / 1000) * 0.25);
  const steady = samples.filter((s) => s.t > warmUpS);
  const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / Math.min(...xs);
  const range = (xs) => `${Math.min(...xs)}–${Math.max(...xs)} MiB`;
  const heapSpread = spread(steady.map((s) => s.heapMiB));
  const rssSpread = spread(steady.map((s) => s.rssMiB));
  // For context: the spread under each load alone (samples taken while a phase drains its queues
  // are left out there: the load is falling).
  const phaseRss = PHASES.map((p) => steady.filter((s) => s.phase === p && s.itemsPerS > 0).map((s) => s.rssMiB)).filter((xs) => xs.length >= 2);
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
    [`collector heap (after GC) flat within 10% after ${warmUpS} s warm-up`, heapSpread <= 0.1, `${(heapSpread * 100).toFixed(1)}% spread, ${range(steady.map((s) => s.heapMiB))}`],
    [
      `collector RSS flat within 10% over the whole run after ${warmUpS} s warm-up (every load)`,
      rssSpread <= 0.1,
      `${(rssSpread * 100).toFixed(1)}% spread, ${range(steady.map((s) => s.rssMiB))}; at most ${(rssPhaseSpread * 100).toFixed(1)}% within one phase; malloc heap ${range(steady.map((s) => s.mallocHeapMiB))}, buffers ${range(steady.map((s) => s.arrayBuffersMiB))}, V8 reserved ${range(steady.map((s) => s.heapTotalMiB))}`,
    ],
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
