/**
 * Listening beyond loopback for apps in containers, and the token for ingest: the Host rules and
 * the token rules against a running collector over real sockets (raw HTTP, WebSocket upgrades,
 * gRPC, and the Python agent's own WebSocket client), plus the pure host-name rules.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from '../../../src/cli';
import { exposedHostNames, hostNameOf, isAllowedHost, isLoopbackAddress } from '../../../src/core/collector/hostCheck';
import { silentLogger } from '../../../src/core/log';
import { startRuntime, type Runtime } from '../../../src/core/runtime';
import { hex } from '../helpers/telemetry';
import { rawRequest, requestText, upgradeText } from './net';
import { freePort } from '../../support/net';

const TOKEN = 'c0ntainer-t0ken_' + hex(8);
const AGENT_DIR = join(__dirname, '..', '..', '..', '..', 'agents', 'python');

function otlpJson(route: string): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'in-a-container' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: hex(16),
                spanId: hex(8),
                name: `GET ${route}`,
                kind: 2,
                startTimeUnixNano: `${BigInt(Date.now() - 50) * 1_000_000n}`,
                endTimeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`,
                attributes: [
                  { key: 'http.request.method', value: { stringValue: 'GET' } },
                  { key: 'http.route', value: { stringValue: route } },
                ],
              },
            ],
          },
        ],
      },
    ],
  });
}


/** An address of this machine other than loopback, to reach a 0.0.0.0 listener the way a container's bridge does. */
function externalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (!i.internal && i.family === 'IPv4') return i.address;
  return undefined;
}

function rawRequestTo(address: string, port: number, text: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: address, port }, () => s.write(text));
    let data = '';
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n\r\n')) {
        s.destroy();
        resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0) });
      }
    });
    s.on('error', reject);
  });
}

function postTraces(port: number, host: string, token: string | undefined, route: string) {
  const headers: [string, string][] = [['Host', host], ['Content-Type', 'application/json']];
  if (token) headers.push(['Authorization', `Bearer ${token}`]);
  return rawRequest(port, requestText('POST', '/v1/traces', headers, otlpJson(route)));
}

function upgrade(port: number, host: string, token: string | undefined) {
  const headers: [string, string][] = [['Host', host]];
  if (token) headers.push(['Authorization', `Bearer ${token}`]);
  return rawRequest(port, upgradeText('/v1/ws', headers));
}

/**
 * Connects with the Python agent's own WebSocket client; resolves "connected" or the error. (Not
 * spawnSync: the collector answering runs in this same event loop.)
 */
function agentConnect(port: number, env: Record<string, string>): Promise<string> {
  const code = `from routelens._ws import WebSocketClient\nc = WebSocketClient("ws://127.0.0.1:${port}/v1/ws", timeout=5)\ntry:\n    c.connect()\n    print("connected")\nexcept Exception as e:\n    print("refused", e)\n`;
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/python3', ['-c', code], { env: { PATH: process.env.PATH ?? '', PYTHONPATH: AGENT_DIR, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', () => resolve(out.trim()));
  });
}

async function grpcExport(port: number, token: string | undefined): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    const raw = (b: Buffer) => b;
    return await new Promise<number>((resolve) =>
      client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', raw, raw, Buffer.alloc(0), md, (err) => resolve(err?.code ?? 0)),
    );
  } finally {
    client.close();
  }
}

