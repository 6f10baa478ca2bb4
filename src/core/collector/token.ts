import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';

const TOKEN_DIR_NAME = '.routelens';

/** Where the per-install token lives: ROUTELENS_TOKEN_FILE, else ~/.routelens/token. */
export function defaultTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.ROUTELENS_TOKEN_FILE || join(homedir(), TOKEN_DIR_NAME, 'token');
}

/**
 * Reads the token, creating it (32 random bytes, hex) on first use. The file is readable by its
 * owner only (0600, folder 0700); looser permissions are tightened, since the token guards the
 * read API that serves telemetry full of secrets.
 *
 * The folder is tightened only when it is Routelens's own (named `.routelens`, or created here):
 * a token file placed by ROUTELENS_TOKEN_FILE in a shared folder must not change that folder.
 */
export function loadOrCreateToken(file: string): string {
  const dir = dirname(file);
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created || basename(dir) === TOKEN_DIR_NAME) tighten(dir, 0o700);
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{16,}$/.test(token)) {
      tighten(file, 0o600);
      return token;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = randomBytes(32).toString('hex');
  // An existing file keeps its mode when opened for writing: narrow it before the token is in it.
  const fd = openSync(file, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, token + '\n');
  } finally {
    closeSync(fd);
  }
  return token;
}

function tighten(path: string, mode: number): void {
  try {
    if ((statSync(path).mode & 0o777 & ~mode) !== 0) chmodSync(path, mode);
  } catch {
    // Not ours to change (another owner); the file's own mode still protects the token.
  }
}

export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
