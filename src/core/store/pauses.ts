/**
 * When each debugged process was stopped at a breakpoint (or stepping). The editor reports a
 * process's stops and resumes as the debugger announces them; a request whose time overlaps a
 * stop of its own process spent that part paused, not working, so its duration is not latency.
 * Processes are told apart by pid (the `process.pid` every agent and SDK reports).
 */
import type { PauseBand } from '../model';

/** Stops remembered per process; older ones are forgotten first. */
export const MAX_PAUSES_PER_PROCESS = 500;
/** Processes remembered; the one paused longest ago is forgotten first. */
export const MAX_PAUSED_PROCESSES = 64;
/** Stops older than this are forgotten: no request arriving now can have spanned them. */
export const PAUSE_MEMORY_MS = 60 * 60_000;

interface ProcessPauses {
  /** Closed stops, oldest first, not overlapping. */
  closed: PauseBand[];
  /** Start of the stop in progress, if the process is stopped now. */
  openSinceMs?: number;
  lastChangeMs: number;
}

export class PauseLedger {
  private readonly byPid = new Map<number, ProcessPauses>();

  /** The process stopped at `atMs` (a second report while stopped changes nothing). */
  paused(pid: number, atMs: number): void {
    if (!validPid(pid) || !Number.isFinite(atMs)) return;
    const p = this.processOf(pid, atMs);
    if (p.openSinceMs === undefined) p.openSinceMs = atMs;
    p.lastChangeMs = atMs;
  }

  /** The process runs again from `atMs` (ignored when it was not stopped). */
  resumed(pid: number, atMs: number): void {
    const p = this.byPid.get(pid);
    if (!p || p.openSinceMs === undefined || !Number.isFinite(atMs)) return;
    const startMs = p.openSinceMs;
    p.openSinceMs = undefined;
    p.lastChangeMs = atMs;
    if (atMs > startMs) {
      p.closed.push({ startMs, endMs: atMs });
      if (p.closed.length > MAX_PAUSES_PER_PROCESS) p.closed.splice(0, p.closed.length - MAX_PAUSES_PER_PROCESS);
    }
    const horizon = atMs - PAUSE_MEMORY_MS;
    while (p.closed.length && p.closed[0].endMs < horizon) p.closed.shift();
  }

  isPaused(pid: number): boolean {
    return this.byPid.get(pid)?.openSinceMs !== undefined;
  }

  /**
   * The parts of [startMs, endMs] the process spent stopped (a stop still in progress counts up
   * to `nowMs`), clipped to the interval, and their total.
   */
  overlap(pid: number | undefined, startMs: number, endMs: number, nowMs: number): { pausedMs: number; bands: PauseBand[] } {
    const none = { pausedMs: 0, bands: [] };
    if (pid === undefined || !(endMs > startMs)) return none;
    const p = this.byPid.get(pid);
    if (!p) return none;
    const bands: PauseBand[] = [];
    const clip = (a: number, b: number) => {
      const s = Math.max(a, startMs);
      const e = Math.min(b, endMs);
      if (e > s) bands.push({ startMs: s, endMs: e });
    };
    for (const b of p.closed) if (b.endMs > startMs && b.startMs < endMs) clip(b.startMs, b.endMs);
    if (p.openSinceMs !== undefined) clip(p.openSinceMs, Math.max(nowMs, p.openSinceMs));
    if (bands.length === 0) return none;
    return { pausedMs: bands.reduce((n, b) => n + (b.endMs - b.startMs), 0), bands };
  }

  /** Forgets a process (its debug session ended); a stop still open ends at `atMs`. */
  ended(pid: number, atMs: number): void {
    this.resumed(pid, atMs);
  }

  clear(): void {
    this.byPid.clear();
  }

  private processOf(pid: number, atMs: number): ProcessPauses {
    let p = this.byPid.get(pid);
    if (p) return p;
    if (this.byPid.size >= MAX_PAUSED_PROCESSES) {
      // A running process goes first; only when every one is stopped does the oldest stop go.
      let oldest: number | undefined;
      let oldestRank = Infinity;
      for (const [k, v] of this.byPid) {
        const rank = v.lastChangeMs + (v.openSinceMs === undefined ? 0 : 1e15);
        if (rank < oldestRank) {
          oldest = k;
          oldestRank = rank;
        }
      }
      if (oldest !== undefined) this.byPid.delete(oldest);
    }
    p = { closed: [], lastChangeMs: atMs };
    this.byPid.set(pid, p);
    return p;
  }
}

function validPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0;
}
