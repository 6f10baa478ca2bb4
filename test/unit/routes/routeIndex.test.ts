import * as assert from 'node:assert/strict';
import { DetectedRoute, RouteIndex, detectRoutes, normalizeRoute, pathSegments, routeMatches } from '../../../src/core/routes';

function route(method: string, template: string, line: number, extra: Partial<DetectedRoute> = {}): DetectedRoute {
  return {
    method,
    route: template,
    normalized: normalizeRoute(template),
    framework: 'fastapi',
    handlerName: `h${line}`,
    line,
    decoratorLine: line - 1,
    endLine: line + 3,
    ...extra,
  };
}

const MAIN = 'file:///home/dev/shop/app/main.py';
const USERS = 'file:///home/dev/shop/app/routers/users.py';
const OTHER_MAIN = 'file:///home/dev/shop/tools/main.py';

describe('routes: RouteIndex', () => {
  let index: RouteIndex;
  beforeEach(() => {
    index = new RouteIndex();
    index.setFile(MAIN, [
      route('GET', '/items/{item_id}', 10),
      route('PUT', '/items/{item_id}', 20),
      route('*', '/any', 30),
      route('GET', '/health', 40),
      route('GET', '/a', 50, { handlerName: 'multi' }),
      route('GET', '/b', 50, { handlerName: 'multi' }),
    ]);
    index.setFile(USERS, [route('GET', '/users/{user_id}', 5, { partial: true, handlerName: 'get_user' })]);
    index.setFile(OTHER_MAIN, [route('GET', '/health', 7)]);
  });

  it('matches by method and normalised template, whatever the framework syntax', () => {
    for (const t of ['/items/{id}', '/items/<int:id>', '/items/:id', 'items/<int:pk>/']) {
      const m = index.match('GET', t);
      assert.equal(m?.uri, MAIN, t);
      assert.equal(m?.line, 10);
      assert.equal(m?.by, 'template');
    }
    assert.equal(index.match('put', '/items/{x}')?.line, 20);
    assert.equal(index.match('DELETE', '/items/{x}'), undefined);
  });

  it("lets '*' on either side match any method, and HEAD fall back to GET", () => {
    assert.equal(index.match('PATCH', '/any')?.line, 30);
    assert.equal(index.match(undefined, '/any')?.line, 30);
    // Without a method, GET and PUT of /items/{} are two handlers: no answer rather than a guess.
    assert.equal(index.match(undefined, '/items/{x}'), undefined);
    assert.equal(index.match('HEAD', '/items/{x}')?.line, 10);
  });

  it('refuses to choose between two different handlers', () => {
    assert.equal(index.match('GET', '/health'), undefined);
  });

  it('uses the code file to choose between equal templates', () => {
    const m = index.match('GET', '/health', { file: '/srv/app/tools/main.py' });
    assert.equal(m?.uri, OTHER_MAIN);
  });

  it('matches by code location first: path suffix plus the def or decorator line', () => {
    // A container path: only the tail of the path is shared with the workspace.
    const byDef = index.match('GET', '/something-else', { file: '/app/app/main.py', line: 21 });
    assert.equal(byDef?.line, 20);
    assert.equal(byDef?.by, 'code');
    // co_firstlineno of a decorated function is its first decorator.
    assert.equal(index.match('PUT', undefined, { file: '/app/app/main.py', line: 20 })?.line, 20);
    // Inside the body.
    assert.equal(index.match('GET', '/x', { file: 'app/main.py', line: 43 })?.line, 40);
  });

  it('prefers the longest path suffix among files with the same name', () => {
    const m = index.match('GET', undefined, { file: 'C:\\work\\shop\\tools\\main.py', line: 8 });
    assert.equal(m?.uri, OTHER_MAIN);
  });

  it('matches by function name when the line is unknown, qualified names included', () => {
    const m = index.match('GET', undefined, { file: '/app/app/routers/users.py', function: 'app.routers.users.get_user' });
    assert.equal(m?.uri, USERS);
    assert.equal(m?.line, 5);
  });

  it('uses the telemetry method and route to pick among routes of one handler', () => {
    const a = index.match('GET', '/b', { file: '/app/app/main.py', line: 50 });
    assert.equal(a?.route, '/b');
    assert.equal(a?.line, 50);
  });

  it('falls back to the template when the code location matches nothing', () => {
    const m = index.match('GET', '/items/{id}', { file: '/usr/lib/python3/site-packages/fastapi/routing.py', line: 300 });
    assert.equal(m?.by, 'template');
    assert.equal(m?.line, 10);
  });

  it('matches partial routes by suffix when a router is mounted in another file', () => {
    const m = index.match('GET', '/api/v1/users/{user_id}');
    assert.equal(m?.uri, USERS);
    assert.equal(m?.by, 'suffix');
    assert.equal(index.match('GET', '/api/v1/xusers/{id}'), undefined);
    assert.equal(index.match('POST', '/api/v1/users/{user_id}'), undefined);
  });

  it('prefers an exact template over a suffix', () => {
    index.setFile('file:///home/dev/shop/app/admin.py', [route('GET', '/api/v1/users/{id}', 3)]);
    assert.equal(index.match('GET', '/api/v1/users/{user_id}')?.by, 'template');
  });

  it('forgets removed files and replaced routes', () => {
    assert.equal(index.match('GET', '/items/{x}')?.line, 10);
    index.setFile(MAIN, [route('GET', '/items/{item_id}', 12)]);
    assert.equal(index.match('GET', '/items/{x}')?.line, 12);
    index.removeFile(MAIN);
    assert.equal(index.match('GET', '/items/{x}'), undefined);
    assert.equal(index.match('GET', '/health')?.uri, OTHER_MAIN);
    assert.deepEqual(index.uris().sort(), [OTHER_MAIN, USERS].sort());
    index.setFile(USERS, []);
    assert.equal(index.size, 1);
  });

  it('works with detected routes end to end', () => {
    const text = [
      'from fastapi import FastAPI',
      'app = FastAPI()',
      '',
      '@app.get("/orders/{order_id}")',
      'async def get_order(order_id: int):',
      '    return {}',
    ].join('\n');
    const idx = new RouteIndex();
    idx.setFile('file:///ws/api/orders.py', detectRoutes(text, 'python'));
    assert.equal(idx.match('GET', '/orders/{order_id}')?.line, 4);
    assert.equal(idx.match('GET', '/nope', { file: '/srv/api/orders.py', line: 4, function: 'get_order' })?.line, 4);
  });

  it('splits URIs and paths into segments', () => {
    assert.deepEqual(pathSegments('file:///home/a%20b/x.py'), ['home', 'a b', 'x.py']);
    assert.deepEqual(pathSegments('C:\\x\\y.py'), ['C:', 'x', 'y.py']);
    assert.deepEqual(pathSegments('vscode-remote://ssh-remote+box/srv/x.py'), ['srv', 'x.py']);
  });
});

