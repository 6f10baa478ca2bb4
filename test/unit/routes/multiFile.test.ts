import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { detectDjangoViews, detectRoutes, djangoModulePaths, djangoRoutesForViews, JsRouteGraph, normalizeRoute, PythonRouteGraph, resolveDjangoUrlconfs, RouteIndex, type DetectedRoute, type DjangoUrlEntry } from '../../../src/core/routes';
import { handlerStatsForFile, methodsSharingHandler } from '../../../src/core/routes/handlerStats';
import { lensTitle } from '../../../src/features/codeLens/lensText';
import { TelemetryStore } from '../../../src/core/store/store';
import { serverSpan } from '../helpers/telemetry';
import { fixturePath } from './fixtures';

/** The multi-file projects of the corpus: the same suffixes under different prefixes, mounted from other files. */
const PROJECTS = [
  { dir: 'multi/fastapi_shop', framework: 'fastapi', target: 'shop.main:app' },
  { dir: 'multi/flask_shop', framework: 'flask', target: 'shop.app:app' },
];

interface Served {
  method: string;
  route: string;
  file: string;
  line: number;
}

function pyFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...pyFiles(p));
    else if (name.endsWith('.py')) out.push(p);
  }
  return out.sort();
}

/** What the real framework serves, listed by the framework itself (Debian's python3 packages). */
function served(root: string, framework: string, target: string): Served[] {
  const out = execFileSync('/usr/bin/python3', [fixturePath('multi/list_routes.py'), root, framework, target], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Served);
}

function indexOf(root: string, perFile: (file: string, text: string) => DetectedRoute[]): RouteIndex {
  const index = new RouteIndex();
  for (const f of pyFiles(root)) index.setFile(relative(root, f), perFile(f, readFileSync(f, 'utf8')));
  return index;
}

function graphIndex(root: string): RouteIndex {
  const graph = new PythonRouteGraph();
  for (const f of pyFiles(root)) graph.set(relative(root, f), f, readFileSync(f, 'utf8'));
  const index = new RouteIndex();
  for (const [key, routes] of graph.routes()) if (routes.length) index.setFile(key, routes);
  return index;
}

/** Served routes whose telemetry (method and http.route, no code location) finds their own handler. */
function coverage(index: RouteIndex, routes: Served[]): { hit: number; missed: string[] } {
  const missed: string[] = [];
  for (const r of routes) {
    const m = index.match(r.method, r.route);
    if (!m || m.uri !== r.file || m.handler.line + 1 !== r.line) missed.push(`${r.method} ${r.route} → ${m ? `${m.uri}:${m.handler.line + 1}` : 'none'}`);
  }
  return { hit: routes.length - missed.length, missed };
}

