/**
 * Runs kept on disk in an embedded SQLite database (sql.js: SQLite compiled to WebAssembly, so
 * the same file works in every VS Code extension host and in `routelens serve` on Node 20, with
 * no native build per platform; docs/runs.md says why this one).
 *
 * sql.js holds the database in memory: a save applies the changed runs to it, trims it to its
 * bounds (runs per service, megabytes), exports the image and writes it to a temporary file that
 * then replaces the old one, so a crash mid-write leaves the previous file whole. A damaged or
 * unreadable file is moved aside with a clear message and a fresh database starts: runs are
 * history, and losing them must never stop the extension.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Database, SqlJsStatic } from 'sql.js';
import type { Logger } from '../log';
import { SAMPLE_TRACES_PER_ROUTE } from './sampleTraces';
import { runFromStored, type Run, type StoredRoute, type StoredRun, type TraceSample } from './run';
import type { EncodedSketch } from '../stats/sketch';

const SCHEMA_VERSION = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  service TEXT NOT NULL,
  start_ms REAL NOT NULL,
  end_ms REAL,
  last_seen_ms REAL NOT NULL,
  source TEXT NOT NULL,
  requests INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  instances TEXT NOT NULL,
  label TEXT,
  error_groups TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_service ON runs (service, start_ms);
CREATE TABLE IF NOT EXISTS run_routes (
  run_id TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  count INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  paused INTEGER NOT NULL,
  sum_ms REAL NOT NULL,
  db_ms REAL NOT NULL,
  http_ms REAL NOT NULL,
  kind_requests INTEGER NOT NULL,
  sketch BLOB NOT NULL,
  samples BLOB NOT NULL,
  code TEXT,
  PRIMARY KEY (run_id, method, route)
);
CREATE TABLE IF NOT EXISTS pins (service TEXT PRIMARY KEY, run_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_traces (
  run_id TEXT NOT NULL,
  trace_id TEXT NOT NULL,
  spans INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (run_id, trace_id)
);
CREATE INDEX IF NOT EXISTS run_traces_by_trace ON run_traces (trace_id);
`;

export interface RunDatabaseOptions {
  file: string;
  log: Logger;
  /** Runs kept per service (a pinned run is kept besides). */
  maxRunsPerService: number;
  /** Largest size of the file in bytes; the oldest runs go first past it. */
  maxBytes: number;
  /** Where sql-wasm.wasm is (default: next to the bundle, else in node_modules/sql.js). */
  wasmPath?: string;
}

export interface SaveResult {
  /** Runs written (changed since the last save). */
  written: number;
  /** Runs deleted to stay within the bounds. */
  deleted: number;
  bytes: number;
  /** Milliseconds spent on the extension host's thread (SQL and export), not the file write. */
  syncMs: number;
}

let sqlPromise: Promise<SqlJsStatic> | undefined;

export function defaultWasmPath(): string {
  const beside = join(__dirname, 'sql-wasm.wasm');
  if (existsSync(beside)) return beside;
  // Unbundled (tests, `out/`): from the package. A variable, so the bundler leaves it alone.
  const fromPackage = 'sql.js/dist/sql-wasm.wasm';
  return require.resolve(fromPackage);
}

/** The sql.js module, loaded once per process. */
export function loadSqlJs(wasmPath = defaultWasmPath()): Promise<SqlJsStatic> {
  sqlPromise ??= (async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const init = require('sql.js') as (config?: { wasmBinary?: ArrayBuffer }) => Promise<SqlJsStatic>;
    const bin = readFileSync(wasmPath);
    return init({ wasmBinary: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer });
  })();
  sqlPromise.catch(() => (sqlPromise = undefined));
  return sqlPromise;
}

export class RunDatabase {
  private readonly saved = new Map<string, number>();
  private writing: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Set when the file could not be read and was replaced by a fresh database. */
  readonly recovered: string | undefined;

  private constructor(
    private readonly db: Database,
    private readonly opts: RunDatabaseOptions,
    recovered?: string,
  ) {
    this.recovered = recovered;
  }

