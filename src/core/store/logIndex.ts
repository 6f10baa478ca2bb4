/**
 * The store's log records, oldest first in a bounded ring, with the indexes the log filters need:
 * by service, severity, trace id and attribute value (posting lists of sequence numbers, newest
 * last). Every record gets the next sequence number as it comes in and records only ever leave
 * from the oldest end, so the records in the ring always hold consecutive numbers and a posting
 * list's dead entries are a prefix (dropped lazily, in amortised constant time).
 */
import type { AttrValue, LogRecord, Severity } from '../model';
import { RingBuffer } from './ringBuffer';

export interface IndexedLog {
  log: LogRecord;
  bytes: number;
  seq: number;
  /** The lowercased text that `q` searches: the body and the exception's type and message. */
  text: string;
}

/** What a request's server span says about the trace a record belongs to. */
export interface TraceFacts {
  service: string;
  method: string;
  route: string;
  failed: boolean;
}

export interface AttrFilter {
  key: string;
  value: string;
  negate: boolean;
}

export interface LogQuery {
  /** At least this severity. */
  minSeverity?: Severity;
  /** Exactly these severities (wins over minSeverity). */
  severities?: Severity[];
  service?: string;
  /** A route template (`/items/{id}`) or `METHOD route`. */
  route?: string;
  /** Every term (lowercase; a quoted phrase is one term) appears in the record's text. */
  terms?: string[];
  attrs?: AttrFilter[];
  traceId?: string;
  sinceMs?: number;
  untilMs?: number;
  /** Only records of requests that failed (5xx or an error status). */
  failedOnly?: boolean;
}

