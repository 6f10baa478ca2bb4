/**
 * Parser for the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0.
 *
 * A hand-written scanner over the string (char codes, `indexOf` for line ends and quotes): a
 * regular expression per line or per token costs several times more on large expositions, and a
 * /metrics page of a busy service is parsed every few seconds.
 *
 * It never throws: a line it cannot read is reported with its 1-based number and skipped, and the
 * rest of the exposition is still used. Samples are grouped into families (by `# TYPE` and the
 * suffix rules of each type) and, within a family, into series: the bucket lines of one histogram
 * series are the lines with the same labels apart from `le`, the quantile lines of a summary the
 * same labels apart from `quantile`.
 */

export type ExpositionFormat = 'text' | 'openmetrics';
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'stateset' | 'info' | 'untyped' | 'unknown';
export type Labels = Record<string, string>;

export interface Exemplar {
  labels: Labels;
  value: number;
  /** Epoch milliseconds. */
  timestampMs?: number;
}

export interface Sample {
  /** The name as written, with its suffix (`_bucket`, `_total`, ...). */
  name: string;
  labels: Labels;
  value: number;
  /** Epoch milliseconds (text format timestamps are ms, OpenMetrics ones seconds: both converted). */
  timestampMs?: number;
  exemplar?: Exemplar;
  line: number;
}

/** One cumulative bucket line of a histogram series. */
export interface Bucket {
  le: number;
  count: number;
  exemplar?: Exemplar;
}

export interface Quantile {
  quantile: number;
  value: number;
}

export interface Series {
  /** Identity within its family: the labels without `le` / `quantile`, sorted by name. */
  key: string;
  labels: Labels;
  /** The sample name of a counter, gauge or unknown value (`http_requests_total`). */
  sampleName?: string;
  value?: number;
  /** Histograms and gauge histograms: cumulative buckets, ascending by `le` once parsing is done. */
  buckets?: Bucket[];
  quantiles?: Quantile[];
  sum?: number;
  count?: number;
  /** From the `_created` sample: when the series started counting, epoch milliseconds. */
  createdMs?: number;
  /** The latest explicit timestamp among the series' samples. */
  timestampMs?: number;
  /** A counter's exemplar. Bucket exemplars sit on their bucket. */
  exemplar?: Exemplar;
  /** Line of the series' first sample. */
  line: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  unit?: string;
  samples: Sample[];
  series: Series[];
}

export interface ParseError {
  line: number;
  message: string;
}

export interface ParseResult {
  format: ExpositionFormat;
  families: MetricFamily[];
  /** The first `maxErrors` problems; `errorCount` counts them all. */
  errors: ParseError[];
  errorCount: number;
  sampleCount: number;
  seriesCount: number;
  /** OpenMetrics: whether `# EOF` was seen. A body without it was cut short. */
  eof: boolean;
}

export interface ParseOptions {
  /** Default: OpenMetrics when the body ends with `# EOF`, else the text format. */
  format?: ExpositionFormat | 'auto';
  /** Errors kept in detail (default 100); all are counted. */
  maxErrors?: number;
  /** Keep the flat sample list of each family (default true); series are always built. */
  keepSamples?: boolean;
}

const TYPES: Record<string, MetricType> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  gaugehistogram: 'gaugehistogram',
  summary: 'summary',
  stateset: 'stateset',
  info: 'info',
  untyped: 'untyped',
  unknown: 'unknown',
};

/** Sample-name suffixes each type owns. '' is the family name itself. */
const SUFFIXES: Record<MetricType, readonly string[]> = {
  // The text format names counters with their `_total` (the family *is* `x_total`); OpenMetrics
  // names the family without it. Both spellings are accepted in both formats.
  counter: ['', '_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['', '_sum', '_count', '_created'],
  stateset: [''],
  info: ['_info', ''],
  untyped: [''],
  unknown: [''],
};

const STRIPPABLE = ['_bucket', '_count', '_sum', '_created', '_total', '_gsum', '_gcount', '_info'];

const CH_TAB = 9;
const CH_LF = 10;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_HASH = 35;
const CH_COMMA = 44;
const CH_EQ = 61;
const CH_BACKSLASH = 92;
const CH_LBRACE = 123;
const CH_RBRACE = 125;

function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 58;
}
function isLabelStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isLabelChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/**
 * A float as Go's strconv.ParseFloat reads it (which both formats defer to), for the forms that
 * occur: decimal and exponent notation, `NaN`, `+Inf`/`-Inf`/`Inf` in any case. Returns undefined
 * when the token is not a number (JavaScript's Number() alone would take "" as 0 and "0b1" as 1).
 */
