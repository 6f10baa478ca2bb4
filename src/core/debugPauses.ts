/**
 * Follows one debug session's Debug Adapter Protocol traffic for when its process is stopped
 * (a breakpoint, a step, an exception) and tells the store, so requests that spanned the stop are
 * marked paused. Plain data in, no editor API: the extension feeds it from a debug adapter tracker.
 *
 * Per thread: a process counts as stopped while any of its threads is (debugpy stops them all and
 * says `allThreadsStopped`; other adapters may stop one). A resume is taken from the editor's
 * request (continue, next, step...) as soon as it is sent, since the process runs again from then,
 * and from the adapter's `continued` event for resumes the editor did not ask for.
 */

export interface PauseSink {
  debuggerPaused(pid: number, atMs?: number): void;
  debuggerResumed(pid: number, atMs?: number): void;
}

interface DapMessage {
  type?: string;
  event?: string;
  command?: string;
  arguments?: { threadId?: unknown; singleThread?: unknown };
  body?: { systemProcessId?: unknown; threadId?: unknown; allThreadsStopped?: unknown; allThreadsContinued?: unknown; reason?: unknown };
}

/** Requests after which the debuggee runs again. */
const RESUMING_REQUESTS = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto', 'restartFrame']);

export class DebugSessionPauses {
  private pid: number | undefined;
  private allStopped = false;
  private readonly stoppedThreads = new Set<number>();
  private stoppedSinceMs: number | undefined;

  constructor(
    private readonly sink: PauseSink,
    private readonly now: () => number = Date.now,
  ) {}

  get processId(): number | undefined {
    return this.pid;
  }

  get stopped(): boolean {
    return this.allStopped || this.stoppedThreads.size > 0;
  }

  /** A message the debug adapter sent to the editor. */
  fromAdapter(raw: unknown): void {
    const m = raw as DapMessage;
    if (!m || m.type !== 'event') return;
    const body = m.body ?? {};
    switch (m.event) {
      case 'process': {
        const pid = body.systemProcessId;
        if (typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0) {
          this.pid = pid;
          // A stop seen before the process said who it is still counts from when it began.
          if (this.stopped && this.stoppedSinceMs !== undefined) this.sink.debuggerPaused(pid, this.stoppedSinceMs);
        }
        return;
      }
      case 'stopped':
        this.stop(body.allThreadsStopped === true, threadOf(body.threadId));
        return;
      case 'continued':
        this.resume(body.allThreadsContinued !== false, threadOf(body.threadId));
        return;
      case 'thread':
        if (body.reason === 'exited') this.resume(false, threadOf(body.threadId));
        return;
      case 'exited':
      case 'terminated':
        this.end();
        return;
    }
  }

  /** A message the editor sent to the debug adapter. */
  toAdapter(raw: unknown): void {
    const m = raw as DapMessage;
    if (!m || m.type !== 'request' || !m.command || !RESUMING_REQUESTS.has(m.command)) return;
    // DAP: without singleThread the whole process resumes (debugpy also resumes all on steps).
    this.resume(m.arguments?.singleThread !== true, threadOf(m.arguments?.threadId));
  }

  /** The session ended: whatever was stopped is not any more. */
  end(): void {
    this.resume(true, undefined);
  }

  private stop(all: boolean, thread: number | undefined): void {
    const was = this.stopped;
    if (all) this.allStopped = true;
    if (thread !== undefined) this.stoppedThreads.add(thread);
    if (!all && thread === undefined) this.allStopped = true; // a stop that names nothing stops the process
    if (!was && this.stopped) {
      this.stoppedSinceMs = this.now();
      if (this.pid !== undefined) this.sink.debuggerPaused(this.pid, this.stoppedSinceMs);
    }
  }

  private resume(all: boolean, thread: number | undefined): void {
    if (!this.stopped) return;
    if (all || thread === undefined) {
      this.allStopped = false;
      this.stoppedThreads.clear();
    } else {
      this.stoppedThreads.delete(thread);
      // One thread of an all-threads stop runs again: the process is no longer stopped as a whole.
      this.allStopped = false;
    }
    if (!this.stopped) {
      this.stoppedSinceMs = undefined;
      if (this.pid !== undefined) this.sink.debuggerResumed(this.pid, this.now());
    }
  }
}

function threadOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}
