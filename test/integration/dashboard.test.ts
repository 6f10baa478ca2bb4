import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { WebSocket } from 'ws';
import { hex, nativeSpan } from '../unit/helpers/telemetry';
import { api, until } from './helpers';



/** Sends one batch over the native protocol and waits for its acknowledgement. */
async function send(port: number, service: string, batch: Record<string, unknown>): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
  const replies: { type?: string }[] = [];
  ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': service } }));
  ws.send(JSON.stringify({ v: 1, type: 'batch', seq: 1, ...batch }));
  await until(() => replies.some((r) => r.type === 'ack'), 'the ack');
  ws.close();
}

/** The trace panel's tabs: a webview tab whose view type ends with ours. */
function tracePanels(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('routelens.trace'));
}

const HOSTILE = '<img src=x onerror="globalThis.__routelensXss=1">';

describe('the dashboard inside VS Code', () => {
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('builds the sidebar state from spans, metrics and errors sent by a client', async () => {
    const a = await api();
    a.store.clear();
    const failing: Record<string, unknown> = { ...nativeSpan({ route: '/checkout', method: 'POST', durationMs: 12, status: 500 }), exception: { type: 'KeyError', message: HOSTILE, frames: [{ file: '/srv/app/shop.py', line: 7, function: 'apply' }] } };
    await send(a.collectorPort, 'dash-api', {
      spans: [nativeSpan({ route: '/items/{item_id}', durationMs: 30 }), nativeSpan({ route: '/items/{item_id}', durationMs: 50 }), nativeSpan({ route: `/x/${HOSTILE}`, durationMs: 5 }), failing],
      metrics: [
        { name: 'process.memory.usage', kind: 'gauge', value: 123e6, unit: 'By', timeMs: Date.now() - 1500 },
        { name: 'process.cpu.utilization', kind: 'gauge', value: 0.2, unit: '1', timeMs: Date.now() - 1500 },
      ],
    });
    const state = await until(() => {
      const s = a.sidebarState();
      return s.routes.length === 3 && s.charts.memory ? s : undefined;
    }, 'three routes and the memory chart');
    assert.equal(state.collector.state, 'listening');
    assert.deepEqual(state.services, ['dash-api']);
    assert.equal(state.totals.requests, 4);
    assert.equal(state.totals.errorRate, 0.25);
    // Telemetry strings travel as data: the view model neither escapes nor drops them.
    assert.ok(state.routes.some((r) => r.route === `/x/${HOSTILE}`));
    assert.equal(state.errors[0].type, 'KeyError');
    assert.equal(state.errors[0].message, HOSTILE);
    assert.equal(state.traces[0].traceId, failing.traceId);
    assert.equal(state.traces[0].error, true);
    assert.equal(state.charts.requests.t.length, 60);
    assert.ok(state.charts.memory!.lines[0].includes(123e6));
    assert.ok(state.charts.cpu!.lines[0].includes(0.2));
  });

  it('opens one trace panel for Show Trace and Show Route Traces, beside the editor', async () => {
    const a = await api();
    a.store.clear();
    const traceId = hex(16);
    const root: Record<string, unknown> = { ...nativeSpan({ route: '/orders/{id}', durationMs: 40 }), traceId };
    const child = { traceId, spanId: hex(8), parentSpanId: root.spanId, name: 'SELECT orders', kind: 'client', startMs: (root.startMs as number) + 5, endMs: (root.startMs as number) + 25, attributes: { 'db.statement': 'SELECT 1' } };
    await send(a.collectorPort, 'dash-api', { spans: [root, child] });
    await until(() => a.store.trace(traceId).length === 2, 'the trace in the store');

    await vscode.commands.executeCommand('routelens.showTrace', traceId);
    const tab = await until(() => tracePanels()[0], 'the trace panel tab');
    assert.equal(tab.label, 'Traces: GET /orders/{id}');

    await vscode.commands.executeCommand('routelens.showRouteTraces', { service: 'dash-api', method: 'GET', route: '/orders/{id}' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tracePanels().length, 1, 'one panel per window, reused');
  });

  it('ignores a Show Trace argument that is not a trace id', async () => {
    const a = await api();
    a.store.clear();
    // With no data, the command only says so (no quick pick to wait on) and opens nothing.
    await vscode.commands.executeCommand('routelens.showTrace', '<script>alert(1)</script>');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tracePanels().length, 0);
  });
});
