// The log view as a person sees it, in a real VS Code (code-server) driven through Chromium:
// records from the native agent protocol, an OpenTelemetry SDK's OTLP exporter and raw OTLP/HTTP
// arrive live; the filters narrow them and survive a reload; a record opens the line that wrote
// it and its trace; hostile strings stay text. Screenshots (screenshots/logs-*.png) in a dark and
// a light theme.
import * as assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import type { Browser, Frame, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { freePort } from '../support/net';
import { assertNothingRan, type CodeServer, frameWith, type Helpers, hex, loadHelpers, pickTheme, runCommand, screenshotIfFailed, screenshotsDir, sleep, XSS_IMG, XSS_SCRIPT } from './support';

type Json = Record<string, unknown>;
/** What the page-side callbacks below use of the DOM (this file compiles without the DOM library). */
declare const document: { body: { classList: { contains(name: string): boolean } } };

/** A native-protocol client (what the Python agent speaks), kept open. */
class Agent {
  private ws!: WebSocket;
  private seq = 0;
  private port = 0;
  private service = '';
  async open(port: number, service: string): Promise<void> {
    this.port = port;
    this.service = service;
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    this.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': service, 'process.pid': 4343 } }));
  }
  async send(batch: Json): Promise<void> {
    // A window reload restarts the collector: connect again, as the agent does.
    if (this.ws.readyState !== WebSocket.OPEN) {
      for (let i = 0; ; i++) {
        try {
          await this.open(this.port, this.service);
          break;
        } catch (e) {
          if (i > 60) throw e;
          await sleep(500);
        }
      }
    }
    const seq = ++this.seq;
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`batch ${seq}: no ack in 15 s`)), 15_000);
      const on = (d: Buffer) => {
        const m = JSON.parse(d.toString()) as Json;
        if ((m.type === 'ack' && m.seq === seq) || m.type === 'error') {
          clearTimeout(timer);
          this.ws.off('message', on);
          if (m.type === 'error') reject(new Error(`batch ${seq}: ${JSON.stringify(m)}`));
          else resolve();
        }
      };
      this.ws.on('message', on);
    });
    this.ws.send(JSON.stringify({ v: 1, type: 'batch', seq, ...batch }));
    await acked;
  }
  close(): void {
    this.ws?.close();
  }
}

function serverSpan(traceId: string, method: string, route: string, status: number, file: string, line: number): Json {
  const end = Date.now();
  return {
    traceId,
    spanId: hex(8),
    name: `${method} ${route}`,
    kind: 'server',
    startMs: end - 30,
    endMs: end,
    status: status >= 500 ? 'error' : 'unset',
    attributes: { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status, 'code.file.path': file, 'code.line.number': line, 'code.function.name': 'handler' },
  };
}

function record(body: string, o: { severity?: string; traceId?: string; attrs?: Json; file?: string; line?: number; timeMs?: number } = {}): Json {
  return {
    timeMs: o.timeMs ?? Date.now(),
    severity: o.severity ?? 'info',
    body,
    ...(o.traceId ? { traceId: o.traceId, spanId: hex(8) } : {}),
    attributes: { 'logger.name': 'shop', ...(o.file ? { 'code.file.path': o.file, 'code.line.number': o.line ?? 1, 'code.function.name': 'handler' } : {}), ...(o.attrs ?? {}) },
  };
}