describe('security: containers and the ingest token', function () {
  this.timeout(30_000);

  describe('host rules', () => {
    it('parses Host headers and tells loopback listen addresses from the others', () => {
      assert.equal(hostNameOf('Host.Docker.Internal:4318'), 'host.docker.internal');
      assert.equal(hostNameOf('[FD00::2]:4318'), '[fd00::2]');
      assert.equal(hostNameOf('example.com:http'), undefined);
      assert.equal(hostNameOf('[::1'), undefined);
      for (const a of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '', undefined]) assert.equal(isLoopbackAddress(a), true, String(a));
      for (const a of ['0.0.0.0', '::', '172.17.0.1', '192.168.1.20']) assert.equal(isLoopbackAddress(a), false, a);
    });

    it('beyond loopback: container names, the listen address and the machine’s addresses, nothing else', () => {
      const names = exposedHostNames('0.0.0.0', {
        lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '255.0.0.0', mac: '00:00:00:00:00:00', cidr: '127.0.0.1/8' }],
        docker0: [{ address: '172.17.0.1', family: 'IPv4', internal: false, netmask: '255.255.0.0', mac: '02:42:00:00:00:01', cidr: '172.17.0.1/16' }],
        eth0: [{ address: 'fe80::1%eth0', family: 'IPv6', internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '02:00:00:00:00:02', cidr: null, scopeid: 2 }],
      });
      for (const h of ['host.docker.internal:4318', 'gateway.docker.internal', 'host.containers.internal:4318', '172.17.0.1:4318', '[fe80::1]:4318', 'localhost:4318']) assert.equal(isAllowedHost(h, names), true, h);
      for (const h of ['evil.example:4318', 'host.docker.internal.evil.example', '172.17.0.2:4318', '0.0.0.0:4318', '', undefined]) assert.equal(isAllowedHost(h, names), false, String(h));
      assert.ok(exposedHostNames('192.168.7.7', {}).has('192.168.7.7'));
    });
  });

  describe('listening on 0.0.0.0 (routelens.collector.listenAddress, routelens serve --host)', () => {
    let rt: Runtime;
    let port: number;
    let grpcPort: number;
    before(async () => {
      grpcPort = await freePort();
      rt = await startRuntime({ host: '0.0.0.0', port: 0, grpcPort, token: TOKEN, log: silentLogger });
      port = rt.collector.port;
    });
    after(() => rt?.stop());
    const c = (k: string) => rt.counters.get(k);

    it('lets a container in as host.docker.internal with the token, and refuses it without', async () => {
      const rejected = c('ingest.rejected.token');
      assert.equal((await postTraces(port, `host.docker.internal:${port}`, undefined, '/no-token')).status, 401);
      assert.equal((await postTraces(port, `host.docker.internal:${port}`, 'wrong-token', '/wrong-token')).status, 401);
      assert.equal((await upgrade(port, `host.docker.internal:${port}`, undefined)).status, 401);
      assert.equal(c('ingest.rejected.token') - rejected, 3);
      assert.equal((await postTraces(port, `host.docker.internal:${port}`, TOKEN, '/from-container')).status, 200);
      assert.equal((await upgrade(port, `host.docker.internal:${port}`, TOKEN)).status, 101);
      const routes = rt.store.routeSummaries(60).map((r) => r.route);
      assert.ok(routes.includes('/from-container'));
      assert.ok(!routes.includes('/no-token') && !routes.includes('/wrong-token'), 'nothing refused was stored');
    });

    it('still refuses foreign Host names (DNS rebinding), token or not', async () => {
      const before = c('http.rejected.host');
      assert.equal((await postTraces(port, `evil.example:${port}`, TOKEN, '/rebound')).status, 403);
      assert.equal((await upgrade(port, `evil.example:${port}`, TOKEN)).status, 403);
      assert.equal(c('http.rejected.host') - before, 1);
    });

    it('answers on the machine’s own address (the container bridge’s view) and needs the token on loopback too', async function () {
      const ip = externalIPv4();
      if (ip) {
        const text = requestText('POST', '/v1/traces', [['Host', `${ip}:${port}`], ['Content-Type', 'application/json'], ['Authorization', `Bearer ${TOKEN}`]], otlpJson('/over-the-bridge'));
        assert.equal((await rawRequestTo(ip, port, text)).status, 200);
        assert.ok(rt.store.routeSummaries(60).some((r) => r.route === '/over-the-bridge'));
      }
      assert.equal((await postTraces(port, `127.0.0.1:${port}`, undefined, '/loopback-no-token')).status, 401);
      assert.equal((await rawRequest(port, requestText('GET', '/healthz', [['Host', `host.docker.internal:${port}`]]))).status, 200, 'the health check needs no token');
    });

    it('needs the token on OTLP/gRPC (which stays on loopback)', async () => {
      assert.equal(await grpcExport(rt.grpcPort, undefined), grpc.status.UNAUTHENTICATED);
      assert.equal(await grpcExport(rt.grpcPort, 'nope'), grpc.status.UNAUTHENTICATED);
      assert.equal(await grpcExport(rt.grpcPort, TOKEN), grpc.status.OK);
    });

    it('the Python agent sends ROUTELENS_TOKEN (and nothing that could add a header line)', async () => {
      assert.equal(await agentConnect(port, { ROUTELENS_TOKEN: TOKEN }), 'connected');
      assert.match(await agentConnect(port, {}), /^refused .*401/);
      assert.match(await agentConnect(port, { ROUTELENS_TOKEN: `${TOKEN}\r\nX-Evil: 1` }), /^refused .*401/);
    });
  });

  describe('routelens serve --host', () => {
    it('parses --host and --require-token', () => {
      const a = parseArgs(['serve', '--host', '0.0.0.0', '--require-token']);
      assert.ok(!('error' in a) && !('help' in a));
      assert.equal(a.host, '0.0.0.0');
      assert.equal(a.requireToken, true);
      const d = parseArgs(['serve']);
      assert.ok(!('error' in d) && !('help' in d));
      assert.equal(d.host, '127.0.0.1');
      assert.equal(d.requireToken, false);
      assert.ok('error' in parseArgs(['serve', '--host', 'a b']));
      assert.ok('error' in parseArgs(['serve', '--host']));
    });

    it('runs as a process listening for containers, says so, and needs the token from them', async () => {
      const port = await freePort();
      const bin = join(__dirname, '..', '..', '..', '..', 'bin', 'routelens.js');
      const child = spawn(process.execPath, [bin, 'serve', '--host', '0.0.0.0', '--port', String(port), '--grpc-port', '0', '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', () => undefined);
        const end = Date.now() + 15_000;
        while (!out.includes('Press Ctrl+C') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        assert.match(out, new RegExp(`for containers \\(http://host\\.docker\\.internal:${port}\\)`));
        assert.match(out, /Ingest needs the token \(given with --token\)/);
        assert.equal((await postTraces(port, `host.docker.internal:${port}`, undefined, '/x')).status, 401);
        assert.equal((await postTraces(port, `host.docker.internal:${port}`, TOKEN, '/x')).status, 200);
      } finally {
        child.kill('SIGTERM');
      }
    });
  });

  describe('on loopback', () => {
    it('refuses host.docker.internal by default, and needs no token', async () => {
      const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger });
      try {
        const port = rt.collector.port;
        assert.equal(rt.collector.ingestNeedsToken, false);
        assert.equal((await postTraces(port, `host.docker.internal:${port}`, TOKEN, '/x')).status, 403);
        assert.equal((await postTraces(port, `127.0.0.1:${port}`, undefined, '/plain')).status, 200);
        assert.equal(await agentConnect(port, {}), 'connected');
      } finally {
        await rt.stop();
      }
    });

    it('requires the token for ingest when asked (routelens.collector.requireTokenForIngest, serve --require-token)', async () => {
      const rt = await startRuntime({ port: 0, token: TOKEN, log: silentLogger, requireTokenForIngest: true });
      try {
        const port = rt.collector.port;
        assert.equal((await postTraces(port, `127.0.0.1:${port}`, undefined, '/other-user')).status, 401);
        assert.equal((await upgrade(port, `localhost:${port}`, undefined)).status, 401);
        assert.match(await agentConnect(port, {}), /^refused .*401/);
        assert.equal((await postTraces(port, `127.0.0.1:${port}`, TOKEN, '/mine')).status, 200);
        assert.equal(await agentConnect(port, { ROUTELENS_TOKEN: TOKEN }), 'connected');
        assert.equal((await postTraces(port, `host.docker.internal:${port}`, TOKEN, '/x')).status, 403, 'still loopback names only');
        assert.deepEqual(rt.store.routeSummaries(60).map((r) => r.route), ['/mine']);
      } finally {
        await rt.stop();
      }
    });
  });
});
