// F5 for real: VS Code's own launch configurations run the fixture app under the real debugger
// (Debian's python3-debugpy, contributed as the `debugpy` type by test/fixtures/debugpy-extension,
// which scripts/vscode-test/run-integration.mjs loads beside Routelens). Routelens's debug
// configuration provider adds the agent; its debug adapter tracker reads the debug console.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, until } from './helpers';
import { print } from './index';

/** The debug adapters' messages of this test run, shown when a test fails. */
const transcript: string[] = [];
function recordTranscript(): vscode.Disposable {
  return vscode.debug.registerDebugAdapterTrackerFactory('debugpy', {
    createDebugAdapterTracker: (s) => ({
      onWillReceiveMessage: (m: { command?: string }) => void transcript.push(`${s.name} > ${m.command}`),
      onDidSendMessage: (m: { type?: string; event?: string; command?: string; success?: boolean; message?: string; body?: { output?: string; reason?: string } }) =>
        void transcript.push(`${s.name} < ${m.type} ${m.event ?? m.command ?? ''} ${m.success === false ? `FAILED ${m.message}` : ''} ${m.body?.output ?? m.body?.reason ?? ''}`.trim()),
      onError: (e) => void transcript.push(`${s.name} error ${e.message}`),
      onExit: (code, signal) => void transcript.push(`${s.name} exit ${code} ${signal}`),
    }),
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
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
});
