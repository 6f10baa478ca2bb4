/**
 * Counter arithmetic with reset handling. A counter only goes up while its process lives; a lower
 * value means the process restarted and counted from zero, so everything it shows now is new.
 */

export interface CounterSample {
  /** Epoch milliseconds. */
  t: number;
  v: number;
  /** The series' `_created` time, when exposed: a change also means a restart. */
  createdMs?: number;
}

/**
 * The increase from `prev` to `cur`. A drop, or a new `_created` time, is a reset: the increase is
 * then the whole current value (what the restarted process counted), as PromQL's `increase` does.
 */
export function counterDelta(prev: CounterSample | number, cur: CounterSample | number): { delta: number; reset: boolean } {
  const p = typeof prev === 'number' ? { t: 0, v: prev } : prev;
  const c = typeof cur === 'number' ? { t: 0, v: cur } : cur;
  const restarted = p.createdMs !== undefined && c.createdMs !== undefined && c.createdMs !== p.createdMs;
  if (restarted || c.v < p.v) return { delta: Number.isFinite(c.v) ? Math.max(0, c.v) : 0, reset: true };
  const d = c.v - p.v;
  return { delta: Number.isFinite(d) ? d : 0, reset: false };
}

/** Total increase over consecutive samples (oldest first), counting through resets. */
export function counterIncrease(samples: readonly CounterSample[]): { increase: number; resets: number } {
  let increase = 0;
  let resets = 0;
  for (let i = 1; i < samples.length; i++) {
    const d = counterDelta(samples[i - 1], samples[i]);
    increase += d.delta;
    if (d.reset) resets++;
  }
  return { increase, resets };
}

/**
 * Per-second rate over consecutive samples: the increase (resets handled) divided by the time
 * between the first and the last sample. Unlike PromQL's `rate`, it does not extrapolate to the
 * edges of a range window: it is the rate over the samples actually seen. NaN with fewer than two
 * samples or no elapsed time.
 */
export function counterRate(samples: readonly CounterSample[]): number {
  if (samples.length < 2) return NaN;
  const seconds = (samples[samples.length - 1].t - samples[0].t) / 1000;
  if (!(seconds > 0)) return NaN;
  return counterIncrease(samples).increase / seconds;
}
