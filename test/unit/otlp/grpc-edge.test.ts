import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { Counters } from '../../../src/core/counters';
import { silentLogger } from '../../../src/core/log';
import { startOtlpGrpcServer } from '../../../src/core/otlp/grpc';
import { otlpTypes } from '../../../src/core/otlp/schema';
import { MemorySink, startReceiver, type Receiver } from './helpers';

const TRACE_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const raw = (b: Buffer) => b;

function rawExport(target: string, path: string, body: Buffer, options: grpc.ChannelOptions = {}): Promise<{ err: grpc.ServiceError | null; resp?: Buffer }> {
  const Client = grpc.makeGenericClientConstructor(
    { Export: { path, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
    'OtlpRaw',
  );
  const client = new Client(target, grpc.credentials.createInsecure(), options) as unknown as grpc.Client & {
    Export(req: Buffer, cb: (err: grpc.ServiceError | null, resp?: Buffer) => void): void;
  };
  return new Promise((resolve) =>
    client.Export(body, (err, resp) => {
      client.close();
      resolve({ err, resp });
    }),
  );
}

function traces(spans: Record<string, unknown>[]): Buffer {
  const t = otlpTypes().traceRequest;
  return Buffer.from(t.encode(t.fromObject({ resourceSpans: [{ scopeSpans: [{ spans }] }] })).finish());
}

const span = (over: Record<string, unknown> = {}) => ({
  traceId: Buffer.alloc(16, 0xab),
  spanId: Buffer.alloc(8, 0xcd),
  name: 'work',
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000000000100000',
  ...over,
});

describe('OTLP/gRPC edge cases', function () {
  this.timeout(20_000);
  let rx: Receiver;
  let target: string;
  beforeEach(async () => {
    rx = await startReceiver({ maxMessageBytes: 256 * 1024 });
    target = `127.0.0.1:${rx.grpc.port}`;
  });
  afterEach(async () => {
    await rx.close();
  });

  it('answers malformed protobuf with INVALID_ARGUMENT and stores nothing', async () => {
    const body = traces([span(), span()]);
    const { err } = await rawExport(target, TRACE_PATH, body.subarray(0, body.length - 5));
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(rx.sink.calls, 0);
    assert.equal(rx.counters.get('otlp.grpc.rejected.invalid_argument'), 1);
  });

  it('answers an empty request with an empty response', async () => {
    const { err, resp } = await rawExport(target, TRACE_PATH, Buffer.alloc(0));
    assert.equal(err, null);
    assert.equal(resp?.length, 0);
  });

  it('reports rejected spans as partial success', async () => {
    const { err, resp } = await rawExport(target, TRACE_PATH, traces([span(), span({ spanId: Buffer.alloc(4, 1) })]));
    assert.equal(err, null);
    const t = otlpTypes().traceResponse;
    const decoded = t.toObject(t.decode(resp!), { longs: Number }) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    assert.equal(decoded.partialSuccess.rejectedSpans, 1);
    assert.match(decoded.partialSuccess.errorMessage, /invalid span id/);
    assert.equal(rx.sink.spans.length, 1);
  });

  it('refuses a message over the size limit with RESOURCE_EXHAUSTED', async () => {
    const big = traces([span({ name: 'x'.repeat(300 * 1024) })]);
    const { err } = await rawExport(target, TRACE_PATH, big);
    assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(rx.sink.calls, 0);
  });

  it('accepts gzip-compressed messages', async () => {
    const { err } = await rawExport(target, TRACE_PATH, traces([span()]), { 'grpc.default_compression_algorithm': 2 });
    assert.equal(err, null);
    assert.equal(rx.sink.spans.length, 1);
  });

  it('refuses a gzip bomb once it inflates past the limit', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    assert.ok(bomb.length < 256 * 1024);
    const client = http2.connect(`http://${target}`);
    try {
      const status = await new Promise<string | undefined>((resolve, reject) => {
        const req = client.request({
          ':method': 'POST',
          ':path': TRACE_PATH,
          'content-type': 'application/grpc',
          'grpc-encoding': 'gzip',
          te: 'trailers',
        });
        let code: string | undefined;
        req.on('response', (h) => (code ??= h['grpc-status'] as string | undefined));
        req.on('trailers', (h) => (code = (h['grpc-status'] as string | undefined) ?? code));
        req.on('error', reject);
        req.on('close', () => resolve(code));
        req.resume();
        const prefix = Buffer.alloc(5);
        prefix.writeUInt8(1, 0);
        prefix.writeUInt32BE(bomb.length, 1);
        req.end(Buffer.concat([prefix, bomb]));
      });
      assert.equal(Number(status), grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
    assert.equal(rx.sink.calls, 0);
  });

  it('listens on loopback only', async () => {
    await assert.rejects(
      startOtlpGrpcServer(new MemorySink(), { host: '0.0.0.0', port: 0, maxMessageBytes: 1024, counters: new Counters(), log: silentLogger }),
      /loopback only/,
    );
  });

  it('says so clearly when the port is taken', async () => {
    const taken = rx.grpc.port;
    await assert.rejects(
      startOtlpGrpcServer(new MemorySink(), { host: '127.0.0.1', port: taken, maxMessageBytes: 1024, counters: new Counters(), log: silentLogger }),
      (e: Error & { code?: string }) => e.code === 'EADDRINUSE' && /already in use/.test(e.message),
    );
  });

  it('stops cleanly and frees the port', async () => {
    const s = await startOtlpGrpcServer(new MemorySink(), { host: '127.0.0.1', port: 0, maxMessageBytes: 1024, counters: new Counters(), log: silentLogger });
    await s.stop();
    await s.stop();
    const again = await startOtlpGrpcServer(new MemorySink(), { host: '127.0.0.1', port: s.port, maxMessageBytes: 1024, counters: new Counters(), log: silentLogger });
    assert.equal(again.port, s.port);
    await again.stop();
  });
});
