/**
 * A small seeded random source for the fuzzers. Every case gets its own generator derived from
 * (seed, case index), so a failure is reproduced from those two numbers alone, without replaying
 * the cases before it.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    // splitmix32 spreads nearby seeds (case 1, case 2...) into unrelated states.
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  /** sfc32: fast, and good enough to explore input space. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor(this.float() * n);
  }

  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let r = this.float() * total;
    for (const [w, v] of choices) {
      r -= w;
      if (r < 0) return v;
    }
    return choices[choices.length - 1][1];
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }

  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i++) s += (this.u32() & 0xff).toString(16).padStart(2, '0');
    return s;
  }

  /** Mostly small, sometimes large: sizes that probe both the common path and the limits. */
  size(max: number): number {
    return this.chance(0.8) ? this.int(Math.min(8, max) + 1) : this.int(max + 1);
  }
}

/** Strings that tend to break text handling: control characters, surrogates, bidi, markup. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u202e\u2066evil',
  '\ufeff',
  'a\u0301\u0301\u0301',
  '\r\n\t\v\f',
  '<script>alert(1)</script>',
  '[x](command:workbench.action.terminal.new)',
  '${jndi:ldap://x}',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '%s%n%x',
  '../../../../etc/passwd',
  '\\u0000',
  '"',
  '\\',
  '{"v":1}',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '٣',
  '𝟘',
  '\u00a0',
  '\u2028\u2029',
];

export function unicodeString(rng: Rng, maxLen = 24): string {
  const n = rng.size(maxLen);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += rng.weighted<() => string>([
      [6, () => String.fromCharCode(0x20 + rng.int(0x5f))],
      [2, () => rng.pick(NASTY_STRINGS)],
      [1, () => String.fromCharCode(rng.int(0x20))],
      [1, () => String.fromCharCode(0xd800 + rng.int(0x800))],
      [1, () => String.fromCodePoint(0x80 + rng.int(0x10ff7f - 0x800))],
    ])();
  }
  return s;
}

export const HUGE_NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1e-320,
  Number.MIN_VALUE,
  2 ** 31,
  2 ** 32,
  2 ** 53 + 1,
  2 ** 63,
  2 ** 64,
  -(2 ** 63),
  Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  1e21,
  1.5,
  0.1,
];
