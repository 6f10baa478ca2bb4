import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counters } from '../../../src/core/counters';
import { silentLogger } from '../../../src/core/log';
import { createOtlpHttpHandler } from '../../../src/core/otlp/http';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../../../src/core/otlp/grpc';
import { CumulativeToDelta } from '../../../src/core/otlp/cumulative';
import { MemorySink } from '../../support/memorySink';

export { MemorySink };

export interface Receiver {
  sink: MemorySink;
  counters: Counters;
  cumulative: CumulativeToDelta;
  httpUrl: string;
  grpcUrl: string;
  grpc: OtlpGrpcServer;
  close(): Promise<void>;
}

/** An HTTP server with the OTLP handler and a gRPC server, sharing one sink and one converter. */
export async function startReceiver(opts: { maxBodyBytes?: number; maxMessageBytes?: number } = {}): Promise<Receiver> {
  const sink = new MemorySink();
  const counters = new Counters();
  // The SDKs stamp times from performance.timeOrigin + now(), which can sit a few ms off Date.now();
  // a converter started a second earlier keeps the "series started after us" rule deterministic.
  const cumulative = new CumulativeToDelta({ startedAtMs: Date.now() - 1000 });
  const handler = createOtlpHttpHandler(sink, {
    maxBodyBytes: opts.maxBodyBytes ?? 4 * 1024 * 1024,
    counters,
    log: silentLogger,
    cumulative,
  });
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const grpc = await startOtlpGrpcServer(sink, {
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: opts.maxMessageBytes ?? 4 * 1024 * 1024,
    counters,
    log: silentLogger,
    cumulative,
  });
  return {
    sink,
    counters,
    cumulative,
    httpUrl: `http://127.0.0.1:${port}`,
    grpcUrl: `http://127.0.0.1:${grpc.port}`,
    grpc,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await grpc.stop();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A raw HTTP request; resolves on the response even when the server closes before the upload ends. */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string; chunks?: Iterable<Buffer> },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: false });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    if (opts.chunks) {
      const it = opts.chunks[Symbol.iterator]();
      const pump = () => {
        for (;;) {
          const n = it.next();
          if (n.done) return req.end();
          if (req.destroyed) return;
          if (!req.write(n.value)) return req.once('drain', pump);
        }
      };
      pump();
    } else {
      req.end(opts.body);
    }
  });
}

/** Epoch ms from an OTel HrTime, the exact value the receiver should reproduce. */
export function hrToMs(t: [number, number]): number {
  return t[0] * 1000 + t[1] / 1e6;
}
