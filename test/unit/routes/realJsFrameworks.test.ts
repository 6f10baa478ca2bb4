/**
 * The Express, Fastify and Nest projects of the route corpus served by the real frameworks (npm's
 * express 5, fastify 5, @nestjs/core on @nestjs/platform-express) under the real OpenTelemetry
 * Node SDK (@opentelemetry/instrumentation-http, -express, -fastify), exporting over OTLP/HTTP to
 * a real Routelens receiver. The `http.route` templates are the ones the instrumentations report,
 * not written by hand; the lenses' route matching (the route graph across the project's files)
 * must give each handler of each source file the figures of exactly the requests it served.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../../src/core/log';
import { JsRouteGraph, RouteIndex } from '../../../src/core/routes';
import { handlerStatsForFile } from '../../../src/core/routes/handlerStats';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { TelemetryStore } from '../../../src/core/store/store';
import { until } from '../../support/net';
import { fixturePath } from './fixtures';

const ROOT = resolve(__dirname, '..', '..', '..', '..');

interface Call {
  method: string;
  path: string;
  /** The handler that serves it: file of the project and 1-based line. */
  file: string;
  line: number;
  /** How many times the test calls it (distinct per handler, so the figures tell them apart). */
  times: number;
}

const PROJECTS: { framework: string; dir: string; files: string[]; calls: Call[] }[] = [
  {
    framework: 'express',
    dir: 'multi/express_shop',
    files: ['app.js', 'routes/users.js', 'routes/orders.ts', 'routes/admin.js', 'routes/reports.mjs'],
    calls: [
      { method: 'GET', path: '/health', file: 'app.js', line: 11, times: 1 },
      { method: 'GET', path: '/users/7', file: 'routes/users.js', line: 5, times: 2 },
      { method: 'DELETE', path: '/users/7', file: 'routes/users.js', line: 9, times: 3 },
      { method: 'GET', path: '/orders/3', file: 'routes/orders.ts', line: 5, times: 4 },
      { method: 'POST', path: '/orders', file: 'routes/orders.ts', line: 9, times: 5 },
      { method: 'GET', path: '/admin/5', file: 'routes/admin.js', line: 7, times: 6 },
      { method: 'GET', path: '/admin/reports/2', file: 'routes/reports.mjs', line: 5, times: 7 },
    ],
  },
  {
    framework: 'fastify',
    dir: 'multi/fastify_shop',
    files: ['server.js', 'routes/users.js', 'routes/orders.js'],
    calls: [
      { method: 'GET', path: '/health', file: 'server.js', line: 9, times: 1 },
      { method: 'GET', path: '/users/7', file: 'routes/users.js', line: 2, times: 2 },
      { method: 'DELETE', path: '/users/7', file: 'routes/users.js', line: 4, times: 3 },
      { method: 'GET', path: '/orders/3', file: 'routes/orders.js', line: 2, times: 4 },
    ],
  },
  {
    framework: 'nest',
    dir: 'multi/nest_shop',
    files: ['src/main.ts', 'src/users/users.controller.ts', 'src/orders/orders.controller.ts'],
    calls: [
      { method: 'GET', path: '/api/users/7', file: 'src/users/users.controller.ts', line: 6, times: 2 },
      { method: 'PUT', path: '/api/users/7', file: 'src/users/users.controller.ts', line: 11, times: 3 },
      { method: 'GET', path: '/api/orders/3', file: 'src/orders/orders.controller.ts', line: 6, times: 4 },
    ],
  },
];

function serve(framework: string, dir: string, build: string, endpoint: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [fixturePath('multi/otel_serve.cjs'), framework, dir, build, endpoint], {
    // The built project lives outside the repository: it finds the frameworks in ours.
    env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules'), OTEL_SEMCONV_STABILITY_OPT_IN: 'http' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${framework} app did not start: ${out}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ proc, port: Number(m[1]) });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${framework} app exited (${code}): ${out}`));
    });
  });
}

describe('Express, Fastify and Nest route templates from the real frameworks under OpenTelemetry', function () {
  this.timeout(90_000);
  for (const p of PROJECTS) {
    describe(p.dir, () => {
      let rt: Runtime | undefined;
      let app: ChildProcess | undefined;
      let build: string | undefined;
      const store = new TelemetryStore();

      before(async () => {
        rt = await startRuntime({ port: 0, token: 'real-js-frameworks-token-0123456789', log: silentLogger, store });
        build = mkdtempSync(join(tmpdir(), `routelens-${p.framework}-`));
        const served = await serve(p.framework, fixturePath(p.dir), join(build, 'app'), `http://127.0.0.1:${rt.collector.port}`);
        app = served.proc;
        for (const c of p.calls) {
          for (let i = 0; i < c.times; i++) {
            const r = await fetch(`http://127.0.0.1:${served.port}${c.path}`, { method: c.method });
            await r.arrayBuffer();
            assert.ok(r.status < 400, `${c.method} ${c.path} answered ${r.status}`);
          }
        }
        const total = p.calls.reduce((n, c) => n + c.times, 0);
        await until(
          () => ([...store.routeEntries()].reduce((n, e) => n + e.series.window(Date.now() / 1000, 300).count, 0) >= total ? true : undefined),
          () => `${total} server spans with a route (have ${[...store.routeEntries()].map((e) => `${e.key.method} ${e.key.route}`).join(', ')})`,
          20_000,
        );
      });

      after(async () => {
        app?.kill('SIGTERM');
        await rt?.stop();
        if (build) rmSync(build, { recursive: true, force: true });
      });

      it('every handler of every file gets the figures of exactly the requests it served', () => {
        const root = fixturePath(p.dir);
        const graph = new JsRouteGraph();
        // TypeScript sources are stored as .ts.txt so the build does not compile them.
        for (const f of p.files) graph.set(f, join(root, f), readFileSync(join(root, f.endsWith('.ts') ? `${f}.txt` : f), 'utf8'));
        const index = new RouteIndex();
        for (const [key, routes] of graph.routes()) if (routes.length) index.setFile(key, routes);

        const templates = [...store.routeEntries()].map((e) => `${e.key.method} ${e.key.route}`).sort();
        console.log(`      ${p.framework}: http.route from the instrumentation: ${templates.join(', ')}`);
        assert.equal(templates.length, p.calls.length, 'one route per handler called');

        const got: string[] = [];
        for (const file of new Set(p.calls.map((c) => c.file))) {
          for (const s of handlerStatsForFile(file, index, store, 300)) {
            if (s.count > 0) got.push(`${s.handler.method} ${file}:${s.handler.line + 1} ×${s.count}`);
          }
        }
        assert.deepEqual(got.sort(), p.calls.map((c) => `${c.method} ${c.file}:${c.line} ×${c.times}`).sort());
      });
    });
  }
});
