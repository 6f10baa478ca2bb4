// End to end: the live dashboard in a real VS Code (code-server) driven by Chromium, fed by a test
// client speaking the native protocol (docs/protocol.md) over a WebSocket. Checks the charts and
// the routes table, opens a route's traces and the waterfall, switches from a dark to a light
// theme, and sends values full of HTML and script to check they show as text and never run.
// Screenshots go to screenshots/ (git-ignored): dashboard-{dark,light}-{sidebar,trace}.png.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { freePort } from '../support/net';
import { assertNothingRan, type CodeServer, frameWith, type Helpers, hex, loadHelpers, type PickThemeOptions, pickTheme, screenshotIfFailed, screenshotsDir, sleep, XSS_IMG, XSS_SCRIPT } from './support';

// The page-side globals used in page.evaluate callbacks (tests compile without the DOM library).
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
interface PageElement {
  hidden: boolean;
  dataset: Record<string, string | undefined>;
  querySelector(selector: string): PageCanvas | null;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<PageElement> & { length: number };
  body: { classList: { contains(c: string): boolean } };
  documentElement: unknown;
};
declare function getComputedStyle(e: unknown): { getPropertyValue(name: string): string };

const HOSTILE_ROUTE = `/search/${XSS_IMG}`;

/** The theme picker, reached from the editor's text (a key pressed in a webview does not always reach the workbench). */
const THEME: PickThemeOptions = { focus: { selector: '.part.editor .monaco-editor .view-lines' }, accept: 'click' };

type Json = Record<string, unknown>;

/** A client of the collector that sends a small shop API's traffic four times a second. */
class TrafficClient {
  private ws: WebSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private tick = 0;
  readonly acks: Json[] = [];

  constructor(
    private readonly port: number,
    private readonly workspace: string,
  ) {}