  /** Opens (or creates) the database file. Never throws for a bad file: it starts afresh and says why. */
  static async open(opts: RunDatabaseOptions): Promise<RunDatabase> {
    const SQL = await loadSqlJs(opts.wasmPath);
    let bytes: Uint8Array | undefined;
    try {
      bytes = existsSync(opts.file) ? readFileSync(opts.file) : undefined;
    } catch (e) {
      opts.log.warn(`[runs] could not read ${opts.file}: ${(e as Error).message}; runs start afresh`);
    }
    if (bytes && bytes.length > 0) {
      let db: Database | undefined;
      try {
        checkLength(bytes);
        db = new SQL.Database(bytes);
        const check = db.exec('PRAGMA quick_check');
        const verdict = String(check[0]?.values[0]?.[0] ?? '');
        if (verdict !== 'ok') throw new Error(`integrity check: ${verdict.slice(0, 200)}`);
        db.exec(SCHEMA);
        const version = db.exec("SELECT value FROM meta WHERE key = 'schema'")[0]?.values[0]?.[0];
        if (version !== undefined && version !== SCHEMA_VERSION) throw new Error(`schema version ${String(version)} is not ${SCHEMA_VERSION}`);
        db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", [SCHEMA_VERSION]);
        return new RunDatabase(db, opts);
      } catch (e) {
        db?.close();
        const aside = `${opts.file}.damaged-${Date.now()}`;
        let moved = '';
        try {
          await rename(opts.file, aside);
          moved = `; it was moved to ${aside}`;
        } catch {
          // Left where it is: the next save replaces it.
        }
        const why = `the runs database ${opts.file} is damaged or unreadable (${(e as Error).message})${moved}. Started a fresh one: earlier runs are not available.`;
        opts.log.warn(`[runs] ${why}`);
        const fresh = new SQL.Database();
        fresh.exec(SCHEMA);
        fresh.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", [SCHEMA_VERSION]);
        return new RunDatabase(fresh, opts, why);
      }
    }
    const db = new SQL.Database();
    db.exec(SCHEMA);
    db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", [SCHEMA_VERSION]);
    return new RunDatabase(db, opts);
  }

  /** Every run in the database, oldest first; a damaged row is skipped and logged. */
  loadRuns(): Run[] {
    const out: Run[] = [];
    let bad = 0;
    const runs = this.db.exec('SELECT id, service, start_ms, end_ms, last_seen_ms, source, requests, errors, instances, label, error_groups FROM runs ORDER BY start_ms');
    const routeStmt = this.db.prepare('SELECT method, route, count, errors, paused, sum_ms, db_ms, http_ms, kind_requests, sketch, samples, code FROM run_routes WHERE run_id = ?');
    try {
      for (const row of runs[0]?.values ?? []) {
        try {
          const [id, service, startMs, endMs, lastSeenMs, source, requests, errors, instances, label, errorGroups] = row;
          const routes: StoredRoute[] = [];
          routeStmt.bind([id as string]);
          while (routeStmt.step()) {
            const [method, route, count, rErrors, paused, sumMs, dbMs, httpMs, kindRequests, sketch, samples, code] = routeStmt.get();
            const s = unpackSamples(samples as Uint8Array);
            routes.push({
              method: method as string,
              route: route as string,
              count: count as number,
              errors: rErrors as number,
              paused: paused as number,
              sumMs: sumMs as number,
              kinds: { db: dbMs as number, http: httpMs as number, requests: kindRequests as number },
              sketch: unpackSketch(sketch as Uint8Array),
              slowest: s.slowest,
              failed: s.failed,
              ...(code ? { code: JSON.parse(code as string) } : {}),
            });
          }
          routeStmt.reset();
          const stored: StoredRun = {
            id: id as string,
            service: service as string,
            startMs: startMs as number,
            ...(endMs !== null ? { endMs: endMs as number } : {}),
            lastSeenMs: lastSeenMs as number,
            source: source as StoredRun['source'],
            requests: requests as number,
            errors: errors as number,
            instances: JSON.parse(instances as string),
            ...(label ? { label: JSON.parse(label as string) } : {}),
            routes,
            errorGroups: JSON.parse(errorGroups as string),
          };
          const run = runFromStored(stored);
          this.saved.set(run.id, run.revision);
          out.push(run);
        } catch (e) {
          bad++;
          routeStmt.reset();
          if (bad === 1) this.opts.log.warn(`[runs] skipped a damaged run in ${this.opts.file}: ${(e as Error).message}`);
        }
      }
    } finally {
      routeStmt.free();
    }
    return out;
  }

