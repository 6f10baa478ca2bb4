// The log view's list with 100,000 records, in Chromium: the real bundle (dist/webview/logs.js)
// talks to the real host model (LogViewModel over a TelemetryStore) through a stand-in for VS
// Code's postMessage, and pages through the records (one viewport a step, as PageDown does).
// Figures: per page, the time from the scroll to the rows of that page painted (the host round
// trip included), and the frame in which the scroll itself is handled; against a baseline in the
// same browser that renders the same records as plain DOM rows (no virtualisation), measured on
// 10,000 records (100,000 plain rows would take the tab minutes).
//
// Usage: npm run build && node bench/log-view.mjs [--records 100000] [--pages 40]
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { TelemetryStore } = require('../out/src/core/store/store.js');
const { LogViewModel } = require('../out/src/features/logs/model.js');
const { EMPTY_FILTER } = require('../out/src/features/logs/protocol.js');
const { launchBrowser } = await import('../scripts/vscode-test/codeServer.mjs');

const arg = (name, def) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const N = arg('--records', 100_000);
const PAGES = arg('--pages', 40);
const BASELINE_N = 10_000;

const store = new TelemetryStore({ maxLogs: N, maxBytes: 4 * 1024 * 1024 * 1024 });
const sev = ['debug', 'info', 'info', 'info', 'warn', 'error'];
const T0 = Date.now() - N * 20;
for (let i = 0; i < N; i += 1000) {
  const batch = [];
  for (let k = i; k < Math.min(N, i + 1000); k++) {
    batch.push({ timeMs: T0 + k * 20, severity: sev[k % 6], body: `request ${k} handled for user ${k % 977} in ${k % 89} ms`, attributes: { user_id: k % 977, status: k % 13 === 0 ? 500 : 200, 'logger.name': 'shop.orders' }, resource: { serviceName: `svc-${k % 4}`, attributes: {} }, traceId: (k + 1).toString(16).padStart(32, '0') });
  }
  store.addLogs(batch);
}
const model = new LogViewModel(store);

const harnessJs = `
window.__toHost = [];
window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__hostPost(m), getState: () => undefined, setState: () => {} });
const vars = { '--vscode-foreground': '#cccccc', '--vscode-descriptionForeground': '#9d9d9d', '--vscode-editor-background': '#1f1f1f', '--vscode-editor-font-family': 'monospace', '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px', '--vscode-badge-background': '#616161', '--vscode-badge-foreground': '#f8f8f8', '--vscode-charts-blue': '#3794ff', '--vscode-charts-red': '#f14c4c', '--vscode-charts-yellow': '#cca700' };
for (const k in vars) document.documentElement.style.setProperty(k, vars[k]);
`;
const page = `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'self'; script-src 'self'">
<link rel="stylesheet" href="/media/logs.css"><title>harness</title></head>
<body class="vscode-dark"><div id="app" role="main"></div><script src="/harness.js"></script><script src="/dist/webview/logs.js"></script></body></html>`;
const baselinePage = `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><link rel="stylesheet" href="/media/logs.css"></head>
<body class="vscode-dark"><div id="app"><section class="list"><div class="viewport" id="vp" style="overflow:auto"></div></section></div></body></html>`;

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let body;
  let type = 'text/html';
  if (url.pathname === '/logs.html') body = page;
  else if (url.pathname === '/baseline.html') body = baselinePage;
  else if (url.pathname === '/harness.js') [body, type] = [harnessJs, 'text/javascript'];
  else if (/^\/(dist\/webview|media)\/[\w.-]+$/.test(url.pathname) && existsSync(join(ROOT, url.pathname))) {
    body = readFileSync(join(ROOT, url.pathname));
    type = { '.js': 'text/javascript', '.css': 'text/css' }[extname(url.pathname)] ?? 'application/octet-stream';
  }
  if (body === undefined) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': type }).end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

