#!/usr/bin/env python3
"""Throughput of an endpoint that makes 10 queries, behind a real server, in one run:

  bare        the app alone
  prometheus  the app wrapped in a prometheus_client middleware (a Histogram and a Counter per
              request, the usual peer), no agent
  routelens   the agent through the bundled sitecustomize only (PYTHONPATH, as F5 does), connected
              to a collector stand-in (bench/agent_overhead.py's, another process that reads and
              acknowledges every batch), so each request is a server span and 10 client spans with
              their statements and calling lines, serialised and sent

Apps: Flask on gunicorn (one sync worker) and FastAPI on uvicorn (a sync `def` endpoint, so in
Starlette's thread pool). The endpoint runs 10 `SELECT ... WHERE id = ?` and answers with the rows
as JSON: by default on an sqlite3 in-memory database (one per thread, 1,000 rows), the cheapest
query there is (about a microsecond), where the agent's share is the largest; with
`--database postgres` on a PostgreSQL server on loopback (started here from Debian's packages,
private data directory and port) through psycopg2, what an API's queries usually are.

A fresh server process per round; the modes alternate within each round (the order rotates
from round to round), and the load is C keep-alive client connections (threads of this process)
for a fixed time after a warm-up. Reported per app and mode, medians of the rounds: requests per
second, the server process's CPU per request (from /proc), and both against bare (and the
agent against prometheus_client); and "paired", the median over the rounds of each round's own
ratio to bare, which a machine that speeds up or slows down from one round to the next moves
least.

By default the server runs on a CPU of its own and everything else (the load, the collector
stand-in, PostgreSQL) on the others, as on a machine where the app has a core to itself: on two
cores, where the scheduler otherwise moves the server, its database and its clients around, the
same mode's throughput moves by 20% from round to round. The agent's exporter thread shares the
server's CPU, so its cost is counted in full. --no-pin leaves placement to the scheduler.

    python3 bench/client_spans_throughput.py [--seconds 4] [--rounds 5] [--clients 4] [--database sqlite|postgres]
        [--only NAME] [--agent-env NAME=VALUE] [--no-pin] [--json out.json]
    python3 bench/client_spans_throughput.py --instructions [--only NAME] [--json out.json]
    python3 bench/client_spans_throughput.py --server-instructions [--only NAME] [--json out.json]

--instructions counts instead what one request of the same endpoint (sqlite3) executes, with
valgrind's callgrind (deterministic, where the throughput moves by several percent from run to
run): each app is called in-process (Flask through WSGI, FastAPI through ASGI, no server, no
socket), in the modes above and with the agent's client spans off (ROUTELENS_CLIENT_SPANS=0:
the request's span alone), from the difference of two run lengths. The agent's exporter-thread
work (the rows encoded into a batch message and its WebSocket frame) is done in the same thread
every 500 items, so it is counted; the socket write and the thread switches are not.

--server-instructions counts the same in the real servers (sqlite3): each server process runs
under callgrind, one thread per file, serving 100 and then 600 requests on one connection, so
what each thread adds per request (the event loop, Starlette's worker thread, the agent's
exporter thread, gunicorn's worker process) is read off the difference. It shows whether the
server does more of the agent's work than the in-process count (it does not: see
docs/performance.md).

The machine is shared (2 cores, other work running): compare modes within one run, not across
runs.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUERIES = 10
ROWS = 1000
# Set by --agent-env: more environment for the agent's server.
AGENT_ENV = {}
# Set by --database postgres: the servers' queries go to a PostgreSQL server started here.
DSN = None
# The CPUs the server runs on (None: wherever the scheduler puts it); see --no-pin.
SERVER_CPUS = None

# -- the app (imported by the server processes) ---------------------------------------------

_local = threading.local()


def _db():
    conn = getattr(_local, "conn", None)
    if conn is None and os.environ.get("BENCH_DSN"):
        import psycopg2

        conn = _local.conn = psycopg2.connect(os.environ["BENCH_DSN"])
        conn.autocommit = True
        return conn
    if conn is None:
        import sqlite3

        conn = _local.conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        conn.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, "item %d" % i, i * 1.5) for i in range(ROWS)])
        conn.commit()
    return conn


def order_rows(first):
    conn = _db()
    rows = []
    if os.environ.get("BENCH_DSN"):
        cursor = conn.cursor()
        for i in range(QUERIES):
            cursor.execute("SELECT id, name, price FROM items WHERE id = %s", ((first + i * 37) % ROWS,))
            rows.append(cursor.fetchone())
        cursor.close()
        return rows
    for i in range(QUERIES):
        rows.append(conn.execute("SELECT id, name, price FROM items WHERE id = ?", ((first + i * 37) % ROWS,)).fetchone())
    return rows


def _create_postgres_table(dsn):
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cursor = conn.cursor()
    cursor.execute("DROP TABLE IF EXISTS items")
    cursor.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price DOUBLE PRECISION)")
    cursor.executemany("INSERT INTO items VALUES (%s, %s, %s)", [(i, "item %d" % i, i * 1.5) for i in range(ROWS)])
    conn.close()


def _prometheus():
    import prometheus_client

    registry = prometheus_client.CollectorRegistry()
    histogram = prometheus_client.Histogram("http_request_duration_seconds", "latency", ["method", "route"],
                                            registry=registry)
    counter = prometheus_client.Counter("http_requests", "requests", ["method", "route", "status"], registry=registry)
    return histogram, counter


def _make_flask():
    from flask import Flask, jsonify

    app = Flask("throughput")

    @app.get("/orders/<int:first>")
    def orders(first):
        return jsonify(order_rows(first))

    if os.environ.get("BENCH_MODE") == "prometheus":
        histogram, counter = _prometheus()
        inner = app.wsgi_app

        def wsgi_app(environ, start_response):
            start = time.perf_counter()
            status = []

            def sr(s, h, e=None):
                status.append(s)
                return start_response(s, h) if e is None else start_response(s, h, e)

            result = inner(environ, sr)
            histogram.labels(environ["REQUEST_METHOD"], "/orders/<int:first>").observe(time.perf_counter() - start)
            counter.labels(environ["REQUEST_METHOD"], "/orders/<int:first>", status[0][:3] if status else "500").inc()
            return result

        app.wsgi_app = wsgi_app
    return app


def _make_fastapi():
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/orders/{first}")
    def orders(first: int):
        return order_rows(first)

    if os.environ.get("BENCH_MODE") == "prometheus":
        histogram, counter = _prometheus()
        inner = app

        async def prometheus_app(scope, receive, send):
            if scope["type"] != "http":
                return await inner(scope, receive, send)
            start = time.perf_counter()
            status = []

            async def s(message):
                if message["type"] == "http.response.start":
                    status.append(message["status"])
                await send(message)

            await inner(scope, receive, s)
            histogram.labels(scope["method"], "/orders/{first}").observe(time.perf_counter() - start)
            counter.labels(scope["method"], "/orders/{first}", str(status[0]) if status else "500").inc()

        return prometheus_app
    return app


def __getattr__(name):
    # gunicorn and uvicorn import `client_spans_throughput:flask_app` / `:fastapi_app`.
    if name == "flask_app":
        return _make_flask()
    if name == "fastapi_app":
        return _make_fastapi()
    raise AttributeError(name)


# -- the bench ----------------------------------------------------------------------------

SERVERS = {
    "flask on gunicorn (sync worker)": lambda port: [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "sync", "--bind", "127.0.0.1:%d" % port,
        "--chdir", HERE, "--log-level", "warning", "client_spans_throughput:flask_app"],
    "fastapi on uvicorn": lambda port: [
        sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--app-dir", HERE,
        "--log-level", "warning", "--no-access-log", "client_spans_throughput:fastapi_app"],
}
MODES = ("bare", "prometheus", "routelens")


def _tree(pid):
    pids = [pid]
    try:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    if int(fields[1]) == pid:
                        pids.append(int(entry))
                except OSError:
                    pass
    except OSError:
        pass
    return pids


def _cpu_of_tree(pid):
    """CPU seconds of pid and its children that are alive (gunicorn's worker is a child)."""
    total = 0.0
    for p in _tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def _load(port, seconds, clients):
    """Requests answered by the server in `seconds` from `clients` keep-alive connections."""
    stop = time.perf_counter() + seconds
    counts = [0] * clients
    errors = [0]

    def worker(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while time.perf_counter() < stop:
            try:
                conn.request("GET", "/orders/%d" % (n % ROWS))
                response = conn.getresponse()
                body = response.read()
                if response.status != 200 or not body.startswith(b"[["):
                    errors[0] += 1
                else:
                    counts[index] += 1
                if response.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            except (http.client.HTTPException, OSError):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            n += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - t0, errors[0]


def _wait_for_server(proc, port, mode, seconds, probe_seconds):
    """Until the server proc answers the endpoint with 200 (or exits, or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=probe_seconds)
            probe.request("GET", "/orders/1")
            response = probe.getresponse()
            body = response.read()
            probe.close()
            if response.status != 200:
                raise RuntimeError("%s answered %d: %r" % (mode, response.status, body[:300]))
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start: %s" % proc.stderr.read().decode()[-2000:])
            time.sleep(0.1)


def _server_env(mode, endpoint):
    """The environment of a server process in `mode`: the agent only through the bundled
    sitecustomize, and only in mode routelens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELENS_", "OTEL_", "BENCH_"))}
    env.pop("PYTHONPATH", None)
    env["BENCH_MODE"] = mode
    if DSN:
        env["BENCH_DSN"] = DSN
    if mode == "routelens":
        env["PYTHONPATH"] = os.path.join(ROOT, "agents", "python", "bootstrap")
        env["ROUTELENS_ENDPOINT"] = endpoint
        env.update(AGENT_ENV)
    return env


def server_round(command, mode, endpoint, seconds, clients):
    from servers import free_port

    port = free_port()
    env = _server_env(mode, endpoint)
    pin = None if SERVER_CPUS is None else (lambda: os.sched_setaffinity(0, SERVER_CPUS))
    proc = subprocess.Popen(command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=pin)
    try:
        _wait_for_server(proc, port, mode, 30, 5)
        _load(port, 1.0, clients)  # warm-up: imports, caches, the agent's connection
        cpu0 = _cpu_of_tree(proc.pid)
        done, wall, errors = _load(port, seconds, clients)
        cpu = _cpu_of_tree(proc.pid) - cpu0
        if errors:
            raise RuntimeError("%d failed requests in mode %s" % (errors, mode))
        return {"rps": done / wall, "cpu_us": cpu / max(done, 1) * 1e6, "requests": done}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- instruction counts (--instructions) -------------------------------------------------------

IR_SMALL, IR_LARGE, IR_BATCH = 300, 1300, 500
IR_MODES = ("bare", "prometheus", "routelens-no-client-spans", "routelens")
IR_APPS = {"flask": "flask (WSGI), in-process", "fastapi": "fastapi (ASGI), in-process"}


def _wsgi_requests(app, n):
    """n requests of the endpoint, through agent_overhead's WSGI driver."""
    from agent_overhead import wsgi_driver

    statuses = []

    def varied(environ, start_response):
        environ["PATH_INFO"] = "/orders/%d" % (len(statuses) % ROWS)

        def record(status, headers, exc_info=None):
            statuses.append(status)
            return start_response(status, headers, exc_info)

        return app(environ, record)

    wsgi_driver(varied, n)()
    if statuses.count("200 OK") != n:
        raise RuntimeError("the endpoint failed: %r" % statuses[-1:])


def _asgi_requests(app, n):
    """n requests of the endpoint, through agent_overhead's ASGI driver."""
    from agent_overhead import asgi_driver

    statuses = []

    async def varied(scope, receive, send):
        path = "/orders/%d" % (len(statuses) % ROWS)
        scope["path"], scope["raw_path"] = path, path.encode()

        async def record(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            await send(message)

        await app(scope, receive, record)

    asgi_driver(varied, n)()
    if statuses.count(200) != n:
        raise RuntimeError("the endpoint failed: %r" % statuses[-1:])


def ir_child(spec):
    """Runs n requests of one app in one mode (in a process callgrind counts): app:mode:n."""
    kind, mode, n = spec.split(":")
    os.environ["BENCH_MODE"] = mode if mode == "prometheus" else "bare"
    if mode.startswith("routelens"):
        if mode == "routelens-no-client-spans":
            os.environ["ROUTELENS_CLIENT_SPANS"] = "0"
        sys.path.insert(0, os.path.join(ROOT, "agents", "python"))
        import routelens
        from agent_overhead import export_in_thread

        # As the bundled sitecustomize starts it, before the app's imports; no collector: the
        # batches are built here instead of on the exporter thread.
        agent = routelens.start(endpoint="http://127.0.0.1:9", service_name="bench", metrics_interval=0, lazy=True)
        exported = export_in_thread(agent.exporter, IR_BATCH)
    app = _make_flask() if kind == "flask" else _make_fastapi()
    (_wsgi_requests if kind == "flask" else _asgi_requests)(app, int(n))
    if mode.startswith("routelens"):
        # What is counted is what the mode says: every query a row (and the table's set-up made
        # by the first request), or none.
        expected = 0 if mode == "routelens-no-client-spans" else QUERIES * int(n)
        calls = exported.count("calls")
        if not expected <= calls <= expected + 5:
            raise RuntimeError("%s: %d call rows for %d requests" % (mode, calls, int(n)))


def instructions_main(args):
    from concurrent.futures import ThreadPoolExecutor

    from agent_overhead import count_instructions

    kinds = [k for k in IR_APPS if not args.only or args.only in k]
    jobs = ["%s:%s:%d" % (k, m, n) for k in kinds for m in IR_MODES for n in (IR_SMALL, IR_LARGE)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(zip(jobs, pool.map(lambda spec: count_instructions(__file__, spec), jobs)))
    results = {}
    print("Python %s, instructions per request of the 10-query endpoint (sqlite3; callgrind; %d minus %d requests)"
          % (sys.version.split()[0], IR_LARGE, IR_SMALL))
    print("%-28s %-26s %12s %10s %9s" % ("app", "mode", "instr/req", "added", "vs bare"))
    for k in kinds:
        per = {m: (counts["%s:%s:%d" % (k, m, IR_LARGE)] - counts["%s:%s:%d" % (k, m, IR_SMALL)]) / (IR_LARGE - IR_SMALL)
               for m in IR_MODES}
        results[IR_APPS[k]] = per
        for m in IR_MODES:
            print("%-28s %-26s %12.0f %+10.0f %8.3fx" % (IR_APPS[k], m, per[m], per[m] - per["bare"], per[m] / per["bare"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"instructions": True, "queries": QUERIES, "results": results}, f, indent=2)


SERVER_IR_SMALL, SERVER_IR_LARGE = 100, 600


def _server_instructions(label, mode, requests, endpoint):
    """Instructions per thread of one real server process (and its children) under callgrind,
    which serves `requests` requests of the endpoint on one keep-alive connection and stops."""
    import glob
    import signal
    import tempfile

    from servers import free_port

    port = free_port()
    env = _server_env(mode, endpoint)
    env["PYTHONHASHSEED"] = "0"
    if mode == "routelens":
        # Under callgrind the server answers about 20 requests a second, so every 0.2 s a batch
        # of four would go: send when the batch is full (500 items), as at full speed.
        env["ROUTELENS_FLUSH_INTERVAL"] = "60"
    command = SERVERS[label](port)
    if "gunicorn" in command:
        after = command.index("gunicorn") + 1
        command[after:after] = ["--timeout", "600"]  # a worker under valgrind is slow to answer
    out = tempfile.mkdtemp(prefix="routelens-cg-")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                             "--callgrind-out-file=" + os.path.join(out, "cg.%p")] + command,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_server(proc, port, mode, 300, 60)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(requests):
            conn.request("GET", "/orders/%d" % (i % ROWS))
            response = conn.getresponse()
            if response.status != 200 or not response.read().startswith(b"[["):
                raise RuntimeError("%s: the endpoint failed" % mode)
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    threads = {}
    for path in glob.glob(os.path.join(out, "cg.*")):
        # cg.PID-NN: callgrind numbers a process's threads in the order they started.
        thread = int(path.rsplit("-", 1)[1]) if "-" in os.path.basename(path) else 1
        with open(path) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    threads[thread] = threads.get(thread, 0) + int(line.split()[1])
                    break
        os.unlink(path)
    os.rmdir(out)
    return threads


def server_instructions_main(args):
    """--server-instructions: what a request costs in a real server, thread by thread."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, "agents", "python", "tests"))
    from concurrent.futures import ThreadPoolExecutor

    from agent_overhead import start_sink

    sink, endpoint = start_sink()
    results = {}
    try:
        print("Python %s, instructions per request of the 10-query endpoint behind a real server (sqlite3; "
              "callgrind, thread by thread in the order they started; %d minus %d requests)"
              % (sys.version.split()[0], SERVER_IR_LARGE, SERVER_IR_SMALL))
        print("%-32s %-11s %12s %10s  %s" % ("app", "mode", "instr/req", "added", "per thread"))
        for label in SERVERS:
            if args.only and args.only not in label:
                continue
            jobs = [(mode, n) for mode in MODES for n in (SERVER_IR_SMALL, SERVER_IR_LARGE)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                counts = dict(zip(jobs, pool.map(lambda job: _server_instructions(label, job[0], job[1], endpoint), jobs)))
            per = {}
            for mode in MODES:
                small, large = counts[(mode, SERVER_IR_SMALL)], counts[(mode, SERVER_IR_LARGE)]
                per[mode] = {t: (large.get(t, 0) - small.get(t, 0)) / (SERVER_IR_LARGE - SERVER_IR_SMALL)
                             for t in sorted(set(small) | set(large))}
            results[label] = per
            bare = sum(per["bare"].values())
            for mode in MODES:
                total = sum(per[mode].values())
                print("%-32s %-11s %12.0f %+10.0f  %s" % (label, mode, total, total - bare,
                                                          " ".join("%.0f" % v for v in per[mode].values())), flush=True)
    finally:
        sink.kill()
        sink.wait()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"server_instructions": True, "queries": QUERIES, "results": results}, f, indent=2)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--ir-child":
        ir_child(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--only", help="substring of the app names to run")
    parser.add_argument("--agent-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the agent's server (ROUTELENS_CLIENT_SPANS=0 measures the "
                             "request spans alone)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="sqlite: an in-memory database per thread (the cheapest query there is, so the agent's "
                             "share is the largest); postgres: a PostgreSQL server on loopback, through psycopg2")
    parser.add_argument("--no-pin", action="store_true",
                        help="leave the server's placement to the scheduler (default: a CPU of its own)")
    parser.add_argument("--instructions", action="store_true",
                        help="count the instructions of one request in-process under valgrind instead (deterministic)")
    parser.add_argument("--server-instructions", action="store_true",
                        help="count the instructions of a request in the real servers under valgrind, per thread")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.instructions:
        instructions_main(args)
        return
    if args.server_instructions:
        server_instructions_main(args)
        return
    for pair in args.agent_env:
        name, _, value = pair.partition("=")
        AGENT_ENV[name] = value
    global SERVER_CPUS
    cpus = sorted(os.sched_getaffinity(0))
    if not args.no_pin and len(cpus) >= 2:
        # Set before PostgreSQL and the stand-in start, so that they inherit the other CPUs.
        SERVER_CPUS = {cpus[-1]}
        os.sched_setaffinity(0, set(cpus[:-1]))
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, "agents", "python", "tests"))
    from agent_overhead import start_sink

    global DSN
    pg = None
    if args.database == "postgres":
        from servers import Postgres

        missing = Postgres.missing()
        if missing:
            raise SystemExit("PostgreSQL is needed for --database postgres: %s" % missing)
        pg = Postgres().__enter__()
        DSN = pg.dsn
        _create_postgres_table(DSN)
    sink, endpoint = start_sink()
    results = {}
    try:
        for label, command in SERVERS.items():
            if args.only and args.only not in label:
                continue
            samples = {mode: [] for mode in MODES}
            for r in range(args.rounds):
                order = MODES[r % 3:] + MODES[:r % 3]
                for mode in order:
                    samples[mode].append(server_round(command, mode, endpoint, args.seconds, args.clients))
            bare = samples["bare"]
            results[label] = {mode: {"rps": statistics.median(x["rps"] for x in v),
                                     "cpu_us": statistics.median(x["cpu_us"] for x in v),
                                     "paired": statistics.median(x["rps"] / b["rps"] for x, b in zip(v, bare)),
                                     "rounds_rps": [round(x["rps"], 1) for x in v]}
                              for mode, v in samples.items()}
            print_table({label: results[label]}, args.database)
    finally:
        sink.kill()
        sink.wait()
        if pg is not None:
            pg.__exit__()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": args.seconds, "rounds": args.rounds, "clients": args.clients, "queries": QUERIES,
                       "server_cpus": sorted(SERVER_CPUS) if SERVER_CPUS else None,
                       "database": args.database, "results": results}, f, indent=2)


def print_table(results, database):
    print("%-34s %-11s %9s %11s %10s %10s %10s %12s" % ("app (%d %s queries/request)" % (QUERIES, database), "mode",
                                                      "req/s", "CPU µs/req", "vs bare", "paired", "CPU vs bare",
                                                      "vs prometheus"))
    for label, by_mode in results.items():
        base = by_mode["bare"]
        prom = by_mode["prometheus"]
        for mode, r in by_mode.items():
            print("%-34s %-11s %9.0f %11.1f %9.3fx %9.3fx %9.3fx %11.3fx" % (
                label, mode, r["rps"], r["cpu_us"], r["rps"] / base["rps"], r["paired"], r["cpu_us"] / base["cpu_us"],
                r["rps"] / prom["rps"]), flush=True)


if __name__ == "__main__":
    main()