export function parseFloatToken(tok: string): number | undefined {
  const n = tok.length;
  if (n === 0) return undefined;
  const c = tok.charCodeAt(0);
  // Fast path: plain decimals, the vast majority of values.
  if ((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43) {
    const v = Number(tok);
    if (v === v) {
      // Number() accepts hex/binary/octal prefixes and surrounding blanks; Go's float syntax does
      // not (no blanks can be in a token here; reject the prefixes).
      if (c === 48 && n > 2) {
        const x = tok.charCodeAt(1) | 32;
        if (x === 120 || x === 98 || x === 111) return undefined;
      }
      return v;
    }
  }
  switch (tok.toLowerCase()) {
    case 'nan':
    case '+nan':
    case '-nan':
      return NaN;
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
  }
  return undefined;
}

function unescape(s: string, help: boolean, openMetrics: boolean): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '\\' || i + 1 >= s.length) {
      out += ch;
      continue;
    }
    const nx = s[i + 1];
    if (nx === '\\') out += '\\';
    else if (nx === 'n') out += '\n';
    // The text format's HELP has no `\"` escape (quotes appear bare there); OpenMetrics' has.
    else if (nx === '"' && (!help || openMetrics)) out += '"';
    else {
      // Unknown escapes are kept as written, as Prometheus does.
      out += '\\' + nx;
    }
    i++;
  }
  return out;
}

interface FamilyState extends MetricFamily {
  byKey: Map<string, Series>;
  last?: Series;
  // The identity labels of `last` as offsets into the text (or strings, when they had escapes or
  // quotes), in the order written: consecutive lines of one series (all the bucket lines of a
  // histogram) are matched against them in place, without building a key.
  lastNs: number[];
  lastNl: number[];
  lastNStr: (string | undefined)[];
  lastVs: number[];
  lastVl: number[];
  lastVStr: (string | undefined)[];
  lastN: number;
  // The `le`/`quantile` spellings by position within a series: the next series repeats them.
  boundText: string[];
  boundValue: (number | undefined)[];
  typed: boolean;
  helped: boolean;
  unitSet: boolean;
}

/**
 * Labels read from one `{...}` block, reused between lines. Names and values are kept as offsets
 * into the text and only become strings when needed: a line that continues the previous series
 * (every bucket line of a histogram) is recognised by comparing in place, allocating nothing.
 */
class LabelScratch {
  private s = '';
  readonly ns: number[] = [];
  readonly ne: number[] = [];
  readonly vs: number[] = [];
  readonly ve: number[] = [];
  /** Unescaped strings of names and values that had quotes or escapes; undefined for plain ones. */
  readonly rawName: (string | undefined)[] = [];
  readonly rawValue: (string | undefined)[] = [];
  /** Decoded or already sliced strings; undefined while only the offsets are known. */
  private readonly nameStr: (string | undefined)[] = [];
  private readonly valueStr: (string | undefined)[] = [];
  n = 0;
  /** The metric name when written inside the braces (`{"my.metric", a="b"}`). */
  quotedName: string | undefined;
  reset(s: string): void {
    this.s = s;
    this.n = 0;
    this.quotedName = undefined;
  }
  /** Adds a label; a name or value given as a string (unescaped) overrides its offsets. */
  push(ns: number, ne: number, name: string | undefined, vs: number, ve: number, value: string | undefined): void {
    const k = this.n++;
    this.ns[k] = ns;
    this.ne[k] = ne;
    this.nameStr[k] = name;
    this.rawName[k] = name;
    this.vs[k] = vs;
    this.ve[k] = ve;
    this.valueStr[k] = value;
    this.rawValue[k] = value;
  }
  name(k: number): string {
    let x = this.nameStr[k];
    if (x === undefined) this.nameStr[k] = x = this.s.slice(this.ns[k], this.ne[k]);
    return x;
  }
  value(k: number): string {
    let x = this.valueStr[k];
    if (x === undefined) this.valueStr[k] = x = this.s.slice(this.vs[k], this.ve[k]);
    return x;
  }
  nameIs(k: number, str: string): boolean {
    const x = this.nameStr[k];
    if (x !== undefined) return x === str;
    return this.ne[k] - this.ns[k] === str.length && regionIs(this.s, this.ns[k], str);
  }
  valueIs(k: number, str: string): boolean {
    const x = this.valueStr[k];
    if (x !== undefined) return x === str;
    return this.ve[k] - this.vs[k] === str.length && regionIs(this.s, this.vs[k], str);
  }
  /** Whether label `a` and label `b` have the same name. */
  sameName(a: number, b: number): boolean {
    if (this.nameStr[a] !== undefined || this.nameStr[b] !== undefined) return this.name(a) === this.name(b);
    const len = this.ne[a] - this.ns[a];
    if (len !== this.ne[b] - this.ns[b]) return false;
    const s = this.s;
    for (let i = 0; i < len; i++) if (s.charCodeAt(this.ns[a] + i) !== s.charCodeAt(this.ns[b] + i)) return false;
    return true;
  }
}

/**
 * Whether `str` occurs in `s` at `at`. A char loop: `startsWith(str, at)` is several times slower
 * on a multi-megabyte text in V8, and this runs for most labels of most lines.
 */
function regionIs(s: string, at: number, str: string): boolean {
  const n = str.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(at + i) !== str.charCodeAt(i)) return false;
  return true;
}

/** Whether the `n` characters at `a` and at `b` of the same text are equal. */
function sameRegion(s: string, a: number, b: number, n: number): boolean {
  if (a === b) return true;
  for (let i = 0; i < n; i++) if (s.charCodeAt(a + i) !== s.charCodeAt(b + i)) return false;
  return true;
}

