/**
 * A log-bucketed latency sketch (DDSketch-style) with bounded relative error. Values are put in
 * buckets whose bounds grow by a factor gamma = (1 + a) / (1 - a); any quantile it returns is
 * within a relative error `a` of the true sample at that rank. Memory grows with the logarithm of
 * the value range, not with the number of samples, and two sketches merge exactly.
 */
export const DEFAULT_RELATIVE_ACCURACY = 0.005;

/** Values at or below this (ms) share one "zero" bucket: a microsecond is far below what we display. */
const MIN_VALUE = 1e-3;

/** A sketch as plain data (see LatencySketch.encode). */
export interface EncodedSketch {
  a: number;
  o: number;
  c: number[];
  z: number;
  n: number;
  s: number;
  lo: number;
  hi: number;
}

/** Bucket counts: Float64Array while a sketch takes values; a narrower exact type once compacted. */
type Counts = Float64Array | Uint32Array | Uint16Array | Uint8Array;

export class LatencySketch {
  private readonly gamma: number;
  private readonly logGamma: number;
  private counts: Counts = new Float64Array(0);
  private offset = 0;
  /** Set by compact(): counts is trimmed and may be a narrow integer array; add and merge widen it back. */
  private compacted = false;
  private zeroCount = 0;
  private total = 0;
  private sumValue = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;

  constructor(readonly relativeAccuracy = DEFAULT_RELATIVE_ACCURACY) {
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.logGamma = Math.log(this.gamma);
  }

  get count(): number {
    return this.total;
  }
  get sum(): number {
    return this.sumValue;
  }
  get min(): number {
    return this.total ? this.minValue : NaN;
  }
  get max(): number {
    return this.total ? this.maxValue : NaN;
  }

  add(value: number, weight = 1): void {
    if (!Number.isFinite(value) || weight <= 0) return;
    if (this.compacted) this.widen();
    if (value < 0) value = 0;
    this.total += weight;
    this.sumValue += value * weight;
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
    if (value <= MIN_VALUE) {
      this.zeroCount += weight;
      return;
    }
    const idx = Math.ceil(Math.log(value) / this.logGamma);
    this.ensure(idx);
    this.counts[idx - this.offset] += weight;
  }

