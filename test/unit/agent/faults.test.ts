/**
 * Faults with real parts: the real collector (startRuntime) and real Python agent processes.
 *
 * - The collector restarts while an app sends: the agent is back within 2 s of the collector
 *   listening again and delivers every span it buffered meanwhile; the app never notices.
 * - An agent dies in the middle of a batch: a hand-written WebSocket client that stops halfway
 *   through a frame (or after the first fragment of a message), and a Python agent sending flat
 *   out that is killed with SIGKILL. What was acknowledged is stored, nothing of the unfinished
 *   message is, the collector counts the abort and serves the next agent normally.
 */
import { freePort, httpStatus, until as untilEvery } from '../../support/net';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import type { Logger } from '../../../src/core/log';
import type { Span } from '../../../src/core/model';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { TelemetryStore } from '../../../src/core/store/store';
import { nativeSpan } from '../helpers/telemetry';
import { upgradeText } from '../security/net';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const AGENT = join(ROOT, 'agents', 'python');
const APPS = join(AGENT, 'tests', 'sample_apps');
const PYTHON = '/usr/bin/python3';
const TOKEN = 'agent-faults-token-0123456789';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const until = <T>(f: () => T | undefined | false | Promise<T | undefined | false>, what: string | (() => string), ms = 10_000) => untilEvery(f, what, ms, 20);




/** A logger that keeps every line with the time it was written (performance.now()). */
function recordingLogger(): Logger & { lines: { t: number; level: string; text: string }[]; first(re: RegExp): number | undefined } {
  const lines: { t: number; level: string; text: string }[] = [];
  const rec = (level: string) => (text: string) => void lines.push({ t: performance.now(), level, text });
  return {
    lines,
    trace: rec('trace'),
    debug: rec('debug'),
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    first: (re) => lines.find((l) => re.test(l.text))?.t,
  };
}

function spawnPython(args: string[], env: Record<string, string>, cwd = ROOT): { proc: ChildProcess; output(): string } {
  const proc = spawn(PYTHON, args, { cwd, env: { ...process.env, PYTHONUNBUFFERED: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return { proc, output: () => out };
}

/** Spans of the store whose name is `name`. */
const named = (store: TelemetryStore, name: string): Span[] => store.allSpans().filter((s) => s.name === name);

/**
 * A Python process sending spans named `tag` (attribute `i` counting from 0) through the agent,
 * flat out: `count` of them then a flush and a normal exit, or forever when `count` is 0. Every
 * 20 ms it prints how many spans the collector has acknowledged so far.
 */
const SENDER = `
import os, sys, threading, time
import routelens
tag, count = sys.argv[1], int(sys.argv[2])
agent = routelens.start(service_name=tag, metrics_interval=0, capture_logs=False)
stats = agent.exporter.stats
def report():
    while True:
        print("acked %d" % stats["accepted"]["spans"], flush=True)
        time.sleep(0.02)
threading.Thread(target=report, daemon=True).start()
i = 0
while count == 0 or i < count:
    with routelens.span(tag, {"i": i}):
        pass
    i += 1
print("flushed %s" % routelens.flush(10), flush=True)
`;

function startSender(collectorPort: number, tag: string, count: number) {
  return spawnPython(['-c', SENDER, tag, String(count)], { PYTHONPATH: AGENT, ROUTELENS_ENDPOINT: `http://127.0.0.1:${collectorPort}` });
}

const lastAcked = (output: string): number => {
  const all = [...output.matchAll(/^acked (\d+)$/gm)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
};

// ---- a WebSocket client written by hand, so that it can stop anywhere in a frame --------------

/** A masked client frame; `fin` false makes it the first fragment of a longer message. */
function clientFrame(text: string, opts: { fin?: boolean; opcode?: number } = {}): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const len = payload.length;
  const first = ((opts.fin ?? true) ? 0x80 : 0) | (opts.opcode ?? 0x1);
  let head: Buffer;
  if (len < 126) head = Buffer.from([first, 0x80 | len]);
  else if (len < 65536) head = Buffer.from([first, 0x80 | 126, len >> 8, len & 0xff]);
  else {
    head = Buffer.alloc(10);
    head[0] = first;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, masked]);
}

class RawAgent {
  private buf = Buffer.alloc(0);
  private upgraded = false;
  private readonly messages: Record<string, unknown>[] = [];
  status = 0;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawAgent> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const agent = new RawAgent(socket);
    socket.write(upgradeText('/v1/ws', [['Host', `127.0.0.1:${port}`]]));
    await until(() => agent.upgraded || agent.closed, 'the upgrade', 5000);
    assert.equal(agent.status, 101, 'upgraded');
    return agent;
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(this.buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      this.buf = this.buf.subarray(end + 4);
      this.upgraded = true;
    }
    // Server frames: unmasked, unfragmented (the collector sends small JSON text messages).
    for (;;) {
      if (this.buf.length < 2) return;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const opcode = this.buf[0] & 0x0f;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 0x1) this.messages.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
    }
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(msg: unknown): void {
    this.write(clientFrame(JSON.stringify(msg)));
  }

  /** The next message of `type` from the collector. */
  async reply(type: string): Promise<Record<string, unknown>> {
    return until(() => {
      const i = this.messages.findIndex((m) => m.type === type);
      return i >= 0 && this.messages.splice(i, 1)[0];
    }, `a ${type} from the collector`, 5000);
  }
}

function spansNamed(name: string, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ ...nativeSpan({ route: '/raw/{i}' }), name, attributes: { i } }));
}