/** Plain integers (`12`, `-3`, `12.0`, as prometheus_client writes them) without a substring; else undefined. */
function simpleNumber(s: string, a: number, b: number): number | undefined {
  let i = a;
  let neg = false;
  if (s.charCodeAt(i) === 45) {
    neg = true;
    i++;
  }
  let v = 0;
  const first = i;
  while (i < b) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    i++;
  }
  const digits = i - first;
  // Beyond 15 digits the running product may round: leave those to Number().
  if (digits === 0 || digits > 15) return undefined;
  if (i < b && s.charCodeAt(i) === 46) {
    i++;
    while (i < b && s.charCodeAt(i) === 48) i++;
  }
  if (i !== b) return undefined;
  return neg ? -v : v;
}

/**
 * Parses one exposition. Never throws; problems are in `errors`.
 */
export function parseExposition(text: string, opts: ParseOptions = {}): ParseResult {
  const p = new Parser(typeof text === 'string' ? text : String(text), opts);
  try {
    p.run();
  } catch (e) {
    // Every path is meant to be guarded; this only keeps the promise of never throwing.
    p.error(p.lineNo, `internal parser error: ${(e as Error)?.message ?? String(e)}`);
  }
  return p.result();
}

class Parser {
  private readonly s: string;
  private readonly om: boolean;
  private readonly maxErrors: number;
  private readonly keepSamples: boolean;
  private readonly families: FamilyState[] = [];
  private readonly byName = new Map<string, FamilyState>();
  private current: FamilyState | undefined;
  private readonly errors: ParseError[] = [];
  private errorCount = 0;
  private sampleCount = 0;
  private eof = false;
  private readonly lbl = new LabelScratch();
  private readonly exLbl = new LabelScratch();
  lineNo = 0;
  // Cursor and error of the line being read.
  private i = 0;
  private end = 0;
  private err: string | undefined;
  // Next quote and backslash at or after some earlier position. The cursor only moves forward, so
  // reusing them keeps every search amortised over the whole text (a fresh indexOf per label value
  // would scan to the end of a text that has no backslash at all, for every value).
  private nextQuote = -2;
  private nextBackslash = -2;
  private lastName = '';
  /** The sample name read last and where in the text. */
  private prevName = '';
  private prevNameAt = -1;
  private lastResolved: { fam: FamilyState; suffix: string } | undefined;

  constructor(text: string, opts: ParseOptions) {
    this.s = text;
    this.maxErrors = Math.max(0, opts.maxErrors ?? 100);
    this.keepSamples = opts.keepSamples !== false;
    const fmt = opts.format ?? 'auto';
    this.om = fmt === 'openmetrics' || (fmt === 'auto' && endsWithEof(text));
  }

  error(line: number, message: string): void {
    this.errorCount++;
    if (this.errors.length < this.maxErrors) this.errors.push({ line, message });
  }

  run(): void {
    const s = this.s;
    const len = s.length;
    let pos = 0;
    while (pos < len) {
      let nl = s.indexOf('\n', pos);
      if (nl < 0) nl = len;
      this.lineNo++;
      let end = nl;
      if (end > pos && s.charCodeAt(end - 1) === CH_CR) end--;
      if (this.eof) {
        if (end > pos) {
          this.error(this.lineNo, 'content after # EOF');
          return;
        }
      } else if (end > pos) {
        if (s.charCodeAt(pos) === CH_HASH) this.comment(pos, end);
        else this.sampleLine(pos, end);
      } else if (this.om && nl < len) {
        // OpenMetrics has no blank lines; the text format allows them. Keep going either way.
        this.error(this.lineNo, 'blank line (not allowed in OpenMetrics)');
      }
      pos = nl + 1;
    }
    if (this.om && !this.eof) this.error(this.lineNo + 1, 'missing # EOF: the exposition was cut short');
  }

  result(): ParseResult {
    const families = this.finish();
    let seriesCount = 0;
    for (const f of families) seriesCount += f.series.length;
    return {
      format: this.om ? 'openmetrics' : 'text',
      families,
      errors: this.errors,
      errorCount: this.errorCount,
      sampleCount: this.sampleCount,
      seriesCount,
      eof: this.eof,
    };
  }

  // ---- comments: HELP, TYPE, UNIT, EOF -------------------------------------------------------

