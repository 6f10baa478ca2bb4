import * as assert from 'node:assert/strict';
import { HISTORY_SECONDS, SKETCH_SLOT_SECONDS, WindowedSeries } from '../../../src/core/stats/routeStats';
import { LatencySketch } from '../../../src/core/stats/sketch';

/** A small seeded generator so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

const distributions: Record<string, (r: () => number) => number> = {
  uniform: (r) => 1 + r() * 999,
  lognormal: (r) => Math.exp(3 + 1.2 * normal(r)),
  bimodal: (r) => (r() < 0.8 ? 5 + r() * 5 : 400 + r() * 200),
  constant: () => 42.5,
};

describe('LatencySketch', () => {
  for (const [name, gen] of Object.entries(distributions)) {
    it(`keeps quantiles within 1% of the exact ones on a ${name} distribution`, () => {
      const r = rng(12345);
      const sk = new LatencySketch();
      const values: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        const v = gen(r);
        values.push(v);
        sk.add(v);
      }
      values.sort((a, b) => a - b);
      for (const q of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) {
        const exact = exactQuantile(values, q);
        const est = sk.quantile(q);
        const rel = Math.abs(est - exact) / exact;
        assert.ok(rel <= 0.01, `${name} q=${q}: estimate ${est} vs exact ${exact} (relative error ${rel})`);
      }
      assert.equal(sk.count, 20_000);
      assert.ok(Math.abs(sk.sum - values.reduce((a, b) => a + b, 0)) < 1e-6 * sk.sum);
    });
  }

  it('merges two sketches into the same answer as one sketch of all values', () => {
    const r = rng(7);
    const a = new LatencySketch();
    const b = new LatencySketch();
    const all = new LatencySketch();
    for (let i = 0; i < 5000; i++) {
      const v = distributions.lognormal(r);
      (i % 2 ? a : b).add(v);
      all.add(v);
    }
    a.merge(b);
    for (const q of [0.5, 0.95, 0.99]) assert.equal(a.quantile(q), all.quantile(q));
    assert.equal(a.count, all.count);
  });

  it('answers NaN when empty and handles zero, negative and non-finite input', () => {
    const sk = new LatencySketch();
    assert.ok(Number.isNaN(sk.quantile(0.5)));
    sk.add(NaN);
    sk.add(Infinity);
    assert.equal(sk.count, 0);
    sk.add(0);
    sk.add(-3);
    assert.equal(sk.count, 2);
    assert.equal(sk.quantile(0.5), 0);
  });

  it('returns exact min and max at the extremes', () => {
    const sk = new LatencySketch();
    for (const v of [3.3, 7, 120.25]) sk.add(v);
    assert.equal(sk.quantile(0), 3.3);
    assert.equal(sk.quantile(1), 120.25);
  });

  it('compacts into a narrow trimmed array with the same answers, and widens again on add', () => {
    const r = rng(99);
    const sk = new LatencySketch();
    for (let i = 0; i < 20_000; i++) sk.add(Math.exp(r() * Math.log(800)));
    const qs = [0, 0.01, 0.5, 0.9, 0.99, 0.999, 1];
    const before = qs.map((q) => sk.quantile(q));
    const buckets = sk.buckets();
    const wide = sk.bucketBytes;
    sk.compact();
    // 1 to 800 ms at 0.5% accuracy is about 670 buckets of up to ~60 each: one byte a bucket.
    assert.ok(sk.bucketBytes <= 700, `${sk.bucketBytes} bytes compacted (${wide} before)`);
    assert.deepEqual(qs.map((q) => sk.quantile(q)), before);
    assert.deepEqual(sk.buckets(), buckets);
    const merged = new LatencySketch();
    merged.merge(sk);
    assert.deepEqual(qs.map((q) => merged.quantile(q)), before);
    // Adding after compaction widens it back, with no count wrapping in the narrow type.
    for (let i = 0; i < 1000; i++) sk.add(400);
    assert.equal(sk.count, 21_000);
    assert.ok(sk.quantile(0.5) > before[2]);
    sk.add(0.0001);
    sk.add(5000);
    assert.equal(sk.quantile(1), 5000);
  });

  it('keeps fractional and large counts exact when compacting', () => {
    const sk = new LatencySketch();
    sk.add(10, 0.25);
    sk.add(20, 70_000);
    sk.add(30, 2.5);
    const qs = [0.000001, 0.5, 0.99999];
    const before = qs.map((q) => sk.quantile(q));
    sk.compact();
    assert.deepEqual(qs.map((q) => sk.quantile(q)), before);
    assert.equal(sk.count, 70_002.75);
    const empty = new LatencySketch();
    empty.compact();
    assert.equal(empty.bucketBytes, 0);
    empty.add(3);
    assert.equal(empty.quantile(0.5), 3);
  });
});

describe('WindowedSeries memory', () => {
  it('compacts the sketches of closed slots and answers the same windows', () => {
    const r = rng(5);
    const a = new WindowedSeries();
    const t0 = 1_700_000_000;
    const values: [number, number][] = [];
    for (let s = 0; s < HISTORY_SECONDS; s++) for (let k = 0; k < 20; k++) values.push([t0 + s + k / 20, Math.exp(r() * Math.log(800))]);
    for (const [t, v] of values) a.record(t, v, false);
    const now = t0 + HISTORY_SECONDS - 1;
    // Reference: the same slots with sketches that are never compacted.
    for (const w of [10, 60, 300, 900]) {
      const got = a.window(now, w);
      const ref = new LatencySketch();
      for (const [t, v] of values) if (Math.floor(t / SKETCH_SLOT_SECONDS) >= Math.floor((now - w + 1) / SKETCH_SLOT_SECONDS)) ref.add(v);
      assert.equal(got.count, w * 20);
      for (const q of [0.5, 0.95, 0.99]) assert.equal(got.sketch.quantile(q), ref.quantile(q), `window ${w} q ${q}`);
    }
    // 89 closed slots of ~670 one-byte buckets (60 KB), the open slot and the all-time sketch as
    // float64 (8 KiB each), the per-second arrays (22 KB): about 100 KB, where float64 slots
    // took about 750 KB.
    const bytes = a.bytes();
    assert.ok(bytes < 120_000, `${bytes} bytes`);
    // Late data for a closed slot still counts.
    a.record(now - 20, 5000, true);
    assert.equal(a.window(now, 60).sketch.quantile(1), 5000);
  });
});
