/**
 * Runs a fuzz target for a number of cases and reports throughput, outcomes by reason, crashes and
 * heap growth. Shared by the seeded unit tests and bench/fuzz.mjs.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Rng } from './random';

export interface CaseOutcome {
  /** 'accepted', or why the input (or some of its items) was refused. */
  reasons: string[];
  /** The input as a whole was refused. */
  rejectedInput: boolean;
  acceptedItems: number;
  rejectedItems: number;
}

export interface FuzzTarget {
  readonly name: string;
  runCase(rng: Rng): CaseOutcome | Promise<CaseOutcome>;
  /** A short rendering of the last input, for reproducing a crash. */
  lastInput(): string;
  /** Throws when the collector's counters disagree with what the cases saw. */
  verify(): void | Promise<void>;
  close(): Promise<void>;
}

export interface FuzzReport {
  target: string;
  seed: number;
  cases: number;
  seconds: number;
  casesPerSecond: number;
  rejectedInputs: number;
  acceptedItems: number;
  rejectedItems: number;
  reasons: Record<string, number>;
  crashes: { index: number; error: string; input: string }[];
  /** Heap used after a full GC: after warm-up (10% of the cases), half-way, and at the end. */
  heapWarmMiB: number;
  heapMidMiB: number;
  heapEndMiB: number;
}

let gcFn: (() => void) | undefined;
export function forceGc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

export function heapMiB(): number {
  forceGc();
  return Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10;
}

/** Digits vary per case; the reason's shape is what counts. */
export function reasonKey(message: string): string {
  return message
    .replace(/^\w+\[\d+\]: /, '')
    .replace(/"[^"]{0,80}"/g, '"…"')
    .replace(/\b[A-Za-z_:][\w:]*_[\w:]+/g, '<name>')
    .replace(/\b(label|for|after|sample|of) (?!<name>)[A-Za-z_:][\w:]*/g, '$1 <name>')
    .replace(/\d+/g, 'N')
    .slice(0, 70);
}

export async function runFuzz(target: FuzzTarget, opts: { seed: number; cases: number; maxSeconds?: number; onProgress?: (done: number) => void }): Promise<FuzzReport> {
  const report: FuzzReport = {
    target: target.name,
    seed: opts.seed,
    cases: 0,
    seconds: 0,
    casesPerSecond: 0,
    rejectedInputs: 0,
    acceptedItems: 0,
    rejectedItems: 0,
    reasons: {},
    crashes: [],
    heapWarmMiB: 0,
    heapMidMiB: 0,
    heapEndMiB: 0,
  };
  const warmAt = Math.max(1, Math.floor(opts.cases / 10));
  const midAt = Math.max(2, Math.floor(opts.cases / 2));
  const deadline = opts.maxSeconds ? Date.now() + opts.maxSeconds * 1000 : Infinity;
  const t0 = process.hrtime.bigint();
  let excluded = 0n;
  for (let i = 0; i < opts.cases; i++) {
    if (i === warmAt || i === midAt) {
      const g = process.hrtime.bigint();
      if (i === warmAt) report.heapWarmMiB = heapMiB();
      else report.heapMidMiB = heapMiB();
      excluded += process.hrtime.bigint() - g;
    }
    if ((i & 1023) === 0 && Date.now() > deadline) break;
    const rng = new Rng(opts.seed, i);
    try {
      const out = await target.runCase(rng);
      report.cases++;
      if (out.rejectedInput) report.rejectedInputs++;
      report.acceptedItems += out.acceptedItems;
      report.rejectedItems += out.rejectedItems;
      for (const r of out.reasons) report.reasons[r] = (report.reasons[r] ?? 0) + 1;
    } catch (e) {
      report.cases++;
      if (report.crashes.length < 20) report.crashes.push({ index: i, error: (e as Error)?.stack ?? String(e), input: target.lastInput() });
    }
    if (opts.onProgress && (i & 4095) === 4095) opts.onProgress(i + 1);
  }
  const elapsed = Number(process.hrtime.bigint() - t0 - excluded) / 1e9;
  report.seconds = Math.round(elapsed * 100) / 100;
  report.casesPerSecond = Math.round(report.cases / Math.max(elapsed, 1e-6));
  report.heapEndMiB = heapMiB();
  if (report.heapWarmMiB === 0) report.heapWarmMiB = report.heapEndMiB;
  if (report.heapMidMiB === 0) report.heapMidMiB = report.heapEndMiB;
  return report;
}

/** Counters that must agree, as "name: expected vs actual" lines for the ones that do not. */
export function mismatches(pairs: [string, number, number][]): string[] {
  return pairs.filter(([, a, b]) => a !== b).map(([n, a, b]) => `${n}: the cases saw ${a}, the counters say ${b}`);
}
