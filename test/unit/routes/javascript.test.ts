import * as assert from 'node:assert/strict';
import { detectRoutes } from '../../../src/core/routes';
import { find, fixture, keys, lineOf } from './fixtures';

describe('routes: Express', () => {
  const text = fixture('express_app.js');
  const routes = detectRoutes(text, 'javascript', 'express_app.js');

  it('finds exactly the static routes, with router mounts applied', () => {
    assert.deepEqual(keys(routes), [
      '* /legacy',
      '* /old',
      'DELETE /api/users/:id',
      'GET /',
      'GET /after-division',
      'GET /api/books/:bookId',
      'GET /api/users/:id',
      'GET /files/*',
      'GET /health',
      'GET /orphan',
      'GET /template-literal',
      'PATCH /api/books/:bookId',
      'POST /api/users/',
      'PUT /api/users/:id(\\d+)',
    ]);
    assert.ok(routes.every((r) => r.framework === 'express'));
  });

  it('puts inline handlers on the registration line', () => {
    const home = find(routes, 'GET', '/');
    assert.equal(home.handlerName, '<anonymous>');
    assert.equal(home.line, lineOf(text, "app.get('/', "));
    assert.equal(home.decoratorLine, home.line);
    const health = find(routes, 'GET', '/health');
    assert.equal(health.handlerName, 'health');
    assert.equal(health.endLine, lineOf(text, 'res.json({ ok: true })') + 1);
  });

  it('takes the last argument as the handler, through middleware, arrays and wrappers', () => {
    const u = find(routes, 'GET', '/api/users/:id');
    assert.equal(u.handlerName, '<anonymous>');
    assert.equal(u.endLine, lineOf(text, 'res.json(req.user)') + 1);
    assert.equal(find(routes, 'POST', '/api/users/').endLine, lineOf(text, 'res.status(201)') + 1);
  });

  it('points at named handlers declared in the file, before or after the registration', () => {
    const put = find(routes, 'PUT', '/api/users/:id(\\d+)');
    assert.equal(put.handlerName, 'updateUser');
    assert.equal(put.line, lineOf(text, 'function updateUser'));
    assert.equal(put.decoratorLine, lineOf(text, "users.put('/:id"));
    const del = find(routes, 'DELETE', '/api/users/:id');
    assert.equal(del.handlerName, 'removeUser');
    assert.equal(del.line, lineOf(text, 'const removeUser'));
    const served = find(routes, 'GET', '/files/*');
    assert.equal(served.handlerName, 'serveFile');
    assert.equal(served.line, lineOf(text, "app.get('/files/*'"));
  });

  it('follows app.route() chains', () => {
    const get = find(routes, 'GET', '/api/books/:bookId');
    const patch = find(routes, 'PATCH', '/api/books/:bookId');
    assert.equal(get.decoratorLine, lineOf(text, "books.route('/books/:bookId')"));
    assert.equal(patch.handlerName, 'patchBook');
  });

  it('marks routers that are not mounted in the file as partial', () => {
    assert.equal(find(routes, 'GET', '/orphan').partial, true);
    assert.equal(find(routes, 'GET', '/').partial, undefined);
  });

  it('ignores strings, comments, template substitutions, regex literals, loops and dynamic paths', () => {
    const all = routes.map((r) => r.route).join(' ');
    for (const absent of ['commented', 'in-string', 'in-template', 'in-substitution', 'in-regex', '/x', '/y', '/m', '/n', 'static-in-loop', 'dyn', 'concat', 'title']) {
      assert.ok(!all.includes(absent), absent);
    }
  });

  it('does not take HTTP client calls in front-end code for routes', () => {
    const src = [
      "import axios from 'axios';",
      "const api = axios.create({ baseURL: '/api' });",
      "api.get('/users');",
      "axios.post('/login', credentials);",
      "http.get('/status', (res) => res.resume());",
      "cache.get('/key', fallback);",
    ].join('\n');
    assert.deepEqual(detectRoutes(src, 'typescript'), []);
  });

  it('recognises an app passed to a route module', () => {
    const src = "module.exports = function (app) {\n  app.get('/ping', (req, res) => res.send('pong'));\n};\n";
    const [r] = detectRoutes(src, 'javascript');
    assert.equal(r.route, '/ping');
    assert.equal(r.partial, true);
  });
});

