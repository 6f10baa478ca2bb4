/**
 * Mutators shared by the fuzzers: byte-level ones for any encoding (bit flips, truncation,
 * duplication, splices, "interesting" bytes) and structure-level ones for JSON values (type swaps,
 * huge numbers, deep nesting, hostile strings and keys, oversized arrays).
 */
import { HUGE_NUMBERS, NASTY_STRINGS, unicodeString, type Rng } from './random';

type ByteMutator = (rng: Rng, b: Buffer) => Buffer;

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x08, 0x10, 0x12, 0x1a];

const byteMutators: readonly (readonly [number, ByteMutator])[] = [
  [
    4,
    (rng, b) => {
      if (b.length === 0) return b;
      const out = Buffer.from(b);
      const flips = rng.range(1, 4);
      for (let i = 0; i < flips; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
      return out;
    },
  ],
  [2, (rng, b) => b.subarray(0, rng.int(b.length + 1))],
  [1, (rng, b) => b.subarray(rng.int(b.length + 1))],
  [
    2,
    (rng, b) => {
      // Duplicates a slice in place: repeated fields, repeated frames, doubled lengths.
      if (b.length === 0) return b;
      const start = rng.int(b.length);
      const end = Math.min(b.length, start + 1 + rng.int(64));
      const copies = rng.chance(0.1) ? rng.range(10, 200) : 1;
      const parts = [b.subarray(0, end)];
      for (let i = 0; i < copies; i++) parts.push(b.subarray(start, end));
      parts.push(b.subarray(end));
      return Buffer.concat(parts);
    },
  ],
  [
    2,
    (rng, b) => {
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 16)), b.subarray(at)]);
    },
  ],
  [
    2,
    (rng, b) => {
      if (b.length === 0) return b;
      const at = rng.int(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(32)))]);
    },
  ],
  [
    3,
    (rng, b) => {
      if (b.length === 0) return b;
      const out = Buffer.from(b);
      const n = rng.range(1, 3);
      for (let i = 0; i < n; i++) out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES);
      return out;
    },
  ],
  [
    1,
    (rng, b) => {
      // A varint or length rewritten to something huge.
      if (b.length < 2) return b;
      const at = rng.int(b.length - 1);
      const big = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
      return Buffer.concat([b.subarray(0, at), big, b.subarray(at + 1)]);
    },
  ],
];

/** One to a few byte-level mutations. */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  let b = input;
  const n = rng.weighted([
    [6, 1],
    [3, 2],
    [1, 4],
  ] as const);
  for (let i = 0; i < n; i++) b = rng.weighted(byteMutators)(rng, b);
  return b;
}

export function mutateText(rng: Rng, input: string): string {
  return mutateBytes(rng, Buffer.from(input, 'utf8')).toString('utf8');
}

// ---- JSON structure ----------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Marks a place to splice raw JSON text in later (nesting too deep to build as a value). */
export const RAW_MARK = '\u0001raw:';

export function randomScalar(rng: Rng): Json {
  return rng.weighted<() => Json>([
    [2, () => null],
    [2, () => rng.chance(0.5)],
    [3, () => rng.pick(HUGE_NUMBERS)],
    [2, () => rng.int(1000)],
    [3, () => unicodeString(rng)],
    [1, () => rng.pick(NASTY_STRINGS)],
    [1, () => rng.hex(rng.pick([8, 16, 4, 17]))],
    [1, () => String(rng.pick(HUGE_NUMBERS))],
  ])();
}

function randomValue(rng: Rng, depth = 0): Json {
  if (depth > 3 || rng.chance(0.6)) return randomScalar(rng);
  if (rng.chance(0.5)) return Array.from({ length: rng.size(6) }, () => randomValue(rng, depth + 1));
  const o: { [k: string]: Json } = {};
  for (let i = rng.size(6); i > 0; i--) setOwn(o, rng.chance(0.2) ? rng.pick(NASTY_STRINGS) : unicodeString(rng, 12), randomValue(rng, depth + 1));
  return o;
}

