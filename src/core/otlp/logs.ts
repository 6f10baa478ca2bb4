import type { LogRecord, Resource, Severity } from '../model';
import { resolveCode, resolveException } from '../semconv';
import {
  addScope,
  anyValue,
  attributes,
  id,
  int,
  nanosToMs,
  mapNested,
  obj,
  OtlpItemError,
  str,
  type Mapped,
  type Scope,
} from './values';

/** OTLP severity numbers come in blocks of four: 1-4 TRACE .. 21-24 FATAL. */
const BY_BLOCK: Severity[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

const BY_TEXT: Record<string, Severity> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  information: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  exception: 'error',
  critical: 'fatal',
  fatal: 'fatal',
  panic: 'fatal',
};

export function severityOf(num: number, text: string): Severity {
  if (num >= 1 && num <= 24) return BY_BLOCK[(num - 1) >> 2];
  // Senders that leave the number unset still often say it in words (Python level names, "WARN"...).
  const t = text.trim().toLowerCase().replace(/\d+$/, '');
  return BY_TEXT[t] ?? 'info';
}

/** An ExportLogsServiceRequest (decoded protobuf or parsed OTLP/JSON) to log records. */
export function mapLogs(request: unknown, json: boolean, receivedMs = Date.now()): Mapped<LogRecord> {
  return mapNested(request, json, { resources: 'resourceLogs', scopes: 'scopeLogs', items: 'logRecords' }, (v, resource, scope) => mapLog(v, resource, scope, json, receivedMs));
}

function mapLog(v: unknown, resource: Resource, scope: Scope, json: boolean, receivedMs: number): LogRecord {
  const r = obj(v, 'log record');
  if (!r) throw new OtlpItemError('log record is null');
  // The event time is optional in OTLP; the collection time, then arrival, stand in for it.
  let timeMs = nanosToMs(r.timeUnixNano, 'time');
  if (timeMs <= 0) timeMs = nanosToMs(r.observedTimeUnixNano, 'observed time');
  if (timeMs <= 0) timeMs = receivedMs;
  // All-zero ids mean "no context" for logs emitted outside a span, so they are simply absent.
  const traceId = id(r.traceId, 16, json, 'trace id');
  const spanId = id(r.spanId, 8, json, 'span id');
  const num = int(r.severityNumber, 'severity number', SEVERITY_NAMES);
  const text = str(r.severityText, 'severity text');
  const attrs = addScope(attributes(r.attributes, json), scope);
  const eventName = str(r.eventName, 'event name');
  if (eventName && attrs['event.name'] === undefined) attrs['event.name'] = eventName;

  const log: LogRecord = {
    timeMs,
    severity: severityOf(num, text),
    body: bodyText(r.body, json),
    attributes: attrs,
    resource,
  };
  if (num >= 1 && num <= 24) log.severityNumber = num;
  if (traceId) log.traceId = traceId;
  if (spanId) log.spanId = spanId;
  const code = resolveCode(attrs);
  if (code) log.code = code;
  const exception = resolveException(attrs);
  if (exception) log.exception = exception;
  return log;
}

/** A log body is any value; the model keeps text, so structured bodies are rendered as JSON. */
function bodyText(v: unknown, json: boolean): string {
  const value = anyValue(v, json);
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

const SEVERITY_NAMES: Record<string, number> = (() => {
  const names: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
  const blocks = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  blocks.forEach((b, i) => {
    for (let k = 1; k <= 4; k++) names[`SEVERITY_NUMBER_${b}${k === 1 ? '' : k}`] = i * 4 + k;
  });
  return names;
})();