/** OTLP/HTTP JSON with bytes that are not UTF-8 inside a string. */
function postRawOtlp(port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/logs', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The log view alone in the editor area (closing it keeps its filters: the command reopens it). */
async function onlyLogView(page: Page): Promise<void> {
  await runCommand(page, 'View: Close All Editors');
  await sleep(500);
  await runCommand(page, 'Routelens: Open Log View');
}

describe('e2e: the log view', function () {
  this.timeout(300_000);
  let helpers: Helpers;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let shots: string;
  let port: number;
  const agent = new Agent();
  let appPy: string;
  const loginTrace = hex(16);
  const payTrace = hex(16);

  before(async function () {
    helpers = await loadHelpers();
    shots = screenshotsDir();
    port = await freePort();
    appPy = join(helpers.FIXTURE_WORKSPACE, 'app.py');
    server = await helpers.startCodeServer({
      folder: helpers.FIXTURE_WORKSPACE,
      extensionDevelopmentPath: process.env.ROUTELENS_E2E_EXTENSION_PATH || helpers.REPO_ROOT,
      userSettings: { 'workbench.colorTheme': 'Default Dark Modern', 'routelens.collector.port': port, 'routelens.collector.grpcPort': 0, 'editor.minimap.enabled': false, 'routelens.store.maxLogs': 30000 },
    });
    browser = await helpers.launchBrowser();
    ({ page } = await helpers.openWorkbench(browser, server, { viewport: { width: 1440, height: 900 } }));
    for (let i = 0; i < 120; i++) {
      try {
        await agent.open(port, 'shop');
        break;
      } catch {
        await sleep(500);
      }
    }
  });

  after(async function () {
    agent.close();
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  afterEach(async function () {
    await screenshotIfFailed(this.currentTest, page, 'logs-');
  });

  async function view(): Promise<Frame> {
    return frameWith(page, '[data-testid=log-list]');
  }

  async function countText(f: Frame): Promise<string> {
    return (await f.locator('[data-testid=count]').innerText()).trim();
  }

  /** Each test starts from no filter (a failed one may have left some). */
  async function fresh(): Promise<Frame> {
    const f = await view();
    const clear = f.locator('[data-testid=clear-filters]');
    // It hides itself once the filters are gone, possibly between the check and the click.
    if (await clear.isVisible().catch(() => false)) await clear.click({ timeout: 3_000 }).catch(() => undefined);
    await f.locator('[data-testid=count]', { hasText: /^[\d,]+ records$/ }).waitFor({ timeout: 10_000 });
    return f;
  }

  async function quiet(): Promise<void> {
    await page.mouse.move(1420, 12);
    await sleep(400);
  }

  it('opens from the command palette and shows records of every source, newest at the bottom', async function () {
    // 20,000 records of background chatter, older first, then a request's records.
    const t0 = Date.now() - 20 * 60_000;
    for (let b = 0; b < 10; b++) {
      const logs = [];
      for (let i = 0; i < 2000; i++) {
        const n = b * 2000 + i;
        logs.push(record(`cache refresh ${n} took ${n % 37} ms`, { severity: n % 50 === 0 ? 'warn' : n % 7 === 0 ? 'debug' : 'info', timeMs: t0 + n * 50, attrs: { shard: n % 8 } }));
      }
      await agent.send({ logs });
    }
    await agent.send({
      spans: [serverSpan(loginTrace, 'POST', '/login', 200, appPy, 23), serverSpan(payTrace, 'POST', '/pay', 503, appPy, 37)],
      logs: [
        record('user logged in', { traceId: loginTrace, attrs: { user_id: 42, method: 'password' }, file: appPy, line: 24 }),
        record('payment failed', { severity: 'error', traceId: payTrace, attrs: { user_id: 42, amount: 9.5 }, file: appPy, line: 38 }),
      ],
    });
    // An OpenTelemetry SDK's exporter (OTLP/HTTP JSON), as any non-Python service would send.
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'billing-js' }),
      processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `http://127.0.0.1:${port}/v1/logs` }) })],
    });
    provider.getLogger('billing').emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'invoice sent', attributes: { invoice: 'inv-7', user_id: 42 } });
    await provider.forceFlush();
    await provider.shutdown();

    await runCommand(page, 'Routelens: Open Log View');
    const f = await view();
    await f.locator('[data-testid=count]', { hasText: /^20,00[3-9] records$/ }).waitFor({ timeout: 30_000 });
    // Newest at the bottom: the view follows the end.
    const rows = f.locator('.log-row');
    await f.locator('.log-row', { hasText: 'invoice sent' }).waitFor({ timeout: 10_000 });
    const last = await rows.evaluateAll((els) => {
      const sorted = els.map((e) => ({ i: Number(e.getAttribute('data-index')), t: e.textContent ?? '' })).sort((a, b) => a.i - b.i);
      return sorted[sorted.length - 1].t;
    });
    assert.match(last, /invoice sent/);
    assert.match(last, /billing-js/);
    assert.match(await f.locator('.log-row', { hasText: 'user logged in' }).innerText(), /POST \/login[\s\S]*user_id[\s\S]*42/);
    // Virtualised: 20,000 records, a few dozen rows in the DOM.
    const inDom = await f.locator('.log-row').count();
    assert.ok(inDom < 120, `${inDom} row elements for 20,000 records`);
    // Scrolling to the top shows the oldest record.
    await f.locator('[data-testid=log-list]').evaluate((e) => (e.scrollTop = 0));
    await f.locator('.log-row', { hasText: 'cache refresh 0 took 0 ms' }).waitFor({ timeout: 10_000 });
    await f.locator('[data-testid=log-list]').evaluate((e) => (e.scrollTop = e.scrollHeight));
    // The histogram has bars for the last twenty minutes.
    assert.ok((await f.locator('[data-testid=histogram] rect.bar').count()) > 10);
  });

  it('tails live and pauses', async function () {
    const f = await fresh();
    await agent.send({ logs: [record('live one', { attrs: { n: 1 } })] });
    await f.locator('.log-row', { hasText: 'live one' }).waitFor({ timeout: 10_000 });
    await f.locator('[data-testid=pause]').click();
    assert.equal(await f.locator('[data-testid=pause]').innerText(), 'Resume');
    await sleep(500); // the pause reaches the extension host
    const before = await countText(f);
    await agent.send({ logs: [record('while paused', { attrs: { n: 2 } })] });
    await sleep(1500);
    assert.equal(await countText(f), before, 'paused: the list does not move');
    assert.equal(await f.locator('.log-row', { hasText: 'while paused' }).count(), 0);
    await f.locator('[data-testid=pause]').click();
    await f.locator('.log-row', { hasText: 'while paused' }).waitFor({ timeout: 10_000 });
  });

  it('filters by field, text, level, service, route and failed requests, and keeps them across a reload', async function () {
    let f = await fresh();
    const search = f.locator('[data-testid=f-text]');
    await search.fill('user_id=42');
    await search.press('Enter');
    await f.locator('[data-testid=count]', { hasText: /^3 of / }).waitFor({ timeout: 10_000 });
    await f.locator('[data-testid=f-level]').selectOption('error');
    await f.locator('[data-testid=count]', { hasText: /^1 of / }).waitFor({ timeout: 10_000 });
    await f.locator('.log-row', { hasText: 'payment failed' }).waitFor({ timeout: 10_000 });
    assert.equal(await f.locator('.log-row').count(), 1);
    await f.locator('[data-testid=f-level]').selectOption('');
    await f.locator('[data-testid=f-failed]').check();
    await f.locator('[data-testid=count]', { hasText: /^1 of / }).waitFor({ timeout: 10_000 });
    await f.locator('[data-testid=f-failed]').uncheck();
    await f.locator('[data-testid=f-service]').selectOption('billing-js');
    await f.locator('[data-testid=count]', { hasText: /^1 of / }).waitFor({ timeout: 10_000 });
    await f.locator('.log-row', { hasText: 'invoice sent' }).waitFor({ timeout: 10_000 });
    await f.locator('[data-testid=f-service]').selectOption('');
    await f.locator('[data-testid=f-route]').selectOption('POST /login');
    await search.fill('"logged in" method!=token');
    await search.press('Enter');
    await f.locator('[data-testid=count]', { hasText: /^1 of / }).waitFor({ timeout: 10_000 });
    await quiet();
    await page.screenshot({ path: join(shots, 'logs-dark-filtered.png') });

    // A reload brings the view back with its filters.
    await sleep(1000);
    await runCommand(page, 'Developer: Reload Window');
    await page.locator('.monaco-workbench .part.editor').first().waitFor({ timeout: 60_000 });
    // The restored panel's webview can be replaced once more while the workbench settles (its frame
    // then detaches): read the restored filters from the frame that stays.
    let restored: { text: string; route: string } | undefined;
    for (let attempt = 1; !restored; attempt++) {
      f = await frameWith(page, '[data-testid=log-list]', 60_000);
      try {
        await f.locator('[data-testid=count]', { hasText: /^1 of / }).waitFor({ timeout: 30_000 });
        restored = { text: await f.locator('[data-testid=f-text]').inputValue(), route: await f.locator('[data-testid=f-route]').inputValue() };
      } catch (e) {
        if (attempt >= 3 || !/detached/i.test(String(e))) throw e;
        await sleep(1000);
      }
    }
    assert.equal(restored.text, '"logged in" method!=token');
    assert.equal(restored.route, 'POST /login');
    await f.locator('[data-testid=clear-filters]').click();
    // (The store came back from the window's snapshot, which keeps the newest records.)
    await f.locator('[data-testid=count]', { hasText: /^[\d,]+ records$/ }).waitFor({ timeout: 10_000 });
  });

  it('narrows the time range from the histogram', async function () {
    const f = await fresh();
    // The first bar holds the oldest chatter only.
    await f.locator('[data-testid=histogram] g.bucket').first().click();
    await f.locator('[data-testid=f-range]').waitFor({ state: 'visible', timeout: 10_000 });
    const narrowed = await countText(f);
    const n = Number(narrowed.split(' ')[0].replace(/,/g, ''));
    assert.ok(n > 0 && n < 20_000, narrowed);
    await f.locator('[data-testid=f-range] button').click();
    await f.locator('[data-testid=f-range]').waitFor({ state: 'hidden', timeout: 10_000 });
  });

  it('opens the line that wrote a record and its trace', async function () {
    let f = await fresh();
    await f.locator('[data-testid=f-text]').fill('"user logged in"');
    await f.locator('[data-testid=f-text]').press('Enter');
    await f.locator('[data-testid=count]', { hasText: /^1 of / }).waitFor({ timeout: 10_000 });
    await f.locator('.log-row', { hasText: 'user logged in' }).click();
    await f.locator('[data-testid=details]').waitFor({ state: 'visible', timeout: 10_000 });
    await f.locator('[data-testid=detail-body]', { hasText: 'user logged in' }).waitFor({ timeout: 10_000 });
    await quiet();
    await page.screenshot({ path: join(shots, 'logs-dark-details.png') });
    await f.locator('[data-testid=open-source]').click();
    await page.locator('.statusbar-item', { hasText: /Ln 24, Col/ }).first().waitFor({ timeout: 15_000 });
    assert.ok(await page.locator('.tab.active', { hasText: 'app.py' }).count());
    f = await view();
    await f.locator('[data-testid=open-trace]').click();
    const trace = await frameWith(page, '[data-testid=waterfall]');
    await trace.locator('[data-testid=route-title]', { hasText: 'POST /login' }).waitFor({ timeout: 20_000 });
    // And back: the trace panel's logs open the log view filtered by the trace.
    await trace.locator('[data-testid=trace-open-logs]').click();
    f = await view();
    await f.locator('[data-testid=f-trace]', { hasText: '' }).waitFor({ timeout: 10_000 });
    await f.waitForFunction((id) => (globalThis as unknown as { document: { querySelector(s: string): { value: string } | null } }).document.querySelector('[data-testid=f-trace]')?.value === id, loginTrace, { timeout: 10_000 });
    await f.locator('[data-testid=count]', { hasText: /^1 of / }).waitFor({ timeout: 10_000 });
    await f.locator('.log-row', { hasText: 'user logged in' }).waitFor({ timeout: 10_000 });
  });

  it('shows hostile strings as inert, bounded text', async function () {
    const huge = `huge ${'A'.repeat(1024 * 1024)}`;
    await agent.send({
      logs: [
        record(`hostile \u001b[31mred\u001b[0m bell\u0007 nul\u0000 ${XSS_IMG} ${XSS_SCRIPT} \ud800 end`, { severity: 'warn', attrs: { [`k ${XSS_IMG}`]: `\u001b[1m${XSS_SCRIPT}` } }),
        record(`hostile ${huge}`, { severity: 'warn' }),
      ],
    });
    const raw = Buffer.concat([
      Buffer.from('{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"raw-otlp"}}]},"scopeLogs":[{"logRecords":[{"severityNumber":13,"body":{"stringValue":"hostile bytes '),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]),
      Buffer.from(' end"}}]}]}]}'),
    ]);
    assert.equal(await postRawOtlp(port, raw), 200);
    const f = await fresh();
    await f.locator('[data-testid=f-text]').fill('hostile');
    await f.locator('[data-testid=f-text]').press('Enter');
    await f.locator('[data-testid=count]', { hasText: /^3 of / }).waitFor({ timeout: 15_000 });
    const first = await f.locator('.log-row', { hasText: 'red bell' }).innerText();
    assert.ok(!first.includes('\u001b') && !first.includes('\u0000'), 'no control characters left');
    assert.ok(first.includes('␇') && first.includes('␀') && first.includes(XSS_IMG) && first.includes(XSS_SCRIPT), first);
    assert.ok(first.includes('\uFFFD'), 'the lone surrogate shown as a replacement character');
    const bytes = await f.locator('.log-row', { hasText: 'hostile bytes' }).innerText();
    assert.match(bytes, /hostile bytes \uFFFD.*end/);
    const hugeRow = f.locator('.log-row', { hasText: 'hostile huge' });
    assert.ok((await hugeRow.innerText()).length < 1000, 'a 1 MB body is cut in the list');
    await hugeRow.click();
    // The collector keeps the first 16 KiB of any string; the details show that, not a megabyte.
    await f.locator('[data-testid=detail-body]', { hasText: 'hostile huge AAAA' }).waitFor({ timeout: 10_000 });
    const bodyLength = await f.locator('[data-testid=detail-body]').evaluate((e) => e.textContent?.length ?? 0);
    assert.ok(bodyLength > 1000 && bodyLength <= 64 * 1024, `details body ${bodyLength} characters`);
    await f.locator('.log-row', { hasText: 'red bell' }).click();
    await f.locator('[data-testid=details]', { hasText: `k ${XSS_IMG}` }).waitFor({ timeout: 10_000 });
    await sleep(500);
    await assertNothingRan(page, 'log view');
    await onlyLogView(page);
    const alone = await view();
    await alone.locator('[data-testid=count]', { hasText: /^3 of / }).waitFor({ timeout: 15_000 });
    assert.equal(await alone.locator('[data-testid=f-text]').inputValue(), 'hostile', 'reopened with its filter');
    await alone.locator('.log-row', { hasText: 'red bell' }).click();
    await alone.locator('[data-testid=details]', { hasText: `k ${XSS_IMG}` }).waitFor({ timeout: 10_000 });
    await assertNothingRan(page, 'log view');
    await quiet();
    await page.screenshot({ path: join(shots, 'logs-dark-hostile.png') });
  });

  it('follows a light theme', async function () {
    let f = await fresh();
    await pickTheme(page, 'Light Modern');
    await page.locator('.monaco-workbench.vs').first().waitFor({ timeout: 20_000 });
    f = await view();
    await f.waitForFunction(() => document.body.classList.contains('vscode-light'), undefined, { timeout: 20_000 });
    await f.locator('[data-testid=f-text]').fill('user_id=42');
    await f.locator('[data-testid=f-text]').press('Enter');
    await f.locator('[data-testid=count]', { hasText: /^3 of / }).waitFor({ timeout: 10_000 });
    await f.locator('.log-row', { hasText: 'payment failed' }).click();
    await f.locator('[data-testid=detail-body]').waitFor({ timeout: 10_000 });
    await quiet();
    await page.screenshot({ path: join(shots, 'logs-light.png') });
    await f.locator('[data-testid=clear-filters]').click();
    await sleep(800);
    await page.screenshot({ path: join(shots, 'logs-light-all.png') });
  });
});
