import * as assert from 'node:assert/strict';
import { TelemetryStore } from '../../../src/core/store/store';
import type { ForwarderState } from '../../../src/core/forward/forwarder';
import type { RemoteRoute, RemoteState } from '../../../src/core/remote/remotePrometheus';
import { isDashboardState, isForwardView, isRemoteView, isUpstreamView, remoteRows, type CollectorView } from '../../../src/features/dashboard/protocol';
import { buildDashboardState, forwardView, remoteView, upstreamView, withRemoteRows, type RemoteRouteSource } from '../../../src/features/dashboard/model';

import { serverSpan } from '../helpers/telemetry';

const T0 = 1_700_000_000_000;
const collector: CollectorView = { state: 'listening', endpoint: 'http://127.0.0.1:4318' };

/** A remote source with fixed routes, looked up the way RemotePrometheus looks them up. */
function source(routes: RemoteRoute[], asOfMs = T0 - 5000): RemoteRouteSource {
  const byKey = new Map(routes.map((r) => [`${r.method} ${r.route}`, r]));
  return {
    figures: (method, route) => byKey.get(`${method.toUpperCase()} ${route}`) ?? byKey.get(` ${route}`),
    allRoutes: () => routes,
    state: () => ({ asOfMs }),
  };
}

const fig = (method: string, route: string, p95Ms: number | null, rps = 2, errorRate = 0.1): RemoteRoute => ({ method, route, p50Ms: p95Ms === null ? null : p95Ms / 3, p95Ms, p99Ms: p95Ms === null ? null : p95Ms * 2, rps, errorRate, rangeS: 3600, asOfMs: T0 - 5000 });

function storeWith(...routes: [string, string][]): TelemetryStore {
  const store = new TelemetryStore({}, { now: () => T0 });
  for (const [method, route] of routes) store.addSpans([serverSpan({ method, route, durationMs: 20, startMs: T0 - 2000, service: 'shop' }), serverSpan({ method, route, durationMs: 40, startMs: T0 - 1500, service: 'shop' })]);
  return store;
}

function forwarderState(over: Partial<ForwarderState> = {}): ForwarderState {
  const z = { traces: 0, logs: 0, metrics: 0 };
  return { endpoint: 'http://collector:4318', protocol: 'http/protobuf', signals: ['traces', 'logs', 'metrics'], services: [], state: 'ok', queueLimit: 8192, queued: { ...z, traces: 3 }, sent: { traces: 10, logs: 4, metrics: 1 }, dropped: { ...z, logs: 2 }, failed: { ...z, traces: 1 }, rejectedByUpstream: z, retries: 0, ...over };
}

