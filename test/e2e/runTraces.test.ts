// Run traces side by side in the real VS Code: two runs of the fixture app sent the way the
// Python agent sends them (requests with database calls), the second slower on
// GET /items/{item_id}. The hover's link opens the slowest trace of each run in two trace panels
// side by side, each titled with its run (screenshots, dark and light); after a restart of VS
// Code with the store's own persistence off, the command palette's "Compare Route with Last Run"
// opens the same two traces from the spans the runs database kept.
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { httpStatus } from '../support/net';
import { hex, loadHelpers, openFile, runCommand, sleep, type CodeServer } from './support';



const gauss = () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
const SERVICE = 'fixture-shop';

/** A request of the fixture app: its server span and its database calls (the slow run's second query is slow). */
function request(file: string, route: string, line: number, fn: string, endMs: number, ms: number, queries: number, slowQueryMs = 0): Record<string, unknown>[] {
  const traceId = hex(16);
  const server = {
    traceId,
    spanId: hex(8),
    name: `GET ${route}`,
    kind: 'server',
    startMs: endMs - ms,
    endMs,
    status: 'unset',
    attributes: { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': 200, 'code.file.path': file, 'code.line.number': line, 'code.function.name': fn },
  };
  const each = (ms - slowQueryMs) / (queries + 1);
  let at = server.startMs + each / 2;
  const calls = Array.from({ length: queries }, (_, i) => {
    const d = each * 0.8 + (i === 1 ? slowQueryMs : 0);
    const s = { traceId, spanId: hex(8), parentSpanId: server.spanId, name: i === 1 ? 'SELECT prices' : 'SELECT items', kind: 'client', startMs: at, endMs: at + d, status: 'unset', attributes: { 'db.system.name': 'postgresql', 'db.query.text': i === 1 ? 'SELECT price FROM prices WHERE item_id = $1' : 'SELECT * FROM items WHERE id = $1' } };
    at += d + each * 0.2;
    return s;
  });
  return [...calls, server];
}

/** One process's run: a hello with its instance and start, then its requests in a few batches. */
async function sendRun(port: number, appPy: string, instance: string, startedMs: number, endsMs: number, slow: boolean): Promise<void> {
  const spans: Record<string, unknown>[] = [];
  for (let i = 0; i < 240; i++) {
    const end = endsMs - (240 - i) * 20;
    const ms = 20 * Math.exp(0.2 * gauss()) + (slow ? 15 : 0);
    spans.push(...request(appPy, '/items/{item_id}', 23, 'get_item', end, ms, 3, slow ? 15 : 0));
    spans.push(...request(appPy, '/items', 18, 'list_items', end, 5 * Math.exp(0.2 * gauss()), 1));
  }
  const resource = { 'service.name': SERVICE, 'service.instance.id': instance, 'process.pid': 4000 + Number(instance.slice(-1)), 'process.creation.time': new Date(startedMs).toISOString(), 'telemetry.sdk.name': 'routelens-python', 'telemetry.sdk.version': '0.1.0' };
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    let acks = 0;
    const per = 300;
    const batches = Math.ceil(spans.length / per);
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource }));
      for (let b = 0; b < batches; b++) ws.send(JSON.stringify({ v: 1, type: 'batch', instance, seq: b + 1, spans: spans.slice(b * per, (b + 1) * per) }));
    });
    ws.on('message', (d) => {
      if (JSON.parse(d.toString()).type === 'ack' && ++acks === batches) {
        ws.close();
        resolve();
      }
    });
    ws.on('error', reject);
  });
}



/** The two compare panels' frames: the one whose caption starts with `Last run`, and the one with `This run`. */
async function comparePanels(page: Page, timeoutMs = 30_000): Promise<{ left: Frame; right: Frame }> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    let left: Frame | undefined;
    let right: Frame | undefined;
    for (const f of page.frames()) {
      const caption = await f.locator('[data-testid=run-caption]').innerText({ timeout: 200 }).catch(() => '');
      const rows = await f.locator('[data-testid=waterfall] [role=treeitem]').count().catch(() => 0);
      if (rows === 0) continue;
      if (caption.startsWith('Last run')) left = f;
      if (caption.startsWith('This run')) right = f;
    }
    if (left && right) return { left, right };
    await sleep(250);
  }
  throw new Error('no two compare panels showing a trace');
}