describe('routes: Fastify', () => {
  const text = fixture('fastify_app.ts.txt');
  const routes = detectRoutes(text, 'typescript', 'fastify_app.ts');

  it('finds exactly the static routes, with plugin prefixes applied', () => {
    assert.deepEqual(keys(routes), [
      'DELETE /shorthand',
      'GET /from-plugin',
      'GET /ping',
      'GET /route-object/:id',
      'GET /typed/:id',
      'GET /unprefixed',
      'GET /users/',
      'GET /users/:userId',
      'HEAD /route-object/:id',
      'POST /with-options',
      'PUT /v2/settings',
    ]);
    assert.ok(routes.every((r) => r.framework === 'fastify'));
  });

  it('reads route({ method, url, handler }) objects', () => {
    const r = find(routes, 'HEAD', '/route-object/:id');
    assert.equal(r.handlerName, 'handler');
    assert.equal(r.decoratorLine, lineOf(text, 'fastify.route({'));
    const s = find(routes, 'DELETE', '/shorthand');
    assert.equal(s.handlerName, 'handler');
    assert.equal(s.endLine, lineOf(text, 'return null;') + 1);
  });

  it('skips TypeScript type arguments and annotations', () => {
    assert.equal(find(routes, 'GET', '/typed/:id').line, lineOf(text, "fastify.get<{ Params"));
    assert.equal(find(routes, 'GET', '/ping').endLine, lineOf(text, "return 'pong'") + 1);
  });

  it('resolves handlers declared as functions, and plugin prefixes from register()', () => {
    const c = find(routes, 'POST', '/with-options');
    assert.equal(c.handlerName, 'createThing');
    assert.equal(c.line, lineOf(text, 'async function createThing'));
    assert.equal(find(routes, 'GET', '/users/:userId').partial, undefined);
    assert.equal(find(routes, 'PUT', '/v2/settings').partial, undefined);
    assert.equal(find(routes, 'GET', '/from-plugin').partial, true);
  });
});

describe('routes: NestJS', () => {
  const text = fixture('nest_controller.ts.txt');
  const routes = detectRoutes(text, 'typescript', 'items.controller.ts');

  it('joins controller and method paths', () => {
    assert.deepEqual(keys(routes), [
      '* /admin/*',
      'DELETE /items/:id',
      'DELETE /items/by-name/:name',
      'GET /items',
      'GET /items/:id',
      'GET /status',
      'POST /items',
      'PUT /items/:id',
    ]);
    assert.ok(routes.every((r) => r.framework === 'nestjs' && r.partial === true));
  });

  it('places the handler on the method name and the decorator line on the first decorator', () => {
    const create = find(routes, 'POST', '/items');
    assert.equal(create.handlerName, 'create');
    assert.equal(create.className, 'ItemsController');
    assert.equal(create.line, lineOf(text, 'async create('));
    assert.equal(create.decoratorLine, lineOf(text, '@Post()'));
    assert.equal(create.endLine, lineOf(text, 'return { id: await') + 1);
    const update = find(routes, 'PUT', '/items/:id');
    assert.equal(update.line, lineOf(text, 'public async update('));
  });

  it('ignores decorators in strings and dynamic paths', () => {
    assert.ok(!routes.some((r) => r.route.includes('fake') || r.handlerName === 'dynamic'));
  });
});

describe('routes: JavaScript tokenizer edge cases', () => {
  it('reads handlers with typed parameters and return types', () => {
    const src = [
      "import express, { Request, Response } from 'express';",
      'export const app = express();',
      "app.get('/typed', async (req: Request, res: Response): Promise<void> => {",
      '  res.end();',
      '});',
    ].join('\n');
    const [r] = detectRoutes(src, 'typescript');
    assert.equal(r.route, '/typed');
    assert.equal(r.endLine, 4);
  });

  it('tells regex literals from divisions and keeps lines through comments and templates', () => {
    const src = [
      "const express = require('express');",
      'const app = express();',
      'const a = b / c; const d = /[/]app.get("\\/x")/;',
      '/* a block comment',
      "   app.get('/in-comment', h) */",
      'const t = `line one',
      "line two ${`nested ${'x'}`} app.get('/in-template', h)`;",
      "app.get('/real', (req, res) => res.end());",
    ].join('\n');
    const routes = detectRoutes(src, 'javascript');
    assert.deepEqual(keys(routes), ['GET /real']);
    assert.equal(routes[0].line, 7);
  });

  it('gives the same lines for CRLF line endings', () => {
    const text = fixture('express_app.js');
    assert.deepEqual(detectRoutes(text.replace(/\n/g, '\r\n'), 'javascript'), detectRoutes(text, 'javascript'));
  });

  it('does not treat a method named like an HTTP verb on a prototype key as a route', () => {
    const src = "const express = require('express');\nconst app = express();\napp.route('/r').constructor((req, res) => res.end());\n";
    assert.deepEqual(detectRoutes(src, 'javascript'), []);
  });
});