describe('faults with the real collector and real agents', function () {
  this.timeout(30_000);
  const procs: ChildProcess[] = [];
  const runtimes: Runtime[] = [];

  afterEach(async () => {
    for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const rt of runtimes.splice(0)) await rt.stop();
  });

  it('collector restart while an app sends: the agent is back within 2 s and delivers all it buffered', async () => {
    const port = await freePort();
    const store1 = new TelemetryStore();
    const rt1 = await startRuntime({ port, token: TOKEN, log: recordingLogger(), store: store1 });
    runtimes.push(rt1);

    // The Flask sample app, instrumented only through the bootstrap sitecustomize.
    const appPort = await freePort();
    const app = spawnPython([join(APPS, 'flask_app.py')], {
      PYTHONPATH: join(AGENT, 'bootstrap'),
      ROUTELENS_ENDPOINT: `http://127.0.0.1:${port}`,
      ROUTELENS_SERVICE_NAME: 'restart-app',
      PORT: String(appPort),
    });
    procs.push(app.proc);
    await until(async () => app.proc.exitCode === null && (await httpStatus(appPort, '/hello/probe')) === 200, () => `the app to answer (${app.output().slice(-300)})`);

    // Requests one after the other, 20 ms apart, for the whole test; each a path of its own.
    interface Req { path: string; status: number; start: number; end: number }
    const reqs: Req[] = [];
    let driving = true;
    const driver = (async () => {
      for (let i = 0; driving; i++) {
        const path = `/hello/r${i}`;
        const start = performance.now();
        const status = await httpStatus(appPort, path);
        reqs.push({ path, status, start, end: performance.now() });
        await sleep(20);
      }
    })();
    const pathsIn = (store: TelemetryStore) => {
      const paths = new Set<string>();
      for (const s of store.allSpans()) if (s.kind === 'server' && typeof s.attributes['url.path'] === 'string') paths.add(s.attributes['url.path']);
      return paths;
    };

    try {
      await until(() => reqs.length >= 10 && pathsIn(store1).has(reqs[9].path), 'the first requests in the first collector');
      await rt1.stop();
      runtimes.splice(runtimes.indexOf(rt1), 1);
      const down = performance.now();

      // Down for 4 s: with the old backoff (0.1 s doubling to 5 s) the agent's next try after
      // 3.1 s would have been at 6.3 s, 2.3 s after the collector came back.
      await sleep(4000);
      const store2 = new TelemetryStore();
      let firstSpanAt = 0;
      store2.onDidChange((e) => {
        if (e.spans && !firstSpanAt) firstSpanAt = performance.now();
      });
      const log2 = recordingLogger();
      const upStart = performance.now();
      const rt2 = await startRuntime({ port, token: TOKEN, log: log2, store: store2 });
      runtimes.push(rt2);
      const listening = log2.first(/listening on/) ?? upStart;
      const outage = reqs.filter((r) => r.start > down && r.end < upStart);

      const helloAt = await until(() => log2.first(/agent connected: restart-app/), 'the agent to reconnect', 5000);
      await until(() => firstSpanAt, 'the first batch after the restart', 5000);
      const reconnectMs = helloAt - listening;
      const firstBatchMs = firstSpanAt - listening;
      console.log(`      outage ${Math.round(upStart - down)} ms, ${outage.length} requests during it; hello ${reconnectMs.toFixed(0)} ms and first batch ${firstBatchMs.toFixed(0)} ms after the collector listened again`);
      assert.ok(reconnectMs < 2000, `the agent reconnected ${reconnectMs.toFixed(0)} ms after the collector listened again`);
      assert.ok(firstBatchMs < 2000, `the first batch came ${firstBatchMs.toFixed(0)} ms after the collector listened again`);

      // Every request served while the collector was down is in the new store.
      assert.ok(outage.length >= 40, `the app kept serving during the outage (${outage.length} requests)`);
      await until(() => outage.every((r) => pathsIn(store2).has(r.path)), 'every span of the outage in the new store', 5000).catch(() => undefined);
      const got = pathsIn(store2);
      const missing = outage.filter((r) => !got.has(r.path)).map((r) => r.path);
      assert.deepEqual(missing, [], `${missing.length} of ${outage.length} outage spans missing`);
      assert.equal(rt2.counters.get('agent.dropped.spans'), 0, 'nothing dropped by the agent');

      // The app did not notice: every request answered, as fast while the collector was down.
      const ms = (rs: Req[]) => rs.map((r) => r.end - r.start).sort((a, b) => a - b);
      const before = ms(reqs.filter((r) => r.end < down));
      const during = ms(outage);
      const p50 = (xs: number[]) => xs[Math.floor(xs.length / 2)];
      console.log(`      request latency p50/max before ${p50(before).toFixed(1)}/${before[before.length - 1].toFixed(1)} ms, during the outage ${p50(during).toFixed(1)}/${during[during.length - 1].toFixed(1)} ms`);
      assert.ok(p50(during) < Math.max(50, 3 * p50(before)), 'requests during the outage as fast as before');
      await until(() => reqs.filter((r) => r.start > upStart).length >= 10, 'requests after the restart');
    } finally {
      driving = false;
      await driver;
    }
    assert.deepEqual(reqs.filter((r) => r.status !== 200), [], 'every request answered 200');
  });

  describe('an agent killed mid-batch', () => {
    for (const variant of ['halfway through a frame', 'after the first fragment of a message'] as const) {
      it(`a raw client that stops ${variant}: the acknowledged batch is stored, nothing of the unfinished one, the next agent is served`, async () => {
        const store = new TelemetryStore();
        const log = recordingLogger();
        const rt = await startRuntime({ port: 0, token: TOKEN, log, store });
        runtimes.push(rt);
        const port = rt.collector.port;
        const c = (name: string) => rt.counters.get(name);

        const raw = await RawAgent.connect(port);
        raw.send({ v: 1, type: 'hello', resource: { 'service.name': 'raw-agent' } });
        await raw.reply('welcome');
        raw.send({ v: 1, type: 'batch', seq: 1, spans: spansNamed('good', 50) });
        const ack = await raw.reply('ack');
        assert.deepEqual(ack.accepted, { spans: 50, logs: 0, metrics: 0 });

        const text = JSON.stringify({ v: 1, type: 'batch', seq: 2, spans: spansNamed('unfinished', 200) });
        if (variant === 'halfway through a frame') {
          const frame = clientFrame(text);
          raw.write(frame.subarray(0, Math.floor(frame.length / 2)));
        } else {
          const half = Math.floor(text.length / 2);
          raw.write(clientFrame(text.slice(0, half), { fin: false }));
        }
        // Let the collector read what was sent, then die as a killed process does.
        await sleep(200);
        assert.equal(raw.closed, false);
        assert.equal(rt.collector.connectionCount, 1);
        raw.socket.destroy();

        await until(() => rt.collector.connectionCount === 0, 'the collector to drop the connection', 5000);
        assert.equal(c('ws.closed.abnormal'), 1, 'the aborted connection is counted');
        assert.ok(log.lines.some((l) => /connection #\d+ \(raw-agent\) ended without a WebSocket close/.test(l.text)), 'and logged');
        assert.equal(named(store, 'good').length, 50);
        assert.equal(named(store, 'unfinished').length, 0);
        assert.equal(c('ws.accepted.spans'), 50);
        for (const name of ['ws.rejected.bad_json', 'ws.rejected.bad_message', 'ws.rejected.protocol', 'ws.rejected.spans', 'ws.internalError']) assert.equal(c(name), 0, name);
        assert.equal(await httpStatus(port, '/healthz'), 200);

        // The next agent is served as usual.
        const next = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
        const replies: Record<string, unknown>[] = [];
        next.on('message', (d) => replies.push(JSON.parse(d.toString()) as Record<string, unknown>));
        await new Promise((r) => next.once('open', r));
        next.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'next-agent' } }));
        next.send(JSON.stringify({ v: 1, type: 'batch', seq: 1, spans: spansNamed('next', 30) }));
        const nextAck = await until(() => replies.find((m) => m.type === 'ack'), 'the next agent ack', 5000);
        assert.deepEqual(nextAck.accepted, { spans: 30, logs: 0, metrics: 0 });
        assert.equal(named(store, 'next').length, 30);
        next.close(1000);
        await until(() => rt.collector.connectionCount === 0, 'the clean close', 5000);
        assert.equal(c('ws.closed.abnormal'), 1, 'a clean close is not counted as aborted');
      });
    }

    it('a Python agent sending flat out, killed with SIGKILL: the collector stays healthy, acknowledged spans are stored whole, a new agent delivers', async () => {
      // Room for everything sent, so that "acknowledged" can be compared with "stored". Pings
      // every second: an agent that reads nothing while it sends is cut within two.
      const store = new TelemetryStore({ maxSpans: 1_000_000, maxBytes: 1 << 30 });
      const rt = await startRuntime({ port: 0, token: TOKEN, log: recordingLogger(), store, tuning: { heartbeatMs: 1000 } });
      runtimes.push(rt);
      const port = rt.collector.port;
      const c = (name: string) => rt.counters.get(name);

      const started = performance.now();
      const victim = startSender(port, 'victim', 0);
      procs.push(victim.proc);
      // Let it send flat out for 2.5 s (past two heartbeats), then kill it while it sends.
      await until(() => performance.now() - started >= 2500 && lastAcked(victim.output()) >= 10_000, () => `the victim to get 10,000 spans acknowledged (acked ${lastAcked(victim.output())}, accepted ${c('ws.accepted.spans')}, exit ${victim.proc.exitCode}: ${victim.output().slice(-300)})`, 15_000);
      // It answered the pings and read its acks while sending: one connection all along.
      assert.equal(c('ws.closed.unresponsive'), 0, 'the agent answered the pings while sending flat out');
      assert.equal(c('ws.hello'), 1);
      const exited = new Promise((r) => victim.proc.once('exit', r));
      victim.proc.kill('SIGKILL');
      await exited;
      const acked = lastAcked(victim.output());

      await until(() => rt.collector.connectionCount === 0, 'the collector to drop the dead agent', 5000);
      assert.equal(c('ws.closed.abnormal'), 1, 'the killed agent is counted');
      assert.equal(await httpStatus(port, '/healthz'), 200);

      // Every span the agent saw acknowledged is stored; every stored span is whole and stored once.
      const spans = named(store, 'victim');
      console.log(`      killed after ${acked} spans acknowledged to the agent; ${spans.length} stored, ${c('agent.dropped.spans')} reported dropped by the agent`);
      assert.ok(spans.length >= acked, `${spans.length} stored < ${acked} acknowledged`);
      assert.equal(spans.length, c('ws.accepted.spans'));
      const seen = new Set<number>();
      for (const s of spans) {
        const i = s.attributes.i;
        assert.ok(typeof i === 'number' && Number.isInteger(i) && i >= 0, `span attribute i: ${String(i)}`);
        assert.ok(!seen.has(i), `span ${i} stored twice`);
        seen.add(i);
        assert.match(s.traceId, /^[0-9a-f]{32}$/);
        assert.ok(s.endMs >= s.startMs);
        assert.equal(s.resource.serviceName, 'victim');
      }
      for (const name of ['ws.rejected.bad_json', 'ws.rejected.bad_message', 'ws.rejected.protocol', 'ws.rejected.spans', 'ws.internalError']) assert.equal(c(name), 0, name);

      // A new agent process connects and delivers everything, then exits cleanly.
      const next = startSender(port, 'survivor', 2000);
      procs.push(next.proc);
      await until(() => next.proc.exitCode !== null, () => `the new agent to finish (${next.output().slice(-300)})`, 15_000);
      assert.match(next.output(), /flushed True/);
      const survivors = named(store, 'survivor').map((s) => s.attributes.i as number).sort((a, b) => a - b);
      assert.deepEqual(survivors, Array.from({ length: 2000 }, (_, i) => i));
      await until(() => rt.collector.connectionCount === 0, 'the new agent to disconnect', 5000);
      assert.equal(c('ws.closed.abnormal'), 1, 'a normal exit closes the WebSocket properly');
    });
  });
});
