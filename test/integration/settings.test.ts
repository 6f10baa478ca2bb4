import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as vscode from 'vscode';
import { serverSpan } from '../unit/helpers/telemetry';
import { api, until } from './helpers';
import { freePort } from '../support/net';
import { RESTART_KEYS, RESTRICTED_KEYS, SETTINGS } from '../../src/settings';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

describe('settings that change the collector', function () {
  this.timeout(40_000);
  const config = () => vscode.workspace.getConfiguration('routelens');

  after(async () => {
    await config().update('collector.grpcPort', undefined, vscode.ConfigurationTarget.Global);
    await config().update('store.maxSpans', undefined, vscode.ConfigurationTarget.Global);
  });

  it('moves the OTLP/gRPC listener when routelens.collector.grpcPort changes', async () => {
    const a = await api();
    const before = a.grpcPort;
    assert.ok(before > 0, 'gRPC listens at start');
    const port = await freePort();
    await config().update('collector.grpcPort', port, vscode.ConfigurationTarget.Global);
    await until(() => a.grpcPort === port, `gRPC on ${port} (it is on ${a.grpcPort})`);
    assert.ok(await accepts(port), 'the new port accepts connections');
    await until(async () => !(await accepts(before)), 'the old port closed');
  });

  it('enforces a lower routelens.store.maxSpans at once, keeping the newest spans', async () => {
    const a = await api();
    await a.whenStarted();
    a.store.clear();
    const spans = Array.from({ length: 300 }, (_, i) => serverSpan({ route: `/r${i % 3}`, durationMs: 5, startMs: Date.now() - 1000 + i }));
    a.store.addSpans(spans);
    assert.equal(a.store.sizes().spans, 300);
    await config().update('store.maxSpans', 100, vscode.ConfigurationTarget.Global);
    await until(() => a.store.sizes().spans === 100, `100 spans kept (${a.store.sizes().spans})`);
    const kept = new Set(a.store.allSpans().map((s) => s.spanId));
    assert.ok(spans.slice(200).every((s) => kept.has(s.spanId)), 'the newest 100 are the ones kept');
    assert.equal(a.store.routeSummaries(60).reduce((n, r) => n + r.count, 0), 300, 'route statistics keep every request');
    // Still enforced for what arrives next.
    a.store.addSpans([serverSpan({ route: '/r0', durationMs: 5 })]);
    assert.equal(a.store.sizes().spans, 100);
  });
});

describe('the settings table', () => {
  it('has every setting of package.json, with its default, and nothing else', () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON?.name === 'routelens');
    assert.ok(ext, 'the Routelens extension is loaded');
    const declared = ext.packageJSON.contributes.configuration.properties as Record<string, { default?: unknown }>;
    const table = SETTINGS as Record<string, { default: unknown }>;
    assert.deepEqual(Object.keys(table).map((k) => `routelens.${k}`).sort(), Object.keys(declared).sort());
    for (const [key, s] of Object.entries(table)) assert.deepEqual(s.default, declared[`routelens.${key}`].default, key);
    assert.ok(RESTART_KEYS.includes('routelens.collector.grpcPort'));
    assert.ok(!RESTART_KEYS.some((k) => k.startsWith('routelens.store.')), 'the store resizes in place');
  });

  it('declares the settings an untrusted workspace may not set, and they are settings', () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON?.name === 'routelens')!;
    const caps = ext.packageJSON.capabilities as { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] }; virtualWorkspaces: { supported: string } };
    assert.equal(caps.untrustedWorkspaces.supported, 'limited');
    assert.deepEqual([...caps.untrustedWorkspaces.restrictedConfigurations].sort(), [...RESTRICTED_KEYS].sort());
    const declared = ext.packageJSON.contributes.configuration.properties as Record<string, unknown>;
    for (const k of RESTRICTED_KEYS) assert.ok(k in declared, k);
    assert.ok(RESTRICTED_KEYS.includes('routelens.collector.listenAddress'), 'a workspace cannot open the collector to the network');
    assert.deepEqual(ext.packageJSON.extensionKind, ['workspace'], 'the collector runs where the app runs (remote, container)');
  });
});
