/**
 * What leaves the machine goes through the same redaction as what coding agents see
 * (agentTools/text.ts: credentials, tokens, keys, plus the user's own patterns): every telemetry
 * string (attribute values, names, log bodies, status and exception messages) is passed through it
 * on a copy; the stored items are never changed. Ids, times, numbers and attribute keys pass as they are.
 */
import { makeRedactor, type Redactor } from '../agentTools/text';
import type { Attributes, AttrValue, ExceptionInfo, LogRecord, MetricPoint, Resource, Span } from '../model';

export class OutgoingRedactor {
  private readonly r: Redactor;
  /** Resources are shared by many items: each is redacted once. */
  private readonly resources = new WeakMap<Resource, Resource>();
  /** Strings repeat (routes, statements, service names): a small cache of recent answers. */
  private cache = new Map<string, string>();

  constructor(extraPatterns: string[] = []) {
    this.r = makeRedactor(extraPatterns);
  }

  text(s: string): string {
    if (s.length < 8) return s;
    let out = this.cache.get(s);
    if (out !== undefined) return out;
    out = this.r(s);
    if (this.cache.size >= 4096) this.cache = new Map();
    if (s.length <= 512) this.cache.set(s, out);
    return out;
  }

  private value(v: AttrValue): AttrValue {
    if (typeof v === 'string') return this.text(v);
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    return this.attributes(v);
  }

  attributes(a: Attributes): Attributes {
    const out: Attributes = {};
    for (const k in a) out[k] = this.value(a[k]);
    return out;
  }

  private exception(ex: ExceptionInfo | undefined): ExceptionInfo | undefined {
    if (!ex) return undefined;
    return {
      type: this.text(ex.type),
      message: this.text(ex.message),
      frames: ex.frames,
      ...(ex.stacktrace ? { stacktrace: this.text(ex.stacktrace) } : {}),
    };
  }

  resource(r: Resource): Resource {
    let out = this.resources.get(r);
    if (!out) {
      out = { ...r, attributes: this.attributes(r.attributes) };
      this.resources.set(r, out);
    }
    return out;
  }

  span(s: Span): Span {
    const out: Span = {
      ...s,
      name: this.text(s.name),
      attributes: this.attributes(s.attributes),
      events: s.events.map((e) => ({ ...e, name: e.name, attributes: this.attributes(e.attributes) })),
      links: s.links.map((l) => ({ ...l, attributes: this.attributes(l.attributes) })),
      resource: this.resource(s.resource),
    };
    if (s.statusMessage) out.statusMessage = this.text(s.statusMessage);
    if (s.exception) out.exception = this.exception(s.exception);
    return out;
  }

  log(l: LogRecord): LogRecord {
    const out: LogRecord = { ...l, body: this.text(l.body), attributes: this.attributes(l.attributes), resource: this.resource(l.resource) };
    if (l.exception) out.exception = this.exception(l.exception);
    return out;
  }

  metric(p: MetricPoint): MetricPoint {
    return { ...p, attributes: this.attributes(p.attributes), resource: this.resource(p.resource) };
  }
}