describe('sidebar: remote figures and forwarding', () => {
  it('gives local rows the remote figures by method and route, and lists remote-only routes after them', () => {
    const store = storeWith(['GET', '/items/{item_id}'], ['POST', '/orders']);
    const remote = source([fig('GET', '/items/{item_id}', 312), fig('DELETE', '/orders/{id}', 90), fig('POST', '/orders', null, 0.5, 0)]);
    const s = buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: T0, remote });
    assert.equal(s.routes.length, 3);
    const items = s.routes.find((r) => r.route === '/items/{item_id}')!;
    assert.equal(items.count, 2, 'the local figures stay');
    assert.deepEqual(items.remote, { p50Ms: 104, p95Ms: 312, p99Ms: 624, rps: 2, errorRate: 0.1, rangeS: 3600, asOfMs: T0 - 5000 });
    assert.equal(items.remoteOnly, undefined);
    assert.equal(s.routes.find((r) => r.route === '/orders')!.remote!.p95Ms, null, 'a remote route without latency keeps its null');
    const only = s.routes[2];
    assert.equal(only.route, '/orders/{id}');
    assert.equal(only.remoteOnly, true);
    assert.equal(only.count, 0);
    assert.equal(only.p95Ms, null);
    assert.equal(only.remote!.p95Ms, 90);
    assert.ok(isDashboardState(s), 'the state with remote rows passes the guard');
    // Without a remote source, nothing of it.
    const plain = buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: T0 });
    assert.ok(plain.routes.every((r) => r.remote === undefined && !r.remoteOnly));
  });

  it('matches by route alone when the exporter has no method label, and does not list it twice', () => {
    const store = storeWith(['GET', '/a'], ['POST', '/a']);
    const rows = withRemoteRows(buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: T0 }).routes, source([fig('', '/a', 50), fig('', '/b', 70)]));
    assert.deepEqual(rows.map((r) => [r.method, r.route, r.remote?.p95Ms, !!r.remoteOnly]).sort(), [['', '/b', 70, true], ['GET', '/a', 50, false], ['POST', '/a', 50, false]]);
  });

  it('recomputes the rows when the remote source refreshes within the same second', () => {
    const store = storeWith(['GET', '/a']);
    let current = [fig('GET', '/a', 100)];
    let asOf = T0 - 1000;
    const live: RemoteRouteSource = { figures: (m, r) => current.find((x) => x.method === m && x.route === r), allRoutes: () => current, state: () => ({ asOfMs: asOf }) };
    const cache = {};
    const inp = { collector, windowSec: 60, service: null, paused: false, nowMs: T0, remote: live };
    assert.equal(buildDashboardState(store, inp, cache).routes[0].remote!.p95Ms, 100);
    current = [fig('GET', '/a', 180)];
    assert.equal(buildDashboardState(store, inp, cache).routes[0].remote!.p95Ms, 100, 'same second, same refresh: the cached rows');
    asOf = T0;
    assert.equal(buildDashboardState(store, inp, cache).routes[0].remote!.p95Ms, 180, 'a new refresh: fresh rows');
  });

  it('turns the forwarder state into sums, and says why there is none', () => {
    const v = forwardView({ endpoint: 'http://collector:4318', protocol: 'http/protobuf' }, forwarderState(), true);
    assert.deepEqual(v, { state: 'ok', endpoint: 'http://collector:4318', protocol: 'http/protobuf', sent: 15, queued: 3, dropped: 3, retries: 0 });
    const failing = forwardView({ endpoint: 'x', protocol: 'grpc' }, forwarderState({ state: 'retrying', retries: 4, lastError: { message: 'upstream unreachable (ECONNREFUSED)', atMs: T0 } }), true);
    assert.equal(failing.state, 'retrying');
    assert.equal(failing.lastError, 'upstream unreachable (ECONNREFUSED)');
    assert.equal(failing.retries, 4);
    assert.deepEqual(forwardView({ endpoint: 'ftp://x', protocol: 'http/protobuf' }, undefined, true, 'the URL must be http or https'), { state: 'off', endpoint: 'ftp://x', protocol: 'http/protobuf', sent: 0, queued: 0, dropped: 0, retries: 0, lastError: 'the URL must be http or https' });
    assert.equal(forwardView({ endpoint: 'http://c:4318', protocol: 'grpc' }, undefined, false).state, 'elsewhere');
    for (const f of [v, failing]) assert.ok(isForwardView(f));
  });

  it('keeps the remote state with its error, and is absent when nothing is configured', () => {
    const st: RemoteState = { url: 'http://prom:9090', selector: '{env="prod"}', preset: 'otel', rangeS: 3600, state: 'error', error: 'refused the credentials (401)', routes: 4, asOfMs: T0 - 60_000, lastAttemptMs: T0 };
    const r = remoteView('prod', st);
    assert.deepEqual(r, { label: 'prod', url: 'http://prom:9090', state: 'error', error: 'refused the credentials (401)', routes: 4, rangeS: 3600, asOfMs: T0 - 60_000 });
    assert.equal(upstreamView(undefined, undefined), undefined);
    const u = upstreamView(undefined, r)!;
    assert.equal(u.forward, undefined);
    assert.ok(isUpstreamView(u));
    assert.deepEqual(Object.keys(remoteView('staging', { ...st, state: 'pending', error: undefined, asOfMs: undefined })).sort(), ['label', 'rangeS', 'routes', 'state', 'url']);
  });

  it('guards refuse malformed upstream and remote fields', () => {
    const store = storeWith(['GET', '/a']);
    const s = buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: T0, remote: source([fig('GET', '/a', 10)]) });
    s.upstream = upstreamView(forwardView({ endpoint: 'http://c:4318', protocol: 'http/protobuf' }, forwarderState(), true), remoteView('prod', { url: 'http://p', selector: '', preset: null, rangeS: 60, state: 'ok', routes: 1 }));
    assert.ok(isDashboardState(s));
    type Copy = { upstream?: { forward: Record<string, unknown>; remote: Record<string, unknown> }; routes: { remote: Record<string, unknown>; remoteOnly?: unknown }[] };
    const bad = (mutate: (x: Copy & { upstream: NonNullable<Copy['upstream']> }) => void) => {
      const copy = JSON.parse(JSON.stringify(s)) as Copy & { upstream: NonNullable<Copy['upstream']> };
      mutate(copy);
      return isDashboardState(copy);
    };
    assert.equal(bad((x) => (x.upstream.forward.state = 'sideways')), false);
    assert.equal(bad((x) => (x.upstream.forward.sent = '15')), false);
    assert.equal(bad((x) => (x.upstream.forward.lastError = 42)), false);
    assert.equal(bad((x) => (x.upstream.remote.state = 'fine')), false);
    assert.equal(bad((x) => (x.upstream.remote.label = null)), false);
    assert.equal(bad((x) => (x.upstream.remote.asOfMs = 'now')), false);
    assert.equal(bad((x) => ((x as Record<string, unknown>).upstream = 'on')), false);
    assert.equal(bad((x) => (x.routes[0].remote.p95Ms = '10')), false);
    assert.equal(bad((x) => delete x.routes[0].remote.asOfMs), false);
    assert.equal(bad((x) => (x.routes[0].remoteOnly = 'yes')), false);
    assert.equal(bad((x) => delete (x as Copy).upstream), true, 'upstream is optional');
    assert.ok(!isRemoteView({ label: 'prod', url: 'u', state: 'ok', routes: 1 }), 'rangeS is required');
  });

  it('the table in remote mode shows the remote figures, dashes where there are none', () => {
    const store = storeWith(['GET', '/a'], ['GET', '/b']);
    const rows = buildDashboardState(store, { collector, windowSec: 60, service: null, paused: false, nowMs: T0, remote: source([fig('GET', '/a', 300, 7, 0.25), fig('GET', '/z', 5)]) }).routes;
    const shown = remoteRows(rows);
    const a = shown.find((r) => r.route === '/a')!;
    assert.deepEqual([a.p50Ms, a.p95Ms, a.p99Ms, a.rps, a.errorRate], [100, 300, 600, 7, 0.25]);
    assert.deepEqual(a.spark, [], 'no local sparkline beside remote figures');
    const b = shown.find((r) => r.route === '/b')!;
    assert.deepEqual([b.p95Ms, b.rps, b.errorRate, b.remote], [null, 0, 0, undefined]);
    assert.equal(shown.find((r) => r.route === '/z')!.remoteOnly, true);
  });
});
