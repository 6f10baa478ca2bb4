/** A fixed-capacity FIFO: pushing past capacity evicts the oldest item and hands it to `onEvict`. */
export class RingBuffer<T> {
  private items: (T | undefined)[];
  private head = 0;
  private length = 0;

  constructor(
    private capacity: number,
    private readonly onEvict?: (item: T) => void,
  ) {
    if (!(capacity >= 1)) throw new Error('capacity must be at least 1');
    this.items = new Array(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(item: T): void {
    if (this.length === this.capacity) this.shift();
    this.items[(this.head + this.length) % this.capacity] = item;
    this.length++;
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.length ? this.items[this.head] : undefined;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.length--;
    this.onEvict?.(item);
    return item;
  }

  /** The item at position i, oldest first (0 is the oldest). */
  at(i: number): T | undefined {
    return i >= 0 && i < this.length ? this.items[(this.head + i) % this.capacity] : undefined;
  }

  /** Oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.items[(this.head + i) % this.capacity]!;
  }

  /** Newest first, at most `limit` items. */
  newest(limit: number, filter?: (t: T) => boolean): T[] {
    const out: T[] = [];
    for (let i = this.length - 1; i >= 0 && out.length < limit; i--) {
      const item = this.items[(this.head + i) % this.capacity]!;
      if (!filter || filter(item)) out.push(item);
    }
    return out;
  }

  clear(): void {
    this.items = new Array(this.capacity);
    this.head = 0;
    this.length = 0;
  }
}
