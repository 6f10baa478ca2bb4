// Shows Routelens working with live data: a real VS Code (code-server) with the extension loaded,
// the five-service demo shop of examples/journey (FastAPI, Flask and Django services on PostgreSQL
// and Redis, each instrumented by the bundled Python agent with no code change) under steady
// traffic, screenshots of the sidebar, and the address to open in your own browser.
//
//   node scripts/demo.mjs            run until Ctrl+C
//   node scripts/demo.mjs --once     take the screenshots and stop (a quick check that all works)
//   node scripts/demo.mjs --quick    screenshots after 8 s of traffic instead of a full minute
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startJourney } from './journey.mjs';
import { ensureInstalled, launchBrowser, openWorkbench, REPO_ROOT, startCodeServer, workbenchUrl } from './vscode-test/codeServer.mjs';

const once = process.argv.includes('--once');
const COLLECTOR = 'http://127.0.0.1:4318';
const JOURNEY = join(REPO_ROOT, 'examples', 'journey');
const log = (m) => console.log(`[demo] ${m}`);

function health(url) {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => (req.destroy(), resolve(false)));
    req.end();
  });
}

async function waitFor(check, what, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let server;
let journey;
let stopping = false;
/** Ctrl+C at any moment: stop the app, its traffic and VS Code (each in its own process group). */
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  await journey?.stop();
  await server?.stop().catch(() => {});
  log('stopped: VS Code, the demo API and its traffic have all exited');
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

async function main() {
  if (await health(COLLECTOR)) {
    throw new Error(`something already answers on ${COLLECTOR} (another Routelens window or collector?): close it first, the demo's VS Code needs port 4318`);
  }
  ensureInstalled();
  if (!existsSync(join(REPO_ROOT, 'dist', 'extension.js'))) throw new Error('the extension is not built: run npm run build');

  log('starting VS Code (code-server) with Routelens on the demo workspace');
  // The defaults on purpose: the demo shows what a user gets, SDKs sending to 4318 with no settings.
  server = await startCodeServer({
    folder: JOURNEY,
    extensionDevelopmentPath: REPO_ROOT,
    userSettings: { 'routelens.collector.port': 4318, 'routelens.collector.grpcPort': 4317 },
    args: ['--reconnection-grace-time', '5'],
  });
  const browser = await launchBrowser();
  let page;
  try {
    // Tall enough that the whole sidebar (tiles, charts, routes, errors, traces) fits in one picture.
    ({ page } = await openWorkbench(browser, server, { viewport: { width: 1400, height: 2000 } }));
    await waitFor(() => health(COLLECTOR), 'the Routelens collector on port 4318');
    log(`collector listening on ${COLLECTOR}`);

    journey = await startJourney({ collector: COLLECTOR, log });
    journey.startLoad(3);
    log(`traffic flowing to the gateway ${journey.gateway}`);

    await page.locator('.activitybar [aria-label^="Routelens"]').first().click();
    const frame = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await frame.locator('[data-testid="routes-table"] tbody tr').first().waitFor({ timeout: 60_000 });
    const trafficFrom = Date.now();
    // Every chart gets a full minute of data, and the errors list at least one group, before the
    // picture is taken (about 65 s; --quick skips the wait).
    const minuteMs = process.argv.includes('--quick') ? 8000 : 65_000;
    log(`waiting ${Math.round(minuteMs / 1000)} s so every chart has a minute of traffic`);
    await frame.locator('[data-testid="errors-list"] li').first().waitFor({ timeout: 120_000 });
    await page.waitForTimeout(Math.max(0, minuteMs - (Date.now() - trafficFrom)));
    mkdirSync(join(REPO_ROOT, 'screenshots'), { recursive: true });
    const sidebarShot = join(REPO_ROOT, 'screenshots', 'demo-sidebar.png');
    const windowShot = join(REPO_ROOT, 'screenshots', 'demo-window.png');
    await page.locator('.part.sidebar').screenshot({ path: sidebarShot });
    await page.screenshot({ path: windowShot });
    // The metrics explorer at the bottom: search the process memory series and pin it.
    const search = frame.locator('[data-testid="metric-search"]');
    await search.scrollIntoViewIfNeeded();
    await search.fill('memory');
    const pin = frame.locator('[data-testid="metric-list"] button', { hasText: 'Pin' }).first();
    await pin.waitFor({ timeout: 10_000 });
    await pin.click();
    await frame.locator('[data-testid="pinned-charts"] canvas').first().waitFor({ timeout: 10_000 });
    await page.waitForTimeout(2500);
    await frame.locator('[data-testid="pinned-charts"]').scrollIntoViewIfNeeded();
    await page.locator('.part.sidebar').screenshot({ path: join(REPO_ROOT, 'screenshots', 'demo-metrics.png') });
    const rows = await frame.locator('[data-testid="routes-table"] tbody').count();
    log(`live: ${rows} routes in the sidebar; screenshots in ${sidebarShot} and ${windowShot}`);
  } finally {
    await browser.close();
  }

  if (once) {
    await journey?.stop();
    await server.stop();
    log('done');
    return;
  }
  // The headless window owned the collector; wait until it lets go so your window can take it.
  await waitFor(async () => !(await health(COLLECTOR)), 'the headless window to release port 4318', 30_000).catch(() => {});
  console.log(`\nOpen this address in your browser to see Routelens with live data (traffic keeps flowing):\n\n  ${workbenchUrl(server)}\n\nThen click the Routelens icon in the activity bar. Press Ctrl+C to stop everything.\n`);
  // Runs until Ctrl+C, which shutdown() handles.
  setInterval(() => {}, 1 << 30);
}

main().catch(async (err) => {
  console.error(`[demo] ${err?.message ?? err}`);
  await shutdown(1);
});
