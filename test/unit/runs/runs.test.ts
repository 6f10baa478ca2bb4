import * as assert from 'node:assert/strict';
import type { Resource, Span } from '../../../src/core/model';
import { isFlagged, lensSuffix, hoverComparison, quantileInterval, runFromStored, runToStored } from '../../../src/core/runs';
import { LatencySketch } from '../../../src/core/stats/sketch';
import { TelemetryStore } from '../../../src/core/store/store';
import { handleQuery } from '../../../src/core/collector/queryApi';
import { Rng } from '../../fuzz/random';
import { hex } from '../helpers/telemetry';

const T0 = 1_800_000_000_000;

function agentResource(service: string, instance: string, startedMs?: number): Resource {
  const attributes: Resource['attributes'] = { 'service.name': service, 'service.instance.id': instance };
  if (startedMs !== undefined) attributes['process.creation.time'] = new Date(startedMs).toISOString();
  return { serviceName: service, instanceId: instance, sdk: 'routelens-python/0.1.0', attributes };
}

function request(res: Resource, route: string, endMs: number, ms: number, opts: { status?: number; method?: string; exception?: { type: string; line: number } } = {}): Span {
  const method = opts.method ?? 'GET';
  const status = opts.status ?? 200;
  const span: Span = {
    traceId: hex(16),
    spanId: hex(8),
    name: `${method} ${route}`,
    kind: 'server',
    startMs: endMs - ms,
    endMs,
    status: status >= 500 ? 'error' : 'unset',
    attributes: {},
    events: [],
    links: [],
    resource: res,
    http: { method, route, statusCode: status },
    code: { file: '/srv/app/main.py', line: 10, function: 'handler' },
  };
  if (opts.exception) span.exception = { type: opts.exception.type, message: 'boom', frames: [{ file: '/srv/app/main.py', line: opts.exception.line, function: 'handler' }] };
  return span;
}

