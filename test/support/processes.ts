import { readdirSync, readFileSync } from 'node:fs';

/**
 * Kills the processes whose command line names the app's port (debugpy's launcher, uvicorn's
 * reloader) and every process under them (the server the reloader spawned), by their ids.
 */
export function killAppProcesses(port: string): void {
  if (!port || port === 'undefined' || process.platform !== 'linux') return;
  const parent = new Map<number, number>();
  const matched: number[] = [];
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    const pid = Number(d);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const i = args.indexOf('--port');
      if (i >= 0 && args[i + 1] === port) matched.push(pid);
    } catch {
      // Gone while reading.
    }
  }
  const doomed = new Set(matched);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (doomed.has(ppid) && !doomed.has(pid)) {
        doomed.add(pid);
        grew = true;
      }
    }
  }
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

