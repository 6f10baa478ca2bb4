#!/usr/bin/env python3
"""What the Routelens Python agent adds to one client call, next to the bare call, in one run.

Per library, the same call runs in rounds that alternate

  bare        the agent not started (no hook installed)
  hooks       the agent's hooks installed and each call a client span, but finished spans go to a
              list instead of the exporter: the request thread's own cost, with no exporter thread
              competing for the interpreter lock and the two cores
  routelens   the agent started and connected to a collector stand-in (bench/agent_overhead.py's),
              so the exporter thread serialises and sends every span while the calls run

In every mode each call runs inside a request span (a fresh one every 100 calls), so with the
agent each call is a client span with its attributes, statement and calling line.

and the medians of the rounds are reported: wall time per call, and CPU of the calling thread per
call (time.thread_time: what the request thread pays; the exporter thread's serialising and sending
is not in it), with the difference between the modes.

    python3 bench/client_spans.py [--calls 5000] [--rounds 5] [--only http,redis] [--json out.json]
    python3 bench/client_spans.py --instructions [--only sqlite] [--json out.json]

On a shared machine the times move by more than the agent costs a network call, so
--instructions counts instead, with valgrind's callgrind (deterministic: the servers run in
other processes, which are not counted), the instructions per call of the calling process in
three modes: bare, hooks (the request thread's work) and encoded (hooks plus serialising the
spans, which the exporter thread does), each from the difference of two run lengths so that
start-up cancels out.

Calls: sqlite3 in memory (`SELECT ?`), http.client to a local HTTP server in another process (a
kept-alive connection, GET of 2 bytes), redis GET and a PostgreSQL `SELECT 1` with psycopg2 (both
servers started here on private ports, as the tests start them; skipped if not installed).
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "agents", "python"))
sys.path.insert(0, os.path.join(ROOT, "agents", "python", "tests"))
sys.path.insert(0, HERE)

import routelens  # noqa: E402
from agent_overhead import count_instructions, start_sink  # noqa: E402
from servers import Postgres, Redis, free_port  # noqa: E402

PER_REQUEST = 100

_HTTP_SERVER = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response and no Nagle delay: otherwise each kept-alive request waits 40 ms
    # for a delayed acknowledgement.
    wbufsize = 65536
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def make_sqlite():
    import sqlite3

    def setup():
        conn = sqlite3.connect(":memory:")

        def call():
            conn.execute("SELECT ?", (1,)).fetchone()

        return call, conn.close

    return setup


def make_http(port):
    def setup():
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call():
            conn.request("GET", "/x")
            conn.getresponse().read()

        return call, conn.close

    return setup


def make_redis(port):
    import redis

    def setup():
        client = redis.Redis(port=port)
        client.set("bench", "v")

        def call():
            client.get("bench")

        return call, client.close

    return setup


def make_postgres(dsn):
    import psycopg2

    def setup():
        conn = psycopg2.connect(dsn)
        cur = conn.cursor()

        def call():
            cur.execute("SELECT 1")
            cur.fetchone()

        def close():
            cur.close()
            conn.close()

        return call, close

    return setup


def run_round(setup, calls):
    """(wall µs per call, calling thread's CPU µs per call); connections made outside the timing."""
    call, close = setup()
    for _ in range(200):  # warm caches, connections and the statement/verdict tables
        with routelens.span("request"):
            call()
    wall0 = time.perf_counter()
    cpu0 = time.thread_time()
    done = 0
    while done < calls:
        with routelens.span("request"):
            for _ in range(PER_REQUEST):
                call()
        done += PER_REQUEST
    cpu = time.thread_time() - cpu0
    wall = time.perf_counter() - wall0
    close()
    return wall / done * 1e6, cpu / done * 1e6


def measure(name, setup, endpoint, calls, rounds):
    from routelens import _trace

    results = {"bare": [], "hooks": [], "routelens": []}
    for _ in range(rounds):
        for mode in ("bare", "hooks", "routelens"):
            routelens.shutdown()
            if mode == "routelens":
                routelens.start(endpoint=endpoint, service_name="bench", metrics_interval=0)
                routelens.flush(5)
            elif mode == "hooks":
                routelens.start(endpoint=endpoint, service_name="bench", metrics_interval=0, lazy=True)
                finished = []
                _trace.set_exporter(finished.append, finished.append)
            results[mode].append(run_round(setup, calls))
            if mode == "routelens":
                routelens.flush(10)
    routelens.shutdown()
    row = {"call": name}
    for mode, values in results.items():
        row[mode + "_wall_us"] = statistics.median(v[0] for v in values)
        row[mode + "_cpu_us"] = statistics.median(v[1] for v in values)
    for mode in ("hooks", "routelens"):
        row[mode + "_added_cpu_us"] = row[mode + "_cpu_us"] - row["bare_cpu_us"]
        row[mode + "_added_wall_us"] = row[mode + "_wall_us"] - row["bare_wall_us"]
    return row


IR_SMALL, IR_LARGE = 300, 1300


def ir_child(spec):
    """Runs one case in one mode (in a process callgrind counts): case:mode:calls:target."""
    case, mode, calls, target = spec.split(":", 3)
    calls = int(calls)
    setup = {"sqlite": lambda: make_sqlite(), "http": lambda: make_http(int(target)),
             "redis": lambda: make_redis(int(target)), "postgres": lambda: make_postgres(target.replace(",", " "))}[case]()
    finished = []
    if mode != "bare":
        from routelens import _http, _trace

        routelens.start(endpoint="http://127.0.0.1:9", service_name="bench", metrics_interval=0, lazy=True)

        from routelens import _clients, _exporter

        def take(entry):
            finished.append(entry)
            # Calls come as rows (tuples) or, when they have attributes of their own, span objects.
            if entry.__class__ is not tuple and entry.kind != "client":
                # The request ended: the exporter would take its spans now.
                if mode == "encoded":
                    rows = [e for e in finished if e.__class__ is tuple]
                    _http.encode_spans([e for e in finished if e.__class__ is not tuple])
                    requests, calls = _exporter.split_rows(rows)
                    if requests:
                        _http.encode_rows(requests)
                    if calls:
                        _clients.encode_calls(calls)
                del finished[:]

        _trace.set_exporter(take, take)
    run_round(setup, calls)


def instructions_main(args, cases):
    from concurrent.futures import ThreadPoolExecutor

    modes = ("bare", "hooks", "encoded")
    jobs = [(case, mode, n, target) for case, target in cases for mode in modes for n in (IR_SMALL, IR_LARGE)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: count_instructions(__file__, "%s:%s:%d:%s" % job), jobs)))
    rows = []
    print("%-10s %14s %14s %16s" % ("call", "bare Ir/call", "hooks added", "+ encoding"))
    for case, target in cases:
        per = {mode: (counts[(case, mode, IR_LARGE, target)] - counts[(case, mode, IR_SMALL, target)]) / (IR_LARGE - IR_SMALL)
               for mode in modes}
        row = {"call": case, "bare": per["bare"], "hooks_added": per["hooks"] - per["bare"],
               "encoding_added": per["encoded"] - per["hooks"]}
        rows.append(row)
        print("%-10s %14.0f %+14.0f %+16.0f" % (case, row["bare"], row["hooks_added"], row["encoding_added"]), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--ir-child")
    parser.add_argument("--only", help="run only the calls whose short name (sqlite, http, redis, postgres) is given, comma-separated")
    args = parser.parse_args()
    if args.ir_child:
        ir_child(args.ir_child)
        return

    sink, endpoint = start_sink()
    http_port = free_port()
    http_server = subprocess.Popen([sys.executable, "-c", _HTTP_SERVER, str(http_port)])
    pg = redis_server = None
    rows = []
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", http_port, timeout=1)
                probe.request("GET", "/")
                probe.getresponse().read()
                probe.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        cases = [("sqlite3 SELECT ? (in memory)", make_sqlite()), ("http.client GET (local server)", make_http(http_port))]
        ir_cases = [("sqlite", "-"), ("http", str(http_port))]
        if Redis.missing() is None:
            redis_server = Redis().__enter__()
            cases.append(("redis GET", make_redis(redis_server.port)))
            ir_cases.append(("redis", str(redis_server.port)))
        else:
            print("skipped redis: %s" % Redis.missing())
        if Postgres.missing() is None:
            pg = Postgres().__enter__()
            cases.append(("psycopg2 SELECT 1 (PostgreSQL)", make_postgres(pg.dsn)))
            ir_cases.append(("postgres", pg.dsn.replace(" ", ",")))
        else:
            print("skipped PostgreSQL: %s" % Postgres.missing())
        if args.only:
            wanted = set(args.only.split(","))
            short = {"sqlite3": "sqlite", "http.client": "http", "redis": "redis", "psycopg2": "postgres"}
            cases = [c for c in cases if short.get(c[0].split()[0]) in wanted]
            ir_cases = [c for c in ir_cases if c[0] in wanted]
        if args.instructions:
            rows = instructions_main(args, ir_cases)
            cases = []
        print("%-32s %11s %11s %11s | %11s %11s %11s" % ("call (µs per call)", "bare cpu", "hooks cpu", "agent cpu",
                                                          "bare wall", "hooks wall", "agent wall"))
        for name, setup in cases:
            row = measure(name, setup, endpoint, args.calls, args.rounds)
            rows.append(row)
            print("%-32s %11.2f %+11.2f %+11.2f | %11.2f %+11.2f %+11.2f" % (
                name, row["bare_cpu_us"], row["hooks_added_cpu_us"], row["routelens_added_cpu_us"],
                row["bare_wall_us"], row["hooks_added_wall_us"], row["routelens_added_wall_us"]), flush=True)
    finally:
        if pg is not None:
            pg.__exit__()
        if redis_server is not None:
            redis_server.__exit__()
        http_server.terminate()
        http_server.wait(10)
        sink.terminate()
        sink.wait(10)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"calls": args.calls, "rounds": args.rounds, "instructions": args.instructions, "results": rows},
                      f, indent=2)


if __name__ == "__main__":
    main()