  loadPins(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [service, id] of this.db.exec('SELECT service, run_id FROM pins')[0]?.values ?? []) out[service as string] = id as string;
    return out;
  }

  /**
   * Writes the runs that changed since the last save and the pins, trims to the bounds, and
   * replaces the file. Saves queue behind each other; the file write does not block the thread.
   */
  save(runs: Run[], pins: Record<string, string>): Promise<SaveResult> {
    const next = this.writing.then(() => this.saveNow(runs, pins));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async saveNow(runs: Run[], pins: Record<string, string>): Promise<SaveResult> {
    if (this.closed) return { written: 0, deleted: 0, bytes: 0, syncMs: 0 };
    const { image, result } = this.apply(runs, pins);
    await mkdir(dirname(this.opts.file), { recursive: true });
    const tmp = `${this.opts.file}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, image);
      await rename(tmp, this.opts.file);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return result;
  }

  /**
   * The same as save, at once and on this thread (for the window closing, when nothing waits for
   * a promise); then the database is closed.
   */
  saveAndCloseSync(runs: Run[], pins: Record<string, string>): SaveResult | undefined {
    if (this.closed) return undefined;
    try {
      const { image, result } = this.apply(runs, pins);
      mkdirSync(dirname(this.opts.file), { recursive: true });
      const tmp = `${this.opts.file}.tmp-${process.pid}`;
      writeFileSync(tmp, image);
      renameSync(tmp, this.opts.file);
      return result;
    } finally {
      this.closed = true;
      this.db.close();
    }
  }

  private apply(runs: Run[], pins: Record<string, string>): { image: Uint8Array; result: SaveResult } {
    const t0 = performance.now();
    const changed = runs.filter((r) => this.saved.get(r.id) !== r.revision);
    const db = this.db;
    db.exec('BEGIN');
    let deleted = 0;
    try {
      const runStmt = db.prepare('INSERT OR REPLACE INTO runs (id, service, start_ms, end_ms, last_seen_ms, source, requests, errors, instances, label, error_groups) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      const routeStmt = db.prepare('INSERT INTO run_routes (run_id, method, route, count, errors, paused, sum_ms, db_ms, http_ms, kind_requests, sketch, samples, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      try {
        for (const run of changed) {
          runStmt.run([run.id, run.service, run.startMs, run.endMs ?? null, run.lastSeenMs, run.source, run.requests, run.errors, JSON.stringify(run.instances), run.label ? JSON.stringify(run.label) : null, JSON.stringify([...run.errorGroups.values()])]);
          db.run('DELETE FROM run_routes WHERE run_id = ?', [run.id]);
          for (const r of run.routes.values()) {
            routeStmt.run([run.id, r.method, r.route, r.count, r.errors, r.paused, r.sumMs, r.kinds.db, r.kinds.http, r.kinds.requests, packSketch(r.sketch.encode()), packSamples(r.slowest, r.failed), r.code ? JSON.stringify(r.code) : null]);
          }
          this.saveTraces(run);
        }
      } finally {
        runStmt.free();
        routeStmt.free();
      }
      db.run('DELETE FROM pins');
      for (const [service, id] of Object.entries(pins)) db.run('INSERT INTO pins (service, run_id) VALUES (?, ?)', [service, id]);
      deleted += this.trimPerService(new Set(Object.values(pins)));
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
    for (const run of changed) this.saved.set(run.id, run.revision);
    let image = db.export();
    // Past the byte bound: the oldest unpinned runs go, a few at a time, until it fits.
    for (let round = 0; image.length > this.opts.maxBytes && round < 5; round++) {
      // As many as the average run's share of the file says, with a tenth to spare: one VACUUM.
      const count = this.count();
      const perRun = image.length / Math.max(1, count);
      const gone = this.deleteOldest(new Set(Object.values(pins)), Math.max(1, Math.ceil((image.length - this.opts.maxBytes * 0.9) / perRun)));
      if (gone === 0) break;
      deleted += gone;
      db.exec('VACUUM');
      image = db.export();
    }
    return { image, result: { written: changed.length, deleted, bytes: image.length, syncMs: performance.now() - t0 } };
  }

  /** Ids of the runs a save deleted are forgotten by the caller when it reloads; this counts rows. */
  count(): number {
    return Number(this.db.exec('SELECT COUNT(*) FROM runs')[0]?.values[0]?.[0] ?? 0);
  }

  private trimPerService(keep: Set<string>): number {
    let deleted = 0;
    const rows = this.db.exec('SELECT service, id FROM runs ORDER BY service, start_ms DESC')[0]?.values ?? [];
    const seen = new Map<string, number>();
    for (const [service, id] of rows) {
      const n = (seen.get(service as string) ?? 0) + 1;
      seen.set(service as string, n);
      if (n > this.opts.maxRunsPerService && !keep.has(id as string)) {
        this.deleteRun(id as string);
        deleted++;
      }
    }
    return deleted;
  }

  private deleteOldest(keep: Set<string>, n: number): number {
    const rows = this.db.exec('SELECT id FROM runs ORDER BY start_ms')[0]?.values ?? [];
    let deleted = 0;
    // The newest run of all is the one being compared: it stays.
    for (const [id] of rows.slice(0, -1)) {
      if (deleted >= n) break;
      if (keep.has(id as string)) continue;
      this.deleteRun(id as string);
      deleted++;
    }
    return deleted;
  }

  /**
   * A run's sample traces: the ones it holds in memory are written; rows of traces no longer in
   * its sample go; rows it does not hold (a run read back from the file) stay.
   */
  private saveTraces(run: Run): void {
    const wanted = new Set<string>();
    for (const r of run.routes.values()) for (const x of r.slowest.slice(0, SAMPLE_TRACES_PER_ROUTE)) wanted.add(x.traceId);
    for (const [id] of this.db.exec('SELECT trace_id FROM run_traces WHERE run_id = ?', [run.id])[0]?.values ?? []) {
      if (!wanted.has(id as string)) this.db.run('DELETE FROM run_traces WHERE run_id = ? AND trace_id = ?', [run.id, id as string]);
    }
    for (const r of run.routes.values()) {
      for (const [id, t] of r.traces) {
        if (wanted.has(id)) this.db.run('INSERT OR REPLACE INTO run_traces (run_id, trace_id, spans, data) VALUES (?, ?, ?, ?)', [run.id, id, t.spans, t.bytes]);
      }
    }
  }

  /** The encoded spans of a sample trace kept in the file (sampleTraces.ts), or undefined. */
  loadTrace(traceId: string): Uint8Array | undefined {
    if (this.closed) return undefined;
    const v = this.db.exec('SELECT data FROM run_traces WHERE trace_id = ? LIMIT 1', [traceId])[0]?.values[0]?.[0];
    return v instanceof Uint8Array ? v : undefined;
  }

  /** Sample traces kept in the file and their bytes. */
  traceStats(): { traces: number; bytes: number } {
    const [n, b] = this.db.exec('SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM run_traces')[0]?.values[0] ?? [0, 0];
    return { traces: Number(n), bytes: Number(b) };
  }

  private deleteRun(id: string): void {
    this.db.run('DELETE FROM run_traces WHERE run_id = ?', [id]);
    this.db.run('DELETE FROM run_routes WHERE run_id = ?', [id]);
    this.db.run('DELETE FROM runs WHERE id = ?', [id]);
    this.saved.delete(id);
  }

  /** Waits for pending saves, then frees the database. */
  async close(): Promise<void> {
    await this.writing;
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** Runs whose last change is not in the file yet. */
  unsaved(runs: Run[]): number {
    return runs.filter((r) => this.saved.get(r.id) !== r.revision).length;
  }
}

/** Size of the database file on disk (0 when there is none). */
export async function fileBytes(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

// ---- the sketch as a small binary value ------------------------------------------------------

/**
 * Layout: version (1 byte), encoding (1: unsigned LEB128 integers, 2: float64), accuracy, zero
 * count, total, sum, min, max (float64 each), offset (int32), bucket count (uint32), then the
 * buckets. Request counts are integers, so a bucket usually takes one byte.
 */
export function packSketch(e: EncodedSketch): Uint8Array {
  const integral = e.c.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 53);
  const head = new DataView(new ArrayBuffer(2 + 6 * 8 + 8));
  head.setUint8(0, 1);
  head.setUint8(1, integral ? 1 : 2);
  [e.a, e.z, e.n, e.s, e.lo, e.hi].forEach((v, i) => head.setFloat64(2 + i * 8, v, true));
  head.setInt32(50, e.o, true);
  head.setUint32(54, e.c.length, true);
  const body: number[] = [];
  if (integral) {
    for (let v of e.c) {
      do {
        let b = v % 128;
        v = Math.floor(v / 128);
        if (v > 0) b |= 0x80;
        body.push(b);
      } while (v > 0);
    }
    const out = new Uint8Array(58 + body.length);
    out.set(new Uint8Array(head.buffer), 0);
    out.set(body, 58);
    return out;
  }
  const out = new Uint8Array(58 + e.c.length * 8);
  out.set(new Uint8Array(head.buffer), 0);
  const dv = new DataView(out.buffer);
  e.c.forEach((v, i) => dv.setFloat64(58 + i * 8, v, true));
  return out;
}

export function unpackSketch(b: Uint8Array): EncodedSketch {
  if (!(b instanceof Uint8Array) || b.length < 58 || b[0] !== 1) throw new Error('malformed sketch value');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const f = (i: number) => dv.getFloat64(2 + i * 8, true);
  const len = dv.getUint32(54, true);
  if (len > 100_000) throw new Error('malformed sketch value');
  const c: number[] = [];
  if (dv.getUint8(1) === 1) {
    let p = 58;
    for (let i = 0; i < len; i++) {
      let v = 0;
      let mul = 1;
      for (;;) {
        if (p >= b.length) throw new Error('malformed sketch value');
        const x = b[p++];
        v += (x & 0x7f) * mul;
        mul *= 128;
        if (!(x & 0x80)) break;
      }
      c.push(v);
    }
  } else {
    if (b.length < 58 + len * 8) throw new Error('malformed sketch value');
    for (let i = 0; i < len; i++) c.push(dv.getFloat64(58 + i * 8, true));
  }
  return { a: f(0), z: f(1), n: f(2), s: f(3), lo: f(4), hi: f(5), o: dv.getInt32(50, true), c };
}

// ---- trace samples as a small binary value ----------------------------------------------------

const SAMPLE_BYTES = 16 + 8 + 8 + 8 + 2 + 1;

/** Counts of slowest and failed (1 byte each), then per sample: trace id, span id, duration, end, status, error. */
export function packSamples(slowest: TraceSample[], failed: TraceSample[]): Uint8Array {
  const all = [...slowest, ...failed];
  const out = new Uint8Array(2 + all.length * SAMPLE_BYTES);
  const dv = new DataView(out.buffer);
  out[0] = slowest.length;
  out[1] = failed.length;
  all.forEach((x, i) => {
    const p = 2 + i * SAMPLE_BYTES;
    out.set(hexBytes(x.traceId, 16), p);
    out.set(hexBytes(x.spanId, 8), p + 16);
    dv.setFloat64(p + 24, x.durationMs, true);
    dv.setFloat64(p + 32, x.endMs, true);
    dv.setUint16(p + 40, x.statusCode ?? 0, true);
    out[p + 42] = x.error ? 1 : 0;
  });
  return out;
}

export function unpackSamples(b: Uint8Array): { slowest: TraceSample[]; failed: TraceSample[] } {
  if (!(b instanceof Uint8Array) || b.length < 2 || b.length !== 2 + (b[0] + b[1]) * SAMPLE_BYTES) throw new Error('malformed trace samples');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const all: TraceSample[] = [];
  for (let i = 0; i < b[0] + b[1]; i++) {
    const p = 2 + i * SAMPLE_BYTES;
    const status = dv.getUint16(p + 40, true);
    all.push({
      traceId: Buffer.from(b.subarray(p, p + 16)).toString('hex'),
      spanId: Buffer.from(b.subarray(p + 16, p + 24)).toString('hex'),
      durationMs: dv.getFloat64(p + 24, true),
      endMs: dv.getFloat64(p + 32, true),
      ...(status ? { statusCode: status } : {}),
      error: b[p + 42] === 1,
    });
  }
  return { slowest: all.slice(0, b[0]), failed: all.slice(b[0]) };
}

function hexBytes(h: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (/^[0-9a-f]*$/.test(h) && h.length === n * 2) out.set(Buffer.from(h, 'hex'));
  return out;
}

/**
 * A file shorter than its header says is truncated, even where the missing part held only free
 * pages that an integrity check would not read: SQLite keeps the page size at offset 16 and the
 * page count at offset 28.
 */
function checkLength(bytes: Uint8Array): void {
  if (bytes.length < 100) throw new Error(`${bytes.length} bytes is shorter than a database header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw = dv.getUint16(16, false);
  const pageSize = raw === 1 ? 65536 : raw;
  const pages = dv.getUint32(28, false);
  if (pages > 0 && pageSize >= 512 && bytes.length < pageSize * pages) throw new Error(`truncated: ${bytes.length} of ${pageSize * pages} bytes`);
}