describe('e2e: a route\'s slowest trace of each run, side by side', function () {
  this.timeout(300_000);
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let shots: string;

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') await page?.screenshot({ path: join(shots, 'failed-run-traces.png') }).catch(() => undefined);
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('the hover opens both runs\' slowest trace in two panels; after a restart the command opens them from the runs database', async () => {
    const h = await loadHelpers();
    shots = process.env.ROUTELENS_SCREENSHOTS_DIR || join(h.REPO_ROOT, 'screenshots');
    mkdirSync(shots, { recursive: true });
    // The store's own snapshot off: after the restart the traces can only come from the runs database.
    const settings = { 'editor.minimap.enabled': false, 'workbench.colorTheme': 'Default Dark Modern', 'routelens.persistence.enabled': false };
    server = await h.startCodeServer({ folder: h.FIXTURE_WORKSPACE, extensionDevelopmentPath: h.REPO_ROOT, userSettings: settings });
    browser = await h.launchBrowser();
    ({ page } = await h.openWorkbench(browser, server, { viewport: { width: 1600, height: 900 } }));
    const appPy = join(h.FIXTURE_WORKSPACE, 'app.py');
    await openFile(page, 'app.py');

    const now = Date.now();
    for (let i = 0; i < 120 && (await httpStatus(server.collectorPort, '/healthz')) !== 200; i++) await sleep(500);
    await sendRun(server.collectorPort, appPy, 'vm-1', now - 40_000, now - 14_000, false);
    await sendRun(server.collectorPort, appPy, 'vm-2', now - 12_000, now, true);
    const lens = page.locator('.contentWidgets .codelens-decoration, .codelens-decoration');
    await lens.filter({ hasText: /p95 ▲ \+\d+ ms .*vs last run/ }).first().waitFor({ timeout: 30_000 });

    // The hover's link.
    await page.locator('.part.editor').first().click({ position: { x: 600, y: 300 } });
    await page.keyboard.press('Control+G');
    await page.keyboard.type('23');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+I');
    const hover = page.locator('.monaco-hover', { hasText: 'this run' }).first();
    await hover.waitFor({ timeout: 15_000 });
    await hover.locator('a', { hasText: 'Compare traces with the last run' }).click();

    const { left, right } = await comparePanels(page);
    const leftCaption = await left.locator('[data-testid=run-caption]').innerText();
    const rightCaption = await right.locator('[data-testid=run-caption]').innerText();
    assert.match(leftCaption, /^Last run, started .* · slowest of 3 kept$/);
    assert.match(rightCaption, /^This run, started .* · slowest of 3 kept$/);
    assert.equal(await left.locator('[data-testid=route-title]').innerText(), 'GET /items/{item_id}');
    assert.equal(await right.locator('[data-testid=route-title]').innerText(), 'GET /items/{item_id}');
    // Each shows its request with its three queries; the filters are hidden (one run's sample).
    assert.equal(await left.locator('[data-testid=waterfall] [role=treeitem]').count(), 4);
    assert.equal(await right.locator('[data-testid=waterfall] [role=treeitem]').count(), 4);
    assert.equal(await right.locator('.filters').isVisible(), false);
    assert.equal(await right.locator('[data-testid=trace-list] li').count(), 3);
    const tabs = (await page.locator('.tabs-container .tab').allInnerTexts()).map((t) => t.trim());
    assert.ok(tabs.some((t) => /^Last run .*: GET \/items\/\{item_id\}/.test(t)), tabs.join(' | '));
    assert.ok(tabs.some((t) => /^This run .*: GET \/items\/\{item_id\}/.test(t)), tabs.join(' | '));
    await page.mouse.move(1590, 12);
    await sleep(1000);
    await page.screenshot({ path: join(shots, 'run-traces-compare-dark.png') });

    // Light.
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+T');
    const themeInput = page.locator('.quick-input-widget input');
    await themeInput.waitFor({ timeout: 10_000 });
    await themeInput.fill('Light Modern');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Light Modern' }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.monaco-workbench.vs').first().waitFor({ timeout: 20_000 });
    await page.mouse.move(1590, 12);
    await sleep(1500);
    await page.screenshot({ path: join(shots, 'run-traces-compare-light.png') });
    const before = { left: await left.locator('[data-testid=waterfall]').innerText(), right: await right.locator('[data-testid=waterfall]').innerText() };

    // A restart of VS Code (same data folder and port): the store starts empty, the runs come
    // back from the database with their sample spans.
    await sleep(4500);
    const baseDir = server.baseDir;
    const port = server.port;
    await browser.close();
    await server.stop({ keepData: true });
    server = await h.startCodeServer({ folder: h.FIXTURE_WORKSPACE, extensionDevelopmentPath: h.REPO_ROOT, userSettings: settings, baseDir, port });
    browser = await h.launchBrowser();
    ({ page } = await h.openWorkbench(browser, server, { viewport: { width: 1600, height: 900 } }));
    await openFile(page, 'app.py');
    for (let i = 0; i < 120 && (await httpStatus(server.collectorPort, '/healthz')) !== 200; i++) await sleep(500);
    // The runs database is read in the background: ask until the command has runs to compare.
    let again: { left: Frame; right: Frame } | undefined;
    for (let i = 0; i < 10 && !again; i++) {
      await page.locator('.part.editor').first().click({ position: { x: 600, y: 300 } });
      await runCommand(page, 'Routelens: Compare Route with Last Run');
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'GET /items/{item_id}' }).first();
      if (await row.waitFor({ timeout: 5000 }).then(() => true, () => false)) {
        assert.match(await page.locator('.quick-input-list .monaco-list-row').first().innerText(), /GET \/items\/\{item_id\}[\s\S]*changed/, 'the changed route is offered first');
        await row.click();
        again = await comparePanels(page);
      } else {
        await page.keyboard.press('Escape');
        await sleep(1000);
      }
    }
    assert.ok(again, 'the command compared the route after the restart');
    assert.equal(await again.left.locator('[data-testid=waterfall]').innerText(), before.left, 'the same last-run trace');
    assert.equal(await again.right.locator('[data-testid=waterfall]').innerText(), before.right, 'the same this-run trace');
    await page.mouse.move(1590, 12);
    await sleep(1000);
    await page.screenshot({ path: join(shots, 'run-traces-after-restart.png') });
  });
});
