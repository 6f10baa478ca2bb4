import * as assert from 'node:assert/strict';
import { detectRoutes } from '../../../src/core/routes';
import { find, fixture, keys, lineOf } from './fixtures';

describe('routes: Flask', () => {
  const text = fixture('flask_app.py');
  const routes = detectRoutes(text, 'python', 'flask_app.py');

  it('finds exactly the static routes, with blueprint prefixes applied', () => {
    assert.deepEqual(keys(routes), [
      '* /dyn-methods',
      'DELETE /api/v2/things/<uuid:thing_id>',
      'DELETE /items/<int:item_id>',
      'GET /',
      'GET /accounts/<username>',
      'GET /api/v2/kids/leaf',
      'GET /both',
      'GET /factory',
      'GET /items/<int:item_id>',
      'GET /legacy',
      'GET /plain/x',
      'GET /users/<int:user_id>',
      'GET /users/<int:user_id>/profile',
      'POST /accounts',
      'POST /both',
      'POST /legacy',
      'POST /submit',
      'PUT /submit',
    ]);
    assert.ok(routes.every((r) => r.framework === 'flask'));
  });

  it('defaults route() to GET and reads methods lists and tuples in any case', () => {
    assert.equal(find(routes, 'GET', '/').handlerName, 'index');
    assert.equal(find(routes, 'POST', '/submit').line, lineOf(text, 'def submit'));
    assert.equal(find(routes, 'GET', '/both').handlerName, 'both');
  });

  it('answers * when methods are not literals', () => {
    assert.equal(find(routes, '*', '/dyn-methods').handlerName, 'dyn_methods');
  });

  it('reports every route() stacked on one view', () => {
    const a = find(routes, 'GET', '/users/<int:user_id>');
    const b = find(routes, 'GET', '/users/<int:user_id>/profile');
    assert.equal(a.line, b.line);
    assert.equal(a.decoratorLine, lineOf(text, '@app.route("/users/<int:user_id>")'));
    assert.equal(a.normalized, '/users/{}');
  });

  it("uses a blueprint's own url_prefix, or the one given at registration, nested blueprints included", () => {
    assert.equal(find(routes, 'GET', '/accounts/<username>').partial, undefined);
    assert.equal(find(routes, 'POST', '/accounts').handlerName, 'create_account');
    assert.equal(find(routes, 'DELETE', '/api/v2/things/<uuid:thing_id>').handlerName, 'delete_thing');
    assert.equal(find(routes, 'GET', '/api/v2/kids/leaf').handlerName, 'child_leaf');
  });

  it('marks routes of a blueprint registered in another file as partial', () => {
    assert.equal(find(routes, 'GET', '/plain/x').partial, true);
  });

  it('maps add_url_rule with a MethodView to its HTTP methods', () => {
    const get = find(routes, 'GET', '/items/<int:item_id>');
    const del = find(routes, 'DELETE', '/items/<int:item_id>');
    assert.equal(get.className, 'ItemAPI');
    assert.equal(get.line, lineOf(text, 'def get(self, item_id)'));
    assert.equal(del.line, lineOf(text, 'def delete(self, item_id)'));
    assert.ok(!routes.some((r) => r.handlerName === 'helper'));
  });

  it('maps add_url_rule with a positional view function', () => {
    const r = find(routes, 'POST', '/legacy');
    assert.equal(r.handlerName, 'legacy');
    assert.equal(r.line, lineOf(text, 'def legacy'));
    assert.equal(r.decoratorLine, lineOf(text, 'app.add_url_rule("/legacy"'));
  });

  it('skips registrations in loops and finds routes inside app factories', () => {
    assert.ok(!routes.some((r) => r.route === '/looped' || r.route === '/a'));
    assert.equal(find(routes, 'GET', '/factory').line, lineOf(text, 'def from_factory'));
  });
});