describe('route graph across files, proven against the real frameworks', function () {
  this.timeout(60_000);
  for (const p of PROJECTS) {
    describe(p.dir, () => {
      const root = fixturePath(p.dir);
      const truth = served(root, p.framework, p.target);

      it('the framework serves the same suffix under several prefixes (the corpus tests what it claims)', () => {
        const suffixes = new Map<string, Set<string>>();
        for (const r of truth) {
          const tail = r.route.replace(/^.*\//, '/');
          suffixes.set(tail, (suffixes.get(tail) ?? new Set()).add(r.route));
        }
        assert.ok([...suffixes.values()].some((s) => s.size >= 3), JSON.stringify([...suffixes]));
      });

      it('every served route is detected with its full template, method and handler line', () => {
        const index = graphIndex(root);
        const detected = index
          .all()
          .map(({ uri, route }) => `${route.method} ${route.route} ${uri}:${route.line + 1}`)
          .sort();
        const want = truth.map((r) => `${r.method} ${r.route} ${r.file}:${r.line}`).sort();
        assert.deepEqual(detected, want);
        for (const { route } of index.all()) assert.ok(!route.partial, `${route.route} still partial`);
      });

      it('telemetry of every served route finds its own handler by template alone', () => {
        const after = coverage(graphIndex(root), truth);
        assert.deepEqual(after.missed, []);
        // File by file, suffixes tie and some handlers get no figures: what the graph fixes.
        const before = coverage(
          indexOf(root, (f, text) => detectRoutes(text, 'python', f)),
          truth,
        );
        assert.ok(before.hit < truth.length, `per-file matching already found all ${truth.length}`);
        // For the report: coverage before and after.
        console.log(`      ${p.dir}: ${before.hit}/${truth.length} served routes matched file by file, ${after.hit}/${truth.length} with the route graph`);
      });
    });
  }
});

/** Lenses of Django views as the extension places them: URLconf entries, then the views' own files. */
function djangoIndex(root: string, entriesOf: (files: { key: string; path: string; text: string }[]) => { path: string; entries: DjangoUrlEntry[] }[]): RouteIndex {
  const all = pyFiles(root);
  const urls = all.filter((f) => f.endsWith('urls.py')).map((f) => ({ key: relative(root, f), path: f, text: readFileSync(f, 'utf8') }));
  const byFile = new Map<string, DetectedRoute[]>();
  for (const { path, entries } of entriesOf(urls)) {
    const byModule = new Map<string, DjangoUrlEntry[]>();
    for (const e of entries) if (e.viewModule) byModule.set(e.viewModule, [...(byModule.get(e.viewModule) ?? []), e]);
    for (const [module, list] of byModule) {
      const candidates = djangoModulePaths(module, path);
      const file = all.find((f) => candidates.some((c) => f === c || f.endsWith('/' + c)));
      if (!file) continue;
      const key = relative(root, file);
      byFile.set(key, [...(byFile.get(key) ?? []), ...djangoRoutesForViews(list, readFileSync(file, 'utf8'))]);
    }
  }
  const index = new RouteIndex();
  for (const [key, routes] of byFile) index.setFile(key, routes);
  return index;
}

describe('Django URLconfs across files, proven against the real Django', function () {
  this.timeout(60_000);
  const root = fixturePath('multi/django_shop');
  const truth = served(root, 'django', 'mysite.settings');

  it('every served pattern, empty ones under an include too, is detected with its full template and view', () => {
    const index = djangoIndex(root, resolveDjangoUrlconfs);
    const detected = index
      .all()
      .map(({ uri, route }) => `${route.method} ${normalizeRoute(route.route)} ${uri}:${route.line + 1}`)
      .sort();
    assert.deepEqual(detected, truth.map((r) => `${r.method} ${normalizeRoute(r.route)} ${r.file}:${r.line}`).sort());
  });

  it('telemetry of every served route (the http.route the agent reports) finds its own view', () => {
    const after = coverage(djangoIndex(root, resolveDjangoUrlconfs), truth);
    assert.deepEqual(after.missed, []);
    // Each URLconf read alone (includes not followed): the empty patterns match nothing.
    const before = coverage(
      djangoIndex(root, (files) => files.map((f) => ({ path: f.path, entries: detectDjangoViews(f.text) }))),
      truth,
    );
    assert.ok(before.hit < truth.length);
    console.log(`      multi/django_shop: ${before.hit}/${truth.length} served routes matched URLconf by URLconf, ${after.hit}/${truth.length} with includes followed`);
  });
});

describe('lens titles name the method when one function serves several', () => {
  it('GET and POST of one FastAPI function get a lens each, titled by method, with their own figures', () => {
    const root = fixturePath('multi/fastapi_shop');
    const index = graphIndex(root);
    const store = new TelemetryStore();
    for (const ms of [10, 10, 10]) store.addSpans([serverSpan({ service: 'shop', method: 'GET', route: '/orders/{item_id}/notes', durationMs: ms })]);
    store.addSpans([serverSpan({ service: 'shop', method: 'POST', route: '/orders/{item_id}/notes', durationMs: 300 })]);
    const stats = handlerStatsForFile('shop/routers/orders.py', index, store, 60);
    const shared = methodsSharingHandler(stats.map((s) => s.handler));
    const titles = stats.map((s) => lensTitle(s, true, shared.has(s.handler) ? s.handler.method : undefined));
    // read_order (one method) keeps the plain title; order_notes has one lens per method.
    assert.equal(titles.length, 3);
    assert.equal(titles[0], 'no requests in the window');
    assert.match(titles[1], /^GET · p50 10(\.0)? ms · p95 10(\.0)? ms · /);
    assert.match(titles[2], /^POST · p50 300 ms · p95 300 ms · /);
  });
});

describe('Express routers across files', () => {
  const root = fixturePath('multi/express_shop');
  const files = ['app.js', 'routes/users.js', 'routes/orders.ts', 'routes/admin.js', 'routes/reports.mjs'];
  // The templates Express reports as http.route for this project: the mount paths joined.
  const served: Served[] = [
    { method: 'GET', route: '/health', file: 'app.js', line: 11 },
    { method: 'GET', route: '/users/:id', file: 'routes/users.js', line: 5 },
    { method: 'DELETE', route: '/users/:id', file: 'routes/users.js', line: 9 },
    { method: 'GET', route: '/orders/:id', file: 'routes/orders.ts', line: 5 },
    // Express's own template for router.post('/') mounted at /orders (seen in realJsFrameworks.test.ts).
    { method: 'POST', route: '/orders', file: 'routes/orders.ts', line: 9 },
    { method: 'GET', route: '/admin/:id', file: 'routes/admin.js', line: 7 },
    { method: 'GET', route: '/admin/reports/:id', file: 'routes/reports.mjs', line: 5 },
  ];
  // TypeScript sources are stored as .ts.txt so the build does not compile them.
  const read = (f: string) => readFileSync(join(root, f.endsWith('.ts') ? `${f}.txt` : f), 'utf8');
  const graph = new JsRouteGraph();
  for (const f of files) graph.set(f, join(root, f), read(f));
  const index = new RouteIndex();
  for (const [key, routes] of graph.routes()) if (routes.length) index.setFile(key, routes);

  it('routers exported by CommonJS, ES modules and TypeScript and mounted elsewhere get the mount paths', () => {
    const detected = index
      .all()
      .map(({ uri, route }) => `${route.method} ${normalizeRoute(route.route)} ${uri}:${route.line + 1}`)
      .sort();
    assert.deepEqual(detected, served.map((r) => `${r.method} ${normalizeRoute(r.route)} ${r.file}:${r.line}`).sort());
    for (const { route } of index.all()) assert.ok(!route.partial, `${route.route} still partial`);
  });

  it('telemetry of every route finds its own handler; file by file the suffixes tie', () => {
    const after = coverage(index, served);
    assert.deepEqual(after.missed, []);
    const perFile = new RouteIndex();
    for (const f of files) perFile.setFile(f, detectRoutes(read(f), f.endsWith('.ts') ? 'typescript' : 'javascript', f));
    const before = coverage(perFile, served);
    assert.ok(before.hit < served.length);
    console.log(`      multi/express_shop: ${before.hit}/${served.length} routes matched file by file, ${after.hit}/${served.length} with the route graph`);
  });
});

describe('Nest: the global prefix set at bootstrap applies to every controller', () => {
  const root = fixturePath('multi/nest_shop');
  const files = ['src/main.ts', 'src/users/users.controller.ts', 'src/orders/orders.controller.ts'];
  const load = (extra: Record<string, string> = {}) => {
    const graph = new JsRouteGraph();
    for (const f of files) graph.set(f, join(root, f), extra[f] ?? readFileSync(join(root, `${f}.txt`), 'utf8'));
    const index = new RouteIndex();
    for (const [key, routes] of graph.routes()) if (routes.length) index.setFile(key, routes);
    return index;
  };

  it('controllers of several files get the prefix and their full templates', () => {
    const index = load();
    assert.deepEqual(
      index
        .all()
        .map(({ uri, route }) => `${route.method} ${route.route} ${uri}:${route.line + 1}${route.partial ? ' partial' : ''}`)
        .sort(),
      ['GET /api/orders/:id src/orders/orders.controller.ts:6', 'GET /api/users/:id src/users/users.controller.ts:6', 'PUT /api/users/:id src/users/users.controller.ts:11'],
    );
    assert.equal(index.match('GET', '/api/users/:id')?.uri, 'src/users/users.controller.ts');
    assert.equal(index.match('GET', '/api/orders/:id')?.uri, 'src/orders/orders.controller.ts');
  });

  it('a prefix with exclusions is not applied: the routes stay suffixes', () => {
    const index = load({ 'src/main.ts': "const app = await NestFactory.create(AppModule);\napp.setGlobalPrefix('api', { exclude: ['health'] });\n" });
    assert.ok(index.all().every(({ route }) => route.partial && !route.route.startsWith('/api')));
  });
});

describe('Fastify plugins registered from another file', () => {
  const root = fixturePath('multi/fastify_shop');
  const files = ['server.js', 'routes/users.js', 'routes/orders.js'];
  // Fastify's http.route for this project: the register prefix joined with the plugin's paths.
  const served: Served[] = [
    { method: 'GET', route: '/health', file: 'server.js', line: 9 },
    { method: 'GET', route: '/users/:id', file: 'routes/users.js', line: 2 },
    { method: 'DELETE', route: '/users/:id', file: 'routes/users.js', line: 4 },
    { method: 'GET', route: '/orders/:id', file: 'routes/orders.js', line: 2 },
  ];
  const graph = new JsRouteGraph();
  for (const f of files) graph.set(f, join(root, f), readFileSync(join(root, f), 'utf8'));
  const index = new RouteIndex();
  for (const [key, routes] of graph.routes()) if (routes.length) index.setFile(key, routes);

  it('plugins exported as functions and registered with a prefix elsewhere get the prefix', () => {
    assert.deepEqual(
      index
        .all()
        .map(({ uri, route }) => `${route.method} ${route.route} ${uri}:${route.line + 1}${route.partial ? ' partial' : ''}`)
        .sort(),
      served.map((r) => `${r.method} ${r.route} ${r.file}:${r.line}`).sort(),
    );
    assert.deepEqual(coverage(index, served).missed, []);
  });
});

describe('PythonRouteGraph: an edit that changes no mount re-resolves the edited file only, with the same answer', () => {
  it('gives the same routes as a fresh graph after edits of handlers, of mounts and of a class-based view', () => {
    const root = fixturePath('multi/flask_shop');
    const texts = new Map(pyFiles(root).map((f) => [relative(root, f), readFileSync(f, 'utf8')]));
    const fresh = () => {
      const g = new PythonRouteGraph();
      for (const [k, t] of texts) g.set(k, join(root, k), t);
      return JSON.stringify([...g.routes()].sort());
    };
    const live = new PythonRouteGraph();
    for (const [k, t] of texts) live.set(k, join(root, k), t);
    live.routes();
    const edit = (key: string, change: (t: string) => string) => {
      texts.set(key, change(texts.get(key)!));
      live.set(key, join(root, key), texts.get(key)!);
      assert.equal(JSON.stringify([...live.routes()].sort()), fresh(), `after editing ${key}`);
    };
    // A handler's path (no mount changes): only that file is re-resolved.
    edit('shop/views/users.py', (t) => t.replace('@bp.route("/<int:item_id>")\n', '@bp.route("/<int:item_id>/profile")\n'));
    // Lines shift above a class-based view registered from another file.
    edit('shop/views/reports.py', (t) => '# a comment\n\n' + t);
    // A mount's prefix.
    edit('shop/app.py', (t) => t.replace('url_prefix="/users"', 'url_prefix="/people"'));
    assert.ok(fresh().includes('/people/<int:item_id>/profile'));
  });
});

describe('JsRouteGraph: edits re-resolve what they change, with the same answer as a fresh graph', () => {
  it('after editing a route, a mount and an export', () => {
    const root = fixturePath('multi/express_shop');
    const files = ['app.js', 'routes/users.js', 'routes/orders.ts', 'routes/admin.js', 'routes/reports.mjs'];
    const texts = new Map(files.map((f) => [f, readFileSync(join(root, f.endsWith('.ts') ? `${f}.txt` : f), 'utf8')]));
    const fresh = () => {
      const g = new JsRouteGraph();
      for (const [k, t] of texts) g.set(k, join(root, k), t);
      return JSON.stringify([...g.routes()].sort());
    };
    const live = new JsRouteGraph();
    for (const [k, t] of texts) live.set(k, join(root, k), t);
    live.routes();
    const edit = (key: string, change: (t: string) => string) => {
      texts.set(key, change(texts.get(key)!));
      live.set(key, join(root, key), texts.get(key)!);
      assert.equal(JSON.stringify([...live.routes()].sort()), fresh(), `after editing ${key}`);
    };
    edit('routes/users.js', (t) => t.replace("router.get('/:id'", "router.get('/:id/profile'"));
    edit('app.js', (t) => t.replace("app.use('/users', usersRouter)", "app.use('/people', usersRouter)"));
    edit('routes/reports.mjs', (t) => t.replace('export default reports;', ''));
    assert.ok(fresh().includes('/people/:id/profile'));
    assert.ok(!fresh().includes('/admin/reports/:id'));
  });
});
