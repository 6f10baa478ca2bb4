/**
 * Turns a debug session's output into log records: Python tracebacks (as printed by uncaught
 * exceptions and logging.exception) and structlog JSON lines. Output arrives in arbitrary chunks,
 * so lines are reassembled and a traceback is emitted once the line after it has arrived.
 */
import type { Attributes, ExceptionInfo, LogRecord, Resource, Severity, StackFrame } from './model';

const TRACEBACK_START = /^Traceback \(most recent call last\):\s*$/;
const FRAME = /^\s+File "([^"]+)", line (\d+), in (.+?)\s*$/;
const EXCEPTION_LINE = /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|[A-Z]\w*))(?::\s?(.*))?$/;
const CHAINED = /^(During handling of the above exception|The above exception was the direct cause)/;
const MAX_LINE = 64 * 1024;
const MAX_FRAMES = 200;

const LEVELS: Record<string, Severity> = {
  critical: 'fatal',
  fatal: 'fatal',
  error: 'error',
  exception: 'error',
  warning: 'warn',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
};

export class DebugOutputParser {
  private partial = '';
  private tb: { frames: StackFrame[]; lines: string[] } | undefined;
  private lastLogLine: string | undefined;

  constructor(
    private readonly resource: Resource,
    private readonly emit: (log: LogRecord) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feeds a chunk of output (any size, any split). */
  push(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    if (this.partial.length > MAX_LINE) this.partial = this.partial.slice(-MAX_LINE);
    for (const line of lines) this.line(line);
  }

  /** Ends the stream (session over): a traceback still open is emitted. */
  flush(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    this.finishTraceback(undefined);
  }

  private line(raw: string): void {
    const line = raw.length > MAX_LINE ? raw.slice(0, MAX_LINE) : raw;
    if (this.tb) {
      if (FRAME.test(line)) {
        const m = FRAME.exec(line)!;
        if (this.tb.frames.length < MAX_FRAMES) this.tb.frames.push({ file: m[1], line: Number(m[2]), function: m[3] });
        this.tb.lines.push(line);
        return;
      }
      if (/^\s/.test(line) || line.trim() === '' || /^\s*\^+\s*$/.test(line)) {
        // Source lines and caret markers under a frame.
        this.tb.lines.push(line);
        return;
      }
      const ex = EXCEPTION_LINE.exec(line);
      if (ex) {
        this.tb.lines.push(line);
        this.finishTraceback({ type: ex[1], message: ex[2] ?? '' });
        return;
      }
      this.finishTraceback(undefined);
    }
    if (TRACEBACK_START.test(line)) {
      this.tb = { frames: [], lines: [line] };
      return;
    }
    if (CHAINED.test(line)) return;
    const trimmed = line.trim();
    if (trimmed.startsWith('{') && trimmed.endsWith('}')) this.jsonLine(trimmed);
    else if (trimmed) this.lastLogLine = trimmed;
  }

  private finishTraceback(ex: { type: string; message: string } | undefined): void {
    const tb = this.tb;
    this.tb = undefined;
    if (!tb || tb.frames.length === 0) return;
    const exception: ExceptionInfo = { type: ex?.type ?? 'Exception', message: ex?.message ?? '', frames: tb.frames, stacktrace: tb.lines.join('\n') };
    const inner = tb.frames[tb.frames.length - 1];
    const body = this.lastLogLine && !this.lastLogLine.startsWith('Traceback') ? this.lastLogLine : `${exception.type}: ${exception.message}`;
    this.emit({
      timeMs: this.now(),
      severity: 'error',
      body,
      attributes: { 'log.source': 'debug-console', 'code.file.path': inner.file, 'code.line.number': inner.line, 'code.function.name': inner.function },
      resource: this.resource,
      code: { file: inner.file, line: inner.line, function: inner.function },
      exception,
    });
    this.lastLogLine = undefined;
  }

  /** structlog's JSONRenderer: one object a line with `event` and `level`. */
  private jsonLine(text: string): void {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
    const o = obj as Record<string, unknown>;
    if (typeof o.event !== 'string' || typeof o.level !== 'string') return;
    const severity = LEVELS[o.level.toLowerCase()];
    if (!severity) return;
    const attributes: Attributes = { 'log.source': 'debug-console' };
    for (const [k, v] of Object.entries(o)) {
      if (k === 'event' || k === 'exception') continue;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[k] = v;
    }
    const record: LogRecord = { timeMs: this.now(), severity, body: o.event, attributes, resource: this.resource };
    const file = typeof o.pathname === 'string' ? o.pathname : typeof o.filename === 'string' ? o.filename : undefined;
    if (file && typeof o.lineno === 'number') record.code = { file, line: o.lineno, function: typeof o.func_name === 'string' ? o.func_name : '' };
    if (typeof o.exception === 'string') {
      const frames: StackFrame[] = [];
      let type = 'Exception';
      let message = '';
      for (const l of o.exception.split('\n')) {
        const f = FRAME.exec(l);
        if (f) frames.push({ file: f[1], line: Number(f[2]), function: f[3] });
        const e = EXCEPTION_LINE.exec(l);
        if (e && !FRAME.test(l)) {
          type = e[1];
          message = e[2] ?? '';
        }
      }
      record.exception = { type, message, frames, stacktrace: o.exception };
    }
    this.emit(record);
  }
}

/** Where debug-console records go: the store, or anything that can tell twins and take records. */
export interface DebugRecordSink {
  hasTwinOf(log: LogRecord, windowMs: number): boolean;
  addLogs(logs: LogRecord[]): void;
  readonly counters: { inc(name: string, by?: number): void };
}

/**
 * One record once: a line the debuggee printed (structlog's JSON, a traceback) is often a record
 * its agent also sent, with the trace id and fields the console text lacks. Each debug-console
 * record waits `graceMs` (the agent sends every fraction of a second), then goes into the store
 * unless a record from another source says the same within `windowMs`; the twins are counted
 * (`debugConsole.duplicates`). The wait is bounded: at most `maxPending` records wait, beyond
 * that the oldest are decided at once.
 */
export class DebugRecordMerger {
  private pending: { log: LogRecord; due: number }[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly sink: DebugRecordSink,
    private readonly opts: { graceMs?: number; windowMs?: number; maxPending?: number; now?: () => number } = {},
  ) {}

