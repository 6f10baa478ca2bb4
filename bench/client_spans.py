#!/usr/bin/env python3
"""What the Routelens Python agent adds to one client call, next to the bare call, in one run.

Per library, the same call runs in rounds that alternate

  bare        the agent not started (no hook installed)
  routelens   the agent started and connected to a collector stand-in (bench/agent_overhead.py's),
              each call inside a request span (a fresh one every 100 calls, in both modes), so each
              call is a client span with its attributes, statement and calling line

and the medians of the rounds are reported: wall time per call, and CPU of the calling thread per
call (time.thread_time: what the request thread pays; the exporter thread's serialising and sending
is not in it), with the difference between the modes.

    python3 bench/client_spans.py [--calls 20000] [--rounds 7] [--json out.json]

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
from agent_overhead import start_sink  # noqa: E402
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
    results = {"bare": [], "routelens": []}
    for _ in range(rounds):
        for mode in ("bare", "routelens"):
            routelens.shutdown()
            if mode == "routelens":
                routelens.start(endpoint=endpoint, service_name="bench", metrics_interval=0)
                routelens.flush(5)
            results[mode].append(run_round(setup, calls))
            if mode == "routelens":
                routelens.flush(10)
    routelens.shutdown()
    row = {"call": name}
    for mode, values in results.items():
        row[mode + "_wall_us"] = statistics.median(v[0] for v in values)
        row[mode + "_cpu_us"] = statistics.median(v[1] for v in values)
    row["added_wall_us"] = row["routelens_wall_us"] - row["bare_wall_us"]
    row["added_cpu_us"] = row["routelens_cpu_us"] - row["bare_cpu_us"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()

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
        if Redis.missing() is None:
            redis_server = Redis().__enter__()
            cases.append(("redis GET", make_redis(redis_server.port)))
        else:
            print("skipped redis: %s" % Redis.missing())
        if Postgres.missing() is None:
            pg = Postgres().__enter__()
            cases.append(("psycopg2 SELECT 1 (PostgreSQL)", make_postgres(pg.dsn)))
        else:
            print("skipped PostgreSQL: %s" % Postgres.missing())
        print("%-34s %12s %12s %12s %12s %12s" % ("call", "bare wall", "agent wall", "bare cpu", "agent cpu", "added cpu"))
        for name, setup in cases:
            row = measure(name, setup, endpoint, args.calls, args.rounds)
            rows.append(row)
            print("%-34s %10.2f µs %10.2f µs %10.2f µs %10.2f µs %+10.2f µs" % (
                name, row["bare_wall_us"], row["routelens_wall_us"], row["bare_cpu_us"], row["routelens_cpu_us"],
                row["added_cpu_us"]), flush=True)
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
            json.dump({"calls": args.calls, "rounds": args.rounds, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