  private comment(start: number, end: number): void {
    const s = this.s;
    let i = start + 1;
    while (i < end && (s.charCodeAt(i) === CH_SPACE || s.charCodeAt(i) === CH_TAB)) i++;
    if (i === start + 1 && end > i) {
      // "#HELP" is a plain comment in both formats.
      return;
    }
    let j = i;
    while (j < end && s.charCodeAt(j) !== CH_SPACE && s.charCodeAt(j) !== CH_TAB) j++;
    const keyword = s.slice(i, j);
    if (keyword === 'EOF') {
      if (j === end || s.slice(j, end).trim() === '') {
        if (this.om) this.eof = true;
        return;
      }
    }
    if (keyword !== 'HELP' && keyword !== 'TYPE' && keyword !== 'UNIT') return;
    if (keyword === 'UNIT' && !this.om) return;
    // The metric name, then the rest.
    let k = j;
    while (k < end && (s.charCodeAt(k) === CH_SPACE || s.charCodeAt(k) === CH_TAB)) k++;
    let nameEnd = k;
    let name: string;
    if (k < end && s.charCodeAt(k) === CH_QUOTE) {
      this.i = k;
      this.end = end;
      this.err = undefined;
      const q = this.quoted();
      if (q === undefined) {
        this.error(this.lineNo, `# ${keyword}: ${this.err ?? 'bad quoted name'}`);
        return;
      }
      name = q;
      nameEnd = this.i;
    } else {
      while (nameEnd < end && isNameChar(s.charCodeAt(nameEnd))) nameEnd++;
      name = s.slice(k, nameEnd);
      if (name.length === 0 || !isNameStart(name.charCodeAt(0))) {
        this.error(this.lineNo, `# ${keyword} without a valid metric name`);
        return;
      }
      if (nameEnd < end && s.charCodeAt(nameEnd) !== CH_SPACE && s.charCodeAt(nameEnd) !== CH_TAB) {
        this.error(this.lineNo, `# ${keyword}: invalid character in metric name`);
        return;
      }
    }
    let r = nameEnd;
    // Exactly one separator before the text: further blanks belong to the help text.
    if (r < end && (s.charCodeAt(r) === CH_SPACE || s.charCodeAt(r) === CH_TAB)) r++;
    const rest = s.slice(r, end);
    const fam = this.familyFor(name);
    if (keyword === 'HELP') {
      if (fam.helped) {
        this.error(this.lineNo, `second # HELP for ${name}`);
        return;
      }
      fam.helped = true;
      fam.help = unescape(rest, true, this.om);
    } else if (keyword === 'TYPE') {
      const t = TYPES[rest.trim().toLowerCase()];
      if (!t) {
        this.error(this.lineNo, `unknown metric type ${JSON.stringify(rest.trim().slice(0, 40))} for ${name}`);
        return;
      }
      if (fam.typed) {
        this.error(this.lineNo, `second # TYPE for ${name}`);
        return;
      }
      if (fam.samples.length > 0 || fam.series.length > 0) {
        this.error(this.lineNo, `# TYPE for ${name} after its samples`);
        return;
      }
      fam.typed = true;
      fam.type = t;
    } else {
      if (fam.unitSet) {
        this.error(this.lineNo, `second # UNIT for ${name}`);
        return;
      }
      fam.unitSet = true;
      fam.unit = rest.trim();
    }
    this.current = fam;
    this.lastResolved = undefined;
  }

  private familyFor(name: string): FamilyState {
    let fam = this.byName.get(name);
    if (!fam) {
      fam = this.newFamily(name, this.om ? 'unknown' : 'untyped');
    }
    return fam;
  }

  private newFamily(name: string, type: MetricType): FamilyState {
    const fam: FamilyState = { name, type, samples: [], series: [], byKey: new Map(), lastNs: [], lastNl: [], lastNStr: [], lastVs: [], lastVl: [], lastVStr: [], lastN: -1, boundText: [], boundValue: [], typed: false, helped: false, unitSet: false };
    this.families.push(fam);
    this.byName.set(name, fam);
    return fam;
  }

  // ---- samples ---------------------------------------------------------------------------------

