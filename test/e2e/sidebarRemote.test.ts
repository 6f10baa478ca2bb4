// The dashboard beyond this machine, as a person sees it: a real Prometheus scraping a
// prometheus_client exporter is the remote source (routelens.remotePrometheus.*), a second real
// collector (`routelens serve`) is the upstream (routelens.upstream.endpoint). The sidebar shows
// both states in a compact section; the route table switches to "prod" and its figures equal
// what Prometheus answers to the same PromQL at the same time; the choice survives the view being
// closed and opened again. Screenshots: sidebar-remote-{dark,light}.png.
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../support/net';
import { frameWith, hex, loadHelpers, pickTheme, sendSpans, sleep, type CodeServer } from './support';
import { startPrometheus, type PrometheusServer } from '../support/prometheusServer';
import { PRESETS, routeQueries } from '../../src/core/remote/presets';



const UPSTREAM_TOKEN = 'sidebar-remote-upstream-token-0123';


function getJson(url: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(b) as Record<string, unknown>);
          } catch (e) {
            reject(e);
          }
        });
      })
      .on('error', reject);
  });
}


function span(route: string, ms: number): Record<string, unknown> {
  const start = Date.now() - ms;
  return { traceId: hex(16), spanId: hex(8), name: `GET ${route}`, kind: 'server', startMs: start, endMs: start + ms, status: 'unset', attributes: { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': 200 } };
}

/** The webview's own formatting of a latency cell (src/webview/shared/format.ts fmtMsShort). */
function cellMs(v: number): string {
  if (v >= 10_000) return `${(v / 1000).toFixed(0)}s`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}s`;
  if (v >= 10) return v.toFixed(0);
  return v.toFixed(1);
}



describe('e2e: the sidebar beyond this machine (forwarding, prod figures in the route table)', function () {
  this.timeout(240_000);
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let exporter: ChildProcess | undefined;
  let upstream: ChildProcess | undefined;
  let prom: PrometheusServer | undefined;
  let page: Page | undefined;
  let shots = '';
  let stop = false;

  after(async () => {
    stop = true;
    await browser?.close().catch(() => undefined);
    await server?.stop();
    await prom?.stop();
    if (exporter && exporter.exitCode === null) exporter.kill('SIGTERM');
    if (upstream && upstream.exitCode === null) {
      const exited = new Promise((r) => upstream!.once('exit', r));
      upstream.kill('SIGTERM');
      await exited;
    }
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await page.screenshot({ path: join(shots, 'failed-sidebar-remote.png') }).catch(() => undefined);
  });

  it('shows the forwarder and the remote source, and switches the route table to prod figures', async () => {
    const h = await loadHelpers();
    shots = process.env.ROUTELENS_SCREENSHOTS_DIR || join(h.REPO_ROOT, 'screenshots');
    mkdirSync(shots, { recursive: true });

    // The remote source: Prometheus scraping an exporter that sees /items/{item_id} and /orders/{order_id}.
    exporter = spawn('/usr/bin/python3', [join(h.REPO_ROOT, 'test', 'fixtures', 'prometheus', 'py_exporter.py')], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exPort = await new Promise<number>((resolve) => exporter!.stdout!.once('data', (d) => resolve(Number(String(d).trim().split('\n')[0]))));
    prom = await startPrometheus({ targets: [`127.0.0.1:${exPort}`], scrapeIntervalS: 1 });
    const observe = (route: string, seconds: number, status = 200) =>
      new Promise<void>((r) => http.get({ host: '127.0.0.1', port: exPort, path: `/observe?route=${encodeURIComponent(route)}&method=GET&status=${status}&seconds=${seconds}&n=5`, agent: false }, (res) => (res.resume(), res.on('end', () => r()))).on('error', () => r()));
    void (async () => {
      for (let i = 0; !stop; i++) {
        await observe('/items/{item_id}', i % 10 === 0 ? 0.4 : 0.08);
        await observe('/orders/{order_id}', 0.03, i % 4 === 0 ? 500 : 200);
        await sleep(100);
      }
    })();

    // The upstream: a second collector process.
    const upPort = await freePort();
    const upGrpc = await freePort();
    upstream = spawn(process.execPath, [join(h.REPO_ROOT, 'bin', 'routelens.js'), 'serve', '--port', String(upPort), '--grpc-port', String(upGrpc), '--token', UPSTREAM_TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
    let upOut = '';
    upstream.stdout!.on('data', (d) => (upOut += d));
    upstream.stderr!.on('data', () => undefined);
    for (let i = 0; i < 100 && !upOut.includes('Press Ctrl+C'); i++) await sleep(100);
    assert.ok(upOut.includes('Press Ctrl+C'), `the upstream collector started (${upOut})`);

    server = await h.startCodeServer({
      folder: h.FIXTURE_WORKSPACE,
      extensionDevelopmentPath: h.REPO_ROOT,
      userSettings: {
        'workbench.colorTheme': 'Default Dark Modern',
        'workbench.activityBar.location': 'default',
        'editor.minimap.enabled': false,
        'routelens.remotePrometheus.url': prom.url,
        'routelens.remotePrometheus.range': '1m',
        'routelens.remotePrometheus.refreshSeconds': 5,
        'routelens.remotePrometheus.preset': 'fastapi-instrumentator',
        'routelens.upstream.endpoint': `http://127.0.0.1:${upPort}`,
      },
    });
    browser = await h.launchBrowser();
    ({ page } = await h.openWorkbench(browser, server, { viewport: { width: 1400, height: 1400 } }));
    const p = page;
    const entry = p.locator('.activitybar [aria-label^="Routelens"]').first();
    await entry.waitFor({ state: 'visible', timeout: 60_000 });
    await entry.click();
    // The other view of the container folded: the dashboard gets the sidebar's height.
    const runsHeader = p.locator('.part.sidebar .pane-header[aria-expanded="true"]', { hasText: 'Runs' }).first();
    await runsHeader.waitFor({ timeout: 30_000 }).catch(() => undefined);
    if (await runsHeader.count()) await runsHeader.click();
    let sidebar = await frameWith(p, '[data-testid=collector-state]');
    await sidebar.locator('[data-testid=collector-state]', { hasText: 'Listening' }).waitFor({ timeout: 30_000 });

    // Local requests: six on /items/{item_id}; they reach the upstream through the forwarder.
    const local = [12, 18, 25, 31, 44, 60].map((ms) => span('/items/{item_id}', ms));
    await sendSpans(server.collectorPort, local);
    const forward = sidebar.locator('[data-testid=forward-state]');
    await forward.filter({ hasText: /^ok · 6 sent · 0 queued · 0 dropped$/ }).waitFor({ timeout: 30_000 });
    assert.match(await sidebar.locator('[data-testid=forward-line]').innerText(), new RegExp(`Forwarding to http://127\\.0\\.0\\.1:${upPort} \\(http/protobuf\\)`));
    const upRoutes = (await getJson(`http://127.0.0.1:${upPort}/api/v1/routes?window=900`, { Authorization: `Bearer ${UPSTREAM_TOKEN}` })) as { routes: { route: string; count: number }[] };
    const upItems = upRoutes.routes.find((r) => r.route === '/items/{item_id}');
    assert.equal(upItems?.count, 6, `the upstream collector has the 6 forwarded requests (${JSON.stringify(upRoutes).slice(0, 300)})`);

    // The remote source's state, once.
    const remoteState = sidebar.locator('[data-testid=remote-state]');
    await remoteState.filter({ hasText: /^ok · 2 routes · last 1 min/ }).waitFor({ timeout: 60_000 });
    assert.match(await sidebar.locator('[data-testid=remote-line]').innerText(), /prod figures from http:\/\/127\.0\.0\.1:\d+/);

    // Local: only the local route. prod: the remote figures, the remote-only route too.
    const switcher = sidebar.locator('[data-testid=routes-source]');
    await switcher.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await sidebar.locator('[data-testid=source-remote]').innerText(), 'prod');
    const routesShown = () => sidebar.locator('[data-testid=routes-table] tbody').evaluateAll((bodies) => bodies.map((b) => b.getAttribute('data-route')));
    // The route table is redrawn once a second, the forwarder's line on every change: the six
    // requests can be counted as sent before the table has drawn their route.
    await sidebar.locator('[data-testid=routes-table] tbody[data-route="/items/{item_id}"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(await routesShown(), ['/items/{item_id}']);
    await sidebar.locator('[data-testid=source-remote]').click();
    await sidebar.locator('[data-testid=routes-table] tbody[data-route="/orders/{order_id}"]').waitFor({ timeout: 10_000 });
    assert.deepEqual((await routesShown()).sort(), ['/items/{item_id}', '/orders/{order_id}']);
    assert.equal(await sidebar.locator('[data-testid=source-remote]').getAttribute('aria-pressed'), 'true');
    assert.match(await sidebar.locator('tbody[data-route="/orders/{order_id}"] .svc').innerText(), /remote only/);

    // The figure shown equals what Prometheus answers to the same PromQL at the same time.
    const q = routeQueries(PRESETS['fastapi-instrumentator'], '', '60s');
    const ask = async (query: string, timeS: number) => {
      const r = (await getJson(`${prom!.url}/api/v1/query?query=${encodeURIComponent(query)}&time=${timeS}`)) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return r.data.result;
    };
    // Rows out of view are brought up to date when they come into view.
    await sidebar.locator('tbody[data-route="/items/{item_id}"]').scrollIntoViewIfNeeded();
    await sidebar.locator('tbody[data-route="/items/{item_id}"][data-as-of-ms]').waitFor({ timeout: 10_000 });
    let checked = 0;
    for (let attempt = 0; attempt < 5 && checked === 0; attempt++) {
      const seen = await sidebar.locator('tbody[data-route="/items/{item_id}"]').evaluate((b) => ({ asOf: b.getAttribute('data-as-of-ms'), cells: [...b.querySelectorAll('tr.figures td')].map((td) => (td.textContent ?? "").trim()) }));
      assert.ok(seen.asOf, 'the row carries the time its remote figures were computed at');
      const timeS = Number(seen.asOf) / 1000;
      const [p95, rps] = await Promise.all([ask(q.quantile(0.95), timeS), ask(q.rps, timeS)]);
      const mine = (rows: { metric: Record<string, string>; value: [number, string] }[]) => rows.find((r) => r.metric.handler === '/items/{item_id}' && r.metric.method === 'GET');
      const p95Ms = Math.round(Number(mine(p95)!.value[1]) * 1000 * 1000) / 1000;
      const rate = Number(mine(rps)!.value[1]);
      // The row may have been refreshed between the two reads: read again then.
      const again = await sidebar.locator('tbody[data-route="/items/{item_id}"]').getAttribute('data-as-of-ms');
      if (again !== seen.asOf) continue;
      assert.equal(seen.cells[3], `≈${cellMs(p95Ms)}`, `p95 cell ${seen.cells[3]} vs Prometheus ${p95Ms} ms`);
      const shownRate = Number(seen.cells[1]);
      assert.ok(Math.abs(shownRate - rate) <= Math.max(0.01, rate * 0.01), `req/s cell ${seen.cells[1]} vs Prometheus ${rate}`);
      checked++;
    }
    assert.equal(checked, 1, 'compared once the figures held still');
    const ordersErr = await sidebar.locator('tbody[data-route="/orders/{order_id}"] tr.figures td').nth(5).innerText();
    assert.match(ordersErr, /^\d+(\.\d)?%$/, `remote error rate ${ordersErr}`);
    assert.notEqual(ordersErr, '0%', 'a quarter of /orders/{order_id} fail in the exporter');

    // The choice is kept when the view is closed and opened again (a new webview document).
    await entry.click();
    await sleep(800);
    await entry.click();
    sidebar = await frameWith(p, '[data-testid=routes-source]');
    await sidebar.locator('[data-testid=routes-table] tbody[data-route="/orders/{order_id}"]').waitFor({ timeout: 15_000 });
    assert.equal(await sidebar.locator('[data-testid=source-remote]').getAttribute('aria-pressed'), 'true');

    const shoot = async (name: string) => {
      await sidebar.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      await p.mouse.move(1150, 12);
      await sleep(800);
      await p.locator('.part.sidebar').first().screenshot({ path: join(shots, name) });
    };
    await shoot('sidebar-remote-dark.png');
    await pickTheme(p, 'Light Modern', { focus: { selector: '.part.editor', position: { x: 300, y: 300 } }, accept: 'click' });
    sidebar = await frameWith(p, '[data-testid=routes-source]');
    await sleep(1000);
    await shoot('sidebar-remote-light.png');

    // Back to local figures: the remote-only route leaves.
    await sendSpans(server.collectorPort, [span('/items/{item_id}', 20)]);
    await sidebar.locator('[data-testid=source-local]').click();
    await sidebar.locator('[data-testid=routes-table] tbody[data-route="/orders/{order_id}"]').waitFor({ state: 'detached', timeout: 10_000 });
    assert.deepEqual(await routesShown(), ['/items/{item_id}']);
    assert.equal(await sidebar.locator('[data-testid=source-local]').getAttribute('aria-pressed'), 'true');
  });
});
