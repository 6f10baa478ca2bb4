// F5 for real: VS Code's own launch configurations run the fixture app under the real debugger
// (Debian's python3-debugpy, contributed as the `debugpy` type by test/fixtures/debugpy-extension,
// which scripts/vscode-test/run-integration.mjs loads beside Routelens). Routelens's debug
// configuration provider adds the agent; its debug adapter tracker reads the debug console.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { WebSocket } from 'ws';
import { killAppProcesses } from '../support/processes';
import { api, until } from './helpers';
import { print } from './index';
import { freePort as anyFreePort } from '../support/net';

/** The debug adapters' messages of this test run, shown when a test fails. */
const transcript: string[] = [];
function recordTranscript(): vscode.Disposable {
  return vscode.debug.registerDebugAdapterTrackerFactory('debugpy', {
    createDebugAdapterTracker: (s) => ({
      onWillReceiveMessage: (m: { command?: string }) => void transcript.push(`${s.name} > ${m.command}`),
      onDidSendMessage: (m: { type?: string; event?: string; command?: string; success?: boolean; message?: string; body?: { output?: string; reason?: string } }) =>
        void transcript.push(`${s.name} < ${m.type} ${m.event ?? m.command ?? ''} ${m.success === false ? `FAILED ${m.message}` : ''} ${m.body?.output ?? m.body?.reason ?? (m.command === 'setBreakpoints' ? JSON.stringify(m.body) : '')}`.trim()),
      onError: (e) => void transcript.push(`${s.name} error ${e.message}`),
      onExit: (code, signal) => void transcript.push(`${s.name} exit ${code} ${signal}`),
    }),
  });
}

/** The apps' ports, so what a session leaves running is found and stopped after each test. */
const appPorts: number[] = [];

/** A free port for an app, remembered so the suite stops what listens there afterwards. */
async function freePort(): Promise<number> {
  const port = await anyFreePort();
  appPorts.push(port);
  return port;
}

/** Status code and elapsed milliseconds of a GET (0 when nothing answered). */
function get(port: number, p: string, timeoutMs = 120_000): Promise<{ status: number; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - t0 }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: Date.now() - t0 }));
  });
}

/** VS Code's "Python Debugger: FastAPI" template, on a port of the test's own. */
function fastApiTemplate(port: number, extra: Partial<vscode.DebugConfiguration> = {}): vscode.DebugConfiguration {
  return {
    name: 'Python Debugger: FastAPI',
    type: 'debugpy',
    request: 'launch',
    module: 'uvicorn',
    args: ['app:app', '--reload', '--port', String(port)],
    jinja: true,
    ...extra,
  };
}

async function stopAll(): Promise<void> {
  if (!vscode.debug.activeDebugSession) return;
  const ended = new Promise<void>((resolve) => {
    const sub = vscode.debug.onDidTerminateDebugSession(() => {
      if (!vscode.debug.activeDebugSession) {
        sub.dispose();
        resolve();
      }
    });
  });
  await vscode.debug.stopDebugging();
  await Promise.race([ended, new Promise((r) => setTimeout(r, 10_000))]);
}

