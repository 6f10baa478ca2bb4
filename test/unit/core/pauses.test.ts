import * as assert from 'node:assert/strict';
import { DebugSessionPauses } from '../../../src/core/debugPauses';
import { exportOtlpJson, importOtlpJson } from '../../../src/core/importExport';
import { PAUSED_MS_ATTRIBUTE, type Span } from '../../../src/core/model';
import { handlerStatsForFile } from '../../../src/core/routes/handlerStats';
import { hoverHeadline, lensTitle } from '../../../src/features/codeLens/lensText';
import { normalizeRoute } from '../../../src/core/routes/normalize';
import { RouteIndex } from '../../../src/core/routes/routeIndex';
import { PauseLedger } from '../../../src/core/store/pauses';
import { TelemetryStore } from '../../../src/core/store/store';
import { isTraceView } from '../../../src/features/traces/protocol';
import { buildTraceView, traceListRows } from '../../../src/features/traces/model';
import { serverSpan } from '../helpers/telemetry';

const PID = 4242;
const T0 = 1_800_000_000_000;

function spanOf(pid: number | undefined, startMs: number, durationMs: number, status = 200): Span {
  const s = serverSpan({ startMs, durationMs, status, route: '/items/{item_id}' });
  if (pid !== undefined) s.resource = { ...s.resource, pid };
  return s;
}

