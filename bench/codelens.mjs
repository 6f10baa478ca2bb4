// What a CodeLens refresh costs for a 10,000-line FastAPI file with hundreds of handlers and live
// traffic on 500 routes: route detection (cached by document version in the editor, so paid once
// per edit) plus matching every telemetry route to a handler and merging its latency sketches
// (paid on every refresh). The baseline in the same run is `text.split('\n')` of the same file.
//
// Usage: npm run build && node bench/codelens.mjs [--runs 40]
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { detectRoutes, RouteIndex } = require('../out/src/core/routes/index.js');
const { handlerStatsForFile } = require('../out/src/core/routes/handlerStats.js');
const { lensTitle } = require('../out/src/features/codeLens/lensText.js');
const { TelemetryStore } = require('../out/src/core/store/store.js');

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 40;
const lines = [];
const routes = [];
for (let i = 0; lines.length < 10_000; i++) {
  const route = `/r${i}/items/{item_id}`;
  routes.push(route);
  lines.push('', `@app.get("${route}")`, `async def handler_${i}(item_id: int):`, `    """Handler ${i}."""`, `    value = compute(item_id, ${i})`, '    if value is None:', '        raise HTTPException(404)', '    return {"id": item_id, "value": value}', '');
}
const text = ['from fastapi import FastAPI, HTTPException', 'app = FastAPI()', ...lines].join('\n');
const uri = 'file:///bench/app.py';

const store = new TelemetryStore({ maxSpans: 50_000 });
const now = Date.now();
for (let r = 0; r < 500; r++) {
  const spans = [];
  for (let k = 0; k < 40; k++) {
    const start = now - 30_000 + k * 500;
    spans.push({
      traceId: (r * 1000 + k + 1).toString(16).padStart(32, '0'),
      spanId: (k + 1).toString(16).padStart(16, '0'),
      name: `GET ${routes[r]}`,
      kind: 'server',
      startMs: start,
      endMs: start + 5 + (k % 10) * 3,
      status: 'unset',
      attributes: {},
      events: [],
      links: [],
      resource: { serviceName: 'bench', attributes: {} },
      http: { method: 'GET', route: routes[r], statusCode: 200 },
    });
  }
  store.addSpans(spans);
}

function time(f) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], p95: samples[Math.floor(samples.length * 0.95)] };
}

let detected;
const baseline = time(() => text.split('\n').length);
const detect = time(() => (detected = detectRoutes(text, 'python')));
const index = new RouteIndex();
index.setFile(uri, detected);
let titles;
const lenses = time(() => (titles = handlerStatsForFile(uri, index, store, 60).map((s) => lensTitle(s, true))));
const withData = titles.filter((t) => t.startsWith('p50')).length;

console.log(`CodeLens for a ${text.split('\n').length}-line file, ${detected.length} handlers, ${withData} with traffic (500 routes in the store), ${runs} runs`);
console.log(`  baseline split('\\n')             median ${baseline.median.toFixed(2)} ms  p95 ${baseline.p95.toFixed(2)} ms`);
console.log(`  detect routes (once per edit)      median ${detect.median.toFixed(2)} ms  p95 ${detect.p95.toFixed(2)} ms  (${(detect.median / baseline.median).toFixed(1)}x baseline)`);
console.log(`  match + lens titles (per refresh)  median ${lenses.median.toFixed(2)} ms  p95 ${lenses.p95.toFixed(2)} ms  (${(lenses.median / baseline.median).toFixed(1)}x baseline)`);
console.log(`  total, uncached                    median ${(detect.median + lenses.median).toFixed(2)} ms (target: well under 20 ms)`);
if (withData !== 500) {
  console.error(`expected 500 lenses with figures, got ${withData}`);
  process.exitCode = 1;
}
