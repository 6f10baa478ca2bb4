// The workspace route graph against reading files one by one, measured in the same run: a
// generated project of N router files (10 routes each) mounted from one main file, Python
// (FastAPI) and JavaScript (Express). Figures: a full resolution (after a mount's prefix
// changed), the re-resolution after an edit inside one router (what a keystroke in a handler
// costs), against the baselines of detecting that one file alone (what the lens provider did on
// an edit before the graph) and of detecting every file (a workspace scan).
//
// Usage: npm run build && node bench/route-graph.mjs [--files 300] [--runs 20]
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';

const require = createRequire(import.meta.url);
const { detectRoutes, JsRouteGraph, PythonRouteGraph } = require('../out/src/core/routes/index.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const FILES = opt('files', 300);
const RUNS = opt('runs', 20);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const time = (f) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

function pythonProject(n) {
  const files = new Map();
  let main = 'from fastapi import FastAPI\n';
  for (let i = 0; i < n; i++) main += `from .routers import r${i}\n`;
  main += 'app = FastAPI()\n';
  for (let i = 0; i < n; i++) main += `app.include_router(r${i}.router, prefix="/p${i}")\n`;
  files.set('/ws/app/main.py', main);
  for (let i = 0; i < n; i++) {
    let t = 'from fastapi import APIRouter\nrouter = APIRouter()\n';
    for (let k = 0; k < 10; k++) t += `\n@router.get("/items${k}/{item_id}")\ndef h${k}(item_id: int):\n    return {}\n`;
    files.set(`/ws/app/routers/r${i}.py`, t);
  }
  return files;
}

function jsProject(n) {
  const files = new Map();
  let app = "const express = require('express');\nconst app = express();\n";
  for (let i = 0; i < n; i++) app += `const r${i} = require('./routes/r${i}');\napp.use('/p${i}', r${i});\n`;
  files.set('/ws/app.js', app);
  for (let i = 0; i < n; i++) {
    let t = "const express = require('express');\nconst router = express.Router();\n";
    for (let k = 0; k < 10; k++) t += `router.get('/items${k}/:id', (req, res) => res.json({}));\n`;
    files.set(`/ws/routes/r${i}.js`, t + 'module.exports = router;\n');
  }
  return files;
}

function run(label, Graph, files, language, edit) {
  const graph = new Graph();
  for (const [p, t] of files) graph.set(p, p, t);
  graph.routes();
  const full = [];
  const one = [];
  const base = [];
  const [first, text] = [...files][1];
  const scan = [];
  for (let r = 0; r < RUNS; r++) {
    // A mount's prefix changes: everything is resolved again.
    const [mainPath, mainText] = [...files][0];
    full.push(time(() => (graph.set(mainPath, mainPath, r % 2 ? mainText.replace('/p0', '/q0') : mainText), graph.routes())));
    one.push(time(() => (graph.set(first, first, edit(text, r)), graph.routes())));
    base.push(time(() => detectRoutes(edit(text, r), language, first)));
    scan.push(time(() => {
      for (const [p, t] of files) detectRoutes(t, language, p);
    }));
  }
  let routes = 0;
  for (const list of graph.routes().values()) routes += list.length;
  console.log(`\n${label}: ${files.size} files, ${routes} routes`);
  console.log(`  graph, a mount changed      median ${median(full).toFixed(1)} ms  (${(median(full) / median(scan)).toFixed(2)}x detecting every file)`);
  console.log(`  graph, one router edited    median ${median(one).toFixed(1)} ms  (${(median(one) / median(base)).toFixed(1)}x detecting that file alone)`);
  console.log(`  baseline: that file alone   median ${median(base).toFixed(2)} ms`);
  console.log(`  baseline: every file        median ${median(scan).toFixed(1)} ms`);
}

console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), ${RUNS} runs each after warm-up`);
run('Python (FastAPI routers included from main.py)', PythonRouteGraph, pythonProject(FILES), 'python', (t, r) => t.replace('/items0/', `/items0x${r}/`));
run('JavaScript (Express routers mounted from app.js)', JsRouteGraph, jsProject(FILES), 'javascript', (t, r) => t.replace('/items0/', `/items0x${r}/`));
