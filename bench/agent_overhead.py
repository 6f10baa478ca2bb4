#!/usr/bin/env python3
"""What the Routelens Python agent costs a request, measured in one process run.

Tiny Flask (WSGI) and Starlette/FastAPI (ASGI) apps are called directly, without
a server or a socket in the way, so the figures isolate the per-request cost of
the instrumentation (the most pessimistic view: a real server adds fixed costs
that make the relative overhead smaller). Each app runs in rounds, alternating

  baseline    no instrumentation
  routelens   the agent, connected to a collector stand-in in another process that
              acknowledges every batch like the real collector (so the agent's own
              serialising and sending is paid for here, the collector's work is not)
  prometheus  prometheus_client's Histogram + Counter per request, the usual peer,
              when prometheus_client is installed

and the median of the rounds is reported: requests per second, CPU microseconds
per request (process CPU, so it includes the agent's exporter thread and its
final flush), and the ratio to the baseline.

    python3 bench/agent_overhead.py [--requests 20000] [--rounds 5] [--json out.json]

With --server the same apps run behind the servers a developer gets on F5
(werkzeug's for Flask, uvicorn for FastAPI) in a separate process, instrumented
only through the bundled sitecustomize, and the server process's CPU per request
is compared (the client's CPU does not count).
"""

import argparse
import asyncio
import base64
import hashlib
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "agents", "python"))


# -- a collector stand-in (runs in a child process) --------------------------------------

