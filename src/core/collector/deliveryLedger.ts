/**
 * Which batches of which agent instance are already stored, so that a batch an agent sends again
 * after a reconnect (its ack was lost with the connection) is acknowledged but not stored twice
 * (docs/protocol.md, "Delivery"). Memory is bounded: a window of the last WINDOW sequence numbers
 * per instance, and at most MAX_INSTANCES instances (least recently heard from forgotten first).
 */

/** Sequence numbers remembered per instance; agents keep far fewer batches unacknowledged. */
export const WINDOW = 4096;
/** Instances remembered at once. */
export const MAX_INSTANCES = 1024;

interface InstanceWindow {
  /** Highest sequence number stored. */
  high: number;
  /** Lowest sequence number ever seen: numbers below it are not counted as missing. */
  low: number;
  /** Bit (seq mod WINDOW) is set when that seq in (high - WINDOW, high] is stored. */
  bits: Uint32Array;
}

export type LedgerVerdict = 'new' | 'duplicate';

export class DeliveryLedger {
  private readonly instances = new Map<string, InstanceWindow>();
  /** Sequence numbers that left the window without ever arriving: batches the agent lost. */
  missing = 0;
  /** Instances forgotten to keep the memory bound (their resends would be stored again). */
  forgotten = 0;

  /** Whether (instance, seq) was stored already. Does not record anything. */
  check(instance: string, seq: number): LedgerVerdict {
    const w = this.instances.get(instance);
    if (!w) return 'new';
    if (seq > w.high) return 'new';
    // Older than the window: agents never hold a batch that long, so it was stored (or given up).
    if (seq <= w.high - WINDOW) return 'duplicate';
    if (seq < w.low) return 'new';
    return isSet(w.bits, seq) ? 'duplicate' : 'new';
  }

  /** Records (instance, seq) as stored. */
  record(instance: string, seq: number): void {
    let w = this.instances.get(instance);
    if (w) {
      // Most recently heard from last, so the first key is the one to forget.
      this.instances.delete(instance);
    } else {
      if (this.instances.size >= MAX_INSTANCES) {
        const oldest = this.instances.keys().next().value as string;
        this.instances.delete(oldest);
        this.forgotten++;
      }
      w = { high: seq, low: seq, bits: new Uint32Array(WINDOW / 32) };
    }
    this.instances.set(instance, w);
    if (seq > w.high) {
      // Slide the window up to seq. Numbers leaving it that never arrived are counted missing:
      // those that were in the window unset, and (after a jump wider than the window) every
      // number the window skipped.
      const leavingTo = seq - WINDOW;
      for (let n = Math.max(w.high - WINDOW + 1, w.low); n <= Math.min(leavingTo, w.high); n++) if (!isSet(w.bits, n)) this.missing++;
      if (leavingTo > w.high) this.missing += leavingTo - w.high;
      for (let n = Math.max(w.high, leavingTo) + 1; n <= seq; n++) clear(w.bits, n);
      w.high = seq;
    } else if (seq < w.low) {
      w.low = seq;
    }
    set(w.bits, seq);
  }

  get size(): number {
    return this.instances.size;
  }
}

const slot = (seq: number) => seq % WINDOW;
const isSet = (bits: Uint32Array, seq: number) => (bits[slot(seq) >>> 5] & (1 << (slot(seq) & 31))) !== 0;
const set = (bits: Uint32Array, seq: number) => void (bits[slot(seq) >>> 5] |= 1 << (slot(seq) & 31));
const clear = (bits: Uint32Array, seq: number) => void (bits[slot(seq) >>> 5] &= ~(1 << (slot(seq) & 31)));