const browser = await launchBrowser();
try {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
  const p = await ctx.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  // The host side: the model answers what the webview asks, as the extension does.
  await p.exposeFunction('__hostPost', (m) => {
    let reply;
    if (m.type === 'ready' || m.type === 'setState') {
      model.setFilter(m.state.filter ?? EMPTY_FILTER);
      reply = { type: 'result', version: model.version, total: model.total, held: N, histogram: model.histogram({ sinceMs: null, untilMs: null }), services: ['svc-0', 'svc-1', 'svc-2', 'svc-3'], routes: [], error: '', tail: true };
    } else if (m.type === 'echo') {
      reply = { type: 'echo' };
    } else if (m.type === 'rows') {
      reply = { type: 'rows', version: m.version, start: m.start, rows: model.rows(m.start, m.count) };
    }
    if (reply) void p.evaluate((r) => window.postMessage(r, '*'), reply);
  });
  await p.goto(`${base}/logs.html`);
  await p.waitForFunction(() => [...document.querySelectorAll(".log-row")].filter((e) => (e.textContent ?? "").includes("request ")).length > 10, undefined, { timeout: 60_000 }).catch(async (e) => { console.error(errors, await p.evaluate(() => document.body.innerText.slice(0, 500))); throw e; });
  const rowsInDom = await p.evaluate(() => document.querySelectorAll('.log-row').length);
  // What this harness's message bridge (playwright's exposeFunction and evaluate) costs a round
  // trip by itself, to tell it apart from the view's work: VS Code's postMessage is not this.
  const bridge = await p.evaluate(async () => {
    const out = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await new Promise((resolve) => {
        const on = (e) => {
          if (e.data?.type !== 'echo') return;
          window.removeEventListener('message', on);
          resolve();
        };
        window.addEventListener('message', on);
        window.__hostPost({ type: 'echo' });
      });
      out.push(performance.now() - t0);
    }
    return out;
  });
  const steps = await p.evaluate(async (pages) => {
    const vp = document.querySelector('[data-testid=log-list]');
    const out = [];
    vp.scrollTop = 0;
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < pages; i++) {
      // Jump to a page anywhere in the list, as a scrollbar drag does (no row of it cached).
      const target = Math.floor(((i * 7919) % pages) / pages * (vp.scrollHeight - vp.clientHeight));
      const t0 = performance.now();
      vp.scrollTop = target;
      const first = Math.floor(target / 22);
      let frame = 0;
      await new Promise((r) => requestAnimationFrame(() => { frame = performance.now() - t0; r(); }));
      // Painted: the row at the top of the page shows its record.
      for (;;) {
        const row = [...document.querySelectorAll('.log-row')].find((e) => Number(e.dataset.index) === first);
        if (row && row.textContent.includes('request ')) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      await new Promise((r) => requestAnimationFrame(() => r()));
      out.push({ frame, painted: performance.now() - t0 });
    }
    return out;
  }, PAGES);

  // Baseline: the same rows as plain DOM, every one of them (10,000 records).
  const bp = await ctx.newPage();
  await bp.goto(`${base}/baseline.html`);
  const rows = model.rows(model.total - BASELINE_N, BASELINE_N).filter(Boolean);
  const baseline = await bp.evaluate((rows) => {
    const vp = document.getElementById('vp');
    const t0 = performance.now();
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const row = document.createElement('div');
      row.className = 'log-row';
      row.style.position = 'relative';
      for (const [cls, text] of [['c-time', String(r.timeMs)], ['c-level', r.level], ['c-service', r.service], ['c-route', r.route]]) {
        const s = document.createElement('span');
        s.className = cls;
        s.textContent = text;
        row.append(s);
      }
      const msg = document.createElement('span');
      msg.className = 'c-msg';
      msg.textContent = r.message;
      for (const [k, v] of r.chips) {
        const c = document.createElement('span');
        c.className = 'chip';
        c.textContent = k + '=' + v;
        msg.append(c);
      }
      row.append(msg);
      frag.append(row);
    }
    vp.append(frag);
    vp.getBoundingClientRect();
    const built = performance.now() - t0;
    const s0 = performance.now();
    vp.scrollTop = vp.scrollHeight / 2;
    vp.getBoundingClientRect();
    return { built, scroll: performance.now() - s0, nodes: document.querySelectorAll('*').length };
  }, rows);

  const paint = steps.map((s) => s.painted);
  const frames = steps.map((s) => s.frame);
  console.log(`${N.toLocaleString('en-US')} records; ${rowsInDom} row elements in the DOM; ${PAGES} jumps to pages across the list`);
  console.log(`virtualised: scroll handled within ${median(frames).toFixed(1)} ms (median frame, p95 ${p95(frames).toFixed(1)}); page painted with its rows ${median(paint).toFixed(1)} ms median, p95 ${p95(paint).toFixed(1)}, max ${Math.max(...paint).toFixed(1)} (host round trip included)`);
  console.log(`the harness's message round trip alone: ${median(bridge).toFixed(1)} ms median; painted minus that: ${(median(paint) - median(bridge)).toFixed(1)} ms`);
  console.log(`baseline, plain DOM rows for ${BASELINE_N.toLocaleString('en-US')} records: built and laid out in ${baseline.built.toFixed(0)} ms (${baseline.nodes.toLocaleString('en-US')} elements), one scroll ${baseline.scroll.toFixed(1)} ms; ${((baseline.built / BASELINE_N) * N / 1000).toFixed(1)} s extrapolated to ${N.toLocaleString('en-US')}`);
  console.log(`ratio: first page of the virtualised list vs building the baseline: ${(baseline.built / median(paint)).toFixed(0)}x`);
  if (errors.length) {
    console.error(`page errors: ${errors.join(' | ')}`);
    process.exitCode = 1;
  }
} finally {
  await browser.close();
  server.close();
}
