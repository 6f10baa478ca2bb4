import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DetectedRoute } from '../../../src/core/routes';

function fixturesDir(): string {
  // Compiled tests run from out/test/unit/routes; sources from test/unit/routes.
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'test', 'fixtures', 'routes');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/routes not found');
}

/** Absolute path of a file or directory of the route corpus. */
export function fixturePath(name: string): string {
  return join(fixturesDir(), name);
}

export function fixture(name: string): string {
  return readFileSync(join(fixturesDir(), name), 'utf8');
}

/** 0-based line of the `nth` line containing `needle`. */
export function lineOf(text: string, needle: string, nth = 0): number {
  const lines = text.split(/\r\n|\r|\n/);
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].includes(needle) && seen++ === nth) return i;
  }
  throw new Error(`no line containing ${JSON.stringify(needle)}`);
}

export function keys(routes: DetectedRoute[]): string[] {
  return routes.map((r) => `${r.method} ${r.route}`).sort();
}

export function find(routes: DetectedRoute[], method: string, route: string): DetectedRoute {
  const found = routes.filter((r) => r.method === method && r.route === route);
  assert.equal(found.length, 1, `expected one ${method} ${route}, got ${found.length} among\n${keys(routes).join('\n')}`);
  return found[0];
}
