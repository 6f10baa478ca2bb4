import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, until } from './helpers';
import { WebSocket } from 'ws';

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('').replace(/^0/, '1');

/** One agent process's run: hello naming the instance and its start, then its requests. */
function sendRun(port: number, service: string, instance: string, startedMs: number, ms: number): Promise<void> {
  const spans = Array.from({ length: 60 }, (_, i) => {
    const end = Date.now() - (60 - i) * 10;
    return { traceId: hex(32), spanId: hex(16), name: 'GET /runs/{id}', kind: 'server', startMs: end - ms - (i % 5), endMs: end, status: 'unset', attributes: { 'http.request.method': 'GET', 'http.route': '/runs/{id}', 'http.response.status_code': 200 } };
  });
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': service, 'service.instance.id': instance, 'process.creation.time': new Date(startedMs).toISOString(), 'telemetry.sdk.name': 'routelens-python' } }));
      ws.send(JSON.stringify({ v: 1, type: 'batch', instance, seq: 1, spans }));
    });
    ws.on('message', (d) => JSON.parse(d.toString()).type === 'ack' && (ws.close(), resolve()));
    ws.on('error', reject);
  });
}

describe('runs in the extension host', () => {
  it('tells two process lifetimes apart, pins and unpins a baseline with the commands', async () => {
    const a = await api();
    const port = a.collectorPort;
    const service = `runs-int-${hex(4)}`;
    await sendRun(port, service, `${service}-i-1`, Date.now() - 60_000, 10);
    await sendRun(port, service, `${service}-i-2`, Date.now() - 5_000, 30);
    const runs = await until(() => (a.store.runs.runs(service).length === 2 ? a.store.runs.runs(service) : undefined), 'two runs');
    assert.equal(runs[1].ended, true);
    // The comparison is cached for up to a second while a run receives requests: wait for it.
    const c = await until(() => {
      const x = a.store.runs.comparison(service);
      return x && x.routes[0]?.change.p50Ms ? x : undefined;
    }, 'the comparison of the second run with the first');
    assert.equal(c.baselineKind, 'previous');
    assert.equal(c.run.requests, 60);

    await vscode.commands.executeCommand('routelens.pinBaseline', { kind: 'run', service, runId: runs[1].id });
    assert.equal(a.store.runs.pinned(service), runs[1].id);
    assert.equal(a.store.runs.comparison(service)!.baselineKind, 'pinned');
    await vscode.commands.executeCommand('routelens.unpinBaseline', { kind: 'service', service });
    assert.equal(a.store.runs.pinned(service), undefined);
  });
});
