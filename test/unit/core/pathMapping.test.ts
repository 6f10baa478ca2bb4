import * as assert from 'node:assert/strict';
import { mapToLocal } from '../../../src/core/pathMapping';

describe('mapToLocal', () => {
  const files = new Set(['/home/me/shop/app.py', '/home/me/shop/api/routes.py', '/srv/other/app.py']);
  const exists = (p: string) => files.has(p);

  it('applies a configured mapping first', () => {
    assert.equal(mapToLocal('/app/api/routes.py', [{ remoteRoot: '/app', localRoot: '/home/me/shop' }], [], exists), '/home/me/shop/api/routes.py');
  });
  it('keeps a path that exists here', () => {
    assert.equal(mapToLocal('/srv/other/app.py', [], ['/home/me/shop'], exists), '/srv/other/app.py');
  });
  it('finds the longest tail of a container path under a workspace folder', () => {
    assert.equal(mapToLocal('/app/api/routes.py', [], ['/home/me/shop'], exists), '/home/me/shop/api/routes.py');
    assert.equal(mapToLocal('C:\\deploy\\shop\\app.py', [], ['/home/me'], exists), '/home/me/shop/app.py');
  });
  it('answers undefined when nothing matches', () => {
    assert.equal(mapToLocal('/app/missing.py', [], ['/home/me/shop'], exists), undefined);
    assert.equal(mapToLocal('', [], ['/home/me/shop'], exists), undefined);
  });
});
