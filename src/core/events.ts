/** A tiny typed event stream; `on` returns a disposer. Listener errors never reach the emitter. */
export class Emitter<T> {
  private listeners = new Set<(e: T) => void>();

  on(listener: (e: T) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  fire(event: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch {
        // A broken consumer must not stop ingestion or the other consumers.
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