  private sampleLine(start: number, end: number): void {
    const s = this.s;
    this.i = start;
    this.end = end;
    this.err = undefined;
    const lbl = this.lbl;
    lbl.reset(s);
    let name: string;
    const c0 = s.charCodeAt(start);
    if (isNameStart(c0)) {
      let j = start + 1;
      while (j < end && isNameChar(s.charCodeAt(j))) j++;
      const prev = this.prevName;
      // The same name as the previous line: reuse its string (and the resolve cache keyed by it).
      if (j - start === prev.length && this.prevNameAt >= 0 && sameRegion(s, start, this.prevNameAt, j - start)) name = prev;
      else {
        name = s.slice(start, j);
        this.prevName = name;
        this.prevNameAt = start;
      }
      this.i = j;
    } else if (c0 === CH_LBRACE) {
      name = '';
    } else {
      this.error(this.lineNo, `invalid metric name at column 1`);
      return;
    }
    // The text format allows blanks between the name and its labels.
    let b = this.i;
    while (b < end && (s.charCodeAt(b) === CH_SPACE || s.charCodeAt(b) === CH_TAB)) b++;
    if (b < end && s.charCodeAt(b) === CH_LBRACE) {
      this.i = b;
      if (!this.labels(lbl, true)) {
        this.error(this.lineNo, this.err ?? 'malformed labels');
        return;
      }
      if (lbl.quotedName !== undefined) {
        if (name !== '') {
          this.error(this.lineNo, 'metric name given twice');
          return;
        }
        name = lbl.quotedName;
      }
    }
    if (name === '') {
      this.error(this.lineNo, 'sample without a metric name');
      return;
    }
    // Value.
    if (!this.blanks()) {
      this.error(this.lineNo, this.i >= end ? `no value for ${name}` : `unexpected character after ${name}`);
      return;
    }
    const vStart = this.i;
    let j = vStart;
    while (j < end) {
      const c = s.charCodeAt(j);
      if (c === CH_SPACE || c === CH_TAB) break;
      j++;
    }
    const value = simpleNumber(s, vStart, j) ?? parseFloatToken(s.slice(vStart, j));
    if (value === undefined) {
      this.error(this.lineNo, `invalid value ${JSON.stringify(s.slice(vStart, Math.min(j, vStart + 40)))}`);
      return;
    }
    this.i = j;
    let timestampMs: number | undefined;
    let exemplar: Exemplar | undefined;
    if (this.blanks()) {
      if (s.charCodeAt(this.i) !== CH_HASH) {
        const tStart = this.i;
        let k = tStart;
        while (k < end && s.charCodeAt(k) !== CH_SPACE && s.charCodeAt(k) !== CH_TAB) k++;
        const ts = parseFloatToken(s.slice(tStart, k));
        if (ts === undefined || !Number.isFinite(ts)) {
          this.error(this.lineNo, `invalid timestamp ${JSON.stringify(s.slice(tStart, Math.min(k, tStart + 40)))}`);
          return;
        }
        timestampMs = this.om ? ts * 1000 : ts;
        this.i = k;
        this.blanks();
      }
      if (this.i < end) {
        if (s.charCodeAt(this.i) !== CH_HASH) {
          this.error(this.lineNo, 'unexpected text after the sample');
          return;
        }
        exemplar = this.exemplar();
        if (!exemplar) {
          this.error(this.lineNo, this.err ?? 'malformed exemplar');
          return;
        }
      }
    }
    this.addSample(name, value, timestampMs, exemplar);
  }

  /** Skips spaces and tabs; true when it skipped any and the line goes on. */
  private blanks(): boolean {
    const s = this.s;
    const from = this.i;
    while (this.i < this.end) {
      const c = s.charCodeAt(this.i);
      if (c !== CH_SPACE && c !== CH_TAB) break;
      this.i++;
    }
    return this.i > from && this.i < this.end;
  }

  private exemplar(): Exemplar | undefined {
    const s = this.s;
    // At '#'.
    this.i++;
    if (!this.blanks() || s.charCodeAt(this.i) !== CH_LBRACE) {
      this.err = 'exemplar must be "# {labels} value [timestamp]"';
      return undefined;
    }
    const ex = this.exLbl;
    ex.reset(s);
    if (!this.labels(ex, false)) return undefined;
    if (!this.blanks()) {
      this.err = 'exemplar without a value';
      return undefined;
    }
    let k = this.i;
    while (k < this.end && s.charCodeAt(k) !== CH_SPACE && s.charCodeAt(k) !== CH_TAB) k++;
    const value = parseFloatToken(s.slice(this.i, k));
    if (value === undefined) {
      this.err = 'invalid exemplar value';
      return undefined;
    }
    this.i = k;
    const labels: Labels = {};
    for (let n = 0; n < ex.n; n++) labels[ex.name(n)] = ex.value(n);
    const out: Exemplar = { labels, value };
    if (this.blanks()) {
      let t = this.i;
      while (t < this.end && s.charCodeAt(t) !== CH_SPACE && s.charCodeAt(t) !== CH_TAB) t++;
      const ts = parseFloatToken(s.slice(this.i, t));
      if (ts === undefined || !Number.isFinite(ts)) {
        this.err = 'invalid exemplar timestamp';
        return undefined;
      }
      // Exemplar timestamps are seconds in OpenMetrics, the only format that defines exemplars.
      out.timestampMs = ts * 1000;
      this.i = t;
      if (this.blanks() || this.i < this.end) {
        this.err = 'unexpected text after the exemplar';
        return undefined;
      }
    }
    return out;
  }

  // Set by quotedRange: the raw contents [qStart, qEnd), or the unescaped string when it had escapes.
  private qStart = 0;
  private qEnd = 0;
  private qStr: string | undefined;

  /** Reads a double-quoted string at the cursor (label value or quoted name), unescaping it. */
  private quoted(): string | undefined {
    if (!this.quotedRange()) return undefined;
    return this.qStr ?? this.s.slice(this.qStart, this.qEnd);
  }

  /** Reads a double-quoted string at the cursor into qStart/qEnd/qStr; false when unterminated. */
  private quotedRange(): boolean {
    const s = this.s;
    const start = this.i + 1;
    if (this.nextQuote !== -1 && this.nextQuote < start) this.nextQuote = s.indexOf('"', start);
    const close = this.nextQuote;
    if (close < 0 || close >= this.end) {
      this.err = 'unterminated quoted string';
      return false;
    }
    if (this.nextBackslash !== -1 && this.nextBackslash < start) this.nextBackslash = s.indexOf('\\', start);
    const bs = this.nextBackslash;
    if (bs < 0 || bs > close) {
      this.i = close + 1;
      this.qStart = start;
      this.qEnd = close;
      this.qStr = undefined;
      return true;
    }
    // Slow path: escapes present; a `\"` does not close the string.
    let out = '';
    let k = start;
    while (k < this.end) {
      const c = s.charCodeAt(k);
      if (c === CH_QUOTE) {
        this.i = k + 1;
        this.qStart = start;
        this.qEnd = k;
        this.qStr = out;
        return true;
      }
      if (c === CH_BACKSLASH && k + 1 < this.end) {
        const nx = s.charCodeAt(k + 1);
        if (nx === CH_BACKSLASH) out += '\\';
        else if (nx === 110) out += '\n';
        else if (nx === CH_QUOTE) out += '"';
        else out += '\\' + s[k + 1];
        k += 2;
        continue;
      }
      if (c === CH_LF) break;
      out += s[k];
      k++;
    }
    this.err = 'unterminated quoted string';
    return false;
  }

