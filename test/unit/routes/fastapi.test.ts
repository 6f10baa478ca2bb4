import * as assert from 'node:assert/strict';
import { detectRoutes } from '../../../src/core/routes';
import { find, fixture, keys, lineOf } from './fixtures';

describe('routes: FastAPI / Starlette', () => {
  const text = fixture('fastapi_app.py');
  const routes = detectRoutes(text, 'python', 'fastapi_app.py');

  it('finds exactly the static routes, with every prefix applied', () => {
    assert.deepEqual(keys(routes), [
      'DELETE /api/items/{item_id}',
      'GET /',
      'GET /admin/raw\\d',
      'GET /admin/users/{user_id:path}',
      'GET /api/items/sub/nested/leaf',
      'GET /api/items/{item_id}',
      'GET /endpoint',
      'GET /health',
      'GET /in-class',
      'GET /multi',
      'GET /no-placeholders',
      'GET /only-get',
      'PATCH /api/items/{item_id}',
      'POST /endpoint',
      'POST /long/concatenated',
      'POST /multi',
      'PUT /added',
      'PUT /api/items/{item_id}',
    ]);
    assert.ok(routes.every((r) => r.framework === 'fastapi'));
  });

  it('puts the handler line on the def name and the decorator line on the first decorator', () => {
    const root = find(routes, 'GET', '/');
    assert.equal(root.handlerName, 'root');
    assert.equal(root.line, lineOf(text, 'def root():'));
    assert.equal(root.decoratorLine, lineOf(text, '@app.get("/")'));
    assert.equal(root.endLine, lineOf(text, 'return {"ok": True}'));
  });

  it('handles async defs', () => {
    const h = find(routes, 'GET', '/health');
    assert.equal(h.handlerName, 'health');
    assert.equal(h.line, lineOf(text, 'async def health()'));
  });

  it('applies APIRouter and include_router prefixes, with parameters across lines', () => {
    const r = find(routes, 'GET', '/api/items/{item_id}');
    assert.equal(r.handlerName, 'read_item');
    assert.equal(r.normalized, '/api/items/{}');
    assert.equal(r.decoratorLine, lineOf(text, '@items.get("/{item_id}")'));
    assert.equal(r.line, lineOf(text, 'async def read_item('));
    assert.equal(r.endLine, lineOf(text, 'return {"item_id": item_id'));
    assert.equal(r.partial, undefined);
  });

  it('reports each route decorator of a stack, starting the stack at its first decorator', () => {
    const put = find(routes, 'PUT', '/api/items/{item_id}');
    const patch = find(routes, 'PATCH', '/api/items/{item_id}');
    assert.equal(put.handlerName, 'update_item');
    assert.equal(patch.line, put.line);
    assert.equal(put.decoratorLine, lineOf(text, '@cached', 1));
  });

  it('reads api_route methods (one entry per method, GET by default)', () => {
    assert.equal(find(routes, 'GET', '/multi').handlerName, 'multi');
    assert.equal(find(routes, 'POST', '/multi').handlerName, 'multi');
    assert.equal(find(routes, 'GET', '/only-get').handlerName, 'only_get');
  });

  it('joins implicitly concatenated string literals across lines', () => {
    const r = find(routes, 'POST', '/long/concatenated');
    assert.equal(r.decoratorLine, lineOf(text, '"/long/"') - 1);
    assert.equal(r.line, lineOf(text, 'def long_path'));
  });

  it('follows nested routers and routers with an annotated, multi-line constructor', () => {
    assert.equal(find(routes, 'GET', '/api/items/sub/nested/leaf').handlerName, 'nested_leaf');
    assert.equal(find(routes, 'GET', '/admin/users/{user_id:path}').normalized, '/admin/users/{}');
  });

  it('does not guess routes built at run time', () => {
    const names = new Set(routes.map((r) => r.handlerName));
    for (const absent of ['generated', 'static_in_loop', 'from_variable', 'concatenated', 'formatted', 'versioned_route', 'socket']) {
      assert.ok(!names.has(absent), absent);
    }
  });

  it('ignores decorators in docstrings, strings and comments', () => {
    const all = routes.map((r) => r.route).join(' ');
    for (const absent of ['in-docstring', 'commented-out', 'in-string', 'in-triple-quoted']) assert.ok(!all.includes(absent), absent);
  });

  it('reports methods of classes, and Starlette endpoint classes per HTTP method', () => {
    const m = find(routes, 'GET', '/in-class');
    assert.equal(m.className, 'Service');
    const get = find(routes, 'GET', '/endpoint');
    const post = find(routes, 'POST', '/endpoint');
    assert.equal(get.className, 'Endpoint');
    assert.equal(get.line, lineOf(text, 'async def get(self, request)'));
    assert.equal(post.line, lineOf(text, 'async def post(self, request)'));
  });

  it('resolves add_api_route to the def of its endpoint', () => {
    const r = find(routes, 'PUT', '/added');
    assert.equal(r.handlerName, 'add_routes');
    assert.equal(r.line, lineOf(text, 'def add_routes'));
    assert.equal(r.decoratorLine, lineOf(text, 'app.add_api_route("/added"'));
  });

  it('returns routes sorted by line', () => {
    for (let i = 1; i < routes.length; i++) assert.ok(routes[i - 1].line <= routes[i].line);
  });
});