describe('debugger pauses', () => {
  describe('PauseLedger', () => {
    it('clips stops to a request, counts an open stop up to now, and ignores other processes', () => {
      const l = new PauseLedger();
      l.paused(PID, T0 + 100);
      l.paused(PID, T0 + 150); // a second stopped event while stopped changes nothing
      l.resumed(PID, T0 + 300);
      l.paused(PID, T0 + 500);
      assert.deepEqual(l.overlap(PID, T0, T0 + 400, T0 + 1000), { pausedMs: 200, bands: [{ startMs: T0 + 100, endMs: T0 + 300 }] });
      assert.deepEqual(l.overlap(PID, T0 + 200, T0 + 600, T0 + 1000), {
        pausedMs: 200,
        bands: [
          { startMs: T0 + 200, endMs: T0 + 300 },
          { startMs: T0 + 500, endMs: T0 + 600 },
        ],
      });
      // Still stopped: counts up to now when the request claims to end later.
      assert.equal(l.overlap(PID, T0 + 400, T0 + 5000, T0 + 700).pausedMs, 200);
      assert.equal(l.isPaused(PID), true);
      assert.equal(l.overlap(PID + 1, T0, T0 + 1000, T0 + 1000).pausedMs, 0);
      assert.equal(l.overlap(undefined, T0, T0 + 1000, T0 + 1000).pausedMs, 0);
      assert.equal(l.overlap(PID, T0 + 310, T0 + 490, T0 + 1000).pausedMs, 0, 'between two stops');
    });

    it('stays bounded: old stops and quiet processes are forgotten', () => {
      const l = new PauseLedger();
      for (let i = 0; i < 2000; i++) {
        l.paused(PID, T0 + i * 10);
        l.resumed(PID, T0 + i * 10 + 5);
      }
      assert.equal(l.overlap(PID, T0, T0 + 10_000, T0 + 30_000).bands.length, 0, 'the first 1,500 stops are forgotten');
      assert.equal(l.overlap(PID, T0, T0 + 30_000, T0 + 30_000).bands.length, 500);
      l.resumed(PID, T0 + 40_000);
      for (let pid = 1; pid <= 100; pid++) l.paused(pid, T0 + 50_000 + pid);
      assert.equal(l.overlap(PID, T0, T0 + 30_000, T0 + 30_000).bands.length, 0, 'the running process went first');
      let known = 0;
      for (let pid = 1; pid <= 100; pid++) if (l.isPaused(pid)) known++;
      assert.equal(known, 64, 'never more processes than the bound');
      assert.equal(l.isPaused(100), true, 'the newest stops are kept');
      assert.equal(l.isPaused(1), false);
    });
  });

  describe('DebugSessionPauses (the Debug Adapter Protocol side)', () => {
    function session() {
      const calls: string[] = [];
      let now = T0;
      const p = new DebugSessionPauses({ debuggerPaused: (pid, at) => void calls.push(`pause ${pid} ${at! - T0}`), debuggerResumed: (pid, at) => void calls.push(`resume ${pid} ${at! - T0}`) }, () => now);
      return { p, calls, at: (ms: number) => (now = T0 + ms) };
    }
    const ev = (event: string, body: object) => ({ type: 'event', event, body });

    it("follows debugpy: all threads stop, the editor's continue resumes them before the adapter says so", () => {
      const { p, calls, at } = session();
      p.fromAdapter(ev('process', { systemProcessId: PID, name: 'app' }));
      at(100);
      p.fromAdapter(ev('stopped', { reason: 'breakpoint', threadId: 3, allThreadsStopped: true }));
      at(150);
      p.fromAdapter(ev('stopped', { reason: 'breakpoint', threadId: 4, allThreadsStopped: true }));
      at(900);
      p.toAdapter({ type: 'request', command: 'continue', arguments: { threadId: 3 } });
      at(950);
      p.fromAdapter(ev('continued', { threadId: 3, allThreadsContinued: true }));
      assert.deepEqual(calls, [`pause ${PID} 100`, `resume ${PID} 900`]);
      assert.equal(p.stopped, false);
    });

    it('keeps the process stopped while any one thread is, and ends a stop when the session ends', () => {
      const { p, calls, at } = session();
      at(10);
      p.fromAdapter(ev('stopped', { threadId: 1 })); // before the process event: reported once the pid is known
      p.fromAdapter(ev('process', { systemProcessId: PID }));
      p.fromAdapter(ev('stopped', { threadId: 2, allThreadsStopped: false }));
      at(20);
      p.toAdapter({ type: 'request', command: 'next', arguments: { threadId: 1, singleThread: true } });
      assert.equal(p.stopped, true, 'thread 2 is still stopped');
      at(30);
      p.fromAdapter(ev('exited', { exitCode: 0 }));
      assert.deepEqual(calls, [`pause ${PID} 10`, `resume ${PID} 30`]);
      p.toAdapter({ type: 'request', command: 'evaluate', arguments: {} });
      p.fromAdapter({ type: 'event', event: 'stopped' }); // no body: the whole process
      assert.equal(p.stopped, true);
      p.fromAdapter(null);
      p.toAdapter('garbage');
    });
  });

  describe('the store', () => {
    it('counts a paused request but keeps its latency out of the percentiles, the sketches and the slow lists', () => {
      let now = T0;
      const store = new TelemetryStore({}, { now: () => now });
      for (let i = 0; i < 40; i++) store.addSpans([spanOf(PID, T0 + i * 100, 20)]);
      now = T0 + 5000;
      const before = store.routeSummaries(60)[0];
      assert.equal(before.count, 40);
      assert.ok(before.p95Ms! < 25);

      // A request stopped 30 s at a breakpoint.
      store.debuggerPaused(PID, T0 + 5010);
      now = T0 + 35_010;
      store.debuggerResumed(PID, now);
      now = T0 + 35_020;
      const held = spanOf(PID, T0 + 5000, 30_020);
      store.addSpans([held]);

      const after = store.routeSummaries(60)[0];
      assert.equal(after.count, 41, 'the paused request counts');
      assert.equal(after.paused, 1);
      assert.equal(after.p95Ms, before.p95Ms, 'p95 unchanged by the breakpoint');
      assert.equal(after.p99Ms, before.p99Ms);
      assert.equal(held.pausedMs, 30_000);
      assert.deepEqual(held.pauses, [{ startMs: T0 + 5010, endMs: T0 + 35_010 }]);
      assert.equal(held.attributes[PAUSED_MS_ATTRIBUTE], 30_000);

      const route = { service: held.resource.serviceName, method: 'GET', route: '/items/{item_id}' };
      assert.equal(store.routeRequestsOf(route, { minDurationMs: 1000 }).length, 0, 'not in the slow list');
      assert.equal(store.recentRequests({ minDurationMs: 1000 }).length, 0);
      const listed = store.routeRequestsOf(route, { limit: 1 })[0];
      assert.equal(listed.pausedMs, 30_000, 'listed with its pause');
      assert.equal(store.route(route)!.series.total.max < 25, true, 'the all-time sketch never saw 30 s');
      assert.equal(store.serviceSeriesOf(held.resource.serviceName)!.window(now / 1000, 60).paused, 1);

      // Another process's request at the same time is latency as usual.
      const other = spanOf(PID + 1, T0 + 5000, 30_020);
      store.addSpans([other]);
      assert.equal(other.pausedMs, undefined);
      assert.ok(store.routeSummaries(60)[0].p99Ms! > 20_000);
    });

    it('keeps a paused error an error, and a route with only paused requests has no percentiles', () => {
      let now = T0;
      const store = new TelemetryStore({}, { now: () => now });
      store.debuggerPaused(PID, T0 + 10);
      now = T0 + 2000;
      store.debuggerResumed(PID, now);
      store.addSpans([spanOf(PID, T0, 2010, 500)]);
      const s = store.routeSummaries(60)[0];
      assert.equal(s.count, 1);
      assert.equal(s.errorRate, 1);
      assert.equal(s.paused, 1);
      assert.equal(s.p95Ms, null);
    });

    it('keeps the mark through an export and import (snapshots, Export Data)', () => {
      let now = T0;
      const store = new TelemetryStore({}, { now: () => now });
      store.debuggerPaused(PID, T0 + 10);
      now = T0 + 1000;
      store.debuggerResumed(PID, now);
      store.addSpans([spanOf(PID, T0, 1010)]);
      const restored = new TelemetryStore({}, { now: () => now });
      importOtlpJson(restored, exportOtlpJson(store));
      const s = restored.routeSummaries(60)[0];
      assert.equal(s.paused, 1);
      assert.equal(s.p95Ms, null);
      assert.equal(restored.allSpans()[0].pausedMs, 990);
    });

    it('ignores malformed pause attributes from a sender', () => {
      const store = new TelemetryStore({}, { now: () => T0 + 1000 });
      const bad = spanOf(PID, T0, 500);
      bad.attributes['routelens.debug.pauses'] = ['x', 1, 2];
      store.addSpans([bad]);
      assert.equal(bad.pausedMs, undefined);
      assert.equal(store.routeSummaries(60)[0].paused, 0);
    });
  });

  describe('the trace panel', () => {
    it('gets the pause as a band on the trace time axis, child spans merged into one', () => {
      let now = T0;
      const store = new TelemetryStore({}, { now: () => now });
      store.debuggerPaused(PID, T0 + 100);
      now = T0 + 5100;
      store.debuggerResumed(PID, now);
      const root = spanOf(PID, T0, 5200);
      const child: Span = { ...spanOf(PID, T0 + 50, 5100), traceId: root.traceId, parentSpanId: root.spanId, kind: 'internal' };
      store.addSpans([root, child]);
      const view = JSON.parse(JSON.stringify(buildTraceView(root.traceId, store.trace(root.traceId), [])));
      assert.ok(isTraceView(view));
      assert.deepEqual(view.pauses, [{ offsetMs: 100, durationMs: 5000 }]);
      const unpaused = buildTraceView('x', [spanOf(PID + 1, T0, 10)], []);
      assert.equal(unpaused?.pauses, undefined);
      assert.equal(isTraceView({ ...view, pauses: [{ offsetMs: 'x' }] }), false);

      const route = { service: root.resource.serviceName, method: 'GET', route: '/items/{item_id}' };
      const listed = traceListRows(store, route, { errorsOnly: false, slowOnly: false, rangeSec: 0 }, 10, now);
      assert.equal(listed.rows[0].pausedMs, 5000);
      assert.equal(traceListRows(store, route, { errorsOnly: false, slowOnly: true, rangeSec: 0 }, 10, now).rows.length, 0, 'a paused request is not "slower than p95"');
    });
  });

  describe('lens and hover', () => {
    it('say how many requests were paused', () => {
      let now = T0;
      const store = new TelemetryStore({}, { now: () => now });
      const index = new RouteIndex();
      index.setFile('file:///app.py', [{ method: 'GET', route: '/items/{item_id}', normalized: normalizeRoute('/items/{item_id}'), line: 22, decoratorLine: 21, handlerName: 'get_item', framework: 'fastapi' }]);
      for (let i = 0; i < 10; i++) store.addSpans([spanOf(PID, T0 + i * 10, 12)]);
      store.debuggerPaused(PID, T0 + 200);
      now = T0 + 10_200;
      store.debuggerResumed(PID, now);
      store.addSpans([spanOf(PID, T0 + 150, 10_060)]);
      const [s] = handlerStatsForFile('file:///app.py', index, store, 60, now);
      assert.equal(s.paused, 1);
      assert.equal(s.count, 11);
      assert.match(lensTitle(s, true), /^p50 12 ms · p95 12 ms · .* req\/s · 0\.0% errors · 1 paused$/);
      assert.match(hoverHeadline(s), /^11 requests .* · 1 paused at a breakpoint \(counted, not in the percentiles\)$/);
    });
  });
});