  merge(other: LatencySketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) throw new Error('cannot merge sketches of different accuracy');
    if (other.total === 0) return;
    if (this.compacted) this.widen();
    this.total += other.total;
    this.sumValue += other.sumValue;
    this.zeroCount += other.zeroCount;
    this.minValue = Math.min(this.minValue, other.minValue);
    this.maxValue = Math.max(this.maxValue, other.maxValue);
    if (other.counts.length === 0) return;
    this.ensure(other.offset);
    this.ensure(other.offset + other.counts.length - 1);
    for (let i = 0; i < other.counts.length; i++) {
      if (other.counts[i]) this.counts[other.offset + i - this.offset] += other.counts[i];
    }
  }

  /**
   * The nearest-rank quantile: the sample at rank ceil(q * n) (1-based) of the sorted samples,
   * within the relative accuracy. NaN when empty.
   */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    if (q <= 0) return this.minValue;
    if (q >= 1) return this.maxValue;
    const rank = Math.max(0, Math.ceil(q * this.total) - 1);
    let seen = this.zeroCount;
    if (rank < seen) return Math.max(0, this.minValue);
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (rank < seen) {
        const idx = i + this.offset;
        const estimate = (2 * Math.pow(this.gamma, idx)) / (this.gamma + 1);
        // Clamp to the observed range: exact at the extremes, never outside what was seen.
        return Math.min(this.maxValue, Math.max(this.minValue, estimate));
      }
    }
    return this.maxValue;
  }

  /** Non-empty buckets as [lower, upper, count] in ms, for small histograms in hovers. */
  buckets(): [number, number, number][] {
    const out: [number, number, number][] = [];
    if (this.zeroCount) out.push([0, MIN_VALUE, this.zeroCount]);
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i];
      if (c) {
        const idx = i + this.offset;
        out.push([Math.pow(this.gamma, idx - 1), Math.pow(this.gamma, idx), c]);
      }
    }
    return out;
  }

  /**
   * Shrinks the memory of a sketch that takes no more values (a closed time slot): the bucket
   * array is cut to the buckets between the first and the last non-empty one and stored in the
   * narrowest type that holds every count exactly (one byte a bucket for up to 255 requests in a
   * bucket, two for up to 65,535). Answers are unchanged; a later add or merge widens it again.
   */
  compact(): void {
    if (this.compacted) return;
    const c = this.counts;
    let lo = 0;
    let hi = c.length - 1;
    while (lo <= hi && c[lo] === 0) lo++;
    while (hi >= lo && c[hi] === 0) hi--;
    let max = 0;
    let integral = true;
    for (let i = lo; i <= hi; i++) {
      const v = c[i];
      if (v > max) max = v;
      if (integral && !Number.isInteger(v)) integral = false;
    }
    const n = Math.max(0, hi - lo + 1);
    const next: Counts = !integral || max > 0xffffffff ? new Float64Array(n) : max > 0xffff ? new Uint32Array(n) : max > 0xff ? new Uint16Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) next[i] = c[lo + i];
    this.counts = next;
    this.offset = n ? this.offset + lo : 0;
    this.compacted = true;
  }

  /** Bytes held by the bucket array (for memory accounting and tests). */
  get bucketBytes(): number {
    return this.counts.byteLength;
  }

  /**
   * A plain, JSON-safe form of the sketch (for a run kept on disk): the accuracy, the bucket
   * offset, the trimmed counts and the exact totals. `LatencySketch.decode` gives back a sketch
   * with the same answers.
   */
  encode(): EncodedSketch {
    let lo = 0;
    let hi = this.counts.length - 1;
    while (lo <= hi && this.counts[lo] === 0) lo++;
    while (hi >= lo && this.counts[hi] === 0) hi--;
    const c: number[] = [];
    for (let i = lo; i <= hi; i++) c.push(this.counts[i]);
    return { a: this.relativeAccuracy, o: c.length ? this.offset + lo : 0, c, z: this.zeroCount, n: this.total, s: this.sumValue, lo: this.total ? this.minValue : 0, hi: this.total ? this.maxValue : 0 };
  }

  /** The sketch an `encode()` gave; throws on a malformed value (a damaged file). */
  static decode(e: EncodedSketch): LatencySketch {
    const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
    if (!e || !ok(e.a) || !(e.a > 0 && e.a < 1) || !ok(e.o) || !Number.isInteger(e.o) || !Array.isArray(e.c) || e.c.length > 100_000 || !ok(e.z) || !ok(e.n) || !ok(e.s) || !ok(e.lo) || !ok(e.hi)) throw new Error('malformed latency sketch');
    const k = new LatencySketch(e.a);
    if (e.n <= 0) return k;
    const counts = new Float64Array(e.c.length);
    for (let i = 0; i < e.c.length; i++) {
      const v = e.c[i];
      if (!ok(v) || v < 0) throw new Error('malformed latency sketch');
      counts[i] = v;
    }
    k.counts = counts;
    k.offset = e.o;
    k.zeroCount = e.z;
    k.total = e.n;
    k.sumValue = e.s;
    k.minValue = e.lo;
    k.maxValue = e.hi;
    return k;
  }

  clone(): LatencySketch {
    const c = new LatencySketch(this.relativeAccuracy);
    c.merge(this);
    return c;
  }

  private widen(): void {
    this.counts = Float64Array.from(this.counts);
    this.compacted = false;
  }

  private ensure(idx: number): void {
    if (this.counts.length === 0) {
      this.offset = idx;
      this.counts = new Float64Array(16);
      return;
    }
    if (idx < this.offset) {
      const grow = Math.max(this.offset - idx, 16);
      const next = new Float64Array(this.counts.length + grow);
      next.set(this.counts, grow);
      this.counts = next;
      this.offset -= grow;
    } else if (idx >= this.offset + this.counts.length) {
      const need = idx - this.offset + 1;
      const next = new Float64Array(Math.max(need, this.counts.length * 2));
      next.set(this.counts);
      this.counts = next;
    }
  }
}
