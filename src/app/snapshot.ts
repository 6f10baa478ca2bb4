/**
 * The store kept across restarts of the window: the newest spans and logs are written to the
 * workspace's storage (every minute when something changed, and on shutdown) and read back at
 * start, when `routelens.persistence.enabled` is on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportOtlpJson, importOtlpJson } from '../core/importExport';
import type { Logger } from '../core/log';
import type { TelemetryStore } from '../core/store/store';
import type { Tick } from '../editor/tick';

const SNAPSHOT_SPANS = 5000;
const SNAPSHOT_LOGS = 2000;

export class Snapshot {
  private dirty = false;
  private readonly subs: { dispose(): void }[] = [];

  constructor(
    private readonly file: string,
    private readonly store: TelemetryStore,
    private readonly enabled: () => boolean,
    private readonly log: Logger,
    tick: Tick,
  ) {
    this.subs.push(
      store.onDidChange(() => (this.dirty = true)),
      tick.every(60, () => {
        if (this.enabled() && this.dirty) this.save();
      }),
    );
  }

  /** Writes the newest spans and logs where the next start of this window finds them. */
  save(): void {
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.writeFileSync(this.file, exportOtlpJson(this.store, { maxSpans: SNAPSHOT_SPANS, maxLogs: SNAPSHOT_LOGS }), { mode: 0o600 });
      this.dirty = false;
    } catch (e) {
      this.log.warn(`could not save the snapshot to ${this.file}: ${(e as Error).message}`);
    }
  }

  /** Reads the last snapshot into the store; returns how many spans and log records it held. */
  restore(): number {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return 0;
    }
    const r = importOtlpJson(this.store, text);
    this.log.info(`restored ${r.spans} spans and ${r.logs} log records from the last session`);
    return r.spans + r.logs;
  }

  dispose(): void {
    for (const s of this.subs.splice(0)) s.dispose();
  }
}
