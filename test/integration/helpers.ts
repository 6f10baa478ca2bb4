/** What the integration tests share: the extension's API and a polling wait. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { RoutelensApi } from '../../src/services';

/** The activated extension's API, once its collector has started (and, if asked, routes are indexed). */
export async function api(opts: { routesIndexed?: boolean } = {}): Promise<RoutelensApi> {
  const ext = vscode.extensions.getExtension<RoutelensApi>('routelens.routelens');
  assert.ok(ext, 'the Routelens extension is loaded');
  const a = await ext.activate();
  await (opts.routesIndexed ? a.whenRoutesIndexed() : a.whenStarted());
  return a;
}

/** Polls `f` until it returns something truthy; fails naming `what` after `ms`. */
export async function until<T>(f: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 15_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
