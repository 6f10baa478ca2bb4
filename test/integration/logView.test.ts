// The log view's commands in the real extension host, and one record once: a real Flask app under
// the real debugger (debugpy) prints structlog JSON lines to the debug console while its agent
// sends the same records; the store keeps the agent's, with the trace id.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, until } from './helpers';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function logTab(): vscode.Tab | undefined {
  for (const g of vscode.window.tabGroups.all) for (const t of g.tabs) if (t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('routelens.logs')) return t;
  return undefined;
}

describe('log view', function () {
  this.timeout(120_000);

  it('is opened by its command and keeps the extension output command apart', async () => {
    await api();
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('routelens.openLogView'));
    assert.ok(commands.includes('routelens.showLogs'));
    const pkg = vscode.extensions.getExtension('routelens.routelens')!.packageJSON as { contributes: { commands: { command: string; title: string }[] } };
    const title = (id: string) => pkg.contributes.commands.find((c) => c.command === id)?.title;
    assert.equal(title('routelens.showLogs'), 'Show Extension Output');
    assert.equal(title('routelens.openLogView'), 'Open Log View');
    await vscode.commands.executeCommand('routelens.openLogView', { traceId: 'ab'.repeat(16) });
    const tab = await until(() => logTab(), 'the log view tab');
    assert.equal(tab.label, 'Routelens Logs');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('gives debug sessions the agent log level of routelens.agent.logLevel', async () => {
    const a = await api();
    const config = () => vscode.workspace.getConfiguration('routelens');
    const launch = (env?: Record<string, string>) => a.agent.resolveDebugConfiguration({ type: 'debugpy', request: 'launch', name: 'API', module: 'uvicorn', ...(env ? { env } : {}) }).env as Record<string, string>;
    assert.equal(launch().ROUTELENS_LOG_LEVEL, undefined, 'INFO is the agent default: nothing to add');
    await config().update('agent.logLevel', 'DEBUG', vscode.ConfigurationTarget.Global);
    try {
      assert.equal(launch().ROUTELENS_LOG_LEVEL, 'DEBUG');
      assert.equal(launch({ ROUTELENS_LOG_LEVEL: 'ERROR' }).ROUTELENS_LOG_LEVEL, 'ERROR', 'the launch configuration wins');
    } finally {
      await config().update('agent.logLevel', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('keeps one record when the debug console prints what the agent sent', async () => {
    const a = await api();
    a.store.clear();
    const port = await freePort();
    const app = path.resolve(__dirname, '..', '..', '..', 'agents', 'python', 'tests', 'sample_apps', 'flask_logs_app.py');
    const config: vscode.DebugConfiguration = {
      name: 'Flask logs app',
      type: 'debugpy',
      request: 'launch',
      program: app,
      console: 'internalConsole',
      env: { PORT: String(port), ROUTELENS_SERVICE_NAME: 'logs-debug' },
      justMyCode: true,
    };
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.debug.onDidTerminateDebugSession(() => {
        sub.dispose();
        resolve();
      });
    });
    assert.equal(await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], config), true);
    await Promise.race([ended, new Promise((r) => setTimeout(r, 60_000))]);
    // The debug console's records wait 1.5 s for the agent's: give them the time.
    const records = await until(() => {
      const r = a.store.queryLogs({ terms: ['user logged in'] });
      return r.some((l) => l.traceId) && r;
    }, 'the agent record', 20_000);
    await new Promise((r) => setTimeout(r, 2500));
    const again = a.store.queryLogs({ terms: ['user logged in'] });
    assert.equal(again.length, 1, `one record, got ${again.map((l) => `${l.attributes['log.source'] ?? 'agent'}:${l.body}`).join(', ')}`);
    assert.ok(again[0].traceId, 'the kept one is the agent’s, with the trace id');
    assert.equal(again[0].attributes.user_id, 42);
    assert.equal(records[0].resource.serviceName, 'logs-debug');
    assert.ok((a.store.counters.snapshot()['debugConsole.duplicates'] ?? 0) >= 1, 'the console line was recognised');
  });
});
