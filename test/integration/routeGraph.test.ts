import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { nativeSpan } from '../unit/helpers/telemetry';
import { api, until, sendBatch } from './helpers';

const send = (port: number, spans: unknown[]) => sendBatch(port, spans, 'graph-test');

/** A span with the route template only: no code location, as many OpenTelemetry SDKs send. */
function templateOnly(route: string, durationMs: number): unknown {
  const s = nativeSpan({ route, durationMs });
  const attrs = s.attributes as Record<string, unknown>;
  for (const k of Object.keys(attrs)) if (k.startsWith('code.')) delete attrs[k];
  return s;
}

const FILES: Record<string, string> = {
  'main.py': 'from fastapi import FastAPI\n\nfrom .routers import orders, users\n\napp = FastAPI()\napp.include_router(users.router, prefix="/users")\napp.include_router(orders.router, prefix="/baskets")\n',
  'routers/__init__.py': '',
  'routers/users.py': 'from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n@router.get("/{item_id}")\ndef read_user(item_id: int):\n    return {}\n',
  'routers/orders.py': 'from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n@router.get("/{item_id}")\ndef read_order(item_id: int):\n    return {}\n',
};

describe('CodeLens across files: routers mounted in another file', () => {
  const root = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'graph_shop');
  after(async () => {
    await vscode.workspace.fs.delete(root, { recursive: true, useTrash: false });
  });

  it('the same suffix under two prefixes: each handler gets its own figures', async () => {
    const a = await api({ routesIndexed: true });
    a.store.clear();
    for (const [name, text] of Object.entries(FILES)) await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(root, name), new TextEncoder().encode(text));
    const main = vscode.Uri.joinPath(root, 'main.py');
    const users = vscode.Uri.joinPath(root, 'routers/users.py');
    const orders = vscode.Uri.joinPath(root, 'routers/orders.py');
    // Opening a document analyses it; the mounting file first, so the routers know their prefixes.
    await a.lensTitles(main);
    await a.lensTitles(orders);
    assert.deepEqual(await a.lensTitles(users), ['no traffic yet']);
    await send(a.collectorPort, [templateOnly('/users/{item_id}', 20), templateOnly('/users/{item_id}', 20), templateOnly('/baskets/{item_id}', 100)]);
    let last: string[] = [];
    const [u, o] = await until(async () => {
      // A workspace scan started by an earlier test may land after these files were written and
      // drop them from the index: opening the mounting file again puts its mounts back.
      await a.lensTitles(main);
      const t = [(await a.lensTitles(users))[0], (await a.lensTitles(orders))[0]];
      last = [...t, JSON.stringify(a.store.routeSummaries(60).map((r) => `${r.service} ${r.route} ${r.count}`))];
      return t.every((x) => x.startsWith('p50')) && t;
    }, 'figures on both routers').catch((e: Error) => {
      throw new Error(`${e.message} (last: ${last.join(' | ')})`);
    });
    assert.match(u, /^p50 20 ms · p95 20 ms · /);
    assert.match(o, /^p50 100 ms · p95 100 ms · /);
  });
});
