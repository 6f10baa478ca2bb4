// Route detection speed on a generated 10,000-line Python file (and a 10,000-line Express file),
// against a naive baseline measured in the same run: `text.split('\n')` plus one regular
// expression test per line. The baseline is what a lens provider that "just greps decorators"
// would cost; the ratio says what the tokenizer's correctness costs on top.
//
// Usage: npm run build && node bench/route-detect.mjs [--lines 10000] [--runs 60]
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';

const require = createRequire(import.meta.url);
const { detectRoutes, RouteIndex } = require('../out/src/core/routes/index.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const LINES = opt('lines', 10000);
const RUNS = opt('runs', 60);

function pythonFile(lines) {
  const out = [
    '"""Generated service module."""',
    'from fastapi import APIRouter, Depends, FastAPI, HTTPException',
    'from pydantic import BaseModel',
    '',
    'app = FastAPI(title="bench")',
    'router = APIRouter(prefix="/v1")',
    '',
  ];
  let i = 0;
  const methods = ['get', 'post', 'put', 'delete', 'patch'];
  while (out.length < lines - 2) {
    const k = i % 6;
    if (k === 0) {
      out.push(
        '',
        `class Model${i}(BaseModel):`,
        `    """Model ${i}: @app.get("/not-a-route") in a docstring."""`,
        '    name: str',
        `    size: int = ${i}`,
        '',
        '    def describe(self) -> str:',
        `        return f"{self.name!r} has size {self.size:>{4}}"  # @router.get("/no")`,
      );
    } else if (k === 3) {
      out.push(
        '',
        `def helper_${i}(values, *, scale=1.5):`,
        `    total = sum(v * scale for v in values if v > ${i % 7})`,
        `    text = 'it\\'s "quoted" \\\\ and \\n escaped'`,
        '    table = {',
        `        "a": [1, 2, 3],`,
        `        "b": (4, 5, {"c": 6}),`,
        '    }',
        '    return total, text, table',
      );
    } else {
      const m = methods[i % methods.length];
      const target = i % 2 ? 'router' : 'app';
      out.push(
        '',
        `@${target}.${m}("/items${i}/{item_id}", response_model=None, tags=["t${i % 9}"])`,
        '@some_cache(ttl=30)',
        `async def handler_${i}(`,
        '    item_id: int,',
        '    q: str | None = None,',
        '    dep=Depends(lambda: None),',
        '):',
        `    """Handle ${i}."""`,
        '    if item_id < 0:',
        `        raise HTTPException(status_code=404, detail=f"item {item_id} not found")`,
        `    rows = [r for r in range(item_id) if r % ${(i % 5) + 2} == 0]`,
        '    return {"id": item_id, "rows": rows, "q": q}',
      );
    }
    i++;
  }
  out.push('', 'app.include_router(router, prefix="/api")');
  return out.slice(0, lines).join('\n') + '\n';
}

function expressFile(lines) {
  const out = ["const express = require('express');", 'const app = express();', 'const router = express.Router();', ''];
  let i = 0;
  const methods = ['get', 'post', 'put', 'delete', 'patch'];
  while (out.length < lines - 2) {
    const m = methods[i % methods.length];
    out.push(
      '',
      `// ${m.toUpperCase()} /items${i}/:id, with a fake app.get('/x') in a comment`,
      `router.${m}('/items${i}/:id', async (req, res) => {`,
      `  const pattern = /items\\/(\\d+)/g;`,
      '  const id = Number(req.params.id) / 2;',
      `  const label = \`item \${id} of \${req.query.page ?? 1}\`;`,
      '  if (!id) return res.status(404).json({ error: "not found" });',
      '  res.json({ id, label, ok: pattern.test(req.url) });',
      '});',
      '',
      `function helper${i}(a, b) {`,
      '  return [a, b].map((x) => x * 2).filter(Boolean);',
      '}',
    );
    i++;
  }
  out.push("app.use('/api', router);", 'app.listen(3000);');
  return out.slice(0, lines).join('\n') + '\n';
}

const PY_DECORATOR = /^\s*@[\w.]+\.(?:get|post|put|delete|patch|head|options|route|api_route)\(/;
const JS_CALL = /\b\w+\.(?:get|post|put|delete|patch|all|route|use)\(\s*['"`]/;

function baseline(text, re) {
  const lines = text.split('\n');
  let n = 0;
  for (let i = 0; i < lines.length; i++) if (re.test(lines[i])) n++;
  return n;
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { min: s[0], median: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

function time(fn, runs) {
  for (let i = 0; i < Math.max(10, runs / 3); i++) fn();
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

const ms = (x) => `${x.toFixed(2)} ms`;

function report(label, text, language, re) {
  let found = 0;
  const detect = time(() => {
    found = detectRoutes(text, language).length;
  }, RUNS);
  let grep = 0;
  const base = time(() => {
    grep = baseline(text, re);
  }, RUNS);
  const lines = text.split('\n').length - 1;
  console.log(`\n${label}: ${lines} lines, ${(text.length / 1024).toFixed(0)} KiB`);
  console.log(`  detectRoutes          median ${ms(detect.median)}  p95 ${ms(detect.p95)}  min ${ms(detect.min)}  (${found} routes)`);
  console.log(`  split + line regex    median ${ms(base.median)}  p95 ${ms(base.p95)}  min ${ms(base.min)}  (${grep} lines matched)`);
  console.log(`  ratio (median)        ${(detect.median / base.median).toFixed(1)}x the baseline`);
  console.log(`  budget                ${detect.p95 < 20 ? 'ok' : 'OVER'}: p95 ${ms(detect.p95)} against 20 ms`);
  return { lines, detect, base, found };
}

console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), ${RUNS} runs each after warm-up`);
const py = report('Python (FastAPI)', pythonFile(LINES), 'python', PY_DECORATOR);
const js = report('JavaScript (Express)', expressFile(LINES), 'javascript', JS_CALL);

// Matching is per telemetry record: it must be negligible next to decoding.
const index = new RouteIndex();
const routes = detectRoutes(pythonFile(LINES), 'python');
for (let f = 0; f < 20; f++) index.setFile(`file:///ws/svc${f}/main.py`, routes.map((r) => ({ ...r, route: `/s${f}${r.route}`, normalized: `/s${f}${r.normalized}` })));
const queries = routes.map((r, i) => [r.method, `/s${i % 20}${r.route.replace('{item_id}', '{id}')}`]);
let hits = 0;
const N = 200000;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const [m, r] = queries[i % queries.length];
  if (index.match(m, r)) hits++;
}
const perMatch = ((performance.now() - t0) * 1000) / N;
console.log(`\nRouteIndex.match: ${index.size} routes in 20 files, ${N} lookups, ${perMatch.toFixed(2)} µs each (${hits} hits)`);

if (py.detect.p95 >= 20 || js.detect.p95 >= 20) process.exitCode = 1;
