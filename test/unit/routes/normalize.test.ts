import * as assert from 'node:assert/strict';
import { normalizeMethod, normalizeRoute } from '../../../src/core/routes';

describe('routes: normalizeRoute', () => {
  const cases: Array<[string, string]> = [
    // FastAPI / Starlette
    ['/items/{item_id}', '/items/{}'],
    ['/files/{file_path:path}', '/files/{}'],
    ['/a/{x}-{y}.json', '/a/{}-{}.json'],
    // Flask / Django path()
    ['/users/<int:user_id>', '/users/{}'],
    ['/users/<username>', '/users/{}'],
    ['/c/<string(length=2):code>', '/c/{}'],
    ['items/<int:pk>/', '/items/{}'],
    ['blog/<slug:s>/<uuid:u>/', '/blog/{}/{}'],
    // Express / Fastify / NestJS
    ['/users/:id', '/users/{}'],
    ['/users/:id?', '/users/{}'],
    ['/users/:id(\\d+)', '/users/{}'],
    ['/flights/:from-:to', '/flights/{}-{}'],
    ['/files/:name.:ext', '/files/{}.{}'],
    ['/files/*', '/files/{}'],
    ['/files/*splat', '/files/{}'],
    ['/time/12::30', '/time/12:30'],
    ['items/:id', '/items/{}'],
    // Literal colons and braces that are not parameters stay
    ['/v1/items:batchGet', '/v1/items:batchGet'],
    ['/x{1}', '/x{1}'],
    // Django re_path
    ['^articles/(?P<year>[0-9]{4})/$', '/articles/{}'],
    ['^archive/(\\d+)/(?P<slug>[\\w-]+)\\.html$', '/archive/{}/{}.html'],
    ['^page/?$', '/page'],
    ['^api/items/<int:pk>/$', '/api/items/{}'],
    // Slashes
    ['', '/'],
    ['/', '/'],
    ['//a///b//', '/a/b'],
    ['/items/', '/items'],
    ['  /padded  ', '/padded'],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(normalizeRoute(input), expected));
  }

  it('gives every framework spelling of one route the same form', () => {
    const forms = ['/items/{id}', '/items/<int:id>', '/items/<id>', '/items/:id', 'items/<int:pk>/', '^items/(?P<pk>\\d+)/$'];
    assert.deepEqual(new Set(forms.map(normalizeRoute)), new Set(['/items/{}']));
  });

  it('is idempotent', () => {
    for (const [input] of cases) {
      const once = normalizeRoute(input);
      assert.equal(normalizeRoute(once), once, input);
    }
  });
});

describe('routes: normalizeMethod', () => {
  it('upper-cases and maps absent or unknown methods to *', () => {
    assert.equal(normalizeMethod('get'), 'GET');
    assert.equal(normalizeMethod(undefined), '*');
    assert.equal(normalizeMethod(''), '*');
    assert.equal(normalizeMethod('_OTHER'), '*');
  });
});
