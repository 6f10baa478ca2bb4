// Runs in the real VS Code: two runs of the fixture app sent the way the Python agent sends them
// (a hello naming the process and its start), the second slower on GET /items/{item_id} and
// raising a new exception there. The lens shows the regression, the hover both distributions,
// the route table a change column (screenshots, dark and light); the runs survive a window
// reload and a restart of VS Code; a runs database truncated in the middle, found at startup,
// gives a clear message and a fresh database while the extension works on.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { httpStatus } from '../support/net';
import { type CodeServer, frameWith, type Helpers, hex, loadHelpers, openFile, pickTheme, screenshotsDir, sleep } from './support';

const gauss = () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
const SERVICE = 'fixture-shop';

function span(file: string, route: string, line: number, fn: string, endMs: number, ms: number, status = 200, exception?: unknown): Record<string, unknown> {
  return {
    traceId: hex(16),
    spanId: hex(8),
    name: `GET ${route}`,
    kind: 'server',
    startMs: endMs - ms,
    endMs,
    status: status >= 500 ? 'error' : 'unset',
    attributes: { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': status, 'code.file.path': file, 'code.line.number': line, 'code.function.name': fn },
    ...(exception ? { exception } : {}),
  };
}

/** One process's run: a hello with its instance and start, then its requests in a few batches. */
async function sendRun(port: number, appPy: string, instance: string, startedMs: number, endsMs: number, slow: boolean): Promise<void> {
  const spans: Record<string, unknown>[] = [];
  for (let i = 0; i < 260; i++) {
    const end = endsMs - (260 - i) * 20;
    const ms = 20 * Math.exp(0.2 * gauss()) + (slow ? 15 : 0);
    const fail = slow && i % 10 === 0;
    spans.push(span(appPy, '/items/{item_id}', 23, 'get_item', end, ms, fail ? 500 : 200, fail ? { type: 'KeyError', message: "'price'", frames: [{ file: appPy, line: 26, function: 'get_item' }] } : undefined));
    spans.push(span(appPy, '/items', 18, 'list_items', end, 5 * Math.exp(0.2 * gauss())));
  }
  const resource = { 'service.name': SERVICE, 'service.instance.id': instance, 'process.pid': 4000 + Number(instance.slice(-1)), 'process.creation.time': new Date(startedMs).toISOString(), 'telemetry.sdk.name': 'routelens-python', 'telemetry.sdk.version': '0.1.0' };
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    let acks = 0;
    const batches = Math.ceil(spans.length / 130);
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource }));
      for (let b = 0; b < batches; b++) ws.send(JSON.stringify({ v: 1, type: 'batch', instance, seq: b + 1, spans: spans.slice(b * 130, (b + 1) * 130) }));
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

let lastPage: Page | undefined;

function findFile(dir: string, name: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    } else if (e.name === name) return p;
  }
  return undefined;
}

async function openSidebar(page: Page): Promise<void> {
  lastPage = page;
  const entry = page.locator('.activitybar [aria-label^="Routelens"]').first();
  await entry.waitFor({ state: 'visible', timeout: 60_000 });
  // The activity bar entry toggles: click it only when the Routelens container is not the one
  // shown, then wait until it is (a reload restores the sidebar a moment after the workbench).
  const title = page.locator('.part.sidebar .composite.title .title-label', { hasText: 'Routelens' }).first();
  await title.waitFor({ timeout: 3_000 }).catch(() => undefined);
  if (!(await title.isVisible().catch(() => false))) await entry.click();
  await title.waitFor({ timeout: 15_000 });
}

