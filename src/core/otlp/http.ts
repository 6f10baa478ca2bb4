/**
 * OTLP/HTTP: POST /v1/traces, /v1/logs, /v1/metrics with protobuf or JSON bodies, optionally gzip.
 * Responses follow the OTLP specification: 200 with an Export*ServiceResponse in the request's
 * content type (with partialSuccess when items were rejected), 400 with a google.rpc.Status for a
 * malformed body, 413 over the body limit (compressed or not), 415 for other content types or
 * encodings, 405 for other methods.
 */
import type * as http from 'node:http';
import * as zlib from 'node:zlib';
import type { Counters } from '../counters';
import type { Logger } from '../log';
import type { TelemetrySink } from '../sink';
import type { CumulativeToDelta } from './cumulative';
import { encodeExportResponse, encodeStatus, OtlpIngest, RPC_CODE, type OtlpFormat, type OtlpSignal } from './ingest';
import { OtlpMalformedError } from './values';

export interface OtlpHttpOptions {
  /** Limit for the body as received and, separately, after decompression. */
  maxBodyBytes: number;
  counters: Counters;
  log: Logger;
  /** Pass the gRPC server's converter here so both receivers share cumulative state. */
  cumulative?: CumulativeToDelta;
}

// A Map, not an object: the path is whatever the client sent, and `/__proto__` must not resolve.
export const OTLP_HTTP_PATHS: ReadonlyMap<string, OtlpSignal> = new Map([
  ['/v1/traces', 'traces'],
  ['/v1/logs', 'logs'],
  ['/v1/metrics', 'metrics'],
]);

const CONTENT_TYPE: Record<OtlpFormat, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The request handler for the three OTLP paths. The caller has already checked Host and Origin;
 * this handler owns everything from the method on.
 */
export function createOtlpHttpHandler(
  sink: TelemetrySink,
  opts: OtlpHttpOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const ingest = new OtlpIngest(sink, opts);
  const { counters, log, maxBodyBytes } = opts;

  function reply(res: http.ServerResponse, status: number, format: OtlpFormat, body: Buffer, headers: http.OutgoingHttpHeaders = {}): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': CONTENT_TYPE[format], 'Content-Length': body.length, ...headers });
    res.end(body);
  }

  function refuse(res: http.ServerResponse, status: number, format: OtlpFormat, message: string, headers: http.OutgoingHttpHeaders = {}): void {
    counters.inc(`otlp.http.rejected.${status}`);
    log.debug(`refused ${status}: ${message}`);
    const code = status === 413 ? RPC_CODE.RESOURCE_EXHAUSTED : status >= 500 ? RPC_CODE.INTERNAL : RPC_CODE.INVALID_ARGUMENT;
    reply(res, status, format, encodeStatus(format, code, message), headers);
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const signal = OTLP_HTTP_PATHS.get(path);
    const ct = parseContentType(req.headers['content-type']);
    // Errors answer in the request's content type when it is one of ours, protobuf otherwise (the
    // spec's default encoding for Status).
    const format: OtlpFormat = ct.format ?? 'protobuf';
    // A refusal before the body is read closes the connection instead of draining an upload of
    // unknown size.
    const close = { Connection: 'close' };
    if (!signal) return refuse(res, 404, format, `no OTLP endpoint at ${path}`, close);
    if (req.method !== 'POST') return refuse(res, 405, format, 'only POST is allowed', { Allow: 'POST', ...close });
    if (!ct.format) return refuse(res, 415, format, ct.error, close);
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'gzip' && encoding !== 'identity' && encoding !== '') {
      return refuse(res, 415, format, `unsupported Content-Encoding: ${encoding}`, close);
    }
    const declared = Number(req.headers['content-length']);
    if (declared > maxBodyBytes) return refuse(res, 413, format, `body over the ${maxBodyBytes}-byte limit`, close);

    readBody(req, maxBodyBytes, encoding === 'gzip').then(
      (body) => {
        try {
          const result = ingest.ingest(signal, format, body);
          counters.inc(`otlp.http.requests.${signal}`);
          reply(res, 200, format, encodeExportResponse(signal, format, result));
        } catch (e) {
          if (e instanceof OtlpMalformedError) return refuse(res, 400, format, e.message);
          log.error(`${signal}: ${(e as Error).stack ?? e}`);
          refuse(res, 500, format, 'internal error');
        }
      },
      (e: unknown) => {
        if (e instanceof BodyError && e.status > 0) refuse(res, e.status, format, e.message, close);
      },
    );
  };
}

interface ContentType {
  format?: OtlpFormat;
  error: string;
}

function parseContentType(header: string | undefined): ContentType {
  if (!header) return { error: 'missing Content-Type' };
  const [type, ...params] = header.split(';');
  const t = type.trim().toLowerCase();
  let format: OtlpFormat | undefined;
  if (t === 'application/x-protobuf') format = 'protobuf';
  else if (t === 'application/json') format = 'json';
  else return { error: `unsupported Content-Type: ${t}` };
  if (format === 'json') {
    for (const p of params) {
      const [k, v = ''] = p.split('=', 2);
      if (k.trim().toLowerCase() === 'charset' && !/^"?utf-?8"?$/i.test(v.trim())) {
        return { error: `unsupported charset: ${v.trim()}` };
      }
    }
  }
  return { format, error: '' };
}

/**
 * The body, bounded both as received and after decompression. Decompression streams and stops at
 * the limit, so a gzip bomb costs at most the limit plus one zlib chunk, never its expanded size.
 * Rejects with BodyError(0) when the client went away.
 */
function readBody(req: http.IncomingMessage, limit: number, gzip: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let received = 0;
    let done = false;
    let gunzip: zlib.Gunzip | undefined;

    const finish = (err: BodyError | undefined, body?: Buffer) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      gunzip?.destroy();
      chunks.length = 0;
      if (err) {
        // Let the rest of the upload drain into nothing; the reply closes the connection.
        req.resume();
        reject(err);
      } else {
        resolve(body!);
      }
    };
    const keep = (c: Buffer) => {
      size += c.length;
      if (size > limit) return finish(new BodyError(413, `decompressed body over the ${limit}-byte limit`));
      chunks.push(c);
    };
    const onData = (c: Buffer) => {
      received += c.length;
      if (received > limit) return finish(new BodyError(413, `body over the ${limit}-byte limit`));
      if (!gunzip) return keep(c);
      if (!gunzip.write(c)) {
        req.pause();
        gunzip.once('drain', () => req.resume());
      }
    };

    if (gzip) {
      gunzip = zlib.createGunzip();
      gunzip.on('data', (c: Buffer) => {
        if (!done) keep(c);
      });
      gunzip.on('end', () => finish(undefined, Buffer.concat(chunks, size)));
      gunzip.on('error', (e) => finish(new BodyError(400, `invalid gzip body: ${e.message}`)));
    }
    req.on('data', onData);
    req.on('end', () => {
      if (done) return;
      // No bytes at all is an empty request whatever the declared encoding.
      if (gunzip && received > 0) gunzip.end();
      else finish(undefined, Buffer.concat(chunks, size));
    });
    req.on('error', () => finish(new BodyError(0, 'request aborted')));
    req.on('close', () => {
      if (!req.complete) finish(new BodyError(0, 'request aborted'));
    });
  });
}
