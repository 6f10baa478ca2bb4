/**
 * Nothing lost, nothing twice: a real Python agent sending flat out through a TCP relay that cuts
 * its connection to the real collector at random moments, a hundred times (mid-frame, between a
 * batch and its ack, during the upgrade or the resend). Every span the app made is stored exactly
 * once: the agent keeps unacknowledged batches and sends them again, the collector drops the
 * ones it had already stored (docs/protocol.md, "Delivery").
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { until as untilEvery } from '../../support/net';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { TelemetryStore } from '../../../src/core/store/store';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const AGENT = join(ROOT, 'agents', 'python');
const PYTHON = '/usr/bin/python3';
const CUTS = 100;

const until = <T>(f: () => T | undefined | false | Promise<T | undefined | false>, what: string | (() => string), ms = 10_000) => untilEvery(f, what, ms, 20);

/**
 * Makes spans named `tag` (attribute i from 0) as fast as it can, with a pause of 2 ms every 50
 * (so the store need not hold millions), until a line arrives on stdin; then flushes and prints
 * how many it made and the exporter's counters.
 */
const SENDER = `
import json, sys, threading, time
import routelens
tag = sys.argv[1]
agent = routelens.start(service_name=tag, metrics_interval=0, capture_logs=False, max_queue=2000000)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
i = 0
while not stop.is_set():
    with routelens.span(tag, {"i": i}):
        pass
    i += 1
    if i % 50 == 0:
        time.sleep(0.002)
flushed = routelens.flush(30)
stats = agent.exporter.stats
print(json.dumps({"made": i, "flushed": flushed, "connects": stats["connects"], "resent": stats["resent"],
                  "duplicates": stats["duplicates"], "given_up": stats["given_up"],
                  "dropped": agent.exporter.dropped_pending(), "batches": stats["batches"]}), flush=True)
`;

/** A TCP relay to `target` that cuts each connection at a random moment, `cuts` times in all. */
class CuttingRelay {
  private readonly server: net.Server;
  cuts = 0;
  cutting = true;
  private readonly open = new Set<net.Socket>();

  constructor(target: number, private readonly maxCuts: number) {
    this.server = net.createServer((agentSide) => {
      const collectorSide = net.connect(target, '127.0.0.1');
      this.open.add(agentSide);
      this.open.add(collectorSide);
      const end = () => {
        agentSide.destroy();
        collectorSide.destroy();
        this.open.delete(agentSide);
        this.open.delete(collectorSide);
      };
      agentSide.on('error', end).on('close', end);
      collectorSide.on('error', end).on('close', end);
      agentSide.pipe(collectorSide);
      collectorSide.pipe(agentSide);
      if (this.cutting && this.cuts < this.maxCuts) {
        // Anywhere from during the upgrade to several batches in.
        const after = 5 + Math.random() * 400;
        setTimeout(() => {
          if (agentSide.destroyed || !this.cutting) return;
          this.cuts++;
          if (this.cuts >= this.maxCuts) this.cutting = false;
          end();
        }, after);
      }
    });
  }

  listen(): Promise<number> {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r((this.server.address() as net.AddressInfo).port)));
  }

  close(): Promise<void> {
    for (const s of this.open) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('an agent whose connection is cut a hundred times', function () {
  this.timeout(120_000);
  let rt: Runtime | undefined;
  let relay: CuttingRelay | undefined;

  afterEach(async () => {
    await relay?.close();
    await rt?.stop();
  });

  it('stores every span the app made exactly once', async () => {
    const store = new TelemetryStore({ maxSpans: 2_000_000, maxBytes: 2 ** 31 });
    rt = await startRuntime({ port: 0, token: 'cuts-token-0123456789abcdef', log: silentLogger, store });
    relay = new CuttingRelay(rt.collector.port, CUTS);
    const relayPort = await relay.listen();

    const started = performance.now();
    const proc = spawn(PYTHON, ['-c', SENDER, 'cut'], {
      cwd: ROOT,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONPATH: AGENT, ROUTELENS_ENDPOINT: `http://127.0.0.1:${relayPort}` },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    try {
      await until(() => !relay!.cutting || proc.exitCode !== null, () => `${CUTS} cuts (${relay!.cuts} so far; ${out.slice(-300)})`, 90_000);
      const cutMs = performance.now() - started;
      proc.stdin.write('stop\n');
      await until(() => proc.exitCode !== null, () => `the sender to finish (${out.slice(-300)})`, 40_000);
      const report = JSON.parse(/^\{.*\}$/m.exec(out)?.[0] ?? 'null') as {
        made: number; flushed: boolean; connects: number; resent: number; duplicates: number; batches: number;
        given_up: Record<string, number>; dropped: Record<string, number>;
      } | null;
      assert.ok(report, `the sender's report (${out.slice(-500)})`);

      const counts = new Uint8Array(report.made);
      let stray = 0;
      for (const s of store.allSpans()) {
        if (s.name !== 'cut') continue;
        const i = s.attributes.i;
        if (typeof i === 'number' && Number.isInteger(i) && i >= 0 && i < report.made) counts[i]++;
        else stray++;
      }
      const missing: number[] = [];
      const twice: number[] = [];
      counts.forEach((n, i) => (n === 0 ? missing.push(i) : n > 1 ? twice.push(i) : undefined));
      const c = (name: string) => rt!.counters.get(name);
      console.log(
        `      ${relay.cuts} cuts in ${(cutMs / 1000).toFixed(1)} s; ${report.made} spans in ${report.batches} batches; agent: ${report.connects} connections, ` +
          `${report.resent} batches resent, ${report.duplicates} acked as duplicates; collector: ${c('ws.duplicate.batches')} duplicate batches ` +
          `(${c('ws.duplicate.items')} items) dropped, ${c('ws.closed.abnormal')} abnormal closes, ${c('agent.givenUp.batches')} given up, ${c('ws.batches.missing')} missing`,
      );
      assert.equal(relay.cuts, CUTS);
      assert.equal(report.flushed, true, 'everything acknowledged at the end');
      assert.ok(report.connects > CUTS / 2, `the agent reconnected after the cuts (${report.connects} connections)`);
      assert.deepEqual(report.dropped, { spans: 0, logs: 0, metrics: 0 }, 'nothing dropped by the agent');
      assert.equal(report.given_up.batches, 0, 'nothing given up');
      assert.equal(stray, 0);
      assert.deepEqual(missing.slice(0, 20), [], `${missing.length} of ${report.made} spans missing`);
      assert.deepEqual(twice.slice(0, 20), [], `${twice.length} spans stored more than once`);
      // The cuts did force resends and some of them had been stored already.
      assert.ok(report.resent > 0, 'batches were sent again');
      assert.ok(c('ws.duplicate.batches') > 0, 'the collector dropped duplicates');
      // An ack can itself be cut on its way: the collector may have dropped more than the agent heard of.
      assert.ok(c('ws.duplicate.batches') >= report.duplicates, 'every duplicate ack the agent got was a batch the collector dropped');
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
});
