import * as assert from 'node:assert/strict';
import {
  DjangoUrlEntry,
  detectDjangoViews,
  detectRoutes,
  djangoModulePaths,
  djangoRoutesForViews,
  resolveDjangoView,
} from '../../../src/core/routes';
import { find, fixture, keys, lineOf } from './fixtures';

describe('routes: Django', () => {
  const urls = fixture('django/urls.py');
  const apiUrls = fixture('django/api_urls.py');
  const views = fixture('django/views.py');
  const asked: string[] = [];
  const entries = detectDjangoViews(urls, {
    module: 'mysite.urls',
    root: true,
    resolveInclude: (m) => {
      asked.push(m);
      return m === 'shop.api_urls' ? apiUrls : undefined;
    },
  });
  const byRoute = (route: string): DjangoUrlEntry => {
    const e = entries.find((x) => x.route === route);
    assert.ok(e, `no entry for ${route}`);
    return e;
  };

  it('reads path() and re_path() entries with include() prefixes', () => {
    assert.deepEqual(entries.map((e) => e.route).sort(), [
      '',
      '^articles/(?P<year>[0-9]{4})/$',
      'api/items/',
      'api/legacy/(?P<code>\\w+)/$',
      'extra/charts/<slug:kind>/',
      'extra/reports/',
      'inline/one/',
      'inline/two/',
      'items/<int:pk>/',
      'items/<int:pk>/edit/',
      'late/',
      'local/',
      'viewset/',
      'wrapped/',
    ]);
    assert.deepEqual(asked, ['shop.api_urls']);
  });

  it('names the view and the module it comes from', () => {
    const e = byRoute('items/<int:pk>/');
    assert.equal(e.viewRef, 'views.item_detail');
    assert.equal(e.viewName, 'item_detail');
    assert.equal(e.viewModule, 'shop.views');
    assert.equal(e.isClass, false);
    assert.equal(e.name, 'item-detail');
    assert.equal(e.normalized, '/items/{}');
    assert.equal(e.line, lineOf(urls, 'path("items/<int:pk>/", views.item_detail'));
    assert.equal(e.partial, false);
  });

  it('recognises class-based views, ViewSet actions and wrapped views', () => {
    const cbv = byRoute('items/<int:pk>/edit/');
    assert.equal(cbv.viewRef, 'ItemDetailView');
    assert.equal(cbv.isClass, true);
    assert.equal(cbv.viewModule, 'shop.views');
    assert.deepEqual(byRoute('viewset/').actions, { GET: 'list', POST: 'create' });
    assert.equal(byRoute('wrapped/').viewName, 'dashboard');
  });

  it('resolves relative imports against the urls module', () => {
    assert.equal(byRoute('inline/two/').viewModule, 'mysite.local_views');
    const bare = detectDjangoViews(urls);
    assert.equal(bare.find((e) => e.route === 'inline/two/')?.viewModule, '.local_views');
    assert.ok(bare.every((e) => e.partial));
  });

  it('keeps re_path patterns as written and normalises them', () => {
    const e = byRoute('^articles/(?P<year>[0-9]{4})/$');
    assert.equal(e.kind, 're_path');
    assert.equal(e.normalized, '/articles/{}');
    const inc = byRoute('api/legacy/(?P<code>\\w+)/$');
    assert.equal(inc.urlsModule, 'shop.api_urls');
    assert.equal(inc.line, lineOf(apiUrls, 're_path('));
  });

  it('skips admin URLconfs, comments, loops and comprehensions', () => {
    const all = new Set(entries.map((e) => e.route));
    for (const absent of ['admin/', 'commented/', 'x/', 'y/', 'comp/', 'a/', 'b/']) assert.ok(!all.has(absent), absent);
  });

  it('maps entries to the view definitions of a views file', () => {
    const routes = djangoRoutesForViews(
      entries.filter((e) => e.viewModule === 'shop.views'),
      views,
    );
    assert.deepEqual(keys(routes), [
      '* ',
      '* ^articles/(?P<year>[0-9]{4})/$',
      '* api/items/',
      '* api/legacy/(?P<code>\\w+)/$',
      '* inline/one/',
      '* late/',
      '* wrapped/',
      'DELETE extra/charts/<slug:kind>/',
      'GET extra/charts/<slug:kind>/',
      'GET extra/reports/',
      'GET items/<int:pk>/',
      'GET items/<int:pk>/edit/',
      'GET viewset/',
      'POST items/<int:pk>/',
      'POST items/<int:pk>/edit/',
      'POST viewset/',
    ]);
    assert.ok(routes.every((r) => r.framework === 'django'));
    const detail = find(routes, 'POST', 'items/<int:pk>/');
    assert.equal(detail.line, lineOf(views, 'def item_detail'));
    assert.equal(detail.decoratorLine, lineOf(views, '@require_http_methods'));
    const post = find(routes, 'POST', 'items/<int:pk>/edit/');
    assert.equal(post.line, lineOf(views, 'async def post(self, request, pk)'));
    assert.equal(post.className, 'ItemDetailView');
    assert.equal(find(routes, 'GET', 'viewset/').line, lineOf(views, 'def list(self'));
  });

  it('finds a view definition by name', () => {
    const cls = resolveDjangoView(views, 'ItemDetailView');
    assert.ok(cls);
    assert.equal(cls.kind, 'class');
    assert.equal(cls.line, lineOf(views, 'class ItemDetailView'));
    assert.deepEqual(
      cls.handlers.map((h) => h.method),
      ['GET', 'POST'],
    );
    const generic = resolveDjangoView(views, 'Generic');
    assert.deepEqual(
      generic?.handlers.map((h) => [h.method, h.line]),
      [['*', lineOf(views, 'class Generic')]],
    );
    const fn = resolveDjangoView(views, 'index');
    assert.equal(fn?.kind, 'function');
    assert.equal(fn?.endLine, lineOf(views, 'HttpResponse("index")'));
    assert.equal(resolveDjangoView(views, 'missing'), undefined);
  });

  it('reports views defined in the urls file itself from detectRoutes', () => {
    const routes = detectRoutes(urls, 'python', 'urls.py');
    assert.deepEqual(keys(routes), ['* local/']);
    assert.equal(routes[0].line, lineOf(urls, 'def local_view'));
  });

  it('turns modules into candidate file paths', () => {
    assert.deepEqual(djangoModulePaths('shop.views'), ['shop/views.py', 'shop/views/__init__.py']);
    assert.deepEqual(djangoModulePaths('.views', '/ws/shop/urls.py'), ['/ws/shop/views.py', '/ws/shop/views/__init__.py']);
    assert.deepEqual(djangoModulePaths('..common.views', 'C:\\ws\\shop\\urls.py'), ['C:/ws/common/views.py', 'C:/ws/common/views/__init__.py']);
  });
});
