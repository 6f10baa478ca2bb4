/**
 * scripts/setup.sh's system packages step for a user who cannot install them: it stops at once
 * and prints the one apt command to run (run as the unprivileged `nobody`, which has no sudo).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..', '..');

describe('setup: system packages without root or sudo', function () {
  it('stops and prints the one apt-get command, installing nothing', function () {
    if (process.getuid?.() !== 0) this.skip(); // needs root to become another user
    // A copy `nobody` can read wherever the clone lives.
    const dir = mkdtempSync(join(tmpdir(), 'routelens-setup-'));
    chmodSync(dir, 0o755);
    copyFileSync(join(ROOT, 'scripts', 'system-packages.sh'), join(dir, 'system-packages.sh'));
    chmodSync(join(dir, 'system-packages.sh'), 0o644);
    const script = `source ${JSON.stringify(join(dir, 'system-packages.sh'))} && SYSTEM_PACKAGES=(python3 routelens-no-such-package-a routelens-no-such-package-b) && install_system_packages`;
    const r = spawnSync('runuser', ['-u', 'nobody', '--', 'bash', '-c', script], { encoding: 'utf8', timeout: 30_000, cwd: dir });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /these Debian packages are missing and this user cannot install them \(not root, no password-less sudo\)/);
    assert.match(r.stderr, /\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends routelens-no-such-package-a routelens-no-such-package-b\n/);
    assert.doesNotMatch(r.stderr + r.stdout, /python3 routelens/, 'only the missing packages are named');
  });

  it('says all are present when they are, and returns at once', function () {
    const script = `cd ${JSON.stringify(ROOT)} && source scripts/system-packages.sh && SYSTEM_PACKAGES=(bash coreutils) && install_system_packages`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /system packages: all 2 present/);
  });
});
