import * as assert from 'node:assert/strict';
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
});