describe('routes: Python tokenizer edge cases', () => {
  const text = fixture('tricky.py');
  const routes = detectRoutes(text, 'python');

  it('finds exactly the real routes among tricky strings, escapes and comments', () => {
    assert.deepEqual(keys(routes), [
      'GET /after-backslash-line',
      'GET /cafe\u00e9',
      'GET /inner',
      "GET /it's",
      'GET /last',
      'GET /nested/{id}',
      'GET /one-liner',
      'GET /parenthesised',
      'GET /spread',
      'GET /tab\there',
    ]);
  });

  it('keeps lines right after multi-line strings, continuations and bracketed arguments', () => {
    assert.equal(find(routes, 'GET', '/spread').line, lineOf(text, 'def spread_args'));
    assert.equal(find(routes, 'GET', '/spread').decoratorLine, lineOf(text, '# a comment between arguments') - 1);
    assert.equal(find(routes, 'GET', '/after-backslash-line').endLine, lineOf(text, 'y=2):') + 1);
    const last = find(routes, 'GET', '/last');
    assert.equal(last.line, lineOf(text, 'async def last'));
    assert.equal(last.endLine, text.split('\n').length - 2);
  });

  it('scopes nested defs and one-liners', () => {
    const outer = find(routes, 'GET', '/nested/{id}');
    const inner = find(routes, 'GET', '/inner');
    assert.equal(inner.line, lineOf(text, 'def inner'));
    assert.equal(outer.endLine, lineOf(text, 'return inner'));
    const one = find(routes, 'GET', '/one-liner');
    assert.equal(one.endLine, one.line);
  });

  it('does not take a conditional decorator expression for a route', () => {
    assert.ok(!routes.some((r) => r.handlerName === 'conditional_decorator'));
  });

  it('gives the same lines for CRLF line endings', () => {
    const crlf = detectRoutes(text.replace(/\n/g, '\r\n'), 'python');
    assert.deepEqual(crlf, routes);
  });

  it('survives an unclosed bracket while typing', () => {
    const src = ['from fastapi import FastAPI', 'app = FastAPI()', '@app.get("/typing"', 'def typing():', '    pass', '', '@app.get("/later")', 'def later():', '    pass', ''].join('\n');
    const r = detectRoutes(src, 'python');
    assert.deepEqual(keys(r), ['GET /later']);
    assert.equal(r[0].line, 7);
  });

  it('survives an unterminated single-quoted string', () => {
    const src = ['from fastapi import FastAPI', 'app = FastAPI()', 'x = "oops', '@app.get("/after")', 'def after():', '    pass'].join('\n');
    assert.deepEqual(keys(detectRoutes(src, 'python')), ['GET /after']);
  });

  it('handles tab indentation, blank lines and comments inside a decorator stack', () => {
    const src = 'from fastapi import FastAPI\napp = FastAPI()\nclass A:\n\t@app.get("/t")\n\n\t# note\n\tasync def t(self):\n\t\treturn 1\n\tdef other(self):\n\t\tpass\n';
    const [r] = detectRoutes(src, 'python');
    assert.equal(r.route, '/t');
    assert.equal(r.line, 6);
    assert.equal(r.decoratorLine, 3);
    assert.equal(r.endLine, 7);
    assert.equal(r.className, 'A');
  });

  it('knows which string prefixes make a value dynamic', () => {
    const src = [
      'from fastapi import FastAPI',
      'app = FastAPI()',
      '@app.get(rf"/rf/{x}")',
      'def a(): pass',
      '@app.get(Rb"/bytes")',
      'def b(): pass',
      '@app.get(F"/upper-f")',
      'def c(): pass',
      '@app.get(f"/{{braces}}")',
      'def d(): pass',
      '@app.get(R"/raw\\d")',
      'def e(): pass',
      '@app.get(f"/nested/{d["k"]}")',
      'def f(): pass',
    ].join('\n');
    assert.deepEqual(keys(detectRoutes(src, 'python')), ['GET /raw\\d', 'GET /upper-f', 'GET /{braces}']);
  });

  it('accepts routers imported from elsewhere as partial routes, and ignores unrelated .get decorators', () => {
    const src = ['from fastapi import Depends', 'from .routers import router', '@router.get("/imported")', 'def imported(): pass'].join('\n');
    const [r] = detectRoutes(src, 'python');
    assert.equal(r.route, '/imported');
    assert.equal(r.partial, true);
    const unrelated = ['import cache', '@cache.get("/key")', 'def k(): pass', '@pytest.mark.get("/x")', 'def t(): pass'].join('\n');
    assert.deepEqual(detectRoutes(unrelated, 'python'), []);
  });
});
