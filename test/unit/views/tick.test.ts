import * as assert from 'node:assert/strict';
import { SharedTick } from '../../../src/editor/tick';
import { until } from '../../support/net';

describe('the shared tick', function () {
  this.timeout(20_000);

  it('calls each subscriber on its own period from one timer, and not after it is disposed', async () => {
    const tick = new SharedTick();
    let every1 = 0;
    let every2 = 0;
    let gone = 0;
    tick.every(1, () => every1++);
    tick.every(2, () => every2++);
    const sub = tick.every(1, () => gone++);
    sub.dispose();
    tick.every(1, () => {
      throw new Error('a failing subscriber');
    });
    try {
      await until(() => every1 >= 4, 'four ticks', 15_000, 20);
      // Both count the same ticks: the two-second one fires on every second of them.
      assert.equal(every2, Math.floor(every1 / 2));
      assert.equal(gone, 0);
    } finally {
      tick.dispose();
    }
    const after = every1;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(every1, after, 'no calls after dispose');
  });
});
