// The editor as a person sees it: a FastAPI file in a real VS Code, live requests sent to the
// collector, latency lenses above the handlers and a problem at the raising line.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';

interface CodeServer {
  /** The Routelens collector's port in that VS Code (a free one the helper picked). */
  collectorPort: number;
  stop(): Promise<void>;
}
interface Helpers {
  REPO_ROOT: string;
  FIXTURE_WORKSPACE: string;
  startCodeServer(opts: { folder?: string; extensionDevelopmentPath?: string; userSettings?: Record<string, unknown> }): Promise<CodeServer>;
  launchBrowser(): Promise<Browser>;
  openWorkbench(browser: Browser, server: CodeServer, opts?: { viewport?: { width: number; height: number } }): Promise<{ page: Page }>;
}

function repoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) if (existsSync(join(dir, 'scripts', 'vscode-test', 'codeServer.mjs'))) return dir;
}

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('').replace(/^0/, '1');

function span(file: string, method: string, route: string, line: number, fn: string, ms: number, status = 200, exception?: unknown): Record<string, unknown> {
  const start = Date.now() - ms;
  return {
    traceId: hex(32),
    spanId: hex(16),
    name: `${method} ${route}`,
    kind: 'server',
    startMs: start,
    endMs: start + ms,
    status: status >= 500 ? 'error' : 'unset',
    attributes: { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status, 'code.file.path': file, 'code.line.number': line, 'code.function.name': fn },
    ...(exception ? { exception } : {}),
  };
}

async function send(port: number, spans: unknown[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'fixture-shop' } }));
      ws.send(JSON.stringify({ v: 1, type: 'batch', spans }));
    });
    ws.on('message', (d) => JSON.parse(d.toString()).type === 'ack' && (ws.close(), resolve()));
    ws.on('error', reject);
  });
}

describe('e2e: latency lenses and problems in the editor', function () {
  this.timeout(180_000);
  let server: CodeServer | undefined;
  let browser: Browser | undefined;

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('shows lenses with figures above the handlers and the error in the Problems panel', async () => {
    const h = (await import(pathToFileURL(join(repoRoot(__dirname), 'scripts', 'vscode-test', 'codeServer.mjs')).href)) as Helpers;
    const shots = process.env.ROUTELENS_SCREENSHOTS_DIR || join(h.REPO_ROOT, 'screenshots');
    mkdirSync(shots, { recursive: true });
    server = await h.startCodeServer({ folder: h.FIXTURE_WORKSPACE, extensionDevelopmentPath: h.REPO_ROOT, userSettings: { 'editor.minimap.enabled': false } });
    browser = await h.launchBrowser();
    const { page } = await h.openWorkbench(browser, server, { viewport: { width: 1400, height: 860 } });
    const appPy = join(h.FIXTURE_WORKSPACE, 'app.py');

    // Open app.py through Quick Open, as a person would.
    for (let i = 0; i < 60; i++) {
      await page.locator('.part.editor').first().click({ position: { x: 300, y: 300 } }).catch(() => undefined);
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      if (await input.isVisible().catch(() => false)) {
        await input.fill('app.py');
        const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'app.py' }).first();
        await row.waitFor({ timeout: 10_000 });
        await row.click();
        break;
      }
      await page.waitForTimeout(500);
    }
    try {
      await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 30_000 });
    } catch (e) {
      await page.screenshot({ path: join(shots, 'failed-editor-open.png') });
      throw e;
    }

    for (let i = 0; i < 120; i++) {
      try {
        const spans = [12, 18, 25, 31, 44, 60].map((ms) => span(appPy, 'GET', '/items/{item_id}', 23, 'get_item', ms));
        spans.push(span(appPy, 'GET', '/items', 18, 'list_items', 4), span(appPy, 'GET', '/items', 18, 'list_items', 6));
        spans.push(span(appPy, 'GET', '/boom', 37, 'boom', 3, 500, { type: 'ValueError', message: 'fixture error for the Problems panel', frames: [{ file: appPy, line: 38, function: 'boom' }] }));
        await send(server!.collectorPort, spans);
        break;
      } catch {
        await page.waitForTimeout(500);
      }
    }

    const lens = page.locator('.contentWidgets .codelens-decoration, .codelens-decoration');
    await lens.filter({ hasText: /^p50 / }).first().waitFor({ timeout: 30_000 });
    // The last handler's lens may sit below the fold: present in the DOM is enough.
    await lens.filter({ hasText: /100\.0% errors/ }).first().waitFor({ state: 'attached', timeout: 30_000 });
    const titles = (await lens.allTextContents()).map((t) => t.trim());
    assert.ok(titles.some((t) => /^p50 \d+ ms · p95 \d+ ms · [\d.]+ req\/s · 0\.0% errors$/.test(t)), titles.join(' | '));
    assert.ok(titles.some((t) => /100\.0% errors$/.test(t)), titles.join(' | '));
    assert.ok(titles.includes('no traffic yet'), titles.join(' | '));

    // Scroll to the handlers with traffic and the failing one, and look.
    await page.mouse.move(800, 400);
    await page.mouse.wheel(0, 260);
    await page.waitForTimeout(1200);
    await page.screenshot({ path: join(shots, 'editor-lenses.png') });

    await page.keyboard.press('Control+Shift+M');
    const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'ValueError: fixture error for the Problems panel' }).first();
    await problem.waitFor({ timeout: 30_000 });
    assert.match(await problem.innerText(), /Routelens/);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(shots, 'editor-problems.png') });
  });
});
