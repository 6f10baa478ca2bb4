import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../src/core/log';
import type { Resource, Span } from '../../../src/core/model';
import { loadSqlJs, RunDatabase } from '../../../src/core/runs/database';
import { decodeTrace, encodeTrace, MAX_SAMPLE_BYTES_PER_RUN, MAX_SAMPLE_VALUE_CHARS, MAX_SPANS_PER_SAMPLE, SAMPLE_TRACES_PER_ROUTE } from '../../../src/core/runs/sampleTraces';
import { TelemetryStore } from '../../../src/core/store/store';
import { compareSides } from '../../../src/features/traces/compare';
import { hex } from '../helpers/telemetry';

const T0 = 1_800_000_000_000;

function res(instance: string, started: number): Resource {
  return { serviceName: 'api', instanceId: instance, sdk: 'routelens-python/0.1.0', attributes: { 'process.creation.time': new Date(started).toISOString() } };
}

/** One request: its server span and `children` database calls under it. */
function request(r: Resource, route: string, endMs: number, ms: number, children = 3, status = 200): Span[] {
  const traceId = hex(16);
  const server: Span = { traceId, spanId: hex(8), name: `GET ${route}`, kind: 'server', startMs: endMs - ms, endMs, status: status >= 500 ? 'error' : 'unset', attributes: { 'http.route': route }, events: [], links: [], resource: r, http: { method: 'GET', route, statusCode: status }, code: { file: '/app/main.py', line: 12, function: 'handler' } };
  const kids = Array.from({ length: children }, (_, i): Span => ({
    traceId,
    spanId: hex(8),
    parentSpanId: server.spanId,
    name: 'SELECT items',
    kind: 'client',
    startMs: server.startMs + i,
    endMs: server.startMs + i + ms / (children + 1),
    status: 'unset',
    attributes: { 'db.system.name': 'postgresql', 'db.query.text': `SELECT * FROM items WHERE id = ${i}` },
    events: [],
    links: [],
    resource: r,
  }));
  return [...kids, server];
}

function logger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const put = (m: string) => void lines.push(m);
  return { lines, trace: put, debug: put, info: put, warn: put, error: put };
}

/** A store with `n` runs of the service `api`, `routes` routes each; the second run's /r0 is slower. */
function storeWithRuns(n: number, routes = 3, perRoute = 30): TelemetryStore {
  let now = T0;
  const store = new TelemetryStore({}, { now: () => now });
  for (let k = 0; k < n; k++) {
    const r = res(`i${k}`, now);
    for (let i = 0; i < perRoute; i++) {
      store.addSpans(Array.from({ length: routes }, (_, j) => request(r, `/r${j}`, now, (5 + j + (i % 7)) * (k === 1 && j === 0 ? 3 : 1))).flat());
      now += 20;
    }
    now += 60_000;
  }
  return store;
}

const lookup = (store: TelemetryStore) => (id: string) => store.trace(id);