  /** Reads `{name="value",...}` at the cursor into `into`. */
  private labels(into: LabelScratch, allowQuotedName: boolean): boolean {
    const s = this.s;
    const end = this.end;
    this.i++; // '{'
    let first = true;
    for (;;) {
      this.skipBlanks();
      if (this.i >= end) {
        this.err = 'unterminated label set';
        return false;
      }
      let c = s.charCodeAt(this.i);
      if (c === CH_RBRACE) {
        this.i++;
        return true;
      }
      let ns: number;
      let ne: number;
      let nameStr: string | undefined;
      if (c === CH_QUOTE) {
        const q = this.quoted();
        if (q === undefined) return false;
        ns = ne = 0;
        nameStr = q;
        this.skipBlanks();
        if (this.i < end && allowQuotedName && first && (s.charCodeAt(this.i) === CH_COMMA || s.charCodeAt(this.i) === CH_RBRACE)) {
          // `{"metric.name", ...}`: a quoted name with no `=` is the metric name.
          into.quotedName = q;
          first = false;
          if (s.charCodeAt(this.i) === CH_COMMA) this.i++;
          continue;
        }
      } else if (isLabelStart(c)) {
        ns = this.i;
        this.i++;
        while (this.i < end && isLabelChar(s.charCodeAt(this.i))) this.i++;
        ne = this.i;
        this.skipBlanks();
      } else {
        this.err = `invalid label name at column ${this.i - this.lineStart() + 1}`;
        return false;
      }
      first = false;
      if (this.i >= end || s.charCodeAt(this.i) !== CH_EQ) {
        this.err = `expected = after label ${nameStr ?? s.slice(ns, ne)}`;
        return false;
      }
      this.i++;
      this.skipBlanks();
      if (this.i >= end || s.charCodeAt(this.i) !== CH_QUOTE) {
        this.err = `label ${nameStr ?? s.slice(ns, ne)}: value must be quoted`;
        return false;
      }
      if (!this.quotedRange()) return false;
      into.push(ns, ne, nameStr, this.qStart, this.qEnd, this.qStr);
      const k = into.n - 1;
      for (let m = 0; m < k; m++) {
        if (into.sameName(m, k)) {
          this.err = `label ${nameStr ?? s.slice(ns, ne)} given twice`;
          return false;
        }
      }
      this.skipBlanks();
      if (this.i >= end) {
        this.err = 'unterminated label set';
        return false;
      }
      c = s.charCodeAt(this.i);
      if (c === CH_COMMA) this.i++;
      else if (c !== CH_RBRACE) {
        this.err = `expected , or } after label ${nameStr ?? s.slice(ns, ne)}`;
        return false;
      }
    }
  }

  private skipBlanks(): void {
    const s = this.s;
    while (this.i < this.end) {
      const c = s.charCodeAt(this.i);
      if (c !== CH_SPACE && c !== CH_TAB) break;
      this.i++;
    }
  }

  private lineStart(): number {
    const nl = this.s.lastIndexOf('\n', this.i);
    return nl < 0 ? 0 : nl + 1;
  }

  // ---- grouping --------------------------------------------------------------------------------

  /** The family a sample name belongs to and the suffix it carries, or an error. */
  private resolve(name: string): { fam: FamilyState; suffix: string } | string {
    // Consecutive lines usually share their name (the buckets of a histogram).
    if (name === this.lastName && this.lastResolved && this.lastResolved.fam === this.current) return this.lastResolved;
    const r = this.resolveSlow(name);
    if (typeof r !== 'string') {
      this.lastName = name;
      this.lastResolved = r;
    }
    return r;
  }

  private resolveSlow(name: string): { fam: FamilyState; suffix: string } | string {
    const cur = this.current;
    if (cur && name.startsWith(cur.name)) {
      const suffix = name.slice(cur.name.length);
      if (SUFFIXES[cur.type].includes(suffix)) return { fam: cur, suffix };
    }
    const exact = this.byName.get(name);
    if (exact) {
      if (SUFFIXES[exact.type].includes('')) return { fam: exact, suffix: '' };
    }
    for (const suf of STRIPPABLE) {
      if (name.length > suf.length && name.endsWith(suf)) {
        const base = this.byName.get(name.slice(0, -suf.length));
        if (base && SUFFIXES[base.type].includes(suf)) return { fam: base, suffix: suf };
      }
    }
    if (exact) return `sample ${name} does not belong to ${exact.type} ${exact.name}`;
    return { fam: this.newFamily(name, this.om ? 'unknown' : 'untyped'), suffix: '' };
  }

