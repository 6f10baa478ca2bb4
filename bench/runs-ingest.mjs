// What run tracking adds to the store's ingest: the same 200,000 server spans (50 routes, 4
// instances) into a store with run tracking and into one whose tracker is switched off, in the
// same process, best of 3.
//
// Usage: npm run build && node bench/runs-ingest.mjs
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { TelemetryStore } = require('../out/src/core/store/store.js');

const N = 200_000;
const BATCH = 500;
const T0 = Date.now() - 60_000;
const resources = [0, 1, 2, 3].map((i) => ({ serviceName: 'api', instanceId: `host-${i}`, sdk: 'routelens-python/0.1.0', attributes: { 'process.creation.time': new Date(T0 - 1000 + i * 200).toISOString() } }));
const spans = Array.from({ length: N }, (_, i) => {
  const end = T0 + i * 0.25;
  const ms = 2 + (i % 97);
  const route = `/r${i % 50}/{id}`;
  return { traceId: i.toString(16).padStart(32, '0'), spanId: i.toString(16).padStart(16, '0'), name: `GET ${route}`, kind: 'server', startMs: end - ms, endMs: end, status: 'unset', attributes: {}, events: [], links: [], resource: resources[i % 4], http: { method: 'GET', route, statusCode: 200 } };
});

function once(tracking) {
  const store = new TelemetryStore({ maxSpans: 5_000 });
  if (!tracking) {
    store.runs.observeSpans = () => {};
    store.runs.observeLogs = () => {};
  }
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) store.addSpans(spans.slice(i, i + BATCH));
  return performance.now() - t0;
}

const best = (f) => Math.min(f(), f(), f());
const without = best(() => once(false));
const withRuns = best(() => once(true));
console.log(`store ingest of ${N.toLocaleString('en-US')} server spans: ${(N / without * 1000).toFixed(0)} spans/s without run tracking, ${(N / withRuns * 1000).toFixed(0)} with it; time ratio ${(withRuns / without).toFixed(3)}`);
