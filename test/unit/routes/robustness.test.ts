import * as assert from 'node:assert/strict';
import { RouteLanguage, detectDjangoViews, detectRoutes } from '../../../src/core/routes';
import { fixture } from './fixtures';

/** A small seeded generator so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const FILES: Array<[string, RouteLanguage]> = [
  ['fastapi_app.py', 'python'],
  ['flask_app.py', 'python'],
  ['tricky.py', 'python'],
  ['django/urls.py', 'python'],
  ['express_app.js', 'javascript'],
  ['fastify_app.ts.txt', 'typescript'],
  ['nest_controller.ts.txt', 'typescript'],
];

describe('routes: robustness while the user types', () => {
  it('never throws on any prefix of the fixtures, and lines stay inside the text', () => {
    for (const [name, lang] of FILES) {
      const text = fixture(name);
      for (let cut = 0; cut <= text.length; cut += 7) {
        const part = text.slice(0, cut);
        const lineCount = part.split(/\r\n|\r|\n/).length;
        for (const r of detectRoutes(part, lang)) {
          assert.ok(r.line >= 0 && r.line < lineCount, `${name}@${cut}: line ${r.line}`);
          assert.ok(r.decoratorLine >= 0 && r.decoratorLine < lineCount, `${name}@${cut}: decorator ${r.decoratorLine}`);
          assert.ok(r.endLine === undefined || (r.endLine >= r.line && r.endLine < lineCount), `${name}@${cut}: end ${r.endLine}`);
        }
        if (name.startsWith('django')) detectDjangoViews(part);
      }
    }
  });

  it('never throws on random edits and noise', () => {
    const next = rng(42);
    const alphabet = ['(', ')', '[', ']', '{', '}', '"', "'", '`', '\\', '/', '#', '@', '\n', ' ', ':', '=', 'f"', '"""', '/*', '*/', '${', 'def ', 'app.get(', ','];
    for (const [name, lang] of FILES) {
      const text = fixture(name);
      for (let round = 0; round < 40; round++) {
        let s = text;
        for (let k = 0; k < 5; k++) {
          const at = Math.floor(next() * s.length);
          const piece = alphabet[Math.floor(next() * alphabet.length)];
          s = next() < 0.5 ? s.slice(0, at) + piece + s.slice(at) : s.slice(0, at) + s.slice(at + 1 + Math.floor(next() * 5));
        }
        assert.doesNotThrow(() => detectRoutes(s, lang), `${name} round ${round}`);
      }
      let noise = '';
      for (let k = 0; k < 2000; k++) noise += alphabet[Math.floor(next() * alphabet.length)];
      assert.doesNotThrow(() => detectRoutes(noise, lang));
    }
  });

  it('handles empty and whitespace-only files', () => {
    for (const lang of ['python', 'javascript', 'typescript'] as const) {
      assert.deepEqual(detectRoutes('', lang), []);
      assert.deepEqual(detectRoutes('\n\r\n  \t', lang), []);
      assert.deepEqual(detectRoutes('\ufeff', lang), []);
    }
  });
});
