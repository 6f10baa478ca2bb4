/**
 * Named counters for everything the collector accepts, rejects or drops. Names are dotted,
 * e.g. `ws.rejected.bad_json`, `otlp.http.rejected.413`, `store.dropped.spans`.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, by = 1): void {
    if (by === 0) return;
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.values.clear();
  }
}
