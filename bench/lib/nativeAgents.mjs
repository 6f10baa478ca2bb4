// Load generator shared by bench/soak.mjs (collector in a plain Node child process) and
// bench/exthost-load.mjs (collector inside the real VS Code extension host): concurrent
// native-protocol agents, each a WebSocket client in this process, and the three load phases.
//
// An agent sends batches of up to BATCH spans (7 in 10 server spans over 20 routes per service,
// 5 services, latencies spread log-uniformly over 1-800 ms, 5% errors), one log per 20 spans and
// one metric point per batch, with at most 2 batches unacknowledged, as the Python agent does.
//   - full speed: a new batch as soon as an ack comes back; the accepted rate after the first
//     10 s is the collector's capacity.
//   - queue mode: spans are generated at a fixed rate into a bounded queue (10,000 items, as the
//     Python agent's) and sent from it; what does not fit is dropped and reported in the next
//     batch's `dropped`, so generated == accepted + dropped exactly.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { WebSocket } = require('ws');

const ROUTES = Array.from({ length: 20 }, (_, i) => `/api/r${i}/{id}`);

// Spans as JSON text with a placeholder in the ids, so a batch costs the generator a join and a
// replaceAll rather than a JSON.stringify. Span times are fixed (statistics go by receive time);
// durations spread log-uniformly over 1-800 ms, as a real route's do, so each route's latency
// sketches have realistic sizes.
function spanText(agent, i) {
  const server = i % 10 < 7;
  const route = ROUTES[(agent + i) % ROUTES.length];
  const error = i % 20 === 0;
  const pre = `${agent.toString(16).padStart(4, '0')}${i.toString(16).padStart(4, '0')}`;
  const startMs = 1_700_000_000_000 + i * 1000 + 0.25;
  const durationMs = Math.round(Math.exp(((i * 0.6180339887) % 1) * Math.log(800)) * 100) / 100;
  const base = {
    traceId: `${pre}BBBBBBBBBBBBaaaaaaaaaaaa`,
    spanId: `${i.toString(16).padStart(4, '0')}BBBBBBBBBBBB`,
    name: server ? `GET ${route}` : 'SELECT items',
    kind: server ? 'server' : 'client',
    startMs,
    endMs: startMs + durationMs,
    status: error && server ? 'error' : 'unset',
    attributes: server
      ? { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': error ? 500 : 200, 'url.path': route.replace('{id}', String(i)), 'client.address': '127.0.0.1', 'code.file.path': '/srv/app/main.py', 'code.line.number': 10 + (i % 20), 'code.function.name': 'main.handler' }
      : { 'db.system': 'postgresql', 'db.statement': 'SELECT * FROM items WHERE id = $1', 'server.address': 'db' },
  };
  if (error && i % 60 === 0) base.exception = { type: 'ValueError', message: `bad id ${i % 7}`, frames: [{ file: '/srv/app/main.py', line: 42, function: 'handler' }] };
  return JSON.stringify(base);
}

let batchCounter = 1;
const nextBatchHex = () => (batchCounter++).toString(16).padStart(12, '0');

class Agent {
  constructor(i, { port, batch, queue, inFlight, servicePrefix }) {
    this.i = i;
    this.port = port;
    this.batch = batch;
    this.queueLimit = queue;
    this.maxInFlight = inFlight;
    this.servicePrefix = servicePrefix;
    this.spans = Array.from({ length: batch }, (_, k) => spanText(i, k));
    this.full = `{"v":1,"type":"batch","spans":[${this.spans.join(',')}],"logs":[LOGS],"metrics":[METRIC]}`;
    this.mode = 'full';
    this.queue = 0;
    this.dropped = 0;
    this.inFlight = 0;
    this.sent = { spans: 0, logs: 0, metrics: 0 };
    this.accepted = { spans: 0, logs: 0, metrics: 0 };
    this.rejected = 0;
    this.errors = 0;
    this.generated = 0;
    this.reportedDrops = 0;
    this.serverSent = 0;
    this.stopped = false;
  }
  connect() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(`ws://127.0.0.1:${this.port}/v1/ws`, { perMessageDeflate: false });
      this.ws.on('open', () => {
        this.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': `${this.servicePrefix}-${this.i % 5}`, 'service.instance.id': `agent-${this.i}`, 'process.pid': 10_000 + this.i } }));
      });
      this.ws.on('message', (d) => {
        const m = JSON.parse(d);
        if (m.type === 'welcome') return resolve();
        if (m.type === 'ack') {
          this.inFlight--;
          for (const k of ['spans', 'logs', 'metrics']) this.accepted[k] += m.accepted[k];
          this.rejected += m.rejected.spans + m.rejected.logs + m.rejected.metrics;
          this.pump();
        } else if (m.type === 'error') this.errors++;
      });
      this.ws.on('error', reject);
      this.ws.on('close', (code) => {
        this.closed = code;
        if (!this.stopped) console.error(`agent ${this.i}: connection closed (${code}) with ${this.inFlight} batches unacknowledged`);
      });
    });
  }
  batchText(k) {
    const now = String(Date.now());
    const logs = Math.floor(k / 20);
    const logText = `{"timeMs":${now},"severity":"info","body":"handled request","attributes":{"logger.name":"app"}}`;
    const metric = `{"name":"process.memory.usage","kind":"gauge","value":${50_000_000 + this.i},"timeMs":${now},"unit":"By"}`;
    const body = k === this.batch ? this.full : `{"v":1,"type":"batch","spans":[${this.spans.slice(0, k).join(',')}],"logs":[LOGS],"metrics":[METRIC]}`;
    this.sent.spans += k;
    this.serverSent += Math.floor(k / 10) * 7 + Math.min(k % 10, 7);
    this.sent.logs += logs;
    this.sent.metrics += 1;
    let text = body.replaceAll('BBBBBBBBBBBB', nextBatchHex()).replace('LOGS', Array(logs).fill(logText).join(',')).replace('METRIC', metric);
    if (this.dropped) {
      text = text.replace('"type":"batch",', `"type":"batch","dropped":{"spans":${this.dropped},"logs":0,"metrics":0},`);
      this.reportedDrops += this.dropped;
      this.dropped = 0;
    }
    return text;
  }
  pump() {
    while (this.inFlight < this.maxInFlight && !this.stopped) {
      let k = this.batch;
      if (this.mode !== 'full') {
        k = Math.min(this.queue, this.batch);
        // An empty batch still goes out when it has drops to report.
        if (k === 0 && this.dropped === 0) return;
        this.queue -= k;
      }
      this.inFlight++;
      this.ws.send(this.batchText(k));
    }
  }
  generate(n) {
    this.generated += n;
    const take = Math.min(this.queueLimit - this.queue, n);
    this.queue += take;
    this.dropped += n - take;
    this.pump();
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * A fleet of `agents` connected agents. Returns helpers to run phases and read totals.
 * @param {{ port: number, agents?: number, batch?: number, queue?: number, inFlight?: number, servicePrefix?: string, log?: (s: string) => void }} opts
 */
export async function startFleet({ port, agents: count = 50, batch = 200, queue = 10_000, inFlight = 2, servicePrefix = 'soak', log = () => {} }) {
  const agents = Array.from({ length: count }, (_, i) => new Agent(i, { port, batch, queue, inFlight, servicePrefix }));
  await Promise.all(agents.map((a) => a.connect()));

  const sum = (f) => agents.reduce((n, a) => n + f(a), 0);
  const snapshot = () => ({
    generated: sum((a) => a.generated),
    sentSpans: sum((a) => a.sent.spans),
    acceptedSpans: sum((a) => a.accepted.spans),
    acceptedLogs: sum((a) => a.accepted.logs),
    acceptedMetrics: sum((a) => a.accepted.metrics),
    sentLogs: sum((a) => a.sent.logs),
    sentMetrics: sum((a) => a.sent.metrics),
    drops: sum((a) => a.reportedDrops + a.dropped),
    rejected: sum((a) => a.rejected),
    errors: sum((a) => a.errors),
  });

  // Stop generating; send what is queued (and any drops not yet reported), then wait for the acks.
  const drain = async () => {
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      for (const a of agents) a.pump();
      if (agents.every((a) => a.inFlight === 0 && a.queue === 0 && a.dropped === 0)) return true;
      await sleep(20);
    }
    return false;
  };

  let capacity = 0;
  /**
   * Full speed for `ms`: returns the capacity (accepted spans/s after the first 10 s, or a third
   * of the phase if shorter), measured by the agents' acks and including the final drain.
   */
  const fullSpeed = async (ms) => {
    const started = Date.now();
    for (const a of agents) {
      a.mode = 'full';
      a.stopped = false;
      a.pump();
    }
    await sleep(Math.min(10_000, ms / 3));
    const warm = snapshot();
    const warmAt = Date.now();
    await sleep(started + ms - Date.now());
    for (const a of agents) a.stopped = true;
    await drain();
    capacity = (snapshot().acceptedSpans - warm.acceptedSpans) / ((Date.now() - warmAt) / 1000);
    for (const a of agents) a.stopped = false;
    log(`  capacity at full speed: ${Math.round(capacity)} spans/s (plus one log per 20 spans and a metric point per batch)`);
    return capacity;
  };

  /** Spans generated at `factor` times the capacity measured at full speed, for `ms`; then drained. */
  const atRate = async (name, factor, ms) => {
    const before = snapshot();
    const rate = capacity * factor;
    for (const a of agents) {
      a.mode = 'queue';
      a.stopped = false;
    }
    const perTick = rate / agents.length / 100;
    let carry = 0;
    const ticker = setInterval(() => {
      carry += perTick;
      const n = Math.floor(carry);
      carry -= n;
      if (n > 0) for (const a of agents) a.generate(n);
    }, 10);
    await sleep(ms);
    clearInterval(ticker);
    const drained = await drain();
    const after = snapshot();
    const d = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
    const result = { targetRate: Math.round(rate), generatedPerS: Math.round(d.generated / (ms / 1000)), ...d, drained };
    log(`  ${name}: target ${Math.round(rate)} spans/s; generated ${d.generated}, accepted ${d.acceptedSpans}, dropped by agents (reported) ${d.drops}, rejected ${d.rejected}`);
    return result;
  };

  return {
    agents,
    snapshot,
    drain,
    fullSpeed,
    atRate,
    get capacity() {
      return capacity;
    },
    serverSpansSent: () => sum((a) => a.serverSent),
    closedEarly: () => agents.filter((a) => a.closed !== undefined).length,
    close() {
      for (const a of agents) {
        a.stopped = true;
        a.ws.close();
      }
    },
  };
}

/**
 * Runs the three phases of a load run over `totalMs`: full speed (60%), below capacity (half of
 * it, 20%), above capacity (twice it, 20%). `onPhase(name)` is awaited before each starts.
 */
export async function runLoadPhases(fleet, totalMs, onPhase = async () => {}) {
  const results = {};
  await onPhase('full speed');
  await fleet.fullSpeed(totalMs * 0.6);
  await onPhase('below capacity');
  results['below capacity'] = await fleet.atRate('below capacity', 0.5, totalMs * 0.2);
  await onPhase('above capacity');
  results['above capacity'] = await fleet.atRate('above capacity', 2, totalMs * 0.2);
  return { capacity: fleet.capacity, results };
}

export const PHASES = ['full speed', 'below capacity', 'above capacity'];
