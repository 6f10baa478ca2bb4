import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where the per-install token lives: ROUTELENS_TOKEN_FILE, else ~/.routelens/token. */
export function defaultTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.ROUTELENS_TOKEN_FILE || join(homedir(), '.routelens', 'token');
}

/**
 * Reads the token, creating it (32 random bytes, hex) on first use. The file is readable by its
 * owner only (0600, folder 0700); looser permissions are tightened, since the token guards the
 * read API that serves telemetry full of secrets.
 */
export function loadOrCreateToken(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{16,}$/.test(token)) {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      return token;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