describe('runs: detection', () => {
  it('a new agent instance is a new run; the previous run ends; workers started together are one run', () => {
    let now = T0;
    const store = new TelemetryStore({}, { now: () => now });
    const a = agentResource('api', 'host-100', T0 - 1000);
    store.addSpans([request(a, '/a', now, 5)]);
    now += 5000;
    store.addSpans([request(a, '/a', now, 5)]);
    assert.equal(store.runs.runs('api').length, 1);
    // Two workers of the next server, started a second apart.
    now += 60_000;
    const w1 = agentResource('api', 'host-200', now - 2000);
    const w2 = agentResource('api', 'host-201', now - 1000);
    store.addSpans([request(w1, '/a', now, 5), request(w2, '/a', now, 5)]);
    const runs = store.runs.runs('api');
    assert.equal(runs.length, 2);
    assert.deepEqual(runs[0].instances, ['host-200', 'host-201']);
    assert.equal(runs[0].requests, 2);
    assert.equal(runs[1].ended, true);
    assert.equal(runs[1].endMs, T0 + 5000);
    assert.equal(runs[1].requests, 2);
    // A late request of the old process still counts in its own run.
    store.addSpans([request(a, '/a', now, 5)]);
    assert.equal(store.runs.runs('api')[1].requests, 3);
    assert.equal(store.runs.runs('api').length, 2);
  });

  it('a process restarted a few seconds later is a new run; one with another parent is no worker of this run', () => {
    const now = T0;
    const store = new TelemetryStore({}, { now: () => now });
    const withParent = (inst: string, started: number, ppid: number) => {
      const r = agentResource('api', inst, started);
      r.attributes['process.parent_pid'] = ppid;
      return r;
    };
    store.addSpans([request(withParent('p1', T0 - 10_000, 50), '/a', now, 5)]);
    store.addSpans([request(withParent('p2', T0 - 9_000, 50), '/a', now, 5)]);
    assert.equal(store.runs.runs('api').length, 1, 'workers: started 1 s apart, same parent');
    store.addSpans([request(withParent('p3', T0 - 8_500, 77), '/a', now, 5)]);
    assert.equal(store.runs.runs('api').length, 2, 'another parent: another server');
    store.addSpans([request(withParent('p4', T0 - 3_000, 77), '/a', now, 5)]);
    assert.equal(store.runs.runs('api').length, 3, 'a reload 5.5 s later: a new run');
  });

  it('a sender without an instance id starts a new run after a pause longer than the setting', () => {
    let now = T0;
    const store = new TelemetryStore({}, { now: () => now });
    store.runs.pauseMs = 60_000;
    const res: Resource = { serviceName: 'otel', attributes: {} };
    store.addSpans([request(res, '/x', now, 5)]);
    now += 59_000;
    store.addSpans([request(res, '/x', now, 5)]);
    assert.equal(store.runs.runs('otel').length, 1);
    now += 61_000;
    store.addSpans([request(res, '/x', now, 5)]);
    assert.equal(store.runs.runs('otel').length, 2);
    assert.equal(store.runs.runs('otel')[0].source, 'traffic');
  });

  it('keeps per route counts, errors, time by kind, error groups and a bounded sample of the slowest and failed requests', () => {
    const now = T0;
    const store = new TelemetryStore({}, { now: () => now });
    const res = agentResource('api', 'i1');
    const spans: Span[] = [];
    for (let i = 1; i <= 30; i++) {
      const s = request(res, '/items', now - 100 + i, i, { status: i % 10 === 0 ? 500 : 200, exception: i % 10 === 0 ? { type: 'KeyError', line: 42 } : undefined });
      const db: Span = { ...s, spanId: hex(8), parentSpanId: s.spanId, kind: 'client', name: 'SELECT', http: undefined, exception: undefined, attributes: { 'db.system': 'sqlite' }, startMs: s.startMs, endMs: s.startMs + i / 2 };
      spans.push(db, s);
    }
    store.addSpans(spans);
    const run = store.runs.latest('api')!;
    const r = run.routes.get('GET /items')!;
    assert.equal(r.count, 30);
    assert.equal(r.errors, 3);
    assert.equal(r.sketch.count, 30);
    assert.deepEqual(r.slowest.map((x) => x.durationMs), [30, 29, 28, 27, 26]);
    assert.equal(r.failed.length, 3);
    assert.ok(r.failed.every((x) => x.error));
    assert.equal(r.kinds.requests, 30);
    assert.ok(Math.abs(r.kinds.db - (30 * 31) / 4) < 1e-6);
    const groups = [...run.errorGroups.values()];
    assert.equal(groups.length, 1);
    assert.equal(groups[0].type, 'KeyError');
    assert.equal(groups[0].count, 3);
    assert.equal(groups[0].location?.line, 42);
  });

  it('test-client traffic is no run', () => {
    const store = new TelemetryStore({}, { now: () => T0 });
    const s = request(agentResource('api', 'i1'), '/t', T0, 3);
    s.attributes['test.case.name'] = 'test_x';
    store.addSpans([s]);
    assert.equal(store.runs.runs('api').length, 0);
  });
});

describe('runs: stored form', () => {
  it('a run survives its plain form with the same figures', () => {
    const store = new TelemetryStore({}, { now: () => T0 });
    const res = agentResource('api', 'i1');
    store.addSpans(Array.from({ length: 100 }, (_, i) => request(res, '/r', T0 - 1000 + i, 1 + i * 1.7, { status: i % 25 === 0 ? 500 : 200, exception: i % 25 === 0 ? { type: 'E', line: 3 } : undefined })));
    const run = store.runs.latest('api')!;
    const back = runFromStored(JSON.parse(JSON.stringify(runToStored(run))));
    const a = run.routes.get('GET /r')!;
    const b = back.routes.get('GET /r')!;
    for (const q of [0.5, 0.95, 0.99]) assert.equal(b.sketch.quantile(q), a.sketch.quantile(q));
    assert.equal(b.count, 100);
    assert.equal(b.errors, 4);
    assert.equal(back.errorGroups.size, 1);
    assert.equal(back.requests, run.requests);
  });

  it('a malformed sketch or run is refused with an error, not taken in', () => {
    assert.throws(() => LatencySketch.decode({ a: 2, o: 0, c: [], z: 0, n: 1, s: 1, lo: 1, hi: 1 }), /malformed/);
    assert.throws(() => LatencySketch.decode({ a: 0.005, o: 0, c: [-1], z: 0, n: 1, s: 1, lo: 1, hi: 1 }), /malformed/);
    assert.throws(() => runFromStored({ id: 1 } as never), /malformed/);
  });
});

