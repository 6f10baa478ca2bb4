import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { WebSocket } from 'ws';
import { api, until } from './helpers';

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('').replace(/^0/, '1');

/** One agent process's run: hello naming the instance and its start, then 40 requests, each with two database calls. */
function sendRun(port: number, service: string, instance: string, startedMs: number, ms: number): Promise<void> {
  const spans = Array.from({ length: 40 }, (_, i) => {
    const end = Date.now() - (40 - i) * 10;
    const traceId = hex(32);
    const server = { traceId, spanId: hex(16), name: 'GET /compare/{id}', kind: 'server', startMs: end - ms - (i % 5), endMs: end, status: 'unset', attributes: { 'http.request.method': 'GET', 'http.route': '/compare/{id}', 'http.response.status_code': 200 } };
    const db = [0, 1].map((k) => ({ traceId, spanId: hex(16), parentSpanId: server.spanId, name: 'SELECT', kind: 'client', startMs: server.startMs + 1 + k * (ms / 2), endMs: server.startMs + (k + 1) * (ms / 2) - 1, status: 'unset', attributes: { 'db.system.name': 'postgresql', 'db.query.text': `SELECT * FROM t WHERE k = ${k}` } }));
    return [...db, server];
  }).flat();
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

interface Opened {
  runId: string;
  traceId: string | null;
  title: string;
  spans: number;
}

describe('run traces side by side', () => {
  it('Compare Route with Last Run opens both runs\' slowest trace in two panels, from the runs\' kept spans once the store has none', async () => {
    const a = await api();
    const service = `run-traces-${hex(4)}`;
    await sendRun(a.collectorPort, service, `${service}-i-1`, Date.now() - 60_000, 10);
    await sendRun(a.collectorPort, service, `${service}-i-2`, Date.now() - 5_000, 40);
    const runs = await until(() => (a.store.runs.runs(service).length === 2 ? a.store.runs.runs(service) : undefined), 'two runs');
    // The runs feature takes each run's sample spans from the store within a few seconds.
    await until(() => runs.every((r) => (r.routes.get('GET /compare/{id}')?.traces.size ?? 0) === 3) || undefined, 'sample spans kept with both runs', 15_000);
    a.store.clear();
    const slowestNow = runs[0].routes.get('GET /compare/{id}')!.slowest[0].traceId;
    assert.deepEqual(a.store.trace(slowestNow), [], 'the store no longer has the trace');

    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const opened = (await vscode.commands.executeCommand('routelens.compareRouteWithLastRun', { service, method: 'GET', route: '/compare/{id}' })) as { baseline: Opened; run: Opened };
    assert.ok(opened, 'the command opened the comparison');
    assert.equal(opened.baseline.runId, runs[1].id);
    assert.equal(opened.run.runId, runs[0].id);
    assert.equal(opened.run.traceId, slowestNow);
    assert.equal(opened.baseline.traceId, runs[1].routes.get('GET /compare/{id}')!.slowest[0].traceId);
    assert.equal(opened.baseline.spans, 3, 'request span and its two calls, from the kept spans');
    assert.equal(opened.run.spans, 3);
    assert.match(opened.baseline.title, /^Last run .*: GET \/compare\/\{id\}$/);
    assert.match(opened.run.title, /^This run .*: GET \/compare\/\{id\}$/);

    // Two webview tabs with those titles, in adjacent editor columns.
    const tabs = await until(() => {
      const found = vscode.window.tabGroups.all.flatMap((g) => g.tabs.map((t) => ({ label: t.label, column: g.viewColumn, webview: t.input instanceof vscode.TabInputWebview })));
      const l = found.find((t) => t.label === opened.baseline.title);
      const r = found.find((t) => t.label === opened.run.title);
      return l && r ? { l, r } : undefined;
    }, 'both compare tabs');
    assert.ok(tabs.l.webview && tabs.r.webview);
    assert.equal(tabs.r.column, tabs.l.column + 1);

    // Asked again as the hover's link asks (the lens's route keys), then from the run in the Runs
    // view (its one route needs no question): the same two panels, reused.
    const fromHover = (await vscode.commands.executeCommand('routelens.compareRouteWithLastRun', [{ service, method: 'GET', route: '/compare/{id}' }])) as { run: Opened };
    assert.equal(fromHover.run.traceId, slowestNow);
    const fromView = (await vscode.commands.executeCommand('routelens.compareRouteWithLastRun', { kind: 'run', service, runId: runs[0].id })) as { run: Opened };
    assert.equal(fromView.run.traceId, slowestNow);
    const count = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label === opened.baseline.title || t.label === opened.run.title).length;
    assert.equal(count, 2, 'no third panel');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
