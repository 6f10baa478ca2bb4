import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../src/core/log';
import type { Resource, Span } from '../../../src/core/model';
import { packSketch, RunDatabase, unpackSketch } from '../../../src/core/runs/database';
import { LatencySketch } from '../../../src/core/stats/sketch';
import { TelemetryStore } from '../../../src/core/store/store';
import { hex } from '../helpers/telemetry';

const T0 = 1_800_000_000_000;

function res(instance: string, started: number): Resource {
  return { serviceName: 'api', instanceId: instance, sdk: 'routelens-python/0.1.0', attributes: { 'process.creation.time': new Date(started).toISOString() } };
}

function span(r: Resource, route: string, endMs: number, ms: number, status = 200): Span {
  return { traceId: hex(16), spanId: hex(8), name: route, kind: 'server', startMs: endMs - ms, endMs, status: status >= 500 ? 'error' : 'unset', attributes: {}, events: [], links: [], resource: r, http: { method: 'GET', route, statusCode: status } };
}

function logger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const put = (m: string) => void lines.push(m);
  return { lines, trace: put, debug: put, info: put, warn: put, error: put };
}

/** A store with `n` runs of the service, each with a few routes. */
function storeWithRuns(n: number, routes = 3): TelemetryStore {
  let now = T0;
  const store = new TelemetryStore({}, { now: () => now });
  for (let k = 0; k < n; k++) {
    const r = res(`i${k}`, now);
    for (let i = 0; i < 50; i++) {
      store.addSpans(Array.from({ length: routes }, (_, j) => span(r, `/r${j}`, now, 5 + j + (i % 7), i % 20 === 0 ? 500 : 200)));
      now += 20;
    }
    now += 60_000;
  }
  return store;
}

describe('runs database (sql.js)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'routelens-runs-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a sketch packs into a small binary value and back with the same answers', () => {
    const s = new LatencySketch();
    for (let i = 1; i <= 1000; i++) s.add(i * 0.37);
    const packed = packSketch(s.encode());
    const back = LatencySketch.decode(unpackSketch(packed));
    for (const q of [0.01, 0.5, 0.95, 0.99]) assert.equal(back.quantile(q), s.quantile(q));
    assert.equal(back.count, 1000);
    assert.ok(packed.length < JSON.stringify(s.encode()).length, `${packed.length} bytes packed`);
    assert.throws(() => unpackSketch(packed.subarray(0, 70)), /malformed/);
  });

  it('keeps runs and the pinned baseline across a reopen, with the same comparison', async () => {
    const file = join(dir, 'runs.sqlite');
    const store = storeWithRuns(3);
    const first = store.runs.runs('api')[2];
    store.runs.pin(first.id);
    const before = store.runs.comparison('api')!;
    const db = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 10, maxBytes: 10_000_000 });
    const saved = await db.save(store.runs.allRuns(), store.runs.pinsSnapshot());
    assert.equal(saved.written, 3);
    assert.equal(saved.bytes, statSync(file).size);
    // Nothing changed: nothing is written again.
    assert.equal((await db.save(store.runs.allRuns(), store.runs.pinsSnapshot())).written, 0);
    await db.close();

    const again = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 10, maxBytes: 10_000_000 });
    const fresh = new TelemetryStore({}, { now: () => T0 + 1e7 });
    fresh.runs.restore(again.loadRuns(), again.loadPins());
    await again.close();
    assert.equal(fresh.runs.runs('api').length, 3);
    assert.equal(fresh.runs.pinned('api'), first.id);
    const after = fresh.runs.comparison('api')!;
    assert.deepEqual(after.routes, before.routes);
    assert.equal(after.baseline!.id, first.id);
    assert.deepEqual(after.run.id, before.run.id);
    // The trace samples come back whole.
    const latest = store.runs.latest('api')!.routes.get('GET /r1')!;
    const back = fresh.runs.latest('api')!.routes.get('GET /r1')!;
    assert.deepEqual(back.slowest, latest.slowest);
    assert.deepEqual(back.failed, latest.failed);
    assert.equal(back.failed.length, 3);
  });

  it('keeps at most the runs per service it is allowed, and the pinned one besides; and stays under its byte bound', async () => {
    const file = join(dir, 'runs.sqlite');
    const store = storeWithRuns(6);
    const oldest = store.runs.runs('api')[5];
    store.runs.pin(oldest.id);
    const db = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 3, maxBytes: 10_000_000 });
    const r = await db.save(store.runs.allRuns(), store.runs.pinsSnapshot());
    assert.equal(r.deleted, 2);
    const ids = db.loadRuns().map((x) => x.id);
    assert.equal(ids.length, 4);
    assert.ok(ids.includes(oldest.id));
    await db.close();

    const big = storeWithRuns(8, 100);
    const small = await RunDatabase.open({ file: join(dir, 'small.sqlite'), log: logger(), maxRunsPerService: 100, maxBytes: 200_000 });
    const s = await small.save(big.runs.allRuns(), {});
    assert.ok(s.bytes <= 200_000, `${s.bytes} bytes`);
    assert.ok(s.deleted > 0 && s.deleted < 8);
    assert.equal(small.loadRuns().at(-1)!.id, big.runs.latest('api')!.id, 'the newest run is kept');
    await small.close();
  });

  it('a file truncated in the middle gives a clear message, is moved aside, and a fresh database works', async () => {
    const file = join(dir, 'runs.sqlite');
    const db = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 10, maxBytes: 10_000_000 });
    await db.save(storeWithRuns(4, 50).runs.allRuns(), {});
    await db.close();
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const log = logger();
    const reopened = await RunDatabase.open({ file, log, maxRunsPerService: 10, maxBytes: 10_000_000 });
    assert.ok(reopened.recovered, 'the database says it started afresh');
    assert.ok(log.lines.some((l) => /runs database .* is damaged or unreadable .*Started a fresh one/.test(l)), log.lines.join('\n'));
    assert.ok(readdirSync(dir).some((n) => n.startsWith('runs.sqlite.damaged-')), 'the damaged file is kept aside');
    assert.deepEqual(reopened.loadRuns(), []);
    const r = await reopened.save(storeWithRuns(1).runs.allRuns(), {});
    assert.equal(r.written, 1);
    await reopened.close();
    const third = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 10, maxBytes: 10_000_000 });
    assert.equal(third.loadRuns().length, 1);
    assert.equal(third.recovered, undefined);
    await third.close();
  });

  it('a file that is not a database at all is treated the same way', async () => {
    const file = join(dir, 'runs.sqlite');
    writeFileSync(file, 'this is not sqlite at all, just text '.repeat(200));
    const log = logger();
    const db = await RunDatabase.open({ file, log, maxRunsPerService: 10, maxBytes: 10_000_000 });
    assert.ok(db.recovered);
    assert.equal(db.loadRuns().length, 0);
    await db.close();
  });
});
