// Fuzzing at length: every target (the native protocol in process and over a real WebSocket, OTLP
// JSON and protobuf in process, OTLP/HTTP and OTLP/gRPC against a real collector, the Prometheus
// exposition parser) for at least 100k cases each, random valid inputs and mutations of them.
//
// Run after `npm run build` (it loads the compiled fuzzers from out/test/fuzz):
//   node bench/fuzz.mjs [--cases 100000] [--seed N] [--targets native,otlp-json,...] [--max-seconds 600] [--json]
//
// For each target it prints cases/s, how many inputs were refused, the outcomes by reason, the
// heap after warm-up and at the end (after a full GC), and whether the collector's counters agree
// with what the cases saw. Exit status 1 on any crash, counter mismatch, or heap growth over 16 MiB
// in the second half of a target's run (the bounded tables are full by then; route statistics
// still add a latency sketch per route every 10 s for their first 15 minutes).
// A crash prints its case index: `FUZZ_SEED=<seed>` and that index reproduce it.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { runFuzz } = require(join(here, '..', 'out', 'test', 'fuzz', 'runner.js'));
const { makeTarget, TARGETS } = require(join(here, '..', 'out', 'test', 'fuzz', 'targets.js'));

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const CASES = Number(opt('cases', 100_000));
const SEED = Number(opt('seed', process.env.FUZZ_SEED ?? Date.now() % 1_000_000));
const MAX_SECONDS = Number(opt('max-seconds', 900));
const targets = opt('targets', TARGETS.join(',')).split(',');
const json = args.includes('--json');
const HEAP_GROWTH_LIMIT_MIB = 16;

const results = [];
let failed = false;
for (const name of targets) {
  const target = await makeTarget(name);
  if (!target) {
    console.log(`${name}: not available in this build, skipped`);
    continue;
  }
  if (!json) process.stdout.write(`${target.name}: `);
  const report = await runFuzz(target, {
    seed: SEED,
    cases: CASES,
    maxSeconds: MAX_SECONDS,
    onProgress: (n) => {
      if (!json && n % 20480 === 0) process.stdout.write('.');
    },
  });
  let verify = 'counters agree';
  try {
    await target.verify();
  } catch (e) {
    verify = `COUNTER MISMATCH: ${e.message}`;
    failed = true;
  }
  await target.close();
  const growth = report.heapEndMiB - report.heapMidMiB;
  if (report.crashes.length || growth > HEAP_GROWTH_LIMIT_MIB) failed = true;
  results.push({ name, ...report, verify });
  if (json) continue;
  console.log('');
  console.log(`  ${report.cases} cases in ${report.seconds} s: ${report.casesPerSecond} cases/s (seed ${SEED})`);
  console.log(`  inputs refused whole: ${report.rejectedInputs}; items accepted ${report.acceptedItems}, items rejected ${report.rejectedItems}`);
  console.log(`  heap after GC: ${report.heapWarmMiB} MiB after warm-up, ${report.heapMidMiB} MiB half-way, ${report.heapEndMiB} MiB at the end (second half ${report.heapEndMiB - report.heapMidMiB >= 0 ? '+' : ''}${(report.heapEndMiB - report.heapMidMiB).toFixed(1)} MiB)`);
  console.log(`  crashes: ${report.crashes.length}; ${verify}`);
  const reasons = Object.entries(report.reasons).sort((a, b) => b[1] - a[1]);
  console.log(`  outcomes by reason (${reasons.length} kinds; top 15):`);
  for (const [reason, n] of reasons.slice(0, 15)) console.log(`    ${String(n).padStart(8)}  ${reason}`);
  for (const c of report.crashes.slice(0, 3)) console.log(`  CRASH at case ${c.index}: ${c.error.split('\n').slice(0, 4).join(' | ')}\n    input: ${c.input.slice(0, 300)}`);
}

if (json) console.log(JSON.stringify(results, null, 2));
else {
  console.log('\nsummary:');
  for (const r of results) console.log(`  ${r.name.padEnd(14)} ${String(r.cases).padStart(7)} cases  ${String(r.casesPerSecond).padStart(6)}/s  crashes ${r.crashes.length}  heap ${r.heapWarmMiB}→${r.heapMidMiB}→${r.heapEndMiB} MiB  ${r.verify}`);
}
process.exit(failed ? 1 : 0);