describe('runs: comparison', () => {
  it('the quantile interval holds the quantile and narrows with more requests', () => {
    const rng = new Rng(7);
    const small = new LatencySketch();
    const big = new LatencySketch();
    for (let i = 0; i < 300; i++) small.add(10 + rng.float() * 10);
    for (let i = 0; i < 10_000; i++) big.add(10 + rng.float() * 10);
    const [a, b] = quantileInterval(small, 0.95)!;
    const [c, d] = quantileInterval(big, 0.95)!;
    assert.ok(a <= small.quantile(0.95) && small.quantile(0.95) <= b);
    assert.ok(d - c < (b - a) / 2, `${d - c} vs ${b - a}`);
  });

  /**
   * Two runs of eight routes, every request with random (log-normal) latency noise and each route
   * drifting up to ±3% between runs; the second run makes one handler 60% slower and raises a new
   * exception in it. Twenty repetitions: only the slowed route is ever flagged (and always),
   * the only new error group is the new exception.
   */
  it('flags the slowed route and the new error and nothing else, over 20 noisy repetitions', () => {
    const routes = ['/a', '/b', '/c', '/d', '/e', '/f', '/g', '/h'];
    const medians = [2, 5, 12, 20, 35, 60, 110, 250];
    for (let rep = 0; rep < 20; rep++) {
      const rng = new Rng(1000 + rep);
      const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
      let now = T0;
      const store = new TelemetryStore({}, { now: () => now });
      const runOnce = (instance: string, slowRoute: string | undefined, newError: boolean) => {
        const res = agentResource('shop', instance, now);
        const drift = routes.map(() => 1 + (rng.float() - 0.5) * 0.06);
        for (let i = 0; i < 250; i++) {
          const batch: Span[] = [];
          routes.forEach((route, k) => {
            let ms = medians[k] * drift[k] * Math.exp(0.35 * gauss());
            if (route === slowRoute) ms *= 1.6;
            const fails = rng.chance(0.02);
            const raise = newError && route === slowRoute && i % 10 === 0;
            batch.push(request(res, route, now, ms, { status: fails || raise ? 500 : 200, exception: raise ? { type: 'ValueError', line: 77 } : fails ? { type: 'TimeoutError', line: 5 } : undefined }));
          });
          store.addSpans(batch);
          now += 40;
        }
        now += 30_000;
      };
      runOnce(`h-${rep}-1`, undefined, false);
      const slow = routes[rng.int(routes.length)];
      runOnce(`h-${rep}-2`, slow, true);
      const c = store.runs.comparison('shop')!;
      assert.equal(c.baselineKind, 'previous');
      const flagged = c.routes.filter((r) => isFlagged(r.change)).map((r) => r.route);
      assert.deepEqual(flagged, [slow], `repetition ${rep}: flagged ${JSON.stringify(c.routes.filter((r) => isFlagged(r.change)).map((r) => [r.route, r.change]))}`);
      assert.ok(c.routes.every((r) => r.change.rps === undefined), `repetition ${rep}: a rate change`);
      assert.deepEqual(c.newErrorGroups.map((g) => g.type), ['ValueError'], `repetition ${rep}`);
      assert.deepEqual(c.newRoutes, []);
      assert.deepEqual(c.goneRoutes, []);
      const suffix = lensSuffix(store.runs, [{ service: 'shop', method: 'GET', route: slow }]);
      assert.match(suffix, / · p\d\d ▲ \+\d.* vs last run$/);
      assert.equal(lensSuffix(store.runs, [{ service: 'shop', method: 'GET', route: slow === '/a' ? '/b' : '/a' }]), '');
    }
  });

  it('compares with a pinned baseline once pinned, lists new and gone routes, and shows both distributions', () => {
    let now = T0;
    const store = new TelemetryStore({}, { now: () => now });
    const run = (inst: string, routes: [string, number][]) => {
      const res = agentResource('svc', inst, now);
      for (let i = 0; i < 250; i++) {
        store.addSpans(routes.map(([r, ms]) => request(res, r, now, ms + (i % 10) * 0.1)));
        now += 10;
      }
      now += 60_000;
    };
    run('r1', [['/x', 10], ['/old', 5]]);
    const first = store.runs.latest('svc')!;
    store.runs.pin(first.id);
    run('r2', [['/x', 10]]);
    run('r3', [['/x', 30], ['/new', 5]]);
    const c = store.runs.comparison('svc')!;
    assert.equal(c.baselineKind, 'pinned');
    assert.equal(c.baseline!.id, first.id);
    assert.deepEqual(c.newRoutes, [{ method: 'GET', route: '/new' }]);
    assert.deepEqual(c.goneRoutes, [{ method: 'GET', route: '/old' }]);
    const x = c.routes.find((r) => r.route === '/x')!;
    assert.ok(x.change.p95Ms && x.change.p95Ms.delta > 15);
    assert.match(lensSuffix(store.runs, [{ service: 'svc', method: 'GET', route: '/x' }]), /p95 ▲ \+20 ms vs baseline/);
    const hover = hoverComparison(store.runs, [{ service: 'svc', method: 'GET', route: '/x' }]);
    assert.match(hover, /baseline/);
    assert.match(hover, /this run/);
    assert.ok(hover.split('\n').some((l) => /█.*\s{2}█/.test(l)) || hover.split('\n').filter((l) => l.includes('█')).length >= 2, hover);
    store.runs.unpin('svc');
    assert.equal(store.runs.comparison('svc')!.baselineKind, 'previous');
  });
});

