/**
 * A real Prometheus server (Debian's `prometheus` package) for tests: a private storage directory
 * and port, a short scrape interval, optional basic auth on its API; stopped by its process id.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, until } from './net';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PrometheusServer {
  url: string;
  port: number;
  /** GET /api/v1/query with the server's credentials. */
  query(promql: string, timeS: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

/** A bcrypt hash for Prometheus' web config, made by the system's crypt(3). */
function bcrypt(password: string): string {
  const r = spawnSync('/usr/bin/python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', password], { encoding: 'utf8' });
  const hash = r.stdout.trim();
  if (!hash.startsWith('$2')) throw new Error(`could not hash a password for Prometheus: ${r.stderr}`);
  return hash;
}

export async function startPrometheus(opts: { targets: string[]; scrapeIntervalS?: number; basicAuth?: { username: string; password: string } }): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'routelens-prom-'));
  const port = await freePort();
  const interval = `${opts.scrapeIntervalS ?? 1}s`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  evaluation_interval: ${interval}`,
      'scrape_configs:',
      '  - job_name: app',
      '    static_configs:',
      `      - targets: [${opts.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '        labels:',
      '          env: prod',
      '          service: shop',
      '',
    ].join('\n'),
  );
  const args = [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'];
  if (opts.basicAuth) {
    writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  ${opts.basicAuth.username}: ${JSON.stringify(bcrypt(opts.basicAuth.password))}\n`);
    args.push(`--web.config.file=${join(dir, 'web.yml')}`);
  }
  const child: ChildProcess = spawn(PROMETHEUS_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const auth = opts.basicAuth ? `Basic ${Buffer.from(`${opts.basicAuth.username}:${opts.basicAuth.password}`).toString('base64')}` : undefined;
  const get = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path, agent: false, headers: auth ? { Authorization: auth } : {} }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        })
        .on('error', () => resolve({ status: 0, body: '' }));
    });
  await until(async () => (await get('/-/ready')).status === 200, () => `Prometheus to be ready (${stderr.slice(-500)})`, 30_000, 200);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    query: async (promql, timeS) => {
      const r = await get(`/api/v1/query?query=${encodeURIComponent(promql)}&time=${timeS}`);
      const parsed = JSON.parse(r.body) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (parsed.status !== 'success') throw new Error(`query failed: ${r.body}`);
      return parsed.data.result;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}
