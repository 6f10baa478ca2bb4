import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { nativeSpan } from '../unit/helpers/telemetry';
import { api, until, sendBatch } from './helpers';



const send = (port: number, spans: unknown[]) => sendBatch(port, spans, 'lens-test');

describe('CodeLens on route handlers', () => {
  it('shows observed latency above the matched handler and "no traffic yet" above the others', async () => {
    const a = await api({ routesIndexed: true });
    a.store.clear();
    const appPy = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'app.py');
    const uri = vscode.Uri.file(appPy);
    const before = await a.lensTitles(uri);
    assert.deepEqual(before, ['no traffic yet', 'no traffic yet', 'no traffic yet', 'no traffic yet', 'no traffic yet']);

    // The agent reports the handler's location; the template alone would match too.
    const spans = [10, 20, 30, 40].map((ms) => {
      const s = nativeSpan({ route: '/items/{item_id}', durationMs: ms, line: 22 });
      (s.attributes as Record<string, unknown>)['code.file.path'] = appPy;
      return s;
    });
    spans.push(nativeSpan({ method: 'POST', route: '/items', durationMs: 100, status: 500 }));
    await send(a.collectorPort, spans);

    const titles = await until(async () => {
      const t = await a.lensTitles(uri);
      return t.some((x) => x.startsWith('p50')) && t;
    }, 'lenses with figures');
    // Handlers in file order: /health, GET /items, GET /items/{item_id}, POST /items, /boom.
    assert.equal(titles[0], 'no traffic yet');
    assert.equal(titles[1], 'no traffic yet');
    assert.match(titles[2], /^p50 20 ms · p95 40 ms · [\d.]+ req\/s · 0\.0% errors$/);
    assert.match(titles[3], /^p50 100 ms · p95 100 ms · [\d.]+ req\/s · 100\.0% errors$/);
    assert.equal(titles[4], 'no traffic yet');

    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(22, 6));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n').replace(/&nbsp;/g, ' ');
    // The window starts at a latency-slot boundary: 51 to 60 s back, and the header says which.
    const head = /(\d+) requests in the last (\d+) s/.exec(text);
    assert.ok(head, text);
    assert.equal(head[1], '4');
    assert.ok(Number(head[2]) > 50 && Number(head[2]) <= 60, head[0]);
    assert.match(text, /█/);
    const bars = [...text.matchAll(/≤ [\d.]+ m?s [█ ]+ (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(bars.reduce((x, y) => x + y, 0), 4, 'the histogram adds up to the header');
    // Links to the route's traces and to the chat, with the handler's own route as the question's subject.
    assert.match(text, /\[Show traces\]\(command:routelens\.openRouteTraces\?[^)\s]+\)/);
    const ask = /\[Ask Copilot about this route\]\(command:routelens\.askCopilot\?([^)\s]+)\)/.exec(text);
    assert.ok(ask, text);
    assert.deepEqual(JSON.parse(decodeURIComponent(ask[1])), ['route', 'GET /items/{item_id}']);
  });
});