  async start(): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${this.port}/v1/ws`);
    ws.on('message', (d) => this.acks.push(JSON.parse(d.toString()) as Json));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    this.ws = ws;
    ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'fixture-shop', 'process.pid': 4242, 'telemetry.sdk.name': 'e2e-client' } }));
    this.send(this.batch());
    this.timer = setInterval(() => this.send(this.batch()), 250);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.ws?.close();
  }

  send(batch: Json): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ v: 1, type: 'batch', seq: ++this.seq, ...batch }));
  }

  private code(line: number, fn: string): Json {
    return { 'code.file.path': join(this.workspace, 'app.py'), 'code.line.number': line, 'code.function.name': fn };
  }

  /** A request with its child spans (database, cache) and a log record, ending now. */
  request(method: string, route: string, line: number, fn: string, durationMs: number, opts: { status?: number; exception?: Json; children?: [string, number, number][]; log?: string } = {}): { spans: Json[]; logs: Json[]; traceId: string } {
    const traceId = hex(16);
    const spanId = hex(8);
    const end = Date.now();
    const start = end - durationMs;
    const status = opts.status ?? 200;
    const spans: Json[] = [
      {
        traceId,
        spanId,
        name: `${method} ${route}`,
        kind: 'server',
        startMs: start,
        endMs: end,
        status: status >= 500 ? 'error' : 'unset',
        attributes: { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status, 'url.path': route.replace('{item_id}', '2'), 'client.address': '127.0.0.1', ...this.code(line, fn) },
        ...(opts.exception ? { exception: opts.exception, events: [{ name: 'exception', timeMs: end - 1, attributes: { 'exception.type': String(opts.exception.type) } }] } : {}),
      },
    ];
    for (const [name, at, dur] of opts.children ?? []) {
      spans.push({ traceId, spanId: hex(8), parentSpanId: spanId, name, kind: 'client', startMs: start + at, endMs: start + at + dur, attributes: { 'db.system': 'postgresql', 'db.statement': `${name} WHERE id = 2` } });
    }
    const logs = opts.log ? [{ timeMs: start + durationMs / 2, severity: status >= 500 ? 'error' : 'info', body: opts.log, traceId, spanId, attributes: { 'logger.name': 'shop' } }] : [];
    return { spans, logs, traceId };
  }

  private batch(): Json {
    const t = this.tick++;
    const spans: Json[] = [];
    const logs: Json[] = [];
    const add = (r: { spans: Json[]; logs: Json[] }) => {
      spans.push(...r.spans);
      logs.push(...r.logs);
    };
    const jitter = (base: number) => base * (0.6 + Math.random() * 0.8) * (Math.random() < 0.04 ? 6 : 1);
    for (let i = 0; i < 3; i++) add(this.request('GET', '/items/{item_id}', 23, 'get_item', jitter(24), { children: [['SELECT items', 2, jitter(9)], ['redis GET', 14, 2]], log: 'item 2 served from cache' }));
    add(this.request('GET', '/items', 18, 'list_items', jitter(9), { children: [['SELECT items', 1, jitter(6)]] }));
    if (t % 2 === 0) add(this.request('GET', '/health', 13, 'health', jitter(1.2)));
    if (t % 3 === 0) add(this.request('POST', '/items', 30, 'create_item', jitter(55), { status: 201, children: [['INSERT items', 5, jitter(30)]] }));
    if (t % 6 === 0) {
      add(
        this.request('GET', '/boom', 37, 'boom', jitter(4), {
          status: 500,
          exception: { type: 'ValueError', message: 'fixture error for the Problems panel', frames: [{ file: join(this.workspace, 'app.py'), line: 38, function: 'boom' }] },
          log: 'request failed',
        }),
      );
    }
    const metrics = t % 4 === 0 ? [
      { name: 'process.memory.usage', kind: 'gauge', unit: 'By', value: 92e6 + Math.sin(t / 10) * 6e6 + t * 4e4, timeMs: Date.now() },
      { name: 'process.cpu.utilization', kind: 'gauge', unit: '1', value: 0.18 + Math.random() * 0.12, timeMs: Date.now() },
    ] : [];
    return { spans, logs, metrics };
  }
}

describe('e2e: the live dashboard and the trace panel', function () {
  let helpers: Helpers;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: TrafficClient | undefined;
  let shots: string;
  let port: number;
  let settings: Record<string, unknown>;

  before(async function () {
    helpers = await loadHelpers();
    shots = screenshotsDir();
    // A port of its own, so the test never meets another window's collector on 4318.
    port = await freePort();
    settings = {
      'workbench.colorTheme': 'Default Dark Modern',
      'routelens.collector.port': port,
      'routelens.collector.grpcPort': 0,
      'workbench.activityBar.location': 'default',
      'editor.minimap.enabled': false,
    };
    server = await helpers.startCodeServer({ folder: helpers.FIXTURE_WORKSPACE, extensionDevelopmentPath: process.env.ROUTELENS_E2E_EXTENSION_PATH || helpers.REPO_ROOT, userSettings: settings });
    browser = await helpers.launchBrowser();
    ({ page } = await helpers.openWorkbench(browser, server, { viewport: { width: 1440, height: 900 } }));
  });

  after(async function () {
    client?.stop();
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  afterEach(async function () {
    await screenshotIfFailed(this.currentTest, page, 'dashboard-');
  });

  async function quietHover(): Promise<void> {
    // Tooltips left by clicks would cover the screenshot.
    await page.mouse.move(1150, 12);
    await page.locator('.monaco-hover, .custom-hover').first().waitFor({ state: 'hidden', timeout: 3_000 }).catch(() => undefined);
    await sleep(300);
  }

  it('shows live charts and the routes table in the sidebar', async function () {
    const entry = page.locator('.activitybar [aria-label^="Routelens"]').first();
    await entry.waitFor({ state: 'visible', timeout: 60_000 });
    await entry.click();
    const sidebar = await frameWith(page, '[data-testid=collector-state]');
    await sidebar.locator('[data-testid=collector-state]', { hasText: 'Listening' }).waitFor({ timeout: 30_000 });
    // Nothing has arrived yet: the empty state teaches how to connect.
    await sidebar.locator('[data-testid=empty-state]').waitFor({ state: 'visible', timeout: 10_000 });
    assert.ok(await sidebar.locator('[data-testid=empty-state] button', { hasText: 'Copy Endpoint' }).isVisible());

    client = new TrafficClient(port, helpers.FIXTURE_WORKSPACE);
    await client.start();
    await sidebar.locator('[data-testid=routes-table] tbody[data-route="/items/{item_id}"]').waitFor({ timeout: 30_000 });
    // Let a few seconds of traffic draw the charts.
    await sleep(6_000);

    const rows = await sidebar.locator('[data-testid=routes-table] tbody').evaluateAll((bodies) => bodies.map((b) => b.getAttribute('data-route')));
    for (const r of ['/items/{item_id}', '/items', '/health', '/boom']) assert.ok(rows.includes(r), `route ${r} in the table (${rows.join(', ')})`);
    const itemRow = await sidebar.locator('tbody[data-route="/items/{item_id}"] tr.figures td').allInnerTexts();
    assert.ok(Number(itemRow[1]) > 0, `req/s of /items/{item_id}: ${itemRow[1]}`);
    assert.match(itemRow[3], /^\d/, 'a p95 figure');
    assert.notEqual(await sidebar.locator('[data-testid=total-rps]').innerText(), '0.00');
    assert.match(await sidebar.locator('[data-testid=errors-list]').innerText(), /ValueError/);

    // Every chart has a canvas with something drawn on it.
    const painted = await sidebar.evaluate(() =>
      [...document.querySelectorAll('.chart')].map((chart) => {
        const canvas = chart.querySelector('canvas');
        if (!canvas || canvas.width === 0 || chart.hidden) return [chart.dataset.testid, 0] as const;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return [chart.dataset.testid, n] as const;
      }),
    );
    const byId = Object.fromEntries(painted);
    for (const id of ['chart-requests', 'chart-latency', 'chart-errors', 'chart-memory', 'chart-cpu']) assert.ok((byId[id] ?? 0) > 500, `${id} has pixels drawn (${JSON.stringify(painted)})`);

    // Where the time went: a stacked bar under the route, and the service map's edge to the database.
    // The table fills in a row's figures while it is in view: scroll to it (the Runs view below the
    // dashboard leaves the table under the fold).
    await sidebar.locator('tbody[data-route="/items/{item_id}"]').scrollIntoViewIfNeeded();
    const bar = sidebar.locator('tbody[data-route="/items/{item_id}"] [data-testid=route-breakdown]');
    await bar.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match((await bar.getAttribute('title')) ?? '', /^Time per request \([\d.]+ ms\): own code [\d.]+ ms, databases [\d.]+ ms\. Largest: /);
    const dbWidth = await bar.locator('.seg-db').evaluate((e) => (e as unknown as { getBoundingClientRect(): { width: number } }).getBoundingClientRect().width);
    assert.ok(dbWidth > 1, `the database part of the bar is drawn (${dbWidth} px)`);
    const edge = sidebar.locator('[data-testid=service-map] li', { hasText: 'postgresql' }).first();
    await edge.waitFor({ timeout: 15_000 });
    assert.match(await edge.innerText(), /fixture-shop → DB postgresql[\s\S]*calls\/s · p95 [\d.]+ ms · 0(\.0)?% errors/);
    assert.equal(await edge.getAttribute('tabindex'), '0', 'keyboard reachable');

    // Sorting by a column header, with the keyboard.
    await sidebar.locator('th', { hasText: 'p95' }).focus();
    await page.keyboard.press('Enter');
    assert.equal(await sidebar.locator('th', { hasText: 'p95' }).getAttribute('aria-sort'), 'descending');
    await quietHover();
    await page.locator('.part.sidebar').first().screenshot({ path: join(shots, 'dashboard-dark-sidebar.png') });

    // The filter survives hiding and showing the view (its document is rebuilt in between).
    await sidebar.locator('input[aria-label="Filter routes"]').fill('boom');
    await sidebar.locator('[data-testid=routes-table] tbody[data-route="/items"]').waitFor({ state: 'detached', timeout: 5_000 });
    await sleep(400);
    await entry.click();
    await page.locator('.part.sidebar').first().waitFor({ state: 'hidden', timeout: 10_000 });
    await sleep(500);
    for (let i = 0; i < 5 && !(await page.locator('.part.sidebar').first().isVisible()); i++) {
      await entry.click();
      await sleep(1000);
    }
    const again = await frameWith(page, '[data-testid=routes-table] tbody');
    assert.equal(await again.locator('input[aria-label="Filter routes"]').inputValue(), 'boom');
    assert.deepEqual(await again.locator('[data-testid=routes-table] tbody').evaluateAll((bodies) => bodies.map((b) => b.getAttribute('data-route'))), ['/boom']);
    await again.locator('input[aria-label="Filter routes"]').fill('');
  });

  it('shows test-client requests apart, per test, and not in the routes table', async function () {
    const sidebar = await frameWith(page, '[data-testid=collector-state]');
    const spans: Json[] = [];
    for (const [test, method, route, ms, status] of [
      ['tests/test_checkout.py::test_pays', 'POST', '/checkout', 42, 200],
      ['tests/test_checkout.py::test_pays', 'POST', '/checkout', 380, 200],
      ['tests/test_checkout.py::test_declined', 'POST', '/checkout', 12, 502],
    ] as const) {
      const r = client!.request(method, route, 44, 'checkout', ms, { status });
      (r.spans[0].attributes as Json)['test.case.name'] = test;
      spans.push(r.spans[0]);
    }
    client!.send({ spans });
    const tests = sidebar.locator('[data-testid=tests-list]');
    await tests.locator('li', { hasText: 'test_declined' }).waitFor({ timeout: 15_000 });
    const text = await tests.innerText();
    assert.match(text, /tests\/test_checkout\.py::test_pays/);
    assert.match(text, /2 requests/);
    assert.match(text, /1 request, 1 failed/);
    const rows = await sidebar.locator('[data-testid=routes-table] tbody').evaluateAll((bodies) => bodies.map((b) => b.getAttribute('data-route')));
    assert.ok(!rows.includes('/checkout'), `test traffic is not a route of the server (${rows.join(', ')})`);
    await sidebar.locator('section.tests').scrollIntoViewIfNeeded();
    await quietHover();
    await page.locator('.part.sidebar').first().screenshot({ path: join(shots, 'dashboard-dark-tests.png') });
  });

  it('opens the route traces and the waterfall from a route row', async function () {
    const sidebar = await frameWith(page, '[data-testid=routes-table]');
    await sidebar.locator('tbody[data-route="/items/{item_id}"]').click();
    const trace = await frameWith(page, '[data-testid=waterfall]');
    await trace.locator('[data-testid=route-title]', { hasText: 'GET /items/{item_id}' }).waitFor({ timeout: 20_000 });
    await trace.locator('.wf-row:not([hidden])').nth(2).waitFor({ timeout: 20_000 });
    const names = await trace.locator('.wf-row:not([hidden]) .wf-span-name').allInnerTexts();
    assert.deepEqual(names.slice(0, 3), ['GET /items/{item_id}', 'SELECT items', 'redis GET']);
    assert.ok((await trace.locator('[data-testid=trace-list] li').count()) > 3, 'the route has several requests listed');
    // The handler opened in the editor next to the panel.
    await page.locator('.tabs-container .tab', { hasText: 'app.py' }).first().waitFor({ timeout: 10_000 });

    // The critical path is marked under the bars it runs through, and the trace opened on the span
    // holding most of it (selected).
    assert.ok((await trace.locator('.wf-row.critical:not([hidden])').count()) >= 1, 'rows on the critical path');
    assert.ok((await trace.locator('.wf-row.critical .wf-crit-seg').count()) >= 1, 'critical-path segments drawn');
    assert.match(await trace.locator('[data-testid=trace-head]').innerText(), /critical path/);
    assert.equal(await trace.locator('.wf-row.selected.critical').count(), 1, 'the selected span is on the critical path');

    // Keyboard: the waterfall is a tree; Home selects the first span, Down the next, with its details.
    await trace.locator('[data-testid=waterfall]').focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await trace.locator('[data-testid=span-name]', { hasText: 'SELECT items' }).waitFor({ timeout: 5_000 });
    assert.match(await trace.locator('[data-testid=span-details]').innerText(), /db\.statement/);
    assert.match(await trace.locator('[data-testid=trace-logs]').innerText(), /item 2 served from cache/);

    // Errors only.
    await trace.locator('label', { hasText: 'Errors only' }).click();
    await trace.locator('[data-testid=trace-list] li').first().waitFor({ state: 'detached', timeout: 5_000 }).catch(() => undefined);
    await trace.locator('label', { hasText: 'Errors only' }).click();
    await trace.locator('[data-testid=trace-list] li').first().waitFor({ timeout: 5_000 });
    await quietHover();
    await page.screenshot({ path: join(shots, 'dashboard-dark-trace.png') });

    // An error's trace link, then a frame of its stack: the file opens at the line that raised.
    await sidebar.locator('[data-testid=errors-list] li', { hasText: 'ValueError' }).locator('button', { hasText: 'trace' }).click();
    await trace.locator('[data-testid=route-title]', { hasText: 'GET /boom' }).waitFor({ timeout: 20_000 });
    await trace.locator('[data-testid=exception] button.frame', { hasText: 'app.py:38' }).click();
    await page.locator('.statusbar-item', { hasText: /Ln 38, Col/ }).first().waitFor({ timeout: 10_000 });
  });

  it('follows a switch to a light theme, charts included', async function () {
    await pickTheme(page, 'Light Modern', THEME);
    const sidebar = await frameWith(page, '[data-testid=routes-table]');
    await sidebar.waitForFunction(() => document.body.classList.contains('vscode-light'), undefined, { timeout: 20_000 });
    await sleep(1500);
    // The charts were drawn again in the light theme's colours: its green is on the latency canvas.
    const greenPixels = await sidebar.evaluate(() => {
      const hex = getComputedStyle(document.documentElement).getPropertyValue('--vscode-charts-green').trim();
      const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(hex);
      const canvas = [...document.querySelectorAll('[data-testid=chart-latency]')][0]?.querySelector('canvas');
      if (!m || !canvas) return -1;
      const [r, g, b] = [m[1], m[2], m[3]].map((x) => parseInt(x, 16));
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 200 && Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 40) n++;
      return n;
    });
    assert.ok(greenPixels > 20, `the p50 line in the light theme's green (${greenPixels} pixels)`);
    await quietHover();
    await page.locator('.part.sidebar').first().screenshot({ path: join(shots, 'dashboard-light-sidebar.png') });
    await page.screenshot({ path: join(shots, 'dashboard-light-trace.png') });
    await pickTheme(page, 'Dark Modern', THEME);
  });

  it('renders HTML and script in telemetry as text, and runs none of it', async function () {
    const hostile = client!.request('GET', HOSTILE_ROUTE, 23, XSS_SCRIPT, 40, {
      status: 500,
      exception: { type: `Error${XSS_IMG}`, message: `${XSS_SCRIPT} and ${XSS_IMG}`, frames: [{ file: `/srv/${XSS_IMG}.py`, line: 1, function: XSS_SCRIPT }] },
      children: [[XSS_IMG, 5, 10]],
      log: `log line ${XSS_IMG} ${XSS_SCRIPT}`,
    });
    (hostile.spans[0].attributes as Json)[`attr ${XSS_IMG}`] = XSS_SCRIPT;
    client!.send({ spans: hostile.spans, logs: hostile.logs });

    const sidebar = await frameWith(page, '[data-testid=routes-table]');
    const row = sidebar.locator('[data-testid=routes-table] tbody').filter({ hasText: XSS_IMG });
    await row.first().waitFor({ timeout: 20_000 });
    assert.match(await row.first().innerText(), /\/search\/<img src=x onerror="globalThis.__routelensXss=1">/);
    await sidebar.locator('[data-testid=errors-list]', { hasText: `Error${XSS_IMG}` }).waitFor({ timeout: 10_000 });
    assert.ok((await sidebar.locator('[data-testid=errors-list]').innerText()).includes(`${XSS_SCRIPT} and ${XSS_IMG}`));
    await assertNothingRan(page, 'sidebar');

    // The failed request is in the slow and failed list: open its trace from there.
    await sidebar.locator('[data-testid=traces-list] li').filter({ hasText: XSS_IMG }).first().click();
    const trace = await frameWith(page, '[data-testid=waterfall]');
    await trace.locator('[data-testid=route-title]', { hasText: HOSTILE_ROUTE }).waitFor({ timeout: 20_000 });
    const names = await trace.locator('.wf-row:not([hidden]) .wf-span-name').allInnerTexts();
    assert.deepEqual(names.slice(0, 2), [`GET ${HOSTILE_ROUTE}`, XSS_IMG]);
    const details = await trace.locator('[data-testid=span-details]').innerText();
    assert.ok(details.includes(`attr ${XSS_IMG}`), 'attribute key as text');
    assert.ok(details.includes(XSS_SCRIPT), 'attribute value as text');
    assert.ok(details.includes(`Error${XSS_IMG}`), 'exception type as text');
    assert.ok(details.includes(`/srv/${XSS_IMG}.py:1`), 'frame as text');
    assert.ok((await trace.locator('[data-testid=trace-logs]').innerText()).includes(`log line ${XSS_IMG} ${XSS_SCRIPT}`));
    await sleep(500);
    await assertNothingRan(page, 'trace panel');
    await quietHover();
    await page.screenshot({ path: join(shots, 'dashboard-hostile.png') });
  });

  it('brings the trace panel back after the window reloads', async function () {
    client?.stop();
    await page.reload();
    await page.locator('.monaco-workbench .part.editor').first().waitFor({ timeout: 60_000 });
    // The serializer restores the panel with a route it showed. (Which one depends on when the
    // workbench last saved the webview's state: a reload does not always flush the newest.)
    const trace = await frameWith(page, '[data-testid=route-title]', 60_000);
    await trace.waitForFunction(() => /^GET \/(items|search|boom)/.test(String((globalThis as { document?: { querySelector(s: string): { textContent: string | null } | null } }).document?.querySelector('[data-testid=route-title]')?.textContent)), undefined, { timeout: 30_000 });
    assert.ok(await trace.locator('[data-testid=trace-list]').count());
    await assertNothingRan(page, 'restored trace panel');
  });
});