/** The Runs view's rows (tree rows in the Routelens sidebar), as text. */
async function runRows(page: Page): Promise<string[]> {
  return (await page.locator('.part.sidebar .monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
}

/** The Runs view starts collapsed under the dashboard: open it by its header when it is. */
async function expandRunsView(page: Page): Promise<void> {
  const header = page.locator('.part.sidebar .pane-header', { hasText: 'Runs' }).first();
  await header.waitFor({ timeout: 15_000 });
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
}

describe('e2e: runs compared, remembered across reloads and restarts', function () {
  this.timeout(300_000);
  let h: Helpers;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let shots: string;

  let current: Page | undefined;
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') await (current ?? lastPage)?.screenshot({ path: join(shots, 'failed-runs.png') }).catch(() => undefined);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('the lens, hover and route table show the regression; runs survive a reload and a restart; a truncated database starts afresh', async () => {
    h = await loadHelpers();
    shots = screenshotsDir();
    const settings = { 'editor.minimap.enabled': false, 'workbench.colorTheme': 'Default Dark Modern' };
    server = await h.startCodeServer({ folder: h.FIXTURE_WORKSPACE, extensionDevelopmentPath: h.REPO_ROOT, userSettings: settings });
    browser = await h.launchBrowser();
    let { page } = await h.openWorkbench(browser, server, { viewport: { width: 1500, height: 900 } });
    current = page;
    const appPy = join(h.FIXTURE_WORKSPACE, 'app.py');
    await openFile(page, 'app.py');

    // Two runs: the first process started 40 s ago, the second (a reload after a change) 12 s ago.
    const now = Date.now();
    for (let i = 0; i < 120 && (await httpStatus(server.collectorPort, '/healthz')) !== 200; i++) await sleep(500);
    await sendRun(server.collectorPort, appPy, 'vm-1', now - 40_000, now - 14_000, false);
    await sendRun(server.collectorPort, appPy, 'vm-2', now - 12_000, now, true);

    const lens = page.locator('.contentWidgets .codelens-decoration, .codelens-decoration');
    const regression = lens.filter({ hasText: /p95 ▲ \+\d+ ms .*vs last run/ }).first();
    await regression.waitFor({ timeout: 30_000 });
    const titles = (await lens.allTextContents()).map((t) => t.trim());
    assert.equal(titles.filter((t) => /vs last run/.test(t)).length, 1, `only the slowed handler's lens: ${titles.join(' | ')}`);
    assert.match(titles.find((t) => /vs last run/.test(t))!, /errors ▲ 0\.0% → 10\.0%/);
    await page.mouse.move(900, 500);
    await sleep(800);
    await page.screenshot({ path: join(shots, 'runs-lens-dark.png') });

    // The hover over the handler: both runs side by side.
    const hoverOn = async (line: number) => {
      await page.locator('.part.editor').first().click({ position: { x: 600, y: 300 } });
      await page.keyboard.press('Control+G');
      await page.keyboard.type(String(line));
      await page.keyboard.press('Enter');
      await page.keyboard.press('Control+K');
      await page.keyboard.press('Control+I');
      const hover = page.locator('.monaco-hover', { hasText: 'this run' }).first();
      await hover.waitFor({ timeout: 15_000 });
      await sleep(500);
      return hover;
    };
    const hover = await hoverOn(23);
    const hoverText = await hover.innerText();
    assert.match(hoverText, /last run\s+this run/);
    assert.match(hoverText, /p95 .*▲ \+\d+ ms/);
    await sleep(500);
    await page.screenshot({ path: join(shots, 'runs-hover-dark.png') });
    await page.keyboard.press('Escape');

    // The route table's change column, and the Runs view.
    await openSidebar(page);
    const sidebar = await frameWith(page, '[data-testid=routes-table]');
    const cell = sidebar.locator('tbody[data-route="/items/{item_id}"] [data-testid=route-change]');
    await cell.filter({ hasText: /▲\d/ }).waitFor({ timeout: 30_000 });
    assert.equal(await sidebar.locator('tbody[data-route="/items"] [data-testid=route-change]').innerText(), '');
    await expandRunsView(page);
    await page.locator('.part.sidebar .monaco-list-row', { hasText: 'current ·' }).first().waitFor({ timeout: 15_000 });
    const rows = await runRows(page);
    assert.ok(rows.some((r) => r.startsWith(SERVICE)), rows.join(' | '));
    assert.equal(rows.filter((r) => /req · \d+ err/.test(r)).length, 2, rows.join(' | '));
    assert.ok(rows.some((r) => /current · .* 260 req · 26 err/.test(r) || /current ·.*520 req · 26 err/.test(r)), rows.join(' | '));
    // Wider, and scrolled to the routes table, for the picture.
    const showRoutes = async () => {
      await sidebar.locator('[data-testid=routes-table]').scrollIntoViewIfNeeded();
      await page.mouse.move(1400, 12);
      await sleep(800);
    };
    const box = (await page.locator('.part.sidebar').boundingBox())!;
    await page.mouse.move(box.x + box.width + 1, 300);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width + 200, 300, { steps: 8 });
    await page.mouse.up();
    await showRoutes();
    await page.locator('.part.sidebar').screenshot({ path: join(shots, 'runs-sidebar-dark.png') });

    // Light.
    await pickTheme(page, 'Light Modern', { focus: { selector: '.part.editor', position: { x: 600, y: 300 } } });
    await page.locator('.monaco-workbench.vs').first().waitFor({ timeout: 20_000 });
    await page.mouse.move(1400, 12);
    await sleep(1500);
    await page.screenshot({ path: join(shots, 'runs-lens-light.png') });
    await showRoutes();
    await page.locator('.part.sidebar').screenshot({ path: join(shots, 'runs-sidebar-light.png') });
    await hoverOn(23);
    await page.screenshot({ path: join(shots, 'runs-hover-light.png') });
    await page.keyboard.press('Escape');

    // A window reload: the runs come back from the database (written every few seconds).
    await sleep(4500);
    const before = await runRows(page);
    await page.reload();
    await page.locator('.monaco-workbench .part.editor').first().waitFor({ timeout: 60_000 });
    await openSidebar(page);
    await expandRunsView(page);
    await page.locator('.part.sidebar .monaco-list-row', { hasText: 'current ·' }).first().waitFor({ timeout: 30_000 });
    const after = await runRows(page);
    assert.deepEqual(after.filter((r) => /req ·/.test(r)), before.filter((r) => /req ·/.test(r)), 'the same runs after the reload');

    // A restart of VS Code: the server stops and a new one starts on the same data folder.
    const db = findFile(server.userDataDir, 'runs.sqlite');
    assert.ok(db, 'the runs database is in the workspace storage');
    await sleep(4000);
    const restart = async (change?: (dbFile: string) => void) => {
      const baseDir = server!.baseDir;
      const port = server!.port;
      await browser!.close();
      await server!.stop({ keepData: true });
      change?.(db);
      server = await h.startCodeServer({ folder: h.FIXTURE_WORKSPACE, extensionDevelopmentPath: h.REPO_ROOT, userSettings: settings, baseDir, port });
      browser = await h.launchBrowser();
      ({ page } = await h.openWorkbench(browser, server, { viewport: { width: 1500, height: 900 } }));
      current = page;
    };
    await restart();
    await openSidebar(page);
    await expandRunsView(page);
    await page.locator('.part.sidebar .monaco-list-row', { hasText: 'current ·' }).first().waitFor({ timeout: 30_000 });
    assert.deepEqual((await runRows(page)).filter((r) => /req ·/.test(r)), before.filter((r) => /req ·/.test(r)), 'the same runs after a restart');
    await sleep(4000);

    // A database truncated in the middle, found at startup.
    await restart((file) => {
      const whole = readFileSync(file);
      writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    });
    const target = db;
    // The message: a toast, or (when the workbench was still starting) in the notification center.
    const damaged = /runs database .* is damaged or unreadable/;
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: damaged }).first();
    if (!(await toast.waitFor({ timeout: 15_000 }).then(() => true, () => false))) {
      await page.locator('[id="status.notifications"]').first().click();
    }
    const message = page.locator('.notification-list-item', { hasText: damaged }).first();
    await message.waitFor({ timeout: 15_000 });
    assert.match(await message.innerText(), /Started a fresh one/);
    assert.equal(await httpStatus(server.collectorPort, '/healthz'), 200, 'the extension started its collector all the same');
    assert.ok(readdirSync(dirname(target)).some((n) => n.startsWith('runs.sqlite.damaged-')), 'the damaged file is kept aside');
    await page.screenshot({ path: join(shots, 'runs-damaged-database.png') });
    // And the fresh database works: a new run arrives and is listed.
    await sendRun(server.collectorPort, appPy, 'vm-3', Date.now() - 8000, Date.now(), false);
    await openSidebar(page);
    await expandRunsView(page);
    await page.locator('.part.sidebar .monaco-list-row', { hasText: 'current ·' }).first().waitFor({ timeout: 30_000 });
    // (Runs rebuilt from the store's restored spans may be listed below it.)
    await expandRunsView(page);
    await page.locator('.part.sidebar .monaco-list-row', { hasText: /current · .*520 req · 0 err/ }).first().waitFor({ timeout: 30_000 });
    await sleep(4500);
    assert.ok(statSync(target).size > 0);
  });
});
