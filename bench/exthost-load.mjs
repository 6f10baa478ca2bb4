// Load in the real extension host: the soak's 50 native-protocol agents (bench/lib/nativeAgents.mjs)
// against the collector of Routelens loaded in a real VS Code (code-server from .vscode-test/, as
// the end-to-end tests start it), so the event-loop delay measured is the extension host's own:
// the collector runs in the extension host, and /api/v1/stats reports that process.
//
// Run after `npm run build` and `npm run setup:vscode`:
//   node bench/exthost-load.mjs [--minutes 2] [--agents 50] [--batch 200] [--idle 30] [--after 20]
//                               [--dashboard] [--json]
//
// What it does, all on loopback and bounded in time:
//   1. Starts code-server with this repo as the extension under development, in a temp data
//      folder with its own HOME (so the token file is not the user's), the collector on a free
//      port and OTLP/gRPC on another (settings routelens.collector.port / grpcPort), and opens the
//      workbench in headless Chromium: code-server starts an extension host only when a window
//      connects. With --dashboard it also opens the Routelens sidebar, which then updates live.
//   2. Waits for the collector's /healthz and the token in <temp home>/.routelens/token, finds the
//      process listening on the port and checks that it is the extension host.
//   3. Idle baseline (--idle s): the workbench open, nothing sent.
//   4. Load (--minutes): full speed (60%), then half the capacity measured there (20%, nothing may
//      be lost), then twice it (20%, the agents' queues overflow and their drops are counted).
//   5. After (--after s): no load again.
// Every 2 s it reads /api/v1/stats (and times the answer); the extension host's event-loop delay
// comes in 10-second windows, each counted in the phase it lies in. Per phase it prints the delay
// p50 (median of the windows' p50), p99 (highest window p99: an upper bound of the phase's p99)
// and max, the extension host's RSS and CPU, the accepted spans/s and the drops, with the ratio of
// each loaded phase to the idle baseline.
import { readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PHASES, runLoadPhases, startFleet } from './lib/nativeAgents.mjs';
import { FIXTURE_WORKSPACE, REPO_ROOT, freePort, isInstalled, launchBrowser, openWorkbench, startCodeServer } from '../scripts/vscode-test/codeServer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
};
const MINUTES = opt('minutes', 2);
const AGENTS = opt('agents', 50);
const BATCH = opt('batch', 200);
const IDLE_S = opt('idle', 30);
const AFTER_S = opt('after', 20);
const DASHBOARD = args.includes('--dashboard');
const json = args.includes('--json');
const log = (...a) => {
  if (!json) console.log(...a);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const mib = (b) => Math.round((b / 1048576) * 10) / 10;

if (!existsSync(join(REPO_ROOT, 'dist', 'extension.js')) || !existsSync(join(here, '..', 'out', 'src'))) {
  console.error('exthost-load: run `npm run build` first');
  process.exit(2);
}
if (!isInstalled()) {
  console.error('exthost-load: no VS Code for tests in .vscode-test/: run `npm run setup:vscode` first');
  process.exit(2);
}
if (MINUTES > 14) throw new Error('--minutes at most 14: the route statistics used for the accounting cover 15 minutes');

// A hung browser or server must not outlive the run: codeServer.mjs kills its servers on exit.
const limitMs = (IDLE_S + AFTER_S + MINUTES * 60) * 1000 + 5 * 60_000;
setTimeout(() => {
  console.error(`exthost-load: time limit of ${Math.round(limitMs / 1000)} s reached`);
  process.exit(2);
}, limitMs).unref();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(2));

// ---- the process behind a port (Linux /proc) -------------------------------------------------------

function listeningPid(port, groupPid) {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const row = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f[1] === `0100007F:${hex}` && f[3] === '0A');
    if (!row) return undefined;
    const target = `socket:[${row[9]}]`;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        // Only processes of the code-server's group: the extension host is one of them.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== groupPid) continue;
        for (const fd of readdirSync(`/proc/${pid}/fd`)) if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return Number(pid);
      } catch {
        /* gone, or not ours */
      }
    }
  } catch {
    /* not Linux */
  }
  return undefined;
}

/**
 * Resident memory of a process by kind, from /proc/PID/smaps: glibc's main malloc heap (`[heap]`,
 * where Node's buffers up to the mmap threshold come from), files (code), other anonymous memory
 * (V8's heap pages, other malloc arenas, large buffers).
 */