describe('runs: query API', () => {
  it('/api/v1/runs and /api/v1/routes?window=run&compare=baseline', () => {
    let now = T0;
    const store = new TelemetryStore({}, { now: () => now });
    const info = { counters: store.counters, connectionCount: 0, port: 0 };
    const q = (path: string, params: Record<string, string>) => handleQuery(path, new URLSearchParams(params), store, info);
    assert.equal(q('/api/v1/routes', { window: 'run', service: 'svc' }).status, 404);
    assert.equal(q('/api/v1/routes', { window: 'run' }).status, 400);
    assert.equal(q('/api/v1/routes', { window: '60', compare: 'baseline' }).status, 400);
    for (const [inst, ms] of [['a', 10], ['b', 25]] as const) {
      const res = agentResource('svc', inst, now);
      for (let i = 0; i < 250; i++) {
        store.addSpans([request(res, '/x', now, ms + (i % 10) * 0.1), request(res, '/y', now, 5 + (i % 10) * 0.1)]);
        now += 10;
      }
      now += 60_000;
    }
    const runs = q('/api/v1/runs', { service: 'svc' }).body as { runs: { id: string; endMs: number | null; requests: number }[]; pinned: Record<string, string | null> };
    assert.equal(runs.runs.length, 2);
    assert.equal(runs.runs[0].endMs, null);
    assert.ok(runs.runs[1].endMs! > 0);
    assert.equal(runs.runs[0].requests, 500);
    assert.deepEqual(runs.pinned, { svc: null });
    const plain = q('/api/v1/routes', { window: 'run', service: 'svc' }).body as { routes: Record<string, unknown>[] };
    assert.equal(plain.routes.length, 2);
    assert.ok(!('baseline' in plain.routes[0]));
    const cmp = q('/api/v1/routes', { window: 'run', service: 'svc', compare: 'baseline' }).body as { baselineKind: string; routes: { route: string; baseline: { p95Ms: number }; change: Record<string, unknown> }[] };
    assert.equal(cmp.baselineKind, 'previous');
    const x = cmp.routes.find((r) => r.route === '/x')!;
    const y = cmp.routes.find((r) => r.route === '/y')!;
    assert.ok(x.baseline.p95Ms < 11);
    assert.deepEqual(Object.keys(x.change).sort(), ['p50Ms', 'p95Ms', 'p99Ms'].filter((k) => k in x.change).sort());
    assert.ok('p95Ms' in x.change);
    assert.deepEqual(y.change, {});
  });
});

describe('runs: restore', () => {
  it('a run seen again through restored spans is the restored run, not a second one', () => {
    const now = T0;
    const a = new TelemetryStore({}, { now: () => now });
    const res = agentResource('svc', 'inst-9', T0 - 5000);
    const spans = Array.from({ length: 30 }, (_, i) => request(res, '/z', T0 - 1000 + i, 5));
    a.addSpans(spans);
    const saved = a.runs.allRuns().map((r) => runFromStored(runToStored(r)));
    // The next window: its snapshot's spans arrive before the database is read.
    const b = new TelemetryStore({}, { now: () => now });
    b.addSpans(spans);
    b.runs.restore(saved);
    assert.equal(b.runs.runs('svc').length, 1);
    assert.equal(b.runs.runs('svc')[0].id, saved[0].id);
    assert.equal(b.runs.runs('svc')[0].requests, 30);
    // The process goes on sending: into the restored run.
    b.addSpans([request(res, '/z', T0 + 10, 5)]);
    assert.equal(b.runs.runs('svc')[0].requests, 31);
  });
});
