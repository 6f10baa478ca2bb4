import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as vscode from 'vscode';
import type { RoutelensApi } from '../../src/app/testApi';

describe('Prometheus targets from the settings', function () {
  this.timeout(30_000);
  let server: http.Server | undefined;
  after(async () => {
    await vscode.workspace.getConfiguration('routelens').update('prometheus.targets', undefined, vscode.ConfigurationTarget.Global);
    server?.close();
  });

  it('scrapes a /metrics URL set in routelens.prometheus.targets and shows its health and series in the sidebar state', async () => {
    const ext = vscode.extensions.getExtension<RoutelensApi>('routelens.routelens')!;
    const a = await ext.activate();
    await a.whenStarted();
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end('# HELP queue_depth Jobs waiting.\n# TYPE queue_depth gauge\nqueue_depth{queue="emails"} 7\n');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
    await vscode.workspace.getConfiguration('routelens').update('prometheus.targets', [{ url, service: 'jobs' }], vscode.ConfigurationTarget.Global);
    const end = Date.now() + 20_000;
    let m = a.sidebarState().metrics;
    while (Date.now() < end && !(m?.targets[0]?.state === 'up' && m.matches.some((x) => x.name === 'queue_depth'))) {
      await new Promise((r) => setTimeout(r, 200));
      m = a.sidebarState().metrics;
    }
    assert.equal(m?.targets[0]?.state, 'up', JSON.stringify(m?.targets));
    assert.equal(m?.targets[0]?.service, 'jobs');
    const row = m!.matches.find((x) => x.name === 'queue_depth')!;
    assert.equal(row.last, 7);
    assert.equal(row.service, 'jobs');
    assert.match(row.labels, /queue="emails"/);
  });
});
