import * as assert from 'node:assert/strict';
import { runFuzz, type FuzzReport } from '../../fuzz/runner';
import { makeTarget, type TargetName } from '../../fuzz/targets';

// A fixed seed keeps `npm test` reproducible; FUZZ_SEED explores other corners (and reproduces a
// failure the bench found, with the case index it printed).
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

const RUNS: { target: TargetName; cases: number }[] = [
  { target: 'native', cases: 4000 },
  { target: 'native-ws', cases: 2000 },
  { target: 'otlp-json', cases: 3000 },
  { target: 'otlp-protobuf', cases: 3000 },
  { target: 'otlp-http', cases: 1500 },
  { target: 'otlp-grpc', cases: 1000 },
  { target: 'prometheus', cases: 3000 },
];

function describeReport(r: FuzzReport): string {
  const top = Object.entries(r.reasons)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([k, v]) => `${v} ${k}`)
    .join('; ');
  return `${r.cases} cases in ${r.seconds} s (${r.casesPerSecond}/s), ${r.rejectedInputs} inputs refused, heap ${r.heapWarmMiB} → ${r.heapEndMiB} MiB; ${top}`;
}

describe('fuzz (seeded short run)', function () {
  this.timeout(60_000);

  for (const { target, cases } of RUNS) {
    it(`${target}: no crash, bounded memory, every rejection counted`, async function () {
      const t = await makeTarget(target);
      if (!t) return this.skip();
      try {
        const r = await runFuzz(t, { seed: SEED, cases, maxSeconds: 10 });
        const crash = r.crashes[0];
        assert.equal(r.crashes.length, 0, crash && `case ${crash.index} (FUZZ_SEED=${SEED}): ${crash.error}\ninput: ${crash.input}`);
        await t.verify();
        // The store is bounded and filled within the warm-up: what grows after it is a leak.
        assert.ok(r.heapEndMiB - r.heapWarmMiB < 40, `heap grew from ${r.heapWarmMiB} to ${r.heapEndMiB} MiB`);
        assert.ok(r.rejectedInputs > 0 && r.acceptedItems > 0, `the mix should have both refusals and accepted items: ${describeReport(r)}`);
        console.log(`      ${describeReport(r)}`);
      } finally {
        await t.close();
      }
    });
  }
});