  private addSample(name: string, value: number, timestampMs: number | undefined, exemplar: Exemplar | undefined): void {
    const r = this.resolve(name);
    if (typeof r === 'string') {
      this.error(this.lineNo, r);
      return;
    }
    const { fam, suffix } = r;
    this.current = fam;
    const lbl = this.lbl;
    const n = lbl.n;
    const type = fam.type;
    // Which label, if any, is not part of the series identity.
    let skip: string | undefined;
    if ((type === 'histogram' || type === 'gaugehistogram') && suffix === '_bucket') skip = 'le';
    else if (type === 'summary' && suffix === '') skip = 'quantile';
    let skipAt = -1;
    if (skip) {
      for (let k = 0; k < n; k++) {
        if (lbl.nameIs(k, skip)) {
          skipAt = k;
          break;
        }
      }
      if (skipAt < 0) {
        this.error(this.lineNo, `${name} has no ${skip} label`);
        return;
      }
    }
    let series = fam.last;
    if (!series || !this.sameAsLast(fam, skipAt)) {
      const key = seriesKey(lbl, skipAt);
      series = fam.byKey.get(key);
      if (!series) {
        const labels: Labels = {};
        for (let k = 0; k < n; k++) if (k !== skipAt) labels[lbl.name(k)] = lbl.value(k);
        series = { key, labels, line: this.lineNo };
        fam.byKey.set(key, series);
        fam.series.push(series);
      }
      fam.last = series;
      let m = 0;
      for (let k = 0; k < n; k++) {
        if (k === skipAt) continue;
        fam.lastNs[m] = lbl.ns[k];
        fam.lastNl[m] = lbl.ne[k] - lbl.ns[k];
        fam.lastNStr[m] = lbl.rawName[k];
        fam.lastVs[m] = lbl.vs[k];
        fam.lastVl[m] = lbl.ve[k] - lbl.vs[k];
        fam.lastVStr[m] = lbl.rawValue[k];
        m++;
      }
      fam.lastN = m;
    }
    let bound: number | undefined;
    if (skip) {
      const pos = skip === 'le' ? (series.buckets?.length ?? 0) : (series.quantiles?.length ?? 0);
      const known = fam.boundText[pos];
      if (known !== undefined && lbl.valueIs(skipAt, known)) bound = fam.boundValue[pos];
      else {
        const text = lbl.value(skipAt);
        bound = parseFloatToken(text);
        if (pos < 64) {
          fam.boundText[pos] = text;
          fam.boundValue[pos] = bound;
        }
      }
      if (bound === undefined || bound !== bound) {
        this.error(this.lineNo, `${name}: invalid ${skip} ${JSON.stringify(lbl.value(skipAt).slice(0, 40))}`);
        return;
      }
    }
    if (timestampMs !== undefined && (series.timestampMs === undefined || timestampMs > series.timestampMs)) series.timestampMs = timestampMs;
    let dup = false;
    switch (suffix) {
      case '_bucket': {
        const buckets = (series.buckets ??= []);
        for (let b = buckets.length - 1; b >= 0; b--) {
          if (buckets[b].le === bound) {
            dup = true;
            break;
          }
        }
        if (!dup) {
          const bucket: Bucket = { le: bound!, count: value };
          if (exemplar) bucket.exemplar = exemplar;
          buckets.push(bucket);
        }
        break;
      }
      case '_sum':
      case '_gsum':
        if (series.sum !== undefined) dup = true;
        else series.sum = value;
        break;
      case '_count':
      case '_gcount':
        if (series.count !== undefined) dup = true;
        else series.count = value;
        break;
      case '_created':
        if (series.createdMs !== undefined) dup = true;
        else series.createdMs = value * 1000;
        break;
      default:
        if (skip === 'quantile') {
          const qs = (series.quantiles ??= []);
          for (const q of qs) if (q.quantile === bound) dup = true;
          if (!dup) qs.push({ quantile: bound!, value });
        } else if (series.value !== undefined) dup = true;
        else {
          series.value = value;
          series.sampleName = name;
          if (exemplar) series.exemplar = exemplar;
        }
    }
    if (dup) {
      this.error(this.lineNo, `duplicate sample ${name}${skip ? ` ${skip}=${lbl.value(skipAt)}` : ''}`);
      return;
    }
    this.sampleCount++;
    if (this.keepSamples) {
      const labels: Labels = {};
      for (let k = 0; k < n; k++) labels[lbl.name(k)] = lbl.value(k);
      const sample: Sample = { name, labels, value, line: this.lineNo };
      if (timestampMs !== undefined) sample.timestampMs = timestampMs;
      if (exemplar) sample.exemplar = exemplar;
      fam.samples.push(sample);
    }
  }

