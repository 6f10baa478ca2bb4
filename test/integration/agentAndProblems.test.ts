import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { agentEnvironment } from '../../src/features/pythonAgent/agentSetup';
import { api, until } from './helpers';
import { freePort } from '../support/net';

const PYTHON = '/usr/bin/python3';




function get(port: number, p: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: p }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', () => resolve(0));
  });
}

describe('the Python agent and the Problems panel in VS Code', function () {
  this.timeout(60_000);
  let app: ChildProcess | undefined;

  after(() => {
    if (app?.pid) process.kill(app.pid, 'SIGTERM');
  });

  it('adds the agent to Python debug configurations', async () => {
    const a = await api();
    const cfg = a.agent.resolveDebugConfiguration({ type: 'debugpy', request: 'launch', name: 'API', module: 'uvicorn', env: { PYTHONPATH: '/opt/lib' } });
    assert.equal(cfg.env.ROUTELENS_ENDPOINT, `http://127.0.0.1:${a.collectorPort}`);
    assert.equal(cfg.env.OTEL_EXPORTER_OTLP_ENDPOINT, `http://127.0.0.1:${a.collectorPort}`);
    assert.deepEqual(cfg.env.PYTHONPATH.split(path.delimiter), [a.agent.bootstrapDir, '/opt/lib']);
    const off = a.agent.resolveDebugConfiguration({ type: 'debugpy', request: 'attach', name: 'attach' });
    assert.equal(off.env, undefined, 'attach configurations are left alone');
  });

  it('sees a real FastAPI app run with the agent environment: routes with handler lines, and its error in the Problems panel', async () => {
    const a = await api();
    a.store.clear();
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const port = await freePort();
    const env = { ...process.env, ...agentEnvironment(a.agent.bootstrapDir, `http://127.0.0.1:${a.collectorPort}`, undefined), ROUTELENS_SERVICE_NAME: 'fixture-shop' };
    app = spawn(PYTHON, ['-m', 'uvicorn', 'app:app', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], { cwd: folder, env, stdio: 'ignore' });
    await until(async () => (await get(port, '/health')) === 200, 'the app to answer');
    for (let i = 0; i < 3; i++) assert.equal(await get(port, '/items/1'), 200);
    assert.equal(await get(port, '/boom'), 500);

    const route = await until(() => a.store.routeSummaries(60).find((r) => r.route === '/items/{item_id}' && r.count === 3), 'the route from the agent');
    assert.equal(route.service, 'fixture-shop');
    assert.equal(route.method, 'GET');
    assert.ok(route.code, 'the agent reports the handler location');
    assert.equal(path.basename(route.code.file), 'app.py');
    assert.ok([22, 23].includes(route.code.line), `handler line ${route.code.line}`);

    const appPy = path.join(folder, 'app.py');
    const diag = await until(() => a.diagnostics().find(([file]) => file === appPy)?.[1].find((d) => d.message.startsWith('ValueError: fixture error for the Problems panel')), 'the diagnostic');
    assert.equal(diag.source, 'Routelens');
    assert.equal(diag.range.start.line, 37, 'at the raise statement');
    assert.equal(diag.range.start.character, 4);
    assert.match(diag.message, /once on GET \/boom/);
    assert.equal(diag.severity, vscode.DiagnosticSeverity.Error);

    // Code actions are computed for documents the editor has open.
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(appPy));
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', vscode.Uri.file(appPy), diag.range);
    const titles = actions.map((x) => x.title);
    assert.ok(titles.includes('Routelens: Show Trace of ValueError'), titles.join(', '));
    assert.ok(titles.includes('Routelens: Dismiss ValueError'), titles.join(', '));
    const dismiss = actions.find((x) => x.title === 'Routelens: Dismiss ValueError')!;
    await vscode.commands.executeCommand(dismiss.command!.command, ...(dismiss.command!.arguments ?? []));
    assert.equal(a.diagnostics().find(([file]) => file === appPy)?.[1].some((d) => d.message.startsWith('ValueError')) ?? false, false);
  });
});
