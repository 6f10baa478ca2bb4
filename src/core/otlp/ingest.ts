/**
 * Body bytes to sink, shared by the OTLP/HTTP handler and the gRPC server: decode, map, validate,
 * then deliver. Nothing reaches the sink (or the cumulative-to-delta state) unless the request as a
 * whole was well formed.
 */
import type { Counters } from '../counters';
import type { Logger } from '../log';
import type { TelemetrySink } from '../sink';
import { CumulativeToDelta } from './cumulative';
import { mapLogs } from './logs';
import { finishMetrics, mapMetrics } from './metrics';
import { otlpTypes } from './schema';
import { mapTraces } from './traces';
import { OtlpMalformedError, type Rejections } from './values';

export type OtlpSignal = 'traces' | 'logs' | 'metrics';
export type OtlpFormat = 'protobuf' | 'json';

export interface IngestResult {
  /** Items that passed validation (for metrics: data points, including those only kept as baselines). */
  accepted: number;
  rejected: number;
  /** Why items were rejected; '' when none were. */
  errorMessage: string;
}

export interface OtlpIngestOptions {
  counters: Counters;
  log: Logger;
  /** Shared between the HTTP and gRPC receivers so a series keeps one state whichever way it comes. */
  cumulative?: CumulativeToDelta;
}

const NOUN: Record<OtlpSignal, string> = { traces: 'spans', logs: 'log records', metrics: 'data points' };
const COUNTER: Record<OtlpSignal, string> = { traces: 'spans', logs: 'logs', metrics: 'datapoints' };
const REJECTED_FIELD: Record<OtlpSignal, string> = {
  traces: 'rejectedSpans',
  logs: 'rejectedLogRecords',
  metrics: 'rejectedDataPoints',
};

/** gRPC status codes as google.rpc.Status carries them (HTTP bodies reuse them). */
export const RPC_CODE = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, INTERNAL: 13 } as const;

export class OtlpIngest {
  readonly cumulative: CumulativeToDelta;

  constructor(
    private readonly sink: TelemetrySink,
    private readonly opts: OtlpIngestOptions,
  ) {
    this.cumulative = opts.cumulative ?? new CumulativeToDelta();
  }

  /** Decodes and delivers one Export request body; throws OtlpMalformedError when it must be refused whole. */
  ingest(signal: OtlpSignal, format: OtlpFormat, body: Buffer): IngestResult {
    const request = parseBody(signal, format, body);
    const json = format === 'json';
    let rejected: Rejections;
    let accepted: number;
    switch (signal) {
      case 'traces': {
        const m = mapTraces(request, json);
        rejected = m.rejected;
        accepted = m.items.length;
        if (accepted > 0) this.sink.addSpans(m.items);
        break;
      }
      case 'logs': {
        const m = mapLogs(request, json);
        rejected = m.rejected;
        accepted = m.items.length;
        if (accepted > 0) this.sink.addLogs(m.items);
        break;
      }
      case 'metrics': {
        const m = mapMetrics(request, json);
        rejected = m.rejected;
        accepted = m.items.length;
        const points = finishMetrics(m.items, this.cumulative);
        if (points.length > 0) this.sink.addMetrics(points);
        break;
      }
    }
    const c = this.opts.counters;
    c.inc(`otlp.${COUNTER[signal]}.accepted`, accepted);
    if (rejected.count > 0) {
      c.inc(`otlp.${COUNTER[signal]}.rejected`, rejected.count);
      this.opts.log.debug(`${signal}: ${rejected.message(NOUN[signal])}`);
    }
    return { accepted, rejected: rejected.count, errorMessage: rejected.message(NOUN[signal]) };
  }
}

function parseBody(signal: OtlpSignal, format: OtlpFormat, body: Buffer): unknown {
  const types = otlpTypes();
  if (format === 'protobuf') {
    const type = signal === 'traces' ? types.traceRequest : signal === 'logs' ? types.logsRequest : types.metricsRequest;
    try {
      return type.decode(body);
    } catch (e) {
      throw new OtlpMalformedError(`invalid protobuf: ${(e as Error).message}`);
    }
  }
  // An empty body is an empty request (the spec answers it with 200), in JSON as in protobuf.
  if (body.length === 0) return {};
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OtlpMalformedError(`invalid JSON: ${(e as Error).message}`);
  }
}

/** The Export*ServiceResponse body: empty on full success, partialSuccess when items were rejected. */
export function encodeExportResponse(signal: OtlpSignal, format: OtlpFormat, result: IngestResult): Buffer {
  const partial = result.rejected > 0;
  if (format === 'json') {
    if (!partial) return Buffer.from('{}');
    // int64 counts are decimal strings in OTLP/JSON.
    const body = { partialSuccess: { [REJECTED_FIELD[signal]]: String(result.rejected), errorMessage: result.errorMessage } };
    return Buffer.from(JSON.stringify(body));
  }
  if (!partial) return Buffer.alloc(0);
  const types = otlpTypes();
  const type = signal === 'traces' ? types.traceResponse : signal === 'logs' ? types.logsResponse : types.metricsResponse;
  const msg = { partialSuccess: { [REJECTED_FIELD[signal]]: result.rejected, errorMessage: result.errorMessage } };
  return Buffer.from(type.encode(type.fromObject(msg)).finish());
}

/** A google.rpc.Status body, the OTLP/HTTP error payload. */
export function encodeStatus(format: OtlpFormat, code: number, message: string): Buffer {
  if (format === 'json') return Buffer.from(JSON.stringify({ code, message }));
  const t = otlpTypes().status;
  return Buffer.from(t.encode(t.fromObject({ code, message })).finish());
}