describe('run sample traces', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'routelens-samples-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a trace encodes compactly and decodes to the same spans', () => {
    const r = res('i0', T0);
    const spans = request(r, '/items/{id}', T0 + 500, 40, 5, 500);
    spans[0].events.push({ name: 'retry', timeMs: spans[0].startMs + 1, attributes: { attempt: 2 } });
    spans[5].exception = { type: 'ValueError', message: 'bad id', frames: [{ file: '/app/main.py', line: 14, function: 'handler' }] };
    spans[5].statusMessage = 'ValueError: bad id';
    const enc = encodeTrace(spans)!;
    assert.equal(enc.spans, 6);
    assert.equal(enc.dropped, 0);
    assert.ok(enc.bytes.length < JSON.stringify(spans).length / 2, `${enc.bytes.length} bytes, JSON ${JSON.stringify(spans).length}`);
    const back = decodeTrace(enc.bytes);
    const key = (s: Span) => s.spanId;
    const sorted = (l: Span[]) => [...l].sort((a, b) => key(a).localeCompare(key(b)));
    for (const [a, b] of sorted(back).map((s, i) => [s, sorted(spans)[i]] as const)) {
      assert.equal(a.traceId, b.traceId);
      assert.equal(a.spanId, b.spanId);
      assert.equal(a.parentSpanId, b.parentSpanId);
      assert.equal(a.name, b.name);
      assert.equal(a.kind, b.kind);
      assert.ok(Math.abs(a.startMs - b.startMs) < 1e-6 && Math.abs(a.endMs - b.endMs) < 1e-6);
      assert.equal(a.status, b.status);
      assert.deepEqual(a.attributes, b.attributes);
      assert.deepEqual(a.http, b.http);
      assert.deepEqual(a.code, b.code);
      assert.deepEqual(a.exception, b.exception);
      assert.equal(a.statusMessage, b.statusMessage);
      assert.equal(a.resource.serviceName, 'api');
      assert.deepEqual(a.events.map((e) => [e.name, e.attributes]), b.events.map((e) => [e.name, e.attributes]));
    }
  });

  it('keeps at most its spans per trace (the request span first) and its bytes, and cuts long values', () => {
    const r = res('i0', T0);
    const spans = request(r, '/big', T0 + 10_000, 5000, 1000);
    spans[3].attributes['db.query.text'] = 'x'.repeat(100_000);
    const enc = encodeTrace(spans)!;
    assert.equal(enc.spans, MAX_SPANS_PER_SAMPLE);
    assert.equal(enc.dropped, 1001 - MAX_SPANS_PER_SAMPLE);
    const back = decodeTrace(enc.bytes);
    assert.equal(back.length, MAX_SPANS_PER_SAMPLE);
    assert.ok(back.some((s) => s.kind === 'server'), 'the request span is kept');
    for (const s of back) for (const v of Object.values(s.attributes)) if (typeof v === 'string') assert.ok(v.length <= MAX_SAMPLE_VALUE_CHARS + 1);
    // A byte bound below what the spans take keeps fewer spans, the request span still first.
    const small = encodeTrace(spans, 1000, 2000)!;
    assert.ok(small.bytes.length <= 2000, `${small.bytes.length}`);
    assert.ok(small.spans < 200);
    assert.equal(decodeTrace(small.bytes).filter((s) => s.kind === 'server').length, 1);
    assert.equal(encodeTrace(spans, 1000, 10), undefined, 'not even one span fits: nothing');
    assert.equal(encodeTrace([]), undefined);
  });

  it('a damaged value is refused, not half read', () => {
    const enc = encodeTrace(request(res('i0', T0), '/a', T0 + 100, 10))!;
    assert.throws(() => decodeTrace(enc.bytes.subarray(0, enc.bytes.length - 5)), /malformed/);
    assert.throws(() => decodeTrace(new Uint8Array([1, 2, 3, 4])), /malformed/);
  });

  it('a run keeps the spans of the slowest few requests per route, within its byte bound', () => {
    const store = storeWithRuns(2);
    assert.equal(store.runs.captureSampleTraces(lookup(store)), 2);
    for (const run of store.runs.allRuns()) {
      let bytes = 0;
      for (const route of run.routes.values()) {
        const want = route.slowest.slice(0, SAMPLE_TRACES_PER_ROUTE).map((s) => s.traceId);
        assert.deepEqual([...route.traces.keys()].sort(), [...want].sort());
        for (const t of route.traces.values()) {
          assert.equal(t.spans, 4);
          bytes += t.bytes.length;
        }
      }
      assert.equal(run.traceBytes, bytes);
    }
    assert.equal(store.runs.captureSampleTraces(lookup(store)), 0, 'nothing changed: nothing taken again');

    // Many routes: the run stops keeping spans at its byte bound (the refs stay).
    const many = storeWithRuns(1, 600, 3);
    many.runs.captureSampleTraces(lookup(many));
    const run = many.runs.latest('api')!;
    assert.ok(run.traceBytes <= MAX_SAMPLE_BYTES_PER_RUN, `${run.traceBytes}`);
    const kept = [...run.routes.values()].reduce((n, r) => n + r.traces.size, 0);
    assert.ok(kept > 100 && kept < 600 * 3, `${kept} traces kept`);
  });

  it('the spans survive the database, and the compare sides find them when the store no longer has them', async () => {
    const file = join(dir, 'runs.sqlite');
    const store = storeWithRuns(2);
    store.runs.captureSampleTraces(lookup(store));
    const db = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 10, maxBytes: 10_000_000 });
    await db.save(store.runs.allRuns(), {});
    assert.equal(db.traceStats().traces, 2 * 3 * SAMPLE_TRACES_PER_ROUTE);
    await db.close();

    const again = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 10, maxBytes: 10_000_000 });
    const fresh = new TelemetryStore({}, { now: () => T0 + 1e7 });
    fresh.runs.restore(again.loadRuns(), again.loadPins());
    const baseRun = fresh.runs.runs('api')[1];
    const slowest = baseRun.routes.get('GET /r0')!.slowest[0].traceId;
    assert.deepEqual(fresh.trace(slowest), [], 'the new store has none of it');
    assert.equal(fresh.runs.sampleTrace(slowest), undefined, 'not without the database');
    fresh.runs.traceLoader = (id) => again.loadTrace(id);
    const hit = fresh.runs.sampleTrace(slowest)!;
    assert.equal(hit.run.id, baseRun.id);
    assert.equal(hit.spans.length, 4);
    assert.deepEqual(hit.spans.map((s) => s.spanId).sort(), store.trace(slowest).map((s) => s.spanId).sort());

    const sides = compareSides(fresh.runs, { service: 'api', method: 'GET', route: '/r0' }, (id) => fresh.runs.sampleTrace(id)?.spans ?? [])!;
    assert.equal(sides.baseline.runId, baseRun.id);
    assert.equal(sides.run.runId, fresh.runs.latest('api')!.id);
    assert.equal(sides.baseline.traceId, slowest);
    assert.equal(sides.run.traceId, fresh.runs.latest('api')!.routes.get('GET /r0')!.slowest[0].traceId);
    assert.match(sides.baseline.title, /^Last run .*: GET \/r0$/);
    assert.equal(sides.run.rows.length, SAMPLE_TRACES_PER_ROUTE);
    assert.ok(sides.run.rows[0].durationMs > sides.baseline.rows[0].durationMs, 'the slowed run is slower');

    // A restored run saved again keeps the rows it never held in memory.
    fresh.runs.latest('api')!.touch();
    await again.save(fresh.runs.allRuns(), {});
    assert.equal(again.traceStats().traces, 2 * 3 * SAMPLE_TRACES_PER_ROUTE);
    await again.close();
  });

  it('runs trimmed away take their traces along; a truncated file or a damaged value degrades cleanly', async () => {
    const file = join(dir, 'runs.sqlite');
    const store = storeWithRuns(4);
    store.runs.captureSampleTraces(lookup(store));
    const db = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 2, maxBytes: 10_000_000 });
    await db.save(store.runs.allRuns(), {});
    assert.equal(db.traceStats().traces, 2 * 3 * SAMPLE_TRACES_PER_ROUTE, 'two runs kept, with their traces only');
    await db.close();

    // A value damaged in place: that trace is not shown, everything else still reads.
    const SQL = await loadSqlJs();
    const raw = new SQL.Database(readFileSync(file));
    const victim = String(raw.exec('SELECT trace_id FROM run_traces LIMIT 1')[0].values[0][0]);
    raw.run('UPDATE run_traces SET data = ? WHERE trace_id = ?', [new Uint8Array([9, 9, 9]), victim]);
    writeFileSync(file, raw.export());
    raw.close();
    const damaged = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 2, maxBytes: 10_000_000 });
    const fresh = new TelemetryStore({}, { now: () => T0 + 1e7 });
    fresh.runs.restore(damaged.loadRuns(), {});
    fresh.runs.traceLoader = (id) => damaged.loadTrace(id);
    assert.equal(fresh.runs.allRuns().length, 2);
    assert.equal(fresh.runs.sampleTrace(victim), undefined);
    // Another of the route's kept traces (the damaged one may be any of them).
    const other = fresh.runs.latest('api')!.routes.get('GET /r2')!.slowest.map((x) => x.traceId).find((id) => id !== victim)!;
    assert.notEqual(other, victim);
    assert.equal(fresh.runs.sampleTrace(other)?.spans.length, 4);
    await damaged.close();

    // Truncated in the middle: a fresh database, no trace, no throw.
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const reopened = await RunDatabase.open({ file, log: logger(), maxRunsPerService: 2, maxBytes: 10_000_000 });
    assert.ok(reopened.recovered);
    assert.equal(reopened.loadTrace(other), undefined);
    assert.deepEqual(reopened.traceStats(), { traces: 0, bytes: 0 });
    await reopened.close();
  });
});