describe('F5 under the real debugger (debugpy)', function () {
  this.timeout(120_000);
  const folder = () => vscode.workspace.workspaceFolders![0];
  const appPy = () => path.join(folder().uri.fsPath, 'app.py');

  let tracking: vscode.Disposable | undefined;
  before(() => (tracking = recordTranscript()));
  after(() => tracking?.dispose());
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') print(`debug adapter transcript:\n${transcript.slice(-80).join('\n')}`);
    transcript.length = 0;
    await stopAll();
    for (const p of appPorts.splice(0)) killAppProcesses(String(p));
  });

  it('runs the FastAPI template under debugpy with the agent: routes reach the collector and the lenses', async () => {
    const a = await api({ routesIndexed: true });
    a.store.clear();
    const port = await freePort();
    const sessions: vscode.DebugSession[] = [];
    const sub = vscode.debug.onDidStartDebugSession((s) => sessions.push(s));
    try {
      assert.equal(await vscode.debug.startDebugging(folder(), fastApiTemplate(port)), true, 'the debug session starts');
      await until(async () => (await get(port, '/health', 2000)).status === 200, 'the app under the debugger to answer', 60_000, 250);
      assert.ok(sessions.length >= 1 && sessions.every((s) => s.type === 'debugpy'), `debugpy sessions: ${sessions.map((s) => s.type)}`);
      // The provider put the agent into the configuration the debugger launched.
      const env = sessions[0].configuration.env as Record<string, string>;
      assert.equal(env.ROUTELENS_ENDPOINT, `http://127.0.0.1:${a.collectorPort}`);
      assert.equal(env.PYTHONPATH.split(path.delimiter)[0], a.agent.bootstrapDir);

      for (let i = 0; i < 4; i++) assert.equal((await get(port, '/items/1')).status, 200);
      const route = await until(() => a.store.routeSummaries(60).find((r) => r.route === '/items/{item_id}' && r.count === 4), 'the route from the agent under debugpy', 20_000);
      assert.equal(route.method, 'GET');
      assert.equal(path.basename(route.code?.file ?? ''), 'app.py');

      const titles = await until(async () => {
        const t = await a.lensTitles(vscode.Uri.file(appPy()));
        return t.some((x) => /p95/.test(x)) && t;
      }, 'a lens with figures');
      const lens = titles[2];
      assert.match(lens, /p95 .*ms/, `lens above get_item: ${titles.join(' | ')}`);
    } finally {
      sub.dispose();
    }
  });

  it('keeps a request held at a breakpoint out of p95, counts it as paused, and the agent stays connected', async function () {
    // The collector cuts a connection that misses a pong by the next ping: hold past two pings.
    const heartbeatMs = Number(process.env.ROUTELENS_COLLECTOR_HEARTBEAT_MS) || 30_000;
    const holdMs = 2 * heartbeatMs + 3000;
    this.timeout(holdMs + 120_000);
    const a = await api({ routesIndexed: true });
    a.store.clear();
    const port = await freePort();
    const stops: { session: vscode.DebugSession; threadId: number }[] = [];
    // Every session (the reloader and each child process) must have the breakpoint before the request.
    const armed = new Map<string, boolean>();
    const watch = vscode.debug.registerDebugAdapterTrackerFactory('debugpy', {
      createDebugAdapterTracker: (session) => {
        armed.set(session.id, false);
        return {
          onDidSendMessage: (m: { type?: string; event?: string; command?: string; body?: { threadId?: number; breakpoints?: { verified?: boolean; line?: number }[] } }) => {
            if (m.type === 'event' && m.event === 'stopped') stops.push({ session, threadId: m.body?.threadId ?? 0 });
            if (m.type === 'response' && m.command === 'setBreakpoints') armed.set(session.id, !!m.body?.breakpoints?.some((x) => x.verified && x.line === 24));
          },
          onExit: () => void armed.delete(session.id),
        };
      },
    });
    const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(appPy()), new vscode.Position(23, 4)));
    try {
      assert.equal(await vscode.debug.startDebugging(folder(), fastApiTemplate(port)), true);
      await until(async () => (await get(port, '/health', 2000)).status === 200, 'the app under the debugger to answer', 60_000, 250);
      for (let i = 0; i < 20; i++) assert.equal((await get(port, '/items/1')).status, 200);
      const key = { method: 'GET', route: '/items/{item_id}' };
      const before = await until(() => a.store.routeSummaries(60).find((r) => r.route === key.route && r.count === 20), 'the first 20 requests');
      const cutBefore = a.store.counters.get('ws.closed.unresponsive');
      const connectionsBefore = a.store.counters.get('ws.connections');

      vscode.debug.addBreakpoints([breakpoint]);
      await until(() => armed.size > 0 && [...armed.values()].every(Boolean), 'the breakpoint in every debugged process', 10_000);
      const held = get(port, '/items/2', holdMs + 60_000);
      const stop = await until(() => stops[0], 'the debugger to stop at the breakpoint', 20_000);
      assert.ok(a.store.counters.get('store.debugger.pauses') >= 1, 'the tracker told the store');
      await new Promise((r) => setTimeout(r, holdMs));
      vscode.debug.removeBreakpoints([breakpoint]);
      await stop.session.customRequest('continue', { threadId: stop.threadId });
      const answer = await held;
      assert.equal(answer.status, 200);
      assert.ok(answer.ms >= holdMs, `the request took ${answer.ms} ms`);

      const after = await until(() => a.store.routeSummaries(60).find((r) => r.route === key.route && r.count === 21), 'the held request', 20_000);
      assert.equal(after.paused, 1, 'one paused request');
      assert.equal(after.p95Ms, before.p95Ms, `p95 unchanged: ${before.p95Ms} ms before, ${after.p95Ms} ms after`);
      assert.equal(after.p99Ms, before.p99Ms);
      const ref = a.store.routeRequestsOf(after, { limit: 1 })[0];
      assert.ok(ref.pausedMs! >= holdMs - 1000 && ref.pausedMs! <= answer.ms, `paused ${ref.pausedMs} ms of ${ref.durationMs} ms`);
      assert.equal(a.store.routeRequestsOf(after, { minDurationMs: 1000 }).length, 0, 'not a slow request');

      // The agent's exporter kept running at the breakpoint: its connection answered every ping.
      assert.equal(a.store.counters.get('ws.closed.unresponsive'), cutBefore, 'no connection cut as unresponsive');
      assert.equal(a.store.counters.get('ws.connections'), connectionsBefore, 'no reconnect');

      const titles = await until(async () => {
        const t = await a.lensTitles(vscode.Uri.file(appPy()));
        return t[2]?.includes('1 paused') && t;
      }, 'the lens to count the paused request');
      assert.match(titles[2], /p95 .* · 1 paused$/);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(appPy()));
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', vscode.Uri.file(appPy()), new vscode.Position(22, 5));
      // Markdown text: appendText writes spaces as &nbsp;.
      const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n').replace(/&nbsp;/g, ' ');
      assert.match(text, /21 requests .*1 paused at a breakpoint/);
    } finally {
      vscode.debug.removeBreakpoints([breakpoint]);
      watch.dispose();
    }
  });

  it('runs the Flask template under debugpy: its requests reach the collector, a breakpoint marks one paused', async () => {
    const a = await api();
    a.store.clear();
    const port = await freePort();
    const flaskDir = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'flask-app');
    // VS Code's "Python Debugger: Flask" template, with a port and the app's folder.
    const config: vscode.DebugConfiguration = {
      name: 'Python Debugger: Flask',
      type: 'debugpy',
      request: 'launch',
      module: 'flask',
      env: { FLASK_APP: 'app.py', FLASK_DEBUG: '1' },
      args: ['run', '--no-debugger', '--no-reload', '--port', String(port)],
      jinja: true,
      autoStartBrowser: false,
      cwd: flaskDir,
    };
    const stops: { session: vscode.DebugSession; threadId: number }[] = [];
    let armed = false;
    const watch = vscode.debug.registerDebugAdapterTrackerFactory('debugpy', {
      createDebugAdapterTracker: (session) => ({
        onDidSendMessage: (m: { type?: string; event?: string; command?: string; body?: { threadId?: number; breakpoints?: { verified?: boolean }[] } }) => {
          if (m.type === 'event' && m.event === 'stopped') stops.push({ session, threadId: m.body?.threadId ?? 0 });
          if (m.type === 'response' && m.command === 'setBreakpoints' && m.body?.breakpoints?.some((x) => x.verified)) armed = true;
        },
      }),
    });
    const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(path.join(flaskDir, 'app.py')), new vscode.Position(9, 4)));
    try {
      assert.equal(await vscode.debug.startDebugging(folder(), config), true);
      await until(async () => (await get(port, '/orders/1', 2000)).status === 200, 'the Flask app under the debugger', 60_000, 250);
      for (let i = 0; i < 9; i++) assert.equal((await get(port, '/orders/2')).status, 200);
      const key = '/orders/<int:order_id>';
      const before = await until(() => a.store.routeSummaries(60).find((r) => r.route === key && r.count === 10), `${key} from the agent`, 20_000);
      vscode.debug.addBreakpoints([breakpoint]);
      await until(() => armed, 'the breakpoint', 10_000);
      const held = get(port, '/orders/3', 60_000);
      const stop = await until(() => stops[0], 'the debugger to stop in the Flask handler', 20_000);
      await new Promise((r) => setTimeout(r, 3000));
      vscode.debug.removeBreakpoints([breakpoint]);
      await stop.session.customRequest('continue', { threadId: stop.threadId });
      assert.equal((await held).status, 200);
      const after = await until(() => a.store.routeSummaries(60).find((r) => r.route === key && r.count === 11), 'the held Flask request', 20_000);
      assert.equal(after.paused, 1);
      assert.equal(after.p95Ms, before.p95Ms, `p95 ${before.p95Ms} ms before, ${after.p95Ms} ms after`);
    } finally {
      vscode.debug.removeBreakpoints([breakpoint]);
      watch.dispose();
    }
  });

  it('puts an error the app printed to the debug console into Problems (agent off for this session)', async () => {
    const a = await api({ routesIndexed: true });
    a.store.clear();
    a.diagnostics(); // refresh after the clear
    const port = await freePort();
    // The agent is off, so only the traceback uvicorn prints to the debug console can report it.
    const config = fastApiTemplate(port, { console: 'internalConsole', env: { ROUTELENS_DISABLED: '1' } });
    assert.equal(await vscode.debug.startDebugging(folder(), config), true);
    await until(async () => (await get(port, '/health', 2000)).status === 200, 'the app under the debugger to answer', 60_000, 250);
    assert.equal((await get(port, '/boom')).status, 500);

    const diag = await until(
      () => a.diagnostics().find(([file]) => file === appPy())?.[1].find((d) => d.message.startsWith('ValueError: fixture error for the Problems panel')),
      'the diagnostic from the debug console',
      20_000,
    );
    assert.equal(diag.range.start.line, 37, 'at the raise statement');
    assert.equal(diag.source, 'Routelens');
    assert.equal(a.store.routeSummaries(60).length, 0, 'no agent ran in this session');
    const fromConsole = a.store.logs({ limit: 50 }).filter((l) => l.attributes['log.source'] === 'debug-console' && l.exception?.type === 'ValueError');
    assert.ok(fromConsole.length >= 1, 'the traceback came through the debug console');
  });

  it("sends the debug console's log records to the windows that view this collector, like every other source", async () => {
    const a = await api({ routesIndexed: true });
    assert.ok(a.collectorPort > 0, 'this window owns the collector');
    // A viewer window attaches through the live stream: connect as one.
    const viewer = new WebSocket(`ws://127.0.0.1:${a.collectorPort}/api/v1/live`, { headers: { Authorization: `Bearer ${a.token}` } });
    const streamed: { attributes: Record<string, unknown>; exception?: { type?: string } }[] = [];
    let ready = false;
    viewer.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; items?: typeof streamed };
      if (m.type === 'ready') ready = true;
      if (m.type === 'logs' && m.items) streamed.push(...m.items);
    });
    try {
      await until(() => ready, 'the live stream to be ready', 10_000);
      const port = await freePort();
      const config = fastApiTemplate(port, { console: 'internalConsole', env: { ROUTELENS_DISABLED: '1' } });
      assert.equal(await vscode.debug.startDebugging(folder(), config), true);
      await until(async () => (await get(port, '/health', 2000)).status === 200, 'the app under the debugger to answer', 60_000, 250);
      assert.equal((await get(port, '/boom')).status, 500);
      const got = await until(
        () => streamed.find((l) => l.attributes['log.source'] === 'debug-console' && l.exception?.type === 'ValueError'),
        "the debug console's traceback on the live stream",
        20_000,
      );
      assert.equal(got.exception?.type, 'ValueError');
    } finally {
      viewer.terminate();
    }
  });
});
