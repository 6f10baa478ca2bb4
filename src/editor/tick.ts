/**
 * One timer for the editor layer: what has to repaint as windows slide and rates decay (the
 * dashboard, the status bar, findings, CodeLens, the Problems sweep, the snapshot) subscribes with
 * its period instead of keeping an interval of its own.
 */
export interface Tick {
  /** Calls `f` every `seconds` seconds (a whole number) until disposed. */
  every(seconds: number, f: () => void): { dispose(): void };
}

export class SharedTick implements Tick {
  private readonly subs = new Set<{ period: number; f: () => void }>();
  private timer: NodeJS.Timeout | undefined;
  private n = 0;

  every(seconds: number, f: () => void): { dispose(): void } {
    const sub = { period: Math.max(1, Math.round(seconds)), f };
    this.subs.add(sub);
    if (!this.timer) {
      this.timer = setInterval(() => this.fire(), 1000);
      this.timer.unref?.();
    }
    return { dispose: () => this.subs.delete(sub) };
  }

  private fire(): void {
    this.n++;
    for (const s of [...this.subs]) {
      if (this.n % s.period !== 0) continue;
      try {
        s.f();
      } catch {
        // One subscriber failing must not stop the others.
      }
    }
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.subs.clear();
  }
}