  /** Whether the line's identity labels are those of the family's last series, in the same order. */
  private sameAsLast(fam: FamilyState, skipAt: number): boolean {
    const lbl = this.lbl;
    const s = this.s;
    const n = lbl.n;
    if (fam.lastN !== (skipAt < 0 ? n : n - 1)) return false;
    let m = 0;
    for (let k = 0; k < n; k++) {
      if (k === skipAt) continue;
      const ln = fam.lastNStr[m];
      const cn = lbl.rawName[k];
      if (ln === undefined && cn === undefined) {
        const len = lbl.ne[k] - lbl.ns[k];
        if (len !== fam.lastNl[m] || !sameRegion(s, lbl.ns[k], fam.lastNs[m], len)) return false;
      } else if (lbl.name(k) !== (ln ?? s.slice(fam.lastNs[m], fam.lastNs[m] + fam.lastNl[m]))) return false;
      const lv = fam.lastVStr[m];
      const cv = lbl.rawValue[k];
      if (lv === undefined && cv === undefined) {
        const len = lbl.ve[k] - lbl.vs[k];
        if (len !== fam.lastVl[m] || !sameRegion(s, lbl.vs[k], fam.lastVs[m], len)) return false;
      } else if (lbl.value(k) !== (lv ?? s.slice(fam.lastVs[m], fam.lastVs[m] + fam.lastVl[m]))) return false;
      m++;
    }
    return true;
  }

  /** Sorts buckets, ties the text format's separate `_created` gauges to their series, drops the bookkeeping. */
  private finish(): MetricFamily[] {
    const dropped = new Set<FamilyState>();
    for (const fam of this.families) {
      if (fam.type === 'histogram' || fam.type === 'gaugehistogram') {
        for (const s of fam.series) {
          const b = s.buckets;
          if (!b) continue;
          let ordered = true;
          for (let k = 1; k < b.length; k++) if (b[k].le < b[k - 1].le) ordered = false;
          if (!ordered) b.sort((x, y) => x.le - y.le);
          if (b.length > 0 && b[b.length - 1].le !== Infinity) this.error(s.line, `${fam.name}: histogram series without a +Inf bucket`);
        }
      }
      if (fam.type === 'summary') {
        for (const s of fam.series) s.quantiles?.sort((x, y) => x.quantile - y.quantile);
      }
      // prometheus_client's classic format writes `x_created` as a gauge family of its own.
      if (!this.om && (fam.type === 'gauge' || fam.type === 'untyped') && fam.name.endsWith('_created') && fam.name.length > 8) {
        const base = fam.name.slice(0, -8);
        const owner = [this.byName.get(base), this.byName.get(base + '_total')].find(
          (f) => f !== undefined && (f.type === 'counter' || f.type === 'histogram' || f.type === 'summary'),
        );
        if (owner) {
          for (const s of fam.series) {
            const target = owner.byKey.get(s.key);
            if (target && s.value !== undefined) target.createdMs = s.value * 1000;
          }
          dropped.add(fam);
        }
      }
    }
    const out: MetricFamily[] = [];
    for (const fam of this.families) {
      if (dropped.has(fam)) continue;
      // A HELP/TYPE with no samples is still a family (an exporter that has seen no requests yet).
      out.push({ name: fam.name, type: fam.type, help: fam.help, unit: fam.unit, samples: fam.samples, series: fam.series });
      if (fam.help === undefined) delete out[out.length - 1].help;
      if (fam.unit === undefined) delete out[out.length - 1].unit;
    }
    return out;
  }
}

function seriesKey(lbl: LabelScratch, skipAt: number): string {
  const n = lbl.n;
  let sorted = true;
  let prev = '';
  for (let k = 0; k < n; k++) {
    if (k === skipAt) continue;
    const name = lbl.name(k);
    if (name < prev) sorted = false;
    prev = name;
  }
  let key = '';
  if (sorted) {
    for (let k = 0; k < n; k++) if (k !== skipAt) key += lbl.name(k) + '\u0000' + lbl.value(k) + '\u0001';
    return key;
  }
  const idx: number[] = [];
  for (let k = 0; k < n; k++) if (k !== skipAt) idx.push(k);
  idx.sort((a, b) => (lbl.name(a) < lbl.name(b) ? -1 : lbl.name(a) > lbl.name(b) ? 1 : 0));
  for (const k of idx) key += lbl.name(k) + '\u0000' + lbl.value(k) + '\u0001';
  return key;
}

/** Whether the last line that is not blank reads `# EOF`, as it must in OpenMetrics. */
function endsWithEof(text: string): boolean {
  let e = text.length;
  while (e > 0) {
    const c = text.charCodeAt(e - 1);
    if (c === CH_LF || c === CH_CR || c === CH_SPACE || c === CH_TAB) e--;
    else break;
  }
  return e >= 5 && text.startsWith('# EOF', e - 5) && (e === 5 || text.charCodeAt(e - 6) === CH_LF);
}

/** Canonical key of a label set (sorted), the same shape `Series.key` uses. */
export function labelsKey(labels: Labels, skip?: string): string {
  const names = Object.keys(labels).filter((k) => k !== skip).sort();
  let key = '';
  for (const n of names) key += n + '\u0000' + labels[n] + '\u0001';
  return key;
}
