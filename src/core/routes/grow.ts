/** The tokenizers' column arrays (kind, flags, offsets, lines) grow by copying into a larger one. */
export function grownTo<T extends Uint8Array | Int32Array>(a: T, cap: number): T {
  const b = new (a.constructor as new (length: number) => T)(cap);
  b.set(a);
  return b;
}