function residentParts(pid) {
  try {
    let kind = '';
    const kb = { mallocHeap: 0, file: 0, anon: 0 };
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
      if (m) kind = m[2] === '[heap]' ? 'mallocHeap' : m[1] !== '0' ? 'file' : 'anon';
      else if (line.startsWith('Rss:')) kb[kind] += Number(line.slice(4).trim().split(/\s+/)[0]);
    }
    return { mallocHeap: kb.mallocHeap * 1024, file: kb.file * 1024, anon: kb.anon * 1024 };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // clock ticks; 100 a second on Linux
  } catch {
    return NaN;
  }
}

// ---- run ----------------------------------------------------------------------------------------

const port = await freePort();
const grpcPort = await freePort();
if ([4317, 4318].includes(port) || [4317, 4318].includes(grpcPort)) throw new Error('refusing the default ports 4317/4318');
log(`starting code-server with Routelens from ${REPO_ROOT}; collector on 127.0.0.1:${port}, OTLP/gRPC on ${grpcPort}`);
const server = await startCodeServer({
  folder: FIXTURE_WORKSPACE,
  extensionDevelopmentPath: REPO_ROOT,
  userSettings: { 'routelens.collector.port': port, 'routelens.collector.grpcPort': grpcPort },
});
let browser;
let fleet;
let exitCode = 1;
try {
  browser = await launchBrowser();
  const t0 = Date.now();
  const { page } = await openWorkbench(browser, server);
  const base = `http://127.0.0.1:${port}`;
  const tokenFile = join(server.home, '.routelens', 'token');
  for (;;) {
    if (Date.now() - t0 > 90_000) throw new Error(`the collector did not answer on ${base}/healthz within 90 s of opening the workbench. code-server:\n${server.output()}`);
    const up = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (up && existsSync(tokenFile)) break;
    await sleep(250);
  }
  const token = readFileSync(tokenFile, 'utf8').trim();
  const hostPid = listeningPid(port, server.pid);
  const cmdline = hostPid ? readFileSync(`/proc/${hostPid}/cmdline`, 'utf8').split('\0').join(' ') : '';
  const isExtHost = /--type=extensionHost/.test(cmdline);
  log(`collector up ${((Date.now() - t0) / 1000).toFixed(1)} s after the workbench was opened; listening process ${hostPid ?? '?'}${isExtHost ? ' (the extension host: --type=extensionHost)' : cmdline ? `: ${cmdline.slice(0, 160)}` : ''}`);
  if (DASHBOARD) {
    await page.locator('.activitybar [aria-label^="Routelens"]').first().click();
    await page.frameLocator('iframe.webview.ready').frameLocator('#active-frame').locator('body').waitFor({ timeout: 30_000 });
    log('Routelens sidebar open: it updates live through the run');
  }
  // Let activation's own work (workspace scan, lenses) finish before the baseline.
  await sleep(10_000);

  // ---- sampling ---------------------------------------------------------------------------------
  let phase = 'idle';
  const phaseSpans = []; // { name, start, end }
  const begin = (name) => {
    const now = Date.now();
    if (phaseSpans.length) phaseSpans[phaseSpans.length - 1].end = now;
    phaseSpans.push({ name, start: now, end: Infinity, cpu0: hostPid ? cpuSeconds(hostPid) : NaN, cpu1: NaN });
    if (phaseSpans.length > 1) phaseSpans[phaseSpans.length - 2].cpu1 = phaseSpans[phaseSpans.length - 1].cpu0;
    phase = name;
  };
  const samples = [];
  const windows = new Map(); // endedAtMs -> window
  const failures = [];
  const tRun = Date.now();
  let sampling = true;
  const sampleOnce = async () => {
    const at = Date.now();
    try {
      const res = await fetch(`${base}/api/v1/stats`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      const body = await res.json();
      const responseMs = Date.now() - at;
      const p = body.process;
      samples.push({ t: (at - tRun) / 1000, at, phase, responseMs, rss: p.rssBytes, parts: hostPid ? residentParts(hostPid) : null, external: p.externalBytes, heapUsed: p.heapUsedBytes, heapTotal: p.heapTotalBytes, heapAfterFullGc: p.heapAfterFullGcBytes, fullGcs: p.fullGcs, counters: body.counters, store: body.store });
      const w = p.eventLoopDelayMs;
      if (w && !windows.has(w.endedAtMs)) windows.set(w.endedAtMs, w);
    } catch (e) {
      failures.push({ t: (at - tRun) / 1000, phase, error: String(e?.message ?? e) });
    }
  };
  const sampler = (async () => {
    while (sampling) {
      const next = Date.now() + 2000;
      await sampleOnce();
      await sleep(next - Date.now());
    }
  })();
  let lastPrinted = 0;
  const printer = setInterval(() => {
    const s = samples[samples.length - 1];
    if (!s || s.at === lastPrinted) return;
    lastPrinted = s.at;
    const w = [...windows.values()].pop();
    log(`${String(Math.round(s.t)).padStart(4)} s  ${s.phase.padEnd(15)} accepted ${String(s.counters['ws.accepted.spans'] ?? 0).padStart(9)} spans  ext host rss ${String(mib(s.rss)).padStart(6)} MiB heap ${String(mib(s.heapUsed)).padStart(6)} of ${String(mib(s.heapTotal)).padStart(6)} MiB (${s.heapAfterFullGc == null ? '-' : mib(s.heapAfterFullGc)} after the last of ${s.fullGcs} full GCs), external ${mib(s.external)}${s.parts ? `, malloc heap ${mib(s.parts.mallocHeap)}, other anonymous ${mib(s.parts.anon)}, files ${mib(s.parts.file)}` : ''} MiB  stats answered in ${s.responseMs} ms  loop delay (last 10 s) p50/p99/max ${w ? `${w.p50}/${w.p99}/${w.max}` : '-'} ms`);
  }, 10_000);

  begin('idle');
  log(`idle baseline: ${IDLE_S} s`);
  await sleep(IDLE_S * 1000);
  fleet = await startFleet({ port, agents: AGENTS, batch: BATCH, servicePrefix: 'load', log });
  log(`${AGENTS} agents connected; load for ${MINUTES} min`);
  const { capacity, results } = await runLoadPhases(fleet, MINUTES * 60_000, async (name) => begin(name));
  begin('after');
  await sleep(AFTER_S * 1000);
  begin('end');
  sampling = false;
  await sampler;
  clearInterval(printer);
  await sampleOnce();

  const totals = fleet.snapshot();
  const closedEarly = fleet.closedEarly();
  fleet.close();
  fleet = undefined;

  // ---- per-phase figures ------------------------------------------------------------------------
  const names = ['idle', ...PHASES, 'after'];
  const counter = (s, k) => s?.counters?.[k] ?? 0;
  const median = (xs) => {
    const a = [...xs].sort((x, y) => x - y);
    return a.length ? a[Math.floor((a.length - 1) / 2)] : NaN;
  };
  const perPhase = {};
  for (const name of names) {
    const span = phaseSpans.find((p) => p.name === name);
    const rows = samples.filter((s) => s.phase === name);
    const ws = [...windows.values()].filter((w) => w.endedAtMs - w.windowS * 1000 >= span.start - 250 && w.endedAtMs <= span.end + 250);
    const first = rows[0];
    const lastRow = rows[rows.length - 1];
    const seconds = (Math.min(span.end, Date.now()) - span.start) / 1000;
    perPhase[name] = {
      seconds: Math.round(seconds),
      lagWindows: ws.length,
      lagMs: ws.length ? { p50: median(ws.map((w) => w.p50)), p99: Math.max(...ws.map((w) => w.p99)), max: Math.max(...ws.map((w) => w.max)) } : null,
      statsResponseMs: rows.length ? { median: median(rows.map((r) => r.responseMs)), max: Math.max(...rows.map((r) => r.responseMs)) } : null,
      rssMiB: rows.length ? { min: mib(Math.min(...rows.map((r) => r.rss))), max: mib(Math.max(...rows.map((r) => r.rss))) } : null,
      heapUsedMiB: rows.length ? { min: mib(Math.min(...rows.map((r) => r.heapUsed))), max: mib(Math.max(...rows.map((r) => r.heapUsed))) } : null,
      heapAfterFullGcMiB: rows.some((r) => r.heapAfterFullGc != null) ? { min: mib(Math.min(...rows.filter((r) => r.heapAfterFullGc != null).map((r) => r.heapAfterFullGc))), max: mib(Math.max(...rows.map((r) => r.heapAfterFullGc ?? 0))) } : null,
      fullGcs: first && lastRow ? lastRow.fullGcs - first.fullGcs : 0,
      cpuPercent: Number.isFinite(span.cpu1 - span.cpu0) ? Math.round(((span.cpu1 - span.cpu0) / seconds) * 100) : null,
      // Between the first and the last sample taken in the phase.
      spansPerS: first && lastRow && lastRow.at > first.at ? Math.round((counter(lastRow, 'ws.accepted.spans') - counter(first, 'ws.accepted.spans')) / ((lastRow.at - first.at) / 1000)) : 0,
      agentDrops: first && lastRow ? counter(lastRow, 'agent.dropped.spans') - counter(first, 'agent.dropped.spans') : 0,
    };
  }
  const last = samples[samples.length - 1];
  const c = last.counters;
  const below = results['below capacity'];
  const above = results['above capacity'];
  const idle = perPhase.idle.lagMs;
  const ratio = (a, b) => (a != null && b ? Math.round((a / b) * 10) / 10 : null);

  // Memory under load, after a warm-up of a quarter of the load (at most 30 s), as the soak does.
  const loadStart = phaseSpans.find((p) => p.name === PHASES[0]).start;
  const loadEnd = phaseSpans.find((p) => p.name === 'after').start;
  const warmUpMs = Math.min(30_000, (loadEnd - loadStart) * 0.25);
  const steady = samples.filter((s) => s.at >= loadStart + warmUpMs && s.at <= loadEnd);
  const spread = (xs) => (xs.length ? (Math.max(...xs) - Math.min(...xs)) / Math.min(...xs) : NaN);
  const range = (xs) => `${mib(Math.min(...xs))}–${mib(Math.max(...xs))} MiB`;
  const liveSteady = steady.filter((s) => s.heapAfterFullGc != null).map((s) => s.heapAfterFullGc);
  const rssSteady = steady.map((s) => s.rss);
  const memory = { warmUpS: Math.round(warmUpMs / 1000), heapAfterFullGcSpread: spread(liveSteady), rssSpread: spread(rssSteady), heapAfterFullGc: liveSteady.length ? range(liveSteady) : null, rss: range(rssSteady) };

  const checks = [
    [
      `extension host heap after full GC flat within 10% under load after ${memory.warmUpS} s warm-up`,
      liveSteady.length >= 2 && memory.heapAfterFullGcSpread <= 0.1,
      `${(memory.heapAfterFullGcSpread * 100).toFixed(1)}% spread, ${memory.heapAfterFullGc} (RSS ${memory.rss}, ${(memory.rssSpread * 100).toFixed(1)}% spread, not a check: V8 sizes the heap of the whole extension host by its allocation rate)`,
    ],
    ['the collector runs in the extension host', isExtHost, hostPid ? `pid ${hostPid}: ${cmdline.slice(0, 120)}` : 'no process found listening'],
    ['the extension host answered /api/v1/stats every 2 s throughout (5 s limit)', failures.length === 0, failures.length ? `${failures.length} failed: ${failures[0].error} at ${failures[0].t} s` : `${samples.length} answers, slowest ${Math.max(...samples.map((s) => s.responseMs))} ms`],
    ['below capacity: nothing lost (accepted == generated, no drops)', below.drained && below.acceptedSpans === below.generated && below.drops === 0 && below.rejected === 0, `generated ${below.generated}, accepted ${below.acceptedSpans}, dropped ${below.drops}`],
    ['above capacity: drops happen and are counted (generated == accepted + dropped)', above.drained && above.drops > 0 && above.generated === above.acceptedSpans + above.drops, `generated ${above.generated}, accepted ${above.acceptedSpans}, dropped ${above.drops}`],
    ["collector's agent.dropped.spans equals the drops agents reported", (c['agent.dropped.spans'] ?? 0) === totals.drops, `${c['agent.dropped.spans'] ?? 0} vs ${totals.drops}`],
    ['every item sent was accepted (ws.accepted == sent)', c['ws.accepted.spans'] === totals.sentSpans && c['ws.accepted.logs'] === totals.sentLogs && c['ws.accepted.metrics'] === totals.sentMetrics, `spans ${c['ws.accepted.spans']}/${totals.sentSpans}, logs ${c['ws.accepted.logs']}/${totals.sentLogs}, metrics ${c['ws.accepted.metrics']}/${totals.sentMetrics}`],
    // The settings leave the store at its default limits.
    ['store within its configured bounds', samples.every((s) => s.store.spans <= 20_000 && s.store.logs <= 10_000 && s.store.bytes <= 64 * 1048576), `max ${Math.max(...samples.map((s) => s.store.spans))} spans, ${Math.max(...samples.map((s) => s.store.logs))} logs, ${mib(Math.max(...samples.map((s) => s.store.bytes)))} MiB`],
    ['no protocol errors, no connection lost', totals.errors === 0 && totals.rejected === 0 && !(c['ws.closed.unresponsive'] > 0) && closedEarly === 0, `${totals.errors} errors, ${totals.rejected} rejected items, ${closedEarly} agents disconnected (${c['ws.closed.unresponsive'] ?? 0} for missed pongs)`],
  ];
  const report = {
    minutes: MINUTES,
    agents: AGENTS,
    batch: BATCH,
    dashboard: DASHBOARD,
    extensionHostPid: hostPid ?? null,
    capacitySpansPerS: Math.round(capacity),
    phases: perPhase,
    ratiosToIdle: Object.fromEntries(
      names.slice(1).map((n) => [n, { lagP50: ratio(perPhase[n].lagMs?.p50, idle?.p50), lagP99: ratio(perPhase[n].lagMs?.p99, idle?.p99), lagMax: ratio(perPhase[n].lagMs?.max, idle?.max), rss: ratio(perPhase[n].rssMiB?.max, perPhase.idle.rssMiB?.max) }]),
    ),
    below,
    above,
    memory,
    rssSeriesMiB: samples.map((s) => [Math.round(s.t), s.phase, mib(s.rss), s.heapAfterFullGc == null ? null : mib(s.heapAfterFullGc)]),
    checks: checks.map(([name, ok, detail]) => ({ name, ok, detail })),
  };
  if (json) console.log(JSON.stringify(report, null, 2));
  else {
    log(`\ncapacity at full speed in the extension host: ${Math.round(capacity)} spans/s${DASHBOARD ? ' (sidebar open)' : ''}`);
    log('\nextension host, per phase (event-loop delay from /api/v1/stats in 10 s windows: p50 = median of the windows, p99 = highest window, max):');
    log('  phase            s   windows  delay p50 / p99 / max ms      x idle (p50/p99/max)   stats answer median/max ms   RSS MiB        heap after full GC  CPU    spans/s   agent drops');
    for (const name of names) {
      const p = perPhase[name];
      const r = report.ratiosToIdle[name];
      const lag = p.lagMs ? `${p.lagMs.p50} / ${p.lagMs.p99} / ${p.lagMs.max}` : '-';
      const x = r ? `${r.lagP50 ?? '-'} / ${r.lagP99 ?? '-'} / ${r.lagMax ?? '-'}` : '';
      log(
        `  ${name.padEnd(15)} ${String(p.seconds).padStart(4)} ${String(p.lagWindows).padStart(5)}    ${lag.padEnd(28)} ${x.padEnd(22)} ${(p.statsResponseMs ? `${p.statsResponseMs.median} / ${p.statsResponseMs.max}` : '-').padEnd(28)} ${(p.rssMiB ? `${p.rssMiB.min}-${p.rssMiB.max}` : '-').padEnd(14)} ${(p.heapAfterFullGcMiB ? `${p.heapAfterFullGcMiB.min}-${p.heapAfterFullGcMiB.max}` : '-').padEnd(19)} ${String(p.cpuPercent ?? '-').padStart(3)}%  ${String(p.spansPerS).padStart(8)}  ${String(p.agentDrops).padStart(10)}`,
      );
    }
    log(`\nRSS of the extension host every 2 s (MiB): ${samples.map((s) => mib(s.rss)).join(' ')}`);
    log(`heap after the last full GC (MiB):          ${samples.map((s) => (s.heapAfterFullGc == null ? '-' : mib(s.heapAfterFullGc))).join(' ')}`);
    log('\nchecks:');
    for (const [name, ok, detail] of checks) log(`  ${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`);
  }
  exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} catch (e) {
  console.error(`exthost-load: ${e?.stack ?? e}`);
  exitCode = 2;
} finally {
  fleet?.close();
  await browser?.close().catch(() => {});
  await server.stop();
}
process.exit(exitCode);
