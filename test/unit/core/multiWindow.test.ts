import * as assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { nativeSpan } from '../helpers/telemetry';
import { freePort, until } from '../../support/net';

const SCRIPT = join(__dirname, '..', '..', 'support', 'windowProcess.js');
const TOKEN = 'multi-window-token-0123456789';

interface Win {
  child: ChildProcess;
  mode: string;
  ask(): Promise<{ routes: { route: string; count: number }[]; mode: string }>;
}


function open(port: number): Win {
  const child = fork(SCRIPT, [String(port), TOKEN], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const win: Win = {
    child,
    mode: 'starting',
    ask: () =>
      new Promise((resolve) => {
        const on = (m: { type: string; routes: { route: string; count: number }[]; mode: string }) => {
          if (m.type !== 'routes') return;
          child.off('message', on);
          resolve(m);
        };
        child.on('message', on);
        child.send({ type: 'routes' });
      }),
  };
  child.on('message', (m: { type: string; mode: string }) => {
    if (m.type === 'state') win.mode = m.mode;
  });
  return win;
}


function send(port: number, route: string, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', resource: { 'service.name': 'api' } }));
      ws.send(JSON.stringify({ v: 1, type: 'batch', spans: Array.from({ length: n }, () => nativeSpan({ route })) }));
    });
    ws.on('message', (d) => JSON.parse(d.toString()).type === 'ack' && (ws.close(), resolve()));
    ws.on('error', reject);
  });
}

const countOf = async (w: Win, route: string) => (await w.ask()).routes.find((r) => r.route === route)?.count ?? 0;

describe('several windows, one collector (two processes)', function () {
  this.timeout(30_000);
  const wins: Win[] = [];
  after(() => wins.forEach((w) => w.child.kill('SIGKILL')));

  it('attaches the second window as a viewer, and hands the ports over when the owner goes', async () => {
    const port = await freePort();
    const a = open(port);
    wins.push(a);
    await until(() => a.mode === 'owner', 'window A to own the port', 8000, 50);
    await send(port, '/before', 3);
    const b = open(port);
    wins.push(b);
    await until(() => b.mode === 'viewer', 'window B to attach as a viewer', 8000, 50);
    // The viewer starts from the owner's snapshot, then follows live.
    assert.equal(await countOf(b, '/before'), 3);
    await send(port, '/live', 2);
    await until(async () => (await countOf(b, '/live')) === 2, 'the viewer to see live data', 8000, 50);
    assert.equal(await countOf(a, '/live'), 2);

    a.child.kill('SIGKILL');
    const t0 = Date.now();
    await until(() => b.mode === 'owner', 'window B to take over', 8000, 50);
    const tookMs = Date.now() - t0;
    assert.ok(tookMs < 5000, `took over in ${tookMs} ms`);
    await send(port, '/after', 4);
    assert.equal(await countOf(b, '/after'), 4);
    assert.equal(await countOf(b, '/before'), 3, 'what the viewer had is kept');
  });

  it('never has two owners when two windows start together', async () => {
    const port = await freePort();
    const x = open(port);
    const y = open(port);
    wins.push(x, y);
    await until(() => [x.mode, y.mode].sort().join() === 'owner,viewer', 'one owner and one viewer', 8000, 50);
  });
});
