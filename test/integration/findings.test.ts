import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { hex } from '../unit/helpers/telemetry';
import { api, until, sendBatch } from './helpers';

const send = (port: number, spans: unknown[]) => sendBatch(port, spans, 'findings-test');

describe('findings in the Problems panel', () => {
  it('puts an N+1 at the line that made the calls, with a quick fix to its trace', async function () {
    this.timeout(40_000);
    const a = await api();
    a.store.clear();
    const appPy = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'app.py');
    const traceId = hex(16);
    const rootId = hex(8);
    const start = Date.now() - 200;
    const spans: Record<string, unknown>[] = [
      {
        traceId, spanId: rootId, name: 'GET /items', kind: 'server', startMs: start, endMs: start + 150, status: 'unset',
        attributes: { 'http.request.method': 'GET', 'http.route': '/items', 'http.response.status_code': 200, 'code.file.path': appPy, 'code.line.number': 18, 'code.function.name': 'list_items' },
      },
    ];
    // Eight sequential lookups from line 19, `return list(ITEMS.values())`.
    for (let i = 0; i < 8; i++) {
      spans.push({
        traceId, spanId: hex(8), parentSpanId: rootId, name: 'SELECT', kind: 'client', startMs: start + 5 + i * 15, endMs: start + 17 + i * 15, status: 'unset',
        attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.query.text': `SELECT name FROM items WHERE id = ${i}`, 'code.file.path': appPy, 'code.line.number': 19, 'code.function.name': 'list_items' },
      });
    }
    await send(a.collectorPort, spans);
    const uri = vscode.Uri.file(appPy);
    const diag = await until(() => vscode.languages.getDiagnostics(uri).find((d) => d.code === 'n+1'), 'the N+1 in the Problems panel', 20_000, 200);
    assert.equal(diag.range.start.line, 18, 'line 19, zero-based');
    assert.equal(diag.source, 'Routelens');
    assert.match(diag.message, /^N\+1: 8 × SELECT name FROM items WHERE id = \? per request on GET \/items \(96\.0 ms, 64% of the request\)/);
    assert.match(diag.message, /service findings-test/);
    assert.equal(diag.severity, vscode.DiagnosticSeverity.Warning);

    // Code actions are computed for documents the editor has open.
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, diag.range);
    const show = actions.find((x) => x.title === 'Routelens: Show an Example Trace');
    assert.ok(show, actions.map((x) => x.title).join(', '));
    assert.deepEqual(show.command?.arguments, [traceId]);
    const dismiss = actions.find((x) => x.title === 'Routelens: Dismiss This N+1')!;
    await vscode.commands.executeCommand(dismiss.command!.command, ...(dismiss.command!.arguments ?? []));
    await until(() => !vscode.languages.getDiagnostics(uri).some((d) => d.code === 'n+1'), 'the dismissed finding gone');
  });
});
