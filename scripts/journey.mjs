// Starts the five-service demo of examples/journey (gateway FastAPI, auth Flask, inventory Django
// on PostgreSQL, payment FastAPI with a flaky bank, shipping Flask with Redis), each instrumented by
// the Python agent through the environment only, with PostgreSQL and Redis of its own (private
// data folder, free ports). Without PostgreSQL or Redis it says so and runs inventory on SQLite and
// shipping without its cache.
//
//   import { startJourney } from './journey.mjs'
//   const j = await startJourney({ collector: 'http://127.0.0.1:4318', log: console.log });
//   ... j.gateway ... await j.stop();
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, 'examples', 'journey');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const PG_BIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((d) => existsSync(join(d, 'initdb')));
const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url, what, child, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited:\n${child.output()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.status < 500) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what} at ${url}`);
}

/** As the `postgres` user when running as root (PostgreSQL refuses root), else as this user. */
function pgCommand(bin, args) {
  const cmd = join(PG_BIN, bin);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function runPg(bin, args) {
  const [cmd, argv] = pgCommand(bin, args);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${bin} failed: ${r.stderr || r.stdout}`);
}

async function startPostgres(log) {
  if (!PG_BIN) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'routelens-journey-pg-'));
  if (process.getuid?.() === 0) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (pw.status !== 0) {
      log('PostgreSQL is installed but there is no postgres user: inventory runs on SQLite');
      return undefined;
    }
    chownSync(dir, Number(pw.stdout), Number(gid.stdout));
  }
  const port = await freePort();
  const data = join(dir, 'data');
  try {
    runPg('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    runPg('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    runPg('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'inventory']);
  } catch (e) {
    log(`PostgreSQL did not start (${String(e.message).split('\n')[0]}): inventory runs on SQLite`);
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  log(`PostgreSQL on 127.0.0.1:${port} (data in ${data})`);
  return {
    port,
    stop: () => {
      try {
        runPg('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startRedis(log, start) {
  if (!REDIS) return undefined;
  const port = await freePort();
  const child = start(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {});
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise((res) => {
      const s = createServer();
      s.once('error', () => res(true)); // taken: redis listens
      s.listen(port, '127.0.0.1', () => s.close(() => res(false)));
    });
    if (ok) {
      log(`Redis on 127.0.0.1:${port}`);
      return { port, child };
    }
    await sleep(100);
  }
  log('Redis did not start: shipping runs without its cache');
  return undefined;
}

export async function startJourney({ collector, log = () => {}, gatewayPort }) {
  const children = [];
  const start = (cmd, args, env) => {
    const child = spawn(cmd, args, { cwd: DIR, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out = (out + b).slice(-4000)));
    child.stderr.on('data', (b) => (out = (out + b).slice(-4000)));
    child.output = () => out;
    children.push(child);
    return child;
  };
  const pg = await startPostgres(log);
  const redis = await startRedis(log, start);
  if (!REDIS) log('redis-server is not installed: shipping runs without its cache');
  if (!PG_BIN) log('PostgreSQL is not installed: inventory runs on SQLite');

  const ports = { gateway: gatewayPort ?? (await freePort()), auth: await freePort(), inventory: await freePort(), payment: await freePort(), shipping: await freePort() };
  const urls = Object.fromEntries(Object.entries(ports).map(([k, p]) => [`JOURNEY_${k.toUpperCase()}_URL`, `http://127.0.0.1:${p}`]));
  const sqlite = join(mkdtempSync(join(tmpdir(), 'routelens-journey-')), 'inventory.sqlite3');
  const base = {
    ...urls,
    PYTHONPATH: [join(ROOT, 'agents', 'python', 'bootstrap'), DIR].join(':'),
    ROUTELENS_ENDPOINT: collector,
    PYTHONUNBUFFERED: '1',
    ...(pg ? { JOURNEY_PG_PORT: String(pg.port) } : { JOURNEY_SQLITE: sqlite }),
    ...(redis ? { JOURNEY_REDIS_PORT: String(redis.port) } : {}),
  };
  const uvicorn = (mod, port) => ['-m', 'uvicorn', `${mod}:app`, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'];
  const services = [
    ['gateway', uvicorn('gateway', ports.gateway), '/health'],
    ['auth', [join(DIR, 'auth.py')], '/health'],
    ['inventory', [join(DIR, 'inventory.py'), 'runserver', '--noreload', `127.0.0.1:${ports.inventory}`], '/health/'],
    ['payment', uvicorn('payment', ports.payment), '/health'],
    ['shipping', [join(DIR, 'shipping.py')], '/health'],
  ];
  const procs = {};
  for (const [name, args] of services) procs[name] = start(PYTHON, args, { ...base, ROUTELENS_SERVICE_NAME: name, PORT: String(ports[name]) });
  try {
    for (const [name, , probe] of services) await waitHttp(`http://127.0.0.1:${ports[name]}${probe}`, `the ${name} service`, procs[name]);
  } catch (e) {
    await stop();
    throw e;
  }
  log(`five services up: gateway on http://127.0.0.1:${ports.gateway} (auth, inventory, payment, shipping behind it)`);

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    for (const c of children.splice(0)) {
      try {
        process.kill(-c.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    pg?.stop();
    rmSync(dirname(sqlite), { recursive: true, force: true });
  }
  return {
    gateway: `http://127.0.0.1:${ports.gateway}`,
    withPostgres: Boolean(pg),
    withRedis: Boolean(redis),
    /** Starts the traffic generator; it stops with stop(). */
    startLoad: (workers = 3) => start(PYTHON, [join(DIR, 'load.py'), '--base', `http://127.0.0.1:${ports.gateway}`, '--workers', String(workers)], {}),
    stop,
  };
}

// Run alone: `node scripts/journey.mjs` starts it against http://127.0.0.1:4318 until Ctrl+C.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const j = await startJourney({ collector: process.env.ROUTELENS_ENDPOINT || 'http://127.0.0.1:4318', log: (m) => console.log(`[journey] ${m}`) });
  j.startLoad();
  console.log(`[journey] traffic flowing to ${j.gateway}; Ctrl+C stops it all`);
  const done = async () => {
    await j.stop();
    console.log('[journey] stopped');
    process.exit(0);
  };
  process.once('SIGINT', done);
  process.once('SIGTERM', done);
  setInterval(() => {}, 1 << 30);
}
