import * as assert from 'node:assert/strict';
import { DebugOutputParser, DebugRecordMerger } from '../../../src/core/debugOutput';
import type { LogRecord } from '../../../src/core/model';
import { TelemetryStore } from '../../../src/core/store/store';
import { hex, resource } from '../helpers/telemetry';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the agent sends for structlog's `log.info("user logged in", user_id=42)`. */
function agentRecord(body: string, timeMs: number, extra: Partial<LogRecord> = {}): LogRecord {
  return { timeMs, severity: 'info', body, attributes: { user_id: 42, 'logger.name': 'shop' }, resource: resource('shop'), traceId: hex(16), ...extra };
}

describe('one record once: debug console lines the agent also sent', () => {
  it('drops a structlog JSON line the agent delivered after it, keeping the agent record', async () => {
    const store = new TelemetryStore();
    const merger = new DebugRecordMerger(store, { graceMs: 50 });
    const parser = new DebugOutputParser(resource('shop (debug)'), (l) => merger.add(l));
    parser.push('{"event": "user logged in", "level": "info", "user_id": 42}\n');
    parser.push('{"event": "only printed", "level": "warning"}\n');
    // The agent's batch comes a moment later.
    store.addLogs([agentRecord('user logged in', Date.now())]);
    await sleep(120);
    const logs = store.queryLogs({});
    assert.deepEqual(logs.map((l) => [l.body, l.attributes['log.source'] ?? 'agent']).sort(), [['only printed', 'debug-console'], ['user logged in', 'agent']]);
    assert.equal(store.counters.snapshot()['debugConsole.duplicates'], 1);
  });

  it('drops it when the agent record came first too', async () => {
    const store = new TelemetryStore();
    store.addLogs([agentRecord('user logged in', Date.now())]);
    const merger = new DebugRecordMerger(store, { graceMs: 10 });
    new DebugOutputParser(resource('shop'), (l) => merger.add(l)).push('{"event": "user logged in", "level": "info"}\n');
    await sleep(60);
    assert.equal(store.queryLogs({}).length, 1);
  });

  it('keeps a line when the agent record is another severity, long ago, or from the console itself', async () => {
    const store = new TelemetryStore();
    store.addLogs([agentRecord('same words', Date.now(), { severity: 'warn' }), agentRecord('old words', Date.now() - 60_000)]);
    const merger = new DebugRecordMerger(store, { graceMs: 10 });
    const parser = new DebugOutputParser(resource('shop'), (l) => merger.add(l));
    parser.push('{"event": "same words", "level": "info"}\n{"event": "old words", "level": "info"}\n{"event": "twice", "level": "info"}\n{"event": "twice", "level": "info"}\n');
    await sleep(60);
    const fromConsole = store.queryLogs({ attrs: [{ key: 'log.source', value: 'debug-console', negate: false }] }).map((l) => l.body);
    assert.deepEqual(fromConsole.sort(), ['old words', 'same words', 'twice', 'twice']);
  });

  it('recognises a traceback by its exception', async () => {
    const store = new TelemetryStore();
    const merger = new DebugRecordMerger(store, { graceMs: 10 });
    new DebugOutputParser(resource('shop'), (l) => merger.add(l)).push(
      'ERROR:shop:payment failed\nTraceback (most recent call last):\n  File "/srv/app.py", line 3, in pay\n    charge()\nValueError: card declined\nnext line\n',
    );
    store.addLogs([agentRecord('payment failed', Date.now(), { severity: 'error', exception: { type: 'ValueError', message: 'card declined', frames: [{ file: '/srv/app.py', line: 3, function: 'pay' }] } })]);
    await sleep(60);
    const logs = store.queryLogs({});
    assert.equal(logs.length, 1);
    assert.equal(logs[0].attributes['log.source'], undefined);
  });

  it('flush decides at once; too many waiting are decided oldest first', () => {
    const store = new TelemetryStore();
    const merger = new DebugRecordMerger(store, { graceMs: 60_000, maxPending: 3 });
    const parser = new DebugOutputParser(resource('shop'), (l) => merger.add(l));
    for (let i = 0; i < 5; i++) parser.push(`{"event": "n${i}", "level": "info"}\n`);
    assert.deepEqual(store.queryLogs({}).map((l) => l.body).sort(), ['n0', 'n1']);
    merger.flush();
    assert.equal(store.queryLogs({}).length, 5);
  });
});
