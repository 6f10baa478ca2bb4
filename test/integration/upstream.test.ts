/**
 * Production figures on the lens, in the real VS Code: a real Prometheus server scraping a real
 * prometheus_client exporter (metric and label names as prometheus-fastapi-instrumentator writes
 * them) becomes `prod p95 …` beside the local figures of the workspace's FastAPI handlers, and the
 * hover carries the remote line. Forwarding, set in the settings, shows in /api/v1/stats.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { startPrometheus, type PrometheusServer } from '../support/prometheusServer';
import { nativeSpan } from '../unit/helpers/telemetry';
import { api, sendBatch, until } from './helpers';

const EXPORTER = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'prometheus', 'py_exporter.py');

function queryApi<T>(port: number, p: string, token: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(JSON.parse(b) as T));
      })
      .on('error', reject);
  });
}

function get(port: number, p: string): Promise<void> {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => (res.resume(), res.on('end', () => resolve()))).on('error', () => resolve());
  });
}

describe('production figures from a remote Prometheus on the lens', function () {
  this.timeout(120_000);
  let exporter: ChildProcess | undefined;
  let prom: PrometheusServer | undefined;
  const cfg = () => vscode.workspace.getConfiguration('routelens');

  after(async () => {
    for (const k of ['remotePrometheus.url', 'remotePrometheus.range', 'remotePrometheus.preset', 'remotePrometheus.refreshSeconds', 'upstream.endpoint']) await cfg().update(k, undefined, vscode.ConfigurationTarget.Global);
    await prom?.stop();
    if (exporter && exporter.exitCode === null) exporter.kill('SIGTERM');
  });

  it('shows `prod p95` on the handler the remote route matches, and the remote line in the hover', async () => {
    const a = await api({ routesIndexed: true });
    a.store.clear();
    exporter = spawn('/usr/bin/python3', [EXPORTER], { stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise<number>((resolve) => exporter!.stdout!.once('data', (d) => resolve(Number(String(d).trim().split('\n')[0]))));
    prom = await startPrometheus({ targets: [`127.0.0.1:${port}`], scrapeIntervalS: 1 });
    // Requests of GET /items/{item_id} keep arriving: 120 ms each (one in ten at 0.8 s).
    let stop = false;
    const feed = (async () => {
      for (let i = 0; !stop; i++) {
        await get(port, `/observe?route=${encodeURIComponent('/items/{item_id}')}&method=GET&status=200&seconds=${i % 10 === 0 ? 0.8 : 0.12}&n=5`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await until(async () => (await prom!.query('sum(rate(http_request_duration_seconds_count[1m])) > 0', Date.now() / 1000)).length > 0, 'Prometheus to see the requests', 30_000);
      await cfg().update('remotePrometheus.range', '1m', vscode.ConfigurationTarget.Global);
      await cfg().update('remotePrometheus.preset', 'fastapi-instrumentator', vscode.ConfigurationTarget.Global);
      await cfg().update('remotePrometheus.refreshSeconds', 5, vscode.ConfigurationTarget.Global);
      await cfg().update('remotePrometheus.url', prom.url, vscode.ConfigurationTarget.Global);
      const uri = vscode.Uri.file(path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'app.py'));
      // Handlers in file order: /health, GET /items, GET /items/{item_id}, POST /items, /boom.
      const titles = await until(async () => {
        const t = await a.lensTitles(uri);
        return t[2]?.includes('prod p95') && t;
      }, 'the prod figure on the lens', 30_000, 500);
      assert.match(titles[2], /^no traffic yet · prod p95 \d+(\.\d+)? ms$/);
      assert.equal(titles[1], 'no traffic yet', 'GET /items has no remote figures');
      // The same figure Prometheus gives for the same PromQL (within a refresh of each other).
      const direct = await prom.query('histogram_quantile(0.95, sum by (le, handler, method) (rate(http_request_duration_seconds_bucket[60s])))', Date.now() / 1000);
      const p95 = Number(direct.find((s) => s.metric.handler === '/items/{item_id}')!.value[1]) * 1000;
      const shown = Number(/prod p95 ([\d.]+) ms/.exec(titles[2])![1]);
      assert.ok(Math.abs(shown - p95) / p95 < 0.1, `lens ${shown} ms, Prometheus ${p95} ms`);

      // With local traffic the hover shows both: the local headline and the prod line.
      await sendBatch(a.collectorPort, [10, 20, 30].map((ms) => nativeSpan({ route: '/items/{item_id}', durationMs: ms })), 'upstream-test');
      await until(async () => (await a.lensTitles(uri))[2]?.startsWith('p50'), 'local figures on the lens', 20_000);
      const t2 = await a.lensTitles(uri);
      assert.match(t2[2], /^p50 20 ms · p95 30 ms · .* · prod p95 [\d.]+ ms$/);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
      const doc = await vscode.workspace.openTextDocument(uri);
      const line = doc.getText().split('\n').findIndex((l) => l.includes('/items/{item_id}'));
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line + 1, 6));
      const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n').replace(/&nbsp;/g, ' ').replace(/\\([()])/g, '$1');
      assert.match(text, /prod \(Prometheus, last 1 min, \d+ s ago\): p50 [\d.]+ ms · p95 [\d.]+ ms · p99 [\d.]+ ms · [\d.]+ req\/s · 0\.0% errors/);

      // The owner's query API has the same figures.
      const routes = await queryApi<{ routes: { route: string; remote?: { p95Ms: number } }[] }>(a.collectorPort, '/api/v1/routes', a.token);
      assert.ok(routes.routes.find((r) => r.route === '/items/{item_id}')?.remote, JSON.stringify(routes));

      // Forwarding from the settings: the state is in /api/v1/stats.
      await cfg().update('upstream.endpoint', `http://127.0.0.1:${port + 1}`, vscode.ConfigurationTarget.Global);
      const stats = await until(async () => (await queryApi<{ forward?: { endpoint: string } }>(a.collectorPort, '/api/v1/stats', a.token)).forward, 'the forwarder in the stats');
      assert.equal(stats.endpoint, `http://127.0.0.1:${port + 1}`);
    } finally {
      stop = true;
      await feed;
    }
  });
});
