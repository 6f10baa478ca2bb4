// The packaged extension: `npm run package` builds the VSIX, code-server installs it with
// --install-extension, and the installed copy (not the development folder) activates and receives.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { WebSocket } from 'ws';
import { httpStatus } from '../support/net';
import { type CodeServer, type Helpers, loadHelpers } from './support';

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

describe('e2e: the packaged VSIX', function () {
  this.timeout(240_000);
  let helpers: Helpers;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let extensionsDir: string;

  before(async () => {
    helpers = await loadHelpers();
    extensionsDir = mkdtempSync(join(tmpdir(), 'routelens-vsix-ext-'));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    rmSync(extensionsDir, { recursive: true, force: true });
  });

  it('packages only what runs, installs into VS Code, activates and receives telemetry', async () => {
    const root = helpers.REPO_ROOT;
    const vsix = join(root, 'routelens.vsix');
    execFileSync('npm', ['run', 'package', '--silent'], { cwd: root, stdio: 'pipe' });
    const size = statSync(vsix).size;
    console.log(`      VSIX: ${(size / 1024).toFixed(1)} KiB`);
    assert.ok(size < 2 * 1024 * 1024, `VSIX is ${size} bytes`);

    await helpers.installVsix(vsix, extensionsDir);
    const installed = readdirSync(extensionsDir).find((n) => n.startsWith('routelens.routelens-'));
    assert.ok(installed, `installed folders: ${readdirSync(extensionsDir).join(', ')}`);
    const files = listFiles(join(extensionsDir, installed));
    assert.ok(files.includes('dist/extension.js'));
    assert.ok(files.includes('dist/webview/sidebar.js'));
    // The runs database's SQLite build, loaded by the bundle from its own folder.
    assert.ok(files.includes('dist/sql-wasm.wasm'));
    assert.ok(files.includes('agents/python/bootstrap/sitecustomize.py'));
    const leaked = files.filter((f) => /^(src|test|out|scripts|bench|node_modules|\.vscode-test)\//.test(f) || f.endsWith('.ts') || f.endsWith('.map'));
    assert.deepEqual(leaked, [], 'no sources, tests, maps or build tooling in the VSIX');

    server = await helpers.startCodeServer({ folder: helpers.FIXTURE_WORKSPACE, extensionsDir });
    const port = server.collectorPort;
    assert.equal(await httpStatus(port, '/healthz'), 0, `port ${port} must be free before the installed extension starts`);
    browser = await helpers.launchBrowser();
    const t0 = Date.now();
    const { page } = await helpers.openWorkbench(browser, server);
    for (let i = 0; i < 120 && (await httpStatus(port, '/healthz')) !== 200; i++) await page.waitForTimeout(250);
    assert.equal(await httpStatus(port, '/healthz'), 200, 'the installed extension started its collector');
    console.log(`      collector up ${Date.now() - t0} ms after the page opened`);

    const acked = await new Promise<boolean>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
      ws.on('open', () => {
        ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'vsix-check' } }));
        ws.send(JSON.stringify({ v: 1, type: 'batch', spans: [] }));
      });
      ws.on('message', (d) => {
        if (JSON.parse(d.toString()).type === 'ack') {
          ws.close();
          resolve(true);
        }
      });
      ws.on('error', reject);
    });
    assert.ok(acked);
    await page.locator('.statusbar-item[id="routelens.routelens.routelens.status"], .statusbar-item[aria-label*="Routelens"]').first().waitFor({ timeout: 30_000 });
  });
});