export const SEVERITIES: readonly Severity[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
export const SEVERITY_RANK: Record<Severity, number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

/** Longest text of a record `q` searches (a 1 MB body is searched in its first 64 KiB). */
export const MAX_SEARCH_TEXT = 64 * 1024;
/** Attribute values longer than this are not indexed (a filter on them still works, by scan). */
const MAX_INDEXED_VALUE = 256;
const MAX_INDEXED_ATTRS = 64;

interface Posting {
  seqs: number[];
  /** Entries before this are dead (their records left the ring). */
  head: number;
}

/** An attribute value as filters compare it: a scalar as its string, anything else as JSON. */
export function attrText(v: AttrValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

export class LogIndex implements Iterable<IndexedLog> {
  private ring: RingBuffer<IndexedLog>;
  private nextSeq = 0;
  private readonly postings = new Map<string, Posting>();
  private evictedSinceCompaction = 0;

  constructor(
    private capacity: number,
    private readonly onEvict: (l: IndexedLog) => void,
  ) {
    this.ring = new RingBuffer<IndexedLog>(capacity, (l) => this.evicted(l));
  }

  get size(): number {
    return this.ring.size;
  }

  /** The sequence number the next record will get. */
  get next(): number {
    return this.nextSeq;
  }

  /** The oldest record's sequence number (equals `next` when empty). */
  get first(): number {
    return this.ring.peek()?.seq ?? this.nextSeq;
  }

  push(log: LogRecord, bytes: number): IndexedLog {
    const seq = this.nextSeq++;
    const entry: IndexedLog = { log, bytes, seq, text: searchText(log) };
    this.ring.push(entry);
    this.post(`s\0${log.resource.serviceName}`, seq);
    this.post(`l\0${log.severity}`, seq);
    if (log.traceId) this.post(`t\0${log.traceId}`, seq);
    const twin = twinKey(log);
    if (twin) this.post(twin, seq);
    let n = 0;
    for (const key in log.attributes) {
      if (n++ >= MAX_INDEXED_ATTRS) break;
      const v = attrText(log.attributes[key]);
      if (v !== undefined && v.length <= MAX_INDEXED_VALUE) this.post(`a\0${key}\0${v}`, seq);
    }
    return entry;
  }

  peek(): IndexedLog | undefined {
    return this.ring.peek();
  }

  shift(): IndexedLog | undefined {
    return this.ring.shift();
  }

  /** The record with that sequence number, when still held. */
  get(seq: number): IndexedLog | undefined {
    const i = seq - this.first;
    return i >= 0 && i < this.ring.size ? this.ring.at(i) : undefined;
  }

  *[Symbol.iterator](): IterableIterator<IndexedLog> {
    yield* this.ring;
  }

  clear(): void {
    this.ring.clear();
    this.postings.clear();
    this.evictedSinceCompaction = 0;
  }

  /** A new capacity: the newest records that fit are kept (the others evicted, oldest first). */
  resize(capacity: number): void {
    if (capacity === this.capacity) return;
    const old = [...this.ring];
    this.capacity = capacity;
    this.ring = new RingBuffer<IndexedLog>(capacity, (l) => this.evicted(l));
    for (const l of old) this.ring.push(l);
  }

  /**
   * The sequence numbers of the records that match, ascending (oldest first), at most `limit`
   * of the newest, and only those numbered `afterSeq` or later when given (a live tail's next page).
   */
  match(q: LogQuery, facts: (traceId: string) => TraceFacts | undefined, opts: { limit?: number; afterSeq?: number } = {}): number[] {
    const limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
    const floor = Math.max(this.first, opts.afterSeq ?? 0);
    const test = compile(q, facts);
    const out: number[] = [];
    const driver = this.driver(q);
    if (driver) {
      const { seqs, head } = driver;
      for (let i = seqs.length - 1; i >= head && out.length < limit; i--) {
        const seq = seqs[i];
        if (seq < floor) break;
        const entry = this.get(seq);
        if (entry && test(entry)) out.push(seq);
      }
    } else {
      const firstSeq = this.first;
      for (let i = this.ring.size - 1; i >= 0 && out.length < limit; i--) {
        if (firstSeq + i < floor) break;
        const entry = this.ring.at(i)!;
        if (test(entry)) out.push(entry.seq);
      }
    }
    return out.reverse();
  }

  /**
   * The newest held record that says the same as `log` (same severity and body, or the same
   * exception) and passes `accept`, looking at no more than `maxChecks` candidates.
   */
  findTwin(log: LogRecord, accept: (e: IndexedLog) => boolean, maxChecks = 64): IndexedLog | undefined {
    const key = twinKey(log);
    const p = key ? this.live(key) : null;
    if (!p) return undefined;
    for (let i = p.seqs.length - 1, n = 0; i >= p.head && n < maxChecks; i--, n++) {
      const e = this.get(p.seqs[i]);
      if (e && accept(e)) return e;
    }
    return undefined;
  }

  /** How many records a posting list holds (the live ones), for choosing the smallest. */
  private live(key: string): Posting | null {
    const p = this.postings.get(key);
    if (!p) return null;
    this.trim(key, p);
    return this.postings.get(key) ?? null;
  }

  /** The smallest posting list the query is a subset of, or undefined to scan everything. */
  private driver(q: LogQuery): Posting | undefined {
    const keys: string[] = [];
    if (q.traceId) keys.push(`t\0${q.traceId}`);
    if (q.service) keys.push(`s\0${q.service}`);
    for (const a of q.attrs ?? []) if (!a.negate && a.value.length <= MAX_INDEXED_VALUE) keys.push(`a\0${a.key}\0${a.value}`);
    const sev = severitySet(q);
    if (sev && sev.size === 1) keys.push(`l\0${[...sev][0]}`);
    let best: Posting | undefined;
    for (const key of keys) {
      const p = this.live(key);
      if (!p) return EMPTY; // nothing has that value: nothing matches
      if (!best || p.seqs.length - p.head < best.seqs.length - best.head) best = p;
    }
    return best;
  }

  private post(key: string, seq: number): void {
    const p = this.postings.get(key);
    if (p) p.seqs.push(seq);
    else this.postings.set(key, { seqs: [seq], head: 0 });
  }

  private evicted(l: IndexedLog): void {
    this.onEvict(l);
    // Compact every posting list once as many records left as the ring holds: each entry is
    // then visited a bounded number of times over its life.
    if (++this.evictedSinceCompaction >= Math.max(1024, this.capacity)) {
      this.evictedSinceCompaction = 0;
      for (const [key, p] of this.postings) this.trim(key, p);
    }
  }

  private trim(key: string, p: Posting): void {
    const first = this.ring.size ? this.first : this.nextSeq;
    if (p.head < p.seqs.length && p.seqs[p.head] >= first) return;
    let lo = p.head;
    let hi = p.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p.seqs[mid] < first) lo = mid + 1;
      else hi = mid;
    }
    p.head = lo;
    if (p.head >= p.seqs.length) this.postings.delete(key);
    else if (p.head > 64 && p.head * 2 > p.seqs.length) {
      p.seqs = p.seqs.slice(p.head);
      p.head = 0;
    }
  }
}

const EMPTY: Posting = { seqs: [], head: 0 };
const MAX_TWIN_TEXT = 512;

/**
 * What two records saying the same thing share: the exception (type and message) when there is
 * one, else the severity and body. Long texts are not indexed for this.
 */
function twinKey(log: LogRecord): string | undefined {
  if (log.exception) {
    const { type, message } = log.exception;
    return type.length + message.length <= MAX_TWIN_TEXT ? `x\0${type}\0${message}` : undefined;
  }
  return log.body.length <= MAX_TWIN_TEXT ? `b\0${log.severity}\0${log.body}` : undefined;
}

function searchText(log: LogRecord): string {
  let text = log.body.length > MAX_SEARCH_TEXT ? log.body.slice(0, MAX_SEARCH_TEXT) : log.body;
  if (log.exception) text += `\n${log.exception.type}: ${log.exception.message.slice(0, 4096)}`;
  return text.toLowerCase();
}