/** Sets a key as an own property, `__proto__` included (as JSON.parse would). */
export function setOwn(o: { [k: string]: Json }, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** A place in the tree where a value sits: its parent and its key or index. */
interface Slot {
  parent: Json[] | { [k: string]: Json };
  key: string | number;
}

function getAt(s: Slot): Json {
  return (s.parent as Record<string | number, Json>)[s.key];
}

function setAt(s: Slot, v: Json): void {
  if (Array.isArray(s.parent)) s.parent[s.key as number] = v;
  else setOwn(s.parent, s.key as string, v);
}

function removeAt(s: Slot): void {
  if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
  else delete s.parent[s.key as string];
}

/** Every place in the tree a value sits, so a mutation can land anywhere, not only at the top. */
function slots(root: Json, out: Slot[] = [], depth = 0): Slot[] {
  if (depth > 12 || out.length > 4000) return out;
  if (Array.isArray(root)) {
    for (let i = 0; i < root.length; i++) {
      out.push({ parent: root, key: i });
      slots(root[i], out, depth + 1);
    }
  } else if (root !== null && typeof root === 'object') {
    for (const k of Object.keys(root)) {
      out.push({ parent: root, key: k });
      slots(root[k], out, depth + 1);
    }
  }
  return out;
}

type Mutation = (rng: Rng, slot: Slot) => void;

const mutations: readonly (readonly [number, Mutation])[] = [
  // Type swap: what a decoder expecting a string gets as a number, an object as an array...
  [6, (rng, s) => setAt(s, randomValue(rng))],
  [3, (rng, s) => setAt(s, rng.pick(HUGE_NUMBERS))],
  [3, (rng, s) => setAt(s, unicodeString(rng, 40))],
  [2, (_rng, s) => removeAt(s)],
  [1, (rng, s) => setAt(s, 'x'.repeat(rng.pick([1024, 16 * 1024, 16 * 1024 + 1, 100_000])))],
  [
    2,
    (rng, s) => {
      // Deep nesting, spliced in as text: arrays or objects thousands of levels deep.
      const depth = rng.chance(0.05) ? 100_000 : rng.pick([64, 1000, 10_000]);
      const text = rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      setAt(s, RAW_MARK + text);
    },
  ],
  [
    2,
    (rng, s) => {
      // An array entry duplicated: more items than a batch may carry, or repeated ids.
      const v = getAt(s);
      if (Array.isArray(v) && v.length) {
        const item = v[rng.int(v.length)];
        // Small items past the batch item limit; big subtrees fewer times, keeping inputs under
        // half a MiB (larger ones only measure JSON.parse).
        const size = JSON.stringify(item)?.length ?? 1;
        const copies = Math.min(rng.chance(0.05) ? 10_001 : rng.pick([1, 2, 100]), Math.max(1, Math.floor(500_000 / size)));
        // Copies, not references: a later mutation inside one must not grow all of them.
        for (let i = 0; i < copies; i++) v.push(structuredClone(item));
      } else setAt(s, [v, v]);
    },
  ],
  [
    2,
    (rng, s) => {
      const p = s.parent;
      if (!Array.isArray(p)) setOwn(p, rng.pick(['__proto__', 'constructor', 'prototype', 'toString', 'length', '']), randomValue(rng));
    },
  ],
  [
    1,
    (rng, s) => {
      const v = getAt(s);
      if (typeof v === 'number') setAt(s, String(v));
      else if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) setAt(s, Number(v));
      else setAt(s, rng.pick([true, 'true', 1, '1', [], {}]));
    },
  ],
];

/** Applies one to a few structural mutations to a deep copy of `value`. */
export function mutateJson(rng: Rng, value: unknown): unknown {
  const root = structuredClone(value) as Json;
  const wrapper: Json = [root];
  const n = rng.weighted([
    [6, 1],
    [3, 2],
    [1, 5],
  ] as const);
  for (let i = 0; i < n; i++) {
    const all = slots(wrapper);
    if (all.length === 0) break;
    // The top-level slot only rarely: mutations deeper in the tree reach the item decoders.
    const slot = all.length > 1 && rng.chance(0.95) ? all[1 + rng.int(all.length - 1)] : all[0];
    rng.weighted(mutations)(rng, slot);
  }
  return (wrapper as Json[])[0];
}

/** JSON text for a possibly mutated value, with any deep-nesting marks spliced in as raw text. */
export function toJsonText(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } catch {
    return 'null';
  }
  if (!text.includes('\\u0001raw:')) return text;
  return text.replace(/"\\u0001raw:((?:[^"\\]|\\.)*)"/g, (_m, raw: string) => JSON.parse(`"${raw}"`) as string);
}
