// routelens.collector.requireTokenForIngest in the real extension: the collector restarts needing
// the token for ingest, and Python debug sessions get it in their environment.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { WebSocket } from 'ws';
import { api, until } from './helpers';

/** The HTTP status of a WebSocket upgrade to the agent endpoint (101 when accepted). */
function upgradeStatus(port: number, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

describe('the ingest token setting', function () {
  this.timeout(60_000);
  const settings = () => vscode.workspace.getConfiguration('routelens');

  after(async () => {
    await settings().update('collector.requireTokenForIngest', undefined, vscode.ConfigurationTarget.Global);
    const a = await api();
    await until(async () => (await upgradeStatus(a.collectorPort)) === 101, 'the collector to take ingest without a token again', 20_000, 200);
  });

  it('restarts the collector requiring the token, and gives it to debug sessions', async () => {
    const a = await api();
    assert.equal(await upgradeStatus(a.collectorPort), 101, 'no token needed by default');
    assert.equal(a.agent.resolveDebugConfiguration({ type: 'debugpy', request: 'launch', name: 'API', module: 'uvicorn' }).env.ROUTELENS_TOKEN, undefined);

    await settings().update('collector.requireTokenForIngest', true, vscode.ConfigurationTarget.Global);
    await until(async () => (await upgradeStatus(a.collectorPort)) === 401, 'the collector to refuse ingest without the token', 20_000, 200);
    assert.equal(await upgradeStatus(a.collectorPort, a.token), 101);
    const env = a.agent.resolveDebugConfiguration({ type: 'debugpy', request: 'launch', name: 'API', module: 'uvicorn' }).env;
    assert.equal(env.ROUTELENS_TOKEN, a.token);
    assert.equal(env.OTEL_EXPORTER_OTLP_HEADERS, `Authorization=Bearer%20${encodeURIComponent(a.token)}`);
    // An attach configuration is left as it is (the user is told what to do instead).
    const attach = { type: 'debugpy', request: 'attach', name: 'Attach to container', connect: { host: 'localhost', port: 5678 } };
    assert.deepEqual(a.agent.resolveDebugConfiguration({ ...attach }), attach);
  });
});
