/**
 * A viewer window's own telemetry reaches the owner: the debugger stops of the apps it debugs
 * (they send their requests to the owner's collector) and its debug console's log records. Two
 * real CollectorHosts on one port, as two windows have them.
 */
import * as assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { CollectorHost } from '../../../src/core/collectorHost';
import { silentLogger } from '../../../src/core/log';
import type { LogRecord, Span } from '../../../src/core/model';
import { TelemetryStore } from '../../../src/core/store/store';
import { freePort, until } from '../../support/net';
import { resource, serverSpan } from '../helpers/telemetry';

const TOKEN = 'viewer-to-owner-token-0123456789';
const PID = 4242;

function spanOf(pid: number, startMs: number, durationMs: number, route = '/orders/{id}'): Span {
  const s = serverSpan({ route, durationMs, startMs, service: 'orders' });
  s.resource = { ...s.resource, pid };
  return s;
}

describe('a viewer window tells the owner what its debugger and debug console saw', function () {
  this.timeout(30_000);
  let owner: CollectorHost;
  let viewer: CollectorHost;
  let ownerStore: TelemetryStore;
  let viewerStore: TelemetryStore;
  let port: number;

  beforeEach(async () => {
    port = await freePort();
    ownerStore = new TelemetryStore();
    viewerStore = new TelemetryStore();
    owner = new CollectorHost({ port, token: TOKEN, log: silentLogger, store: ownerStore, grpcPort: 0 });
    await owner.start();
    assert.equal(owner.state.mode, 'owner');
    viewer = new CollectorHost({ port, token: TOKEN, log: silentLogger, store: viewerStore, grpcPort: 0, takeoverRetryMs: 60_000 });
    void viewer.start();
    await until(() => viewer.state.mode === 'viewer', 'the second window attached as a viewer');
  });

  afterEach(async () => {
    await viewer.stop();
    await owner.stop();
  });

  it("keeps a request that spanned the viewer's breakpoint out of the owner's latency figures", async () => {
    const t0 = Date.now() - 20_000;
    for (let i = 0; i < 30; i++) ownerStore.addSpans([spanOf(PID, t0 + i * 100, 10 + (i % 5))]);
    // The viewer's debugger stopped the app for 8 s; the request then took 8 s.
    viewer.local.debuggerPaused(PID, t0 + 5_000);
    viewer.local.debuggerResumed(PID, t0 + 13_000);
    await until(() => owner.runtime!.counters.snapshot()['live.viewer.resumes'] === 1, 'the owner heard the stop and the resume');
    ownerStore.addSpans([spanOf(PID, t0 + 4_990, 8_020)]);
    const r = ownerStore.routeSummaries(60).find((x) => x.route === '/orders/{id}')!;
    assert.equal(r.count, 31);
    assert.equal(r.paused, 1, 'the owner marks the request paused');
    assert.ok(r.p99Ms! < 100, `p99 ${r.p99Ms} ms leaves the 8 s stop out`);
    // Another app's process is not affected by the stop.
    ownerStore.addSpans([spanOf(PID + 1, t0 + 4_990, 8_020, '/other')]);
    assert.equal(ownerStore.routeSummaries(60).find((x) => x.route === '/other')!.paused, 0);
  });

  it("stores the viewer's debug console records once, in every window", async () => {
    const log: LogRecord = { timeMs: Date.now(), severity: 'error', body: 'Traceback: KeyError <b>x</b>', attributes: { 'log.source': 'debug-console' }, resource: resource('orders'), exception: { type: 'KeyError', message: "'x'", frames: [{ file: '/app/orders.py', line: 12, function: 'get' }] } };
    viewer.local.addLogs([log]);
    await until(() => ownerStore.allLogs().length === 1, 'the owner has the record');
    await until(() => viewerStore.allLogs().length === 1, 'the viewer has it back through the live stream');
    const got = ownerStore.allLogs()[0];
    assert.equal(got.body, log.body);
    assert.equal(got.severity, 'error');
    assert.equal(got.exception?.type, 'KeyError');
    assert.equal(ownerStore.errorGroups().length, 1, 'an error group in the owner');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(viewerStore.allLogs().length, 1, 'not twice in the viewer');
  });

  it('refuses malformed viewer messages, counts them, and keeps going', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'pause', pid: -1, atMs: Date.now() }));
    ws.send(JSON.stringify({ type: 'pause', pid: 7, atMs: 'soon' }));
    ws.send(JSON.stringify({ type: 'logs', otlp: { resourceLogs: 'nope' } }));
    ws.send(JSON.stringify({ type: 'drop-tables' }));
    await until(() => (owner.runtime!.counters.snapshot()['live.viewer.rejected'] ?? 0) >= 4, 'the bad messages counted');
    ws.close();
    ownerStore.addSpans([spanOf(7, Date.now() - 50, 20)]);
    assert.equal(ownerStore.routeSummaries(60)[0].paused, 0, 'no pause from a bad message');
    assert.equal(owner.state.mode, 'owner');
  });
});
