/**
 * At-least-once delivery on the collector's side (docs/protocol.md, "Delivery"): a batch sent
 * again with the same agent instance and sequence number is acknowledged and not stored twice;
 * agents that send no instance are served as before; what agents give up is counted.
 */
import * as assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Collector } from '../../../src/core/collector/collector';
import { DeliveryLedger, MAX_INSTANCES, WINDOW } from '../../../src/core/collector/deliveryLedger';
import { silentLogger } from '../../../src/core/log';
import { TelemetryStore } from '../../../src/core/store/store';
import { nativeSpan } from '../helpers/telemetry';

const TOKEN = 'delivery-token-0123456789abcdef';

async function agent(port: number): Promise<{ ws: WebSocket; next(): Promise<Record<string, unknown>> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
  const queue: Record<string, unknown>[] = [];
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) };
}

describe('DeliveryLedger', () => {
  it('knows each (instance, seq) it recorded, per instance', () => {
    const l = new DeliveryLedger();
    assert.equal(l.check('a', 1), 'new');
    l.record('a', 1);
    l.record('a', 2);
    assert.equal(l.check('a', 1), 'duplicate');
    assert.equal(l.check('a', 2), 'duplicate');
    assert.equal(l.check('a', 3), 'new');
    assert.equal(l.check('b', 1), 'new', 'another instance has its own numbers');
  });

  it('takes late arrivals inside the window once, and counts numbers that left it unseen as missing', () => {
    const l = new DeliveryLedger();
    l.record('a', 1);
    l.record('a', 3);
    assert.equal(l.check('a', 2), 'new', 'a hole may still be filled (a resend after a reconnect)');
    l.record('a', 2);
    assert.equal(l.check('a', 2), 'duplicate');
    l.record('a', 5); // 4 is a hole
    assert.equal(l.missing, 0, 'nothing has left the window yet');
    l.record('a', 4 + WINDOW);
    assert.equal(l.missing, 1, 'seq 4 left the window without arriving');
    assert.equal(l.check('a', 4), 'duplicate', 'numbers older than the window are taken as stored');
    l.record('a', 10 * WINDOW);
    // Everything from 6 to 10*WINDOW - WINDOW left the window unseen except 4+WINDOW.
    assert.equal(l.missing, 1 + (9 * WINDOW - 5) - 1);
  });

  it('does not count numbers below the first one it saw (a collector that started late) as missing', () => {
    const l = new DeliveryLedger();
    l.record('a', 5000);
    l.record('a', 4990);
    assert.equal(l.check('a', 4990), 'duplicate');
    assert.equal(l.check('a', 4991), 'new');
    l.record('a', 5000 + 2 * WINDOW);
    // 4991..4999 and 5001..5000+WINDOW left unseen; 4990 and 5000 arrived; nothing below 4990 counts.
    assert.equal(l.missing, 9 + WINDOW);
  });

  it('stays bounded: the least recently heard-from instance is forgotten', () => {
    const l = new DeliveryLedger();
    for (let i = 0; i < MAX_INSTANCES; i++) l.record(`i${i}`, 1);
    l.record('i0', 2); // heard from again: now the most recent
    l.record('new', 1);
    assert.equal(l.size, MAX_INSTANCES);
    assert.equal(l.forgotten, 1);
    assert.equal(l.check('i1', 1), 'new', 'i1 was forgotten');
    assert.equal(l.check('i0', 1), 'duplicate', 'i0 was kept');
  });
});

describe('Collector: duplicate batches and given-up reports', () => {
  let store: TelemetryStore;
  let collector: Collector;
  let port: number;

  beforeEach(async () => {
    store = new TelemetryStore();
    collector = new Collector({ store, token: TOKEN, log: silentLogger, port: 0 });
    port = await collector.start();
  });
  afterEach(() => collector.stop());

  const batch = (seq: number, names: string[], extra: Record<string, unknown> = {}) => ({ v: 1, type: 'batch', seq, spans: names.map((name) => ({ ...nativeSpan({}), name })), ...extra });
  const named = (name: string) => store.allSpans().filter((s) => s.name === name).length;

  it('stores a batch resent on a new connection once and acknowledges both', async () => {
    const first = await agent(port);
    first.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'svc' } }));
    await first.next();
    first.ws.send(JSON.stringify(batch(1, ['one', 'one'], { instance: 'host-1-abcd' })));
    assert.deepEqual((await first.next()).accepted, { spans: 2, logs: 0, metrics: 0 });
    first.ws.terminate();

    const second = await agent(port);
    second.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'svc' } }));
    await second.next();
    second.ws.send(JSON.stringify(batch(1, ['one', 'one'], { instance: 'host-1-abcd' })));
    const again = await second.next();
    assert.equal(again.type, 'ack');
    assert.equal(again.seq, 1);
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.accepted, { spans: 0, logs: 0, metrics: 0 });
    second.ws.send(JSON.stringify(batch(2, ['two'], { instance: 'host-1-abcd' })));
    assert.deepEqual((await second.next()).accepted, { spans: 1, logs: 0, metrics: 0 });
    assert.equal(named('one'), 2);
    assert.equal(named('two'), 1);
    assert.equal(collector.counters.get('ws.duplicate.batches'), 1);
    assert.equal(collector.counters.get('ws.duplicate.items'), 2);
    second.ws.close();
  });

  it('serves agents without an instance as before: the same seq twice is stored twice', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'old' } }));
    await a.next();
    a.ws.send(JSON.stringify(batch(1, ['old'])));
    await a.next();
    a.ws.send(JSON.stringify(batch(1, ['old'])));
    const ack = await a.next();
    assert.equal(ack.duplicate, undefined);
    assert.equal(named('old'), 2);
    assert.equal(collector.counters.get('ws.duplicate.batches'), 0);
    a.ws.close();
  });

  it('refuses an instance without a usable seq, or one that is not a short string, with bad_message', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'bad' } }));
    await a.next();
    for (const extra of [{ instance: 'x' }, { instance: 'x', seq: 0 }, { instance: 'x', seq: 1.5 }, { instance: 7, seq: 1 }, { instance: 'x'.repeat(300), seq: 1 }]) {
      const msg = { ...batch(1, ['bad']), ...extra };
      if (!('seq' in extra)) delete (msg as Record<string, unknown>).seq;
      a.ws.send(JSON.stringify(msg));
      const reply = await a.next();
      assert.equal(reply.type, 'error', JSON.stringify(extra).slice(0, 60));
      assert.equal(reply.code, 'bad_message');
    }
    assert.equal(named('bad'), 0);
    assert.equal(collector.counters.get('ws.rejected.bad_message'), 5);
    a.ws.close();
  });

  it('counts what an agent reports it gave up, once even when that batch is resent', async () => {
    const a = await agent(port);
    a.ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'svc' } }));
    await a.next();
    const report = batch(3, ['r'], { instance: 'i-1', givenUp: { batches: 2, spans: 150, logs: 3, metrics: 0 } });
    a.ws.send(JSON.stringify(report));
    await a.next();
    a.ws.send(JSON.stringify(report));
    assert.equal((await a.next()).duplicate, true);
    assert.equal(collector.counters.get('agent.givenUp.batches'), 2);
    assert.equal(collector.counters.get('agent.givenUp.spans'), 150);
    assert.equal(collector.counters.get('agent.givenUp.logs'), 3);
    a.ws.close();
  });
});
