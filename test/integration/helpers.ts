/** What the integration tests share: the extension's API and a polling wait. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { WebSocket } from 'ws';
import type { RoutelensApi } from '../../src/app/testApi';
import { until as pollUntil } from '../support/net';

/** The activated extension's API, once its collector has started (and, if asked, routes are indexed). */
export async function api(opts: { routesIndexed?: boolean } = {}): Promise<RoutelensApi> {
  const ext = vscode.extensions.getExtension<RoutelensApi>('routelens.routelens');
  assert.ok(ext, 'the Routelens extension is loaded');
  const a = await ext.activate();
  await (opts.routesIndexed ? a.whenRoutesIndexed() : a.whenStarted());
  return a;
}

/** Polls `f` until it returns something truthy (every 50 ms here); fails naming `what` after `ms`. */
export function until<T>(f: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 15_000, everyMs = 50): Promise<T> {
  return pollUntil(f, what, ms, everyMs);
}

/** Sends one batch of native-protocol spans as service `service` and waits for its ack. */
export function sendBatch(port: number, spans: unknown[], service: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': service } }));
      ws.send(JSON.stringify({ v: 1, type: 'batch', spans }));
    });
    ws.on('message', (d) => {
      if (JSON.parse(d.toString()).type === 'ack') {
        ws.close();
        resolve();
      }
    });
    ws.on('error', reject);
  });
}
