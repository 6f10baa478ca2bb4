import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as vscode from 'vscode';
import { WebSocket } from 'ws';
import { nativeSpan } from '../unit/helpers/telemetry';
import { api, until } from './helpers';



function connect(port: number): Promise<{ ws: WebSocket; replies: Record<string, unknown>[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    const replies: Record<string, unknown>[] = [];
    ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
    ws.once('open', () => resolve({ ws, replies }));
    ws.once('error', reject);
  });
}

function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('collector inside VS Code', () => {
  it('activates on startup and listens on the configured port', async () => {
    const a = await api();
    assert.equal(a.collectorView.state, 'listening');
    assert.equal(a.collectorPort, vscode.workspace.getConfiguration('routelens').get('collector.port'));
    const health = await get(a.collectorPort, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).service, 'routelens');
  });

  it('takes a batch from a real ws client into the store, the status bar and the sidebar state', async () => {
    const a = await api();
    a.store.clear();
    const { ws, replies } = await connect(a.collectorPort);
    ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'integration-api' } }));
    ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 1, spans: [nativeSpan({ route: '/orders/{order_id}', durationMs: 40 }), nativeSpan({ route: '/orders/{order_id}', durationMs: 60 })] }));
    await until(() => replies.find((r) => r.type === 'ack'), 'the ack');
    const route = a.store.routeSummaries(60).find((r) => r.route === '/orders/{order_id}');
    assert.ok(route, 'route in the store');
    assert.equal(route.count, 2);
    assert.equal(route.service, 'integration-api');
    // The status bar repaints on a timer: wait for the figures of this batch (p95 of 40 and 60 ms).
    const text = await until(() => (/p95 (59|60|61) ms/.test(a.statusBarText()) ? a.statusBarText() : undefined), `the status bar summary (now "${a.statusBarText()}")`, 5000);
    assert.match(text, /^\$\(pulse\) [\d.]+ req\/s · p95 /);
    const state = a.sidebarState();
    assert.equal(state.routes[0].route, '/orders/{order_id}');
    assert.equal(state.totals.requests, 2);
    const res = await get(a.collectorPort, '/api/v1/routes?window=60', a.token);
    assert.equal(JSON.parse(res.body).routes[0].route, '/orders/{order_id}');
    ws.close();
  });

  it('refuses bad messages without harming stored data', async () => {
    const a = await api();
    const before = a.store.sizes().spans;
    const { ws, replies } = await connect(a.collectorPort);
    ws.send('{"v":1,"type":"hello"');
    ws.send(JSON.stringify({ v: 1, type: 'nonsense' }));
    await until(() => replies.length >= 2 && replies, 'two error replies');
    assert.deepEqual(replies.map((r) => r.code), ['bad_json', 'unknown_type']);
    assert.equal(a.store.sizes().spans, before);
    assert.equal((await get(a.collectorPort, '/api/v1/routes', 'wrong-token')).status, 401);
    ws.close();
  });

  it('clears data with the Clear Data command and restarts with Restart Collector', async () => {
    const a = await api();
    await vscode.commands.executeCommand('routelens.clearData');
    assert.equal(a.store.routeSummaries(60).length, 0);
    await vscode.commands.executeCommand('routelens.restartCollector');
    assert.equal(a.collectorView.state, 'listening');
    assert.equal((await get(a.collectorPort, '/healthz')).status, 200);
  });
});