describe('routes: routeMatches', () => {
  it('applies the index rules to one detected route', () => {
    const items = route('GET', '/items/{item_id}', 1);
    assert.equal(routeMatches(items, 'get', '/items/:id'), 'template');
    assert.equal(routeMatches(items, 'POST', '/items/:id'), undefined);
    assert.equal(routeMatches(items, 'GET', '/v1/items/:id'), undefined);
    const partial = route('*', '/users/{id}', 1, { partial: true });
    assert.equal(routeMatches(partial, 'DELETE', '/api/users/<int:id>'), 'suffix');
    assert.equal(routeMatches(route('GET', '/', 1, { partial: true }), 'GET', '/api'), undefined);
  });
});

describe('routes: ties broken by what the telemetry says of its sender', () => {
  const ORDERS = 'file:///repo/services/orders-api/app/main.py';
  const USERS_PY = 'file:///repo/services/users_api/app/main.py';
  const GATEWAY_JS = 'file:///repo/gateway/src/items.js';
  const index = new RouteIndex();
  index.setFile(ORDERS, [route('GET', '/items/{item_id}', 10)]);
  index.setFile(USERS_PY, [route('GET', '/items/{item_id}', 12)]);
  index.setFile(GATEWAY_JS, [route('GET', '/items/:id', 3, { framework: 'express' })]);

  it('a tie is no match without hints', () => {
    assert.equal(index.match('GET', '/items/{item_id}'), undefined);
  });

  it('the service name picks the handler under a folder of that name', () => {
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { service: 'orders-api' })?.uri, ORDERS);
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { service: 'users-api' })?.uri, USERS_PY);
    // The usual -api/-service suffixes do not change what the name means.
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { service: 'orders' })?.uri, ORDERS);
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { service: 'orders-service' })?.uri, ORDERS);
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { service: 'billing' }), undefined);
  });

  it('the SDK language picks the handler in a file of that language', () => {
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { language: 'nodejs' })?.uri, GATEWAY_JS);
    // Two Python handlers are left: still a tie, until the service name decides.
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { language: 'python' }), undefined);
    assert.equal(index.match('GET', '/items/{item_id}', undefined, { language: 'python', service: 'orders-api' })?.uri, ORDERS);
  });

  it('code.* attributes come first: the handler at the reported location wins over the hints', () => {
    const m = index.match('GET', '/items/{item_id}', { file: '/srv/services/users_api/app/main.py', line: 13, function: 'h12' }, { service: 'orders-api' });
    assert.equal(m?.uri, USERS_PY);
    assert.equal(m?.by, 'code');
  });
});