  add(log: LogRecord): void {
    const now = (this.opts.now ?? Date.now)();
    this.pending.push({ log, due: now + (this.opts.graceMs ?? 1500) });
    if (this.pending.length > (this.opts.maxPending ?? 2000)) this.decide(this.pending.splice(0, this.pending.length - (this.opts.maxPending ?? 2000)));
    this.schedule();
  }

  /** Decides every record now (the session ended; the agent's last batch had its chance). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.decide(this.pending.splice(0));
  }

  dispose(): void {
    this.flush();
  }

  private schedule(): void {
    if (this.timer || this.pending.length === 0) return;
    const wait = Math.max(0, this.pending[0].due - (this.opts.now ?? Date.now)());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = (this.opts.now ?? Date.now)();
      let n = 0;
      while (n < this.pending.length && this.pending[n].due <= now) n++;
      this.decide(this.pending.splice(0, n));
      this.schedule();
    }, wait);
    this.timer.unref?.();
  }

  private decide(batch: { log: LogRecord }[]): void {
    const keep: LogRecord[] = [];
    let twins = 0;
    const windowMs = this.opts.windowMs ?? 5000;
    for (const { log } of batch) {
      if (this.sink.hasTwinOf(log, windowMs)) twins++;
      else keep.push(log);
    }
    if (twins) this.sink.counters.inc('debugConsole.duplicates', twins);
    if (keep.length) this.sink.addLogs(keep);
  }
}