def _sink(port_file):
    """Accepts WebSocket connections, answers the handshake and hello, reads and discards the rest."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    with open(port_file, "w") as f:
        f.write(str(server.getsockname()[1]))

    def serve(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        key = ""
        for line in data.decode("latin-1").split("\r\n"):
            if line.lower().startswith("sec-websocket-key:"):
                key = line.split(":", 1)[1].strip()
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        welcome = json.dumps({"v": 1, "type": "welcome", "server": "sink", "maxMessageBytes": 4194304,
                              "maxBatchItems": 10000}).encode()
        conn.sendall(bytes([0x81, len(welcome)]) + welcome)
        # Read frames and acknowledge each batch, so the agent's flush() completes as it
        # would against the real collector. Only the head of each payload (where "seq" is)
        # gets unmasked; the rest is skipped.
        buf = bytearray()
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 2:
                n = buf[1] & 0x7F
                pos = 2
                if n == 126:
                    if len(buf) < 4:
                        break
                    n = int.from_bytes(buf[2:4], "big")
                    pos = 4
                elif n == 127:
                    if len(buf) < 10:
                        break
                    n = int.from_bytes(buf[2:10], "big")
                    pos = 10
                if len(buf) < pos + 4 + n:
                    break
                key = buf[pos:pos + 4]
                head = bytes(b ^ key[i % 4] for i, b in enumerate(buf[pos + 4:pos + 4 + min(n, 64)]))
                opcode = buf[0] & 0x0F
                del buf[:pos + 4 + n]
                if opcode == 0x8:
                    return
                match = re.match(rb'\{"v":1,"type":"batch","seq":(\d+)', head)
                if match:
                    ack = b'{"v":1,"type":"ack","seq":' + match.group(1) + b'}'
                    conn.sendall(bytes([0x81, len(ack)]) + ack)

    def serve_quietly(conn):
        # An app process that exits mid-connection is part of every --server round.
        try:
            serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve_quietly, args=(conn,), daemon=True).start()


def start_sink():
    port_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), "routelens-bench-%d.port" % os.getpid())
    if os.path.exists(port_file):
        os.unlink(port_file)
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--sink", port_file])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            port = int(open(port_file).read())
            os.unlink(port_file)
            return proc, "http://127.0.0.1:%d" % port
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("collector stand-in did not start")


# -- the apps ---------------------------------------------------------------------------

def make_flask():
    from flask import Flask

    app = Flask("bench_flask")

    @app.route("/hello/<name>")
    def hello(name):
        return "hello " + name

    return app


def make_starlette():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("hello " + request.path_params["name"])

    return Starlette(routes=[Route("/hello/{name}", hello)])


def make_fastapi():
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get("/hello/{name}", response_class=PlainTextResponse)
    async def hello(name: str):
        return "hello " + name

    return app


# -- prometheus_client as the peer baseline ------------------------------------------------

class PromWSGI:
    def __init__(self, app, histogram, counter):
        self.app, self.histogram, self.counter = app, histogram, counter

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        status = []

        def sr(s, h, e=None):
            status.append(s)
            return start_response(s, h) if e is None else start_response(s, h, e)

        result = self.app(environ, sr)
        self.histogram.labels(environ["REQUEST_METHOD"], "/hello/<name>").observe(time.perf_counter() - start)
        self.counter.labels(environ["REQUEST_METHOD"], status[0][:3] if status else "500").inc()
        return result


class PromASGI:
    def __init__(self, app, histogram, counter):
        self.app, self.histogram, self.counter = app, histogram, counter

    async def __call__(self, scope, receive, send):
        start = time.perf_counter()
        status = []

        async def s(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, s)
        self.histogram.labels(scope["method"], "/hello/{name}").observe(time.perf_counter() - start)
        self.counter.labels(scope["method"], str(status[0]) if status else "500").inc()


def prometheus_metrics():
    try:
        import prometheus_client
    except ImportError:
        return None
    registry = prometheus_client.CollectorRegistry()
    histogram = prometheus_client.Histogram("http_request_duration_seconds", "latency", ["method", "route"],
                                            registry=registry)
    counter = prometheus_client.Counter("http_requests", "requests", ["method", "status"], registry=registry)
    return histogram, counter


# -- drivers ------------------------------------------------------------------------------

def wsgi_driver(app, n):
    base = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/hello/world", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }

    def start_response(status, headers, exc_info=None):
        return None

    def run():
        for _ in range(n):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(b"")
            body = app(environ, start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return run


def asgi_driver(app, n):
    base = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/hello/world", "raw_path": b"/hello/world", "root_path": "",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive():
        return request

    async def send(message):
        return None

    async def many():
        for _ in range(n):
            await app(dict(base), receive, send)

    loop = asyncio.new_event_loop()

    def run():
        loop.run_until_complete(many())

    return run


def measure(run, n, after=None):
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run()
    if after is not None:
        after()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return n / wall, cpu / n * 1e6


# -- behind a real server (--server) --------------------------------------------------------

def _serve(kind, port):
    """The app behind the server a developer gets on F5: werkzeug's for Flask, uvicorn for FastAPI."""
    if kind == "flask":
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", port, make_flask(), threaded=True)
        server.serve_forever()
    else:
        import uvicorn

        uvicorn.run(make_fastapi(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _process_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_round(kind, with_agent, endpoint, n):
    """(client req/s, server CPU us/request) for n keep-alive requests against a fresh server process."""
    import http.client

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTELENS_")}
    env.pop("PYTHONPATH", None)
    if with_agent:
        env["PYTHONPATH"] = os.path.join(os.path.dirname(HERE), "agents", "python", "bootstrap")
        env["ROUTELENS_ENDPOINT"] = endpoint
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", kind, "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn = None
        deadline = time.monotonic() + 20
        while conn is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/hello/world")
                conn.getresponse().read()
            except OSError:
                conn = None
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.1)

        def run(count):
            nonlocal conn
            for _ in range(count):
                try:
                    conn.request("GET", "/hello/world")
                    response = conn.getresponse()
                    response.read()
                    if response.will_close:
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        run(300)
        time.sleep(0.5)
        cpu0, wall0 = _process_cpu(proc.pid), time.perf_counter()
        run(n)
        wall = time.perf_counter() - wall0
        time.sleep(0.5)  # the agent's last batch is part of the cost
        cpu = _process_cpu(proc.pid) - cpu0
        return n / wall, cpu / n * 1e6
    finally:
        proc.terminate()
        proc.wait()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_main(args):
    sink, endpoint = start_sink()
    results = {}
    try:
        for kind, label in (("flask", "flask on werkzeug"), ("fastapi", "fastapi on uvicorn")):
            samples = {"baseline": [], "routelens": []}
            for _ in range(args.rounds):
                for mode in samples:
                    samples[mode].append(server_round(kind, mode == "routelens", endpoint, args.requests))
            results[label] = {m: {"rps": statistics.median(x[0] for x in v),
                                  "cpu_us": statistics.median(x[1] for x in v)} for m, v in samples.items()}
    finally:
        sink.kill()
        sink.wait()
    print("Behind a real server, fresh process per round: client req/s and server CPU per request, medians")
    print("%-20s %-10s %9s %12s %12s %12s" % ("app", "mode", "req/s", "CPU us/req", "throughput", "added CPU"))
    for label, by_mode in results.items():
        base = by_mode["baseline"]
        for mode, r in by_mode.items():
            print("%-20s %-10s %9.0f %12.1f %11.1f%% %11.1f%%" % (
                label, mode, r["rps"], r["cpu_us"], (r["rps"] / base["rps"] - 1) * 100,
                (r["cpu_us"] / base["cpu_us"] - 1) * 100))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


# -- instruction counts (--instructions) ------------------------------------------------------
#
# CPU time on a shared machine moves by microseconds between runs; the number of instructions
# a request executes does not. Each app and mode runs under valgrind's callgrind twice, with
# IR_SMALL and IR_LARGE requests, and the difference divided by the extra requests is the
# cost of one request with start-up and imports taken out. For the agent, what its exporter
# thread does per request (building the batch message and the masked WebSocket frame) is done
# in the same thread every IR_BATCH requests, so it is counted; the socket write and the
# thread switches are not (a few hundred instructions per request, measured by the CPU-time
# runs instead).

IR_SMALL, IR_LARGE, IR_BATCH = 500, 3500, 500
APPS = {"flask": ("flask (WSGI)", "make_flask", "wsgi_driver", "PromWSGI"),
        "starlette": ("starlette (ASGI)", "make_starlette", "asgi_driver", "PromASGI"),
        "fastapi": ("fastapi (ASGI)", "make_fastapi", "asgi_driver", "PromASGI")}


def export_in_thread(exporter, batch=IR_BATCH):
    """Makes the agent queue into lists and build each batch message and its masked WebSocket
    frame (what its exporter thread does) in the calling thread every `batch` items, so that
    callgrind counts that work; nothing is sent. Returns the rows exported, in a list."""
    from routelens import _trace, _ws

    spans, rows, seen = [], [], []

    def send():
        encoded = exporter._encode(rows + spans, len(rows))
        text = exporter._message(1, *encoded[:3], *encoded[4:], {})
        _ws.encode_frame(1, text.encode("utf-8"))
        del spans[:], rows[:]

    def export_span(entry):
        spans.append(entry)
        if len(spans) + len(rows) >= batch:
            send()

    def export_row(entry):
        rows.append(entry)
        seen.append(entry[0])
        if len(spans) + len(rows) >= batch:
            send()

    _trace.set_exporter(export_span, export_row)
    return seen


def ir_child(kind, mode, n):
    """Runs n requests of one app in one mode (in a process valgrind counts)."""
    _, make, driver, prom = (globals()[x] if i else x for i, x in enumerate(APPS[kind]))
    app = make()
    if mode == "routelens":
        import routelens

        agent = routelens.start(endpoint="http://127.0.0.1:9", service_name="bench", lazy=True)
        export_in_thread(agent.exporter)
    elif mode == "prometheus":
        app = prom(app, *prometheus_metrics())
    driver(app, n)()


def count_instructions(script, spec):
    """The instructions `python3 script --ir-child spec` executes, counted by valgrind's callgrind
    (the benches' --instructions modes). A fixed hash seed, so that dictionary layouts (and so the
    count) repeat from run to run, and none of the agent's settings from this environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELENS_", "OTEL_", "BENCH_"))}
    env["PYTHONHASHSEED"] = "0"
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          os.path.abspath(script), "--ir-child", spec], capture_output=True, text=True, env=env)
    match = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not match:
        raise RuntimeError("no instruction count from valgrind for %s:\n%s" % (spec, out.stderr[-2000:]))
    return int(match.group(1))


def instructions_main(args):
    from concurrent.futures import ThreadPoolExecutor

    modes = ["baseline", "routelens"] + (["prometheus"] if prometheus_metrics() else [])
    jobs = [(k, m, n) for k in APPS for m in modes for n in (IR_SMALL, IR_LARGE)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: count_instructions(__file__, "%s:%s:%d" % job), jobs)))
    results = {}
    print("Python %s, instructions per request (callgrind; %d minus %d requests)" % (
        sys.version.split()[0], IR_LARGE, IR_SMALL))
    print("%-18s %-11s %14s %12s %16s" % ("app", "mode", "instr/req", "added", "vs prometheus"))
    for kind in APPS:
        per = {m: (counts[(kind, m, IR_LARGE)] - counts[(kind, m, IR_SMALL)]) / (IR_LARGE - IR_SMALL) for m in modes}
        results[APPS[kind][0]] = per
        for m in modes:
            added = per[m] - per["baseline"]
            versus = ""
            if "prometheus" in per and m == "routelens":
                versus = "%.2fx" % (added / (per["prometheus"] - per["baseline"]))
            print("%-18s %-11s %14.0f %+12.0f %16s" % (APPS[kind][0], m, per[m], added, versus))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--server", action="store_true",
                        help="measure behind real servers (werkzeug, uvicorn) in separate processes instead")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per request under valgrind instead (repeatable on a busy machine)")
    parser.add_argument("--ir-child", help=argparse.SUPPRESS)
    parser.add_argument("--sink", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        _sink(args.sink)
        return
    if args.serve:
        _serve(args.serve, args.port)
        return
    if args.server:
        server_main(args)
        return
    if args.ir_child:
        kind, mode, n = args.ir_child.split(":")
        ir_child(kind, mode, int(n))
        return
    if args.instructions:
        instructions_main(args)
        return

    import routelens

    sink, endpoint = start_sink()
    prom = prometheus_metrics()
    apps = [("flask (WSGI)", make_flask, wsgi_driver, PromWSGI),
            ("starlette (ASGI)", make_starlette, asgi_driver, PromASGI),
            ("fastapi (ASGI)", make_fastapi, asgi_driver, PromASGI)]
    modes = ["baseline", "routelens"] + (["prometheus"] if prom else [])
    results = {}
    try:
        for label, make, driver, prom_wrapper in apps:
            app = make()
            runs = {"baseline": driver(app, args.requests), "routelens": driver(app, args.requests)}
            if prom:
                runs["prometheus"] = driver(prom_wrapper(app, *prom), args.requests)
            samples = {m: [] for m in modes}
            for mode in modes:  # warm-up: imports, caches, the first connection
                if mode == "routelens":
                    routelens.start(endpoint=endpoint, service_name="bench", lazy=False)
                driver(prom_wrapper(app, *prom) if mode == "prometheus" else app, 500)()
                if mode == "routelens":
                    routelens.flush(5)
                    routelens.shutdown()
            for _ in range(args.rounds):
                for mode in modes:
                    if mode == "routelens":
                        agent = routelens.start(endpoint=endpoint, service_name="bench", lazy=False)
                        routelens.flush(5)
                        samples[mode].append(measure(runs[mode], args.requests, lambda: routelens.flush(5)))
                        sent = agent.exporter.stats["sent"]["spans"]
                        dropped = agent.exporter.dropped_pending()["spans"]
                        routelens.shutdown()
                        if sent < args.requests or dropped:
                            print("warning: %s: %d spans sent, %d dropped" % (label, sent, dropped))
                    else:
                        samples[mode].append(measure(runs[mode], args.requests))
            results[label] = {
                m: {"rps": statistics.median(s[0] for s in samples[m]),
                    "cpu_us": statistics.median(s[1] for s in samples[m])}
                for m in modes
            }
    finally:
        sink.kill()
        sink.wait()

    print("Python %s, %d requests x %d rounds per mode, medians" % (sys.version.split()[0], args.requests, args.rounds))
    print("%-18s %-11s %11s %14s %12s %12s" % ("app", "mode", "req/s", "CPU us/req", "throughput", "added us/req"))
    for label, by_mode in results.items():
        base = by_mode["baseline"]
        for mode in modes:
            r = by_mode[mode]
            print("%-18s %-11s %11.0f %14.1f %11.1f%% %12.1f" % (
                label, mode, r["rps"], r["cpu_us"], (r["rps"] / base["rps"] - 1) * 100, r["cpu_us"] - base["cpu_us"]))
        r = by_mode["routelens"]
        print("%-18s routelens throughput ratio %.3f (%.1f%% overhead)" % (
            "", r["rps"] / base["rps"], (1 - r["rps"] / base["rps"]) * 100))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