function severitySet(q: LogQuery): Set<Severity> | undefined {
  if (q.severities?.length) return new Set(q.severities);
  if (q.minSeverity) return new Set(SEVERITIES.filter((s) => SEVERITY_RANK[s] >= SEVERITY_RANK[q.minSeverity!]));
  return undefined;
}

/** The query as one predicate over a record. */
function compile(q: LogQuery, facts: (traceId: string) => TraceFacts | undefined): (e: IndexedLog) => boolean {
  const tests: ((e: IndexedLog) => boolean)[] = [];
  const sev = severitySet(q);
  if (sev) tests.push((e) => sev.has(e.log.severity));
  if (q.service) tests.push((e) => e.log.resource.serviceName === q.service);
  if (q.traceId) tests.push((e) => e.log.traceId === q.traceId);
  if (q.sinceMs !== undefined) tests.push((e) => e.log.timeMs >= q.sinceMs!);
  if (q.untilMs !== undefined) tests.push((e) => e.log.timeMs < q.untilMs!);
  for (const a of q.attrs ?? []) {
    if (a.negate) tests.push((e) => attrText(e.log.attributes[a.key]) !== a.value);
    else tests.push((e) => attrText(e.log.attributes[a.key]) === a.value);
  }
  for (const term of q.terms ?? []) if (term) tests.push((e) => e.text.includes(term));
  if (q.route) {
    const want = q.route;
    const withMethod = /^[A-Z]+ /.test(want);
    tests.push((e) => {
      const r = routeOf(e.log, facts);
      if (!r) return false;
      return withMethod ? `${r.method} ${r.route}` === want : r.route === want;
    });
  }
  if (q.failedOnly) tests.push((e) => !!e.log.traceId && facts(e.log.traceId)?.failed === true);
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  return (e) => {
    for (const t of tests) if (!t(e)) return false;
    return true;
  };
}

/** The route a record belongs to: its trace's request, else its own `http.route` attribute. */
export function routeOf(log: LogRecord, facts: (traceId: string) => TraceFacts | undefined): { method: string; route: string } | undefined {
  const f = log.traceId ? facts(log.traceId) : undefined;
  if (f) return f;
  const route = log.attributes['http.route'];
  if (typeof route !== 'string' || !route) return undefined;
  const method = log.attributes['http.request.method'] ?? log.attributes['http.method'];
  return { method: typeof method === 'string' ? method : '', route };
}

/**
 * A search box's text as filters: `key=value` and `key!=value` words are attribute filters
 * (`level=`, `service=`, `route=` and `trace=` name the columns), `"a phrase"` is one term, the
 * other words are terms; all must match. Terms come back lowercased.
 */
export function parseSearch(text: string): Pick<LogQuery, 'terms' | 'attrs' | 'service' | 'route' | 'traceId' | 'severities' | 'minSeverity'> {
  const terms: string[] = [];
  const attrs: AttrFilter[] = [];
  const out: ReturnType<typeof parseSearch> = {};
  const re = /"([^"]*)"?|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[1] !== undefined) {
      if (m[1]) terms.push(m[1].toLowerCase());
      continue;
    }
    const word = m[2];
    const kv = /^([^=!"\s][^=!\s]*)(!?=)(.*)$/.exec(word);
    if (kv) {
      const [, key, op, rawValue] = kv;
      const value = rawValue.startsWith('"') ? unquote(rawValue, text, re) : rawValue;
      const negate = op === '!=';
      if (!negate && key === 'service') out.service = value;
      else if (!negate && key === 'route') out.route = value;
      else if (!negate && (key === 'trace' || key === 'traceId')) out.traceId = value.toLowerCase();
      else if (!negate && key === 'level' && isSeverity(value)) out.minSeverity = value;
      else attrs.push({ key, value, negate });
      continue;
    }
    terms.push(word.toLowerCase());
  }
  if (terms.length) out.terms = terms;
  if (attrs.length) out.attrs = attrs;
  return out;
}

/** `key="a value"`: the value runs to the closing quote, which may be past this word. */
function unquote(rawValue: string, text: string, re: RegExp): string {
  const start = re.lastIndex - rawValue.length + 1;
  const end = text.indexOf('"', start);
  if (end < 0) {
    re.lastIndex = text.length;
    return text.slice(start);
  }
  re.lastIndex = end + 1;
  return text.slice(start, end);
}

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

/** `warning`, `WARN`, `err`... as a severity name. */
export function severityFromText(s: string): Severity | undefined {
  const t = s.trim().toLowerCase();
  if (isSeverity(t)) return t;
  const aliases: Record<string, Severity> = { warning: 'warn', err: 'error', critical: 'fatal', crit: 'fatal' };
  return aliases[t];
}
