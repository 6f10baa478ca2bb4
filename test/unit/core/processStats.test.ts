import * as assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProcessStats } from '../../../src/core/collector/processStats';

describe('ProcessStats', () => {
  it('reports the heap held after a full GC, which garbage does not inflate', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const stats = new ProcessStats(60_000);
    try {
      assert.equal(stats.snapshot().heapAfterFullGcBytes, null);
      gc();
      // GC entries reach observers shortly after the collection.
      await new Promise((r) => setTimeout(r, 50));
      const held = stats.snapshot();
      assert.ok(held.fullGcs >= 1, `${held.fullGcs} full GCs seen`);
      assert.ok(held.heapAfterFullGcBytes !== null && held.heapAfterFullGcBytes > 0);
      // Tens of MiB of garbage raise heapUsed until the next GC, but not the figure after one.
      let junk: unknown[] | undefined = Array.from({ length: 20 }, () => Array.from({ length: 65_536 }, (_, i) => ({ i })));
      assert.ok(junk.length);
      junk = undefined;
      gc();
      await new Promise((r) => setTimeout(r, 50));
      const after = stats.snapshot();
      assert.ok(after.fullGcs > held.fullGcs);
      assert.ok(Math.abs(after.heapAfterFullGcBytes! - held.heapAfterFullGcBytes!) < 16 * 1048576, `${after.heapAfterFullGcBytes} vs ${held.heapAfterFullGcBytes}`);
    } finally {
      stats.dispose();
    }
  });
});
