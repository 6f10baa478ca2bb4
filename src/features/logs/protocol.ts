/**
 * The messages between the extension host and the log view. The host holds the records and runs
 * the filters; the webview shows a window of rows it asks for by position. Both ends check what
 * they receive with the guards below.
 */

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

export interface LogFilter {
  /** Lowest severity shown; '' for all. */
  level: Level | '';
  /** '' for every service. */
  service: string;
  /** A route template or `METHOD route`; '' for every route. */
  route: string;
  /** The search box: words, "quoted phrases", key=value and key!=value. */
  text: string;
  /** 32 hex digits, or ''. */
  traceId: string;
  /** Epoch ms, or null for open-ended. */
  sinceMs: number | null;
  untilMs: number | null;
  failedOnly: boolean;
}

export const EMPTY_FILTER: LogFilter = { level: '', service: '', route: '', text: '', traceId: '', sinceMs: null, untilMs: null, failedOnly: false };

export interface LogViewState {
  filter: LogFilter;
  paused: boolean;
}

export type Chip = [key: string, value: string];

export interface LogRow {
  /** Position in the current result (0 is the oldest match). */
  index: number;
  seq: number;
  timeMs: number;
  level: Level;
  service: string;
  /** `METHOD route` of the record's request, or ''. */
  route: string;
  /** One line, control characters made visible, cut to a bound. */
  message: string;
  chips: Chip[];
  traceId: string;
  /** The call site, `file:line`, or '' when the record has none. */
  callsite: string;
  /** `Type: message` of the exception, or ''. */
  exception: string;
}

/** Everything about one record, for the details pane (still bounded). */
export interface LogDetail {
  seq: number;
  body: string;
  /** How many characters of the body were left out. */
  bodyCut: number;
  attributes: Chip[];
  exception: { type: string; message: string; stacktrace: string } | null;
  resource: Chip[];
  spanId: string;
}

export interface Histogram {
  startMs: number;
  bucketMs: number;
  /** Per bucket: counts of [trace+debug, info, warn, error+fatal]. */
  counts: [number, number, number, number][];
}

export type HostToLogs =
  | { type: 'result'; version: number; total: number; held: number; histogram: Histogram; services: string[]; routes: string[]; error: string; tail: boolean }
  | { type: 'rows'; version: number; start: number; rows: (LogRow | null)[] }
  | { type: 'detail'; version: number; index: number; detail: LogDetail | null }
  | { type: 'setFilter'; filter: LogFilter };

export type LogsToHost =
  | { type: 'ready'; state: LogViewState }
  | { type: 'setState'; state: LogViewState }
  | { type: 'rows'; version: number; start: number; count: number }
  | { type: 'detail'; version: number; index: number }
  | { type: 'openSource'; version: number; index: number }
  | { type: 'openTrace'; version: number; index: number };

export const MAX_ROWS_PER_REQUEST = 500;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown, max = 2000): v is string => typeof v === 'string' && v.length <= max;
const isIndex = (v: unknown): v is number => isNum(v) && Number.isInteger(v) && v >= 0;

export function isLevel(v: unknown): v is Level {
  return typeof v === 'string' && (LEVELS as readonly string[]).includes(v);
}

export function isLogFilter(v: unknown): v is LogFilter {
  return (
    isObj(v) &&
    (v.level === '' || isLevel(v.level)) &&
    isStr(v.service, 500) &&
    isStr(v.route, 1000) &&
    isStr(v.text, 1000) &&
    isStr(v.traceId, 32) &&
    /^[0-9a-fA-F]*$/.test(v.traceId) &&
    (v.sinceMs === null || isNum(v.sinceMs)) &&
    (v.untilMs === null || isNum(v.untilMs)) &&
    typeof v.failedOnly === 'boolean'
  );
}

export function isLogViewState(v: unknown): v is LogViewState {
  return isObj(v) && isLogFilter(v.filter) && typeof v.paused === 'boolean';
}

export function isLogsToHost(m: unknown): m is LogsToHost {
  if (!isObj(m)) return false;
  switch (m.type) {
    case 'ready':
    case 'setState':
      return isLogViewState(m.state);
    case 'rows':
      return isIndex(m.version) && isIndex(m.start) && isIndex(m.count) && m.count <= MAX_ROWS_PER_REQUEST;
    case 'detail':
    case 'openSource':
    case 'openTrace':
      return isIndex(m.version) && isIndex(m.index);
    default:
      return false;
  }
}

export function isHostToLogs(m: unknown): m is HostToLogs {
  if (!isObj(m)) return false;
  switch (m.type) {
    case 'result':
      return isIndex(m.version) && isIndex(m.total) && isObj(m.histogram) && Array.isArray(m.services) && Array.isArray(m.routes) && typeof m.error === 'string';
    case 'rows':
      return isIndex(m.version) && isIndex(m.start) && Array.isArray(m.rows);
    case 'detail':
      return isIndex(m.version) && isIndex(m.index);
    case 'setFilter':
      return isLogFilter(m.filter);
    default:
      return false;
  }
}

/**
 * Telemetry text made safe to show on one line: ANSI escape sequences removed, other control
 * characters shown as their Control Pictures (␛, ␀...), newlines as ⏎, lone surrogates (what
 * invalid UTF-8 becomes) as U+FFFD, and the whole cut to `max` characters with an ellipsis.
 */
export function displayText(s: string, max: number, multiline = false): string {
  let t = s.length > max * 2 + 64 ? s.slice(0, max * 2 + 64) : s;
  t = t.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]/g, '');
  t = t.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  t = t.replace(multiline ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g : /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return ' ⏎ ';
    if (c === '\t') return multiline ? '\t' : ' ';
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return '\uFFFD';
  });
  if (t.length > max) t = `${t.slice(0, max - 1)}…`;
  return t;
}
