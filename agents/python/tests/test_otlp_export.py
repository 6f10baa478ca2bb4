"""The agent speaking OTLP/HTTP JSON to an OpenTelemetry-collector endpoint.

A real Flask app, instrumented with no code change (the bootstrap sitecustomize), exports with
ROUTELENS_EXPORTER=otlp and the standard OTEL_EXPORTER_OTLP_* variables into a real Routelens
collector process (`routelens serve`), whose OTLP receiver validates every request; plus a scripted
upstream for the retry rules (503 with Retry-After, 400, down) and the samplers.
"""

import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import helpers
from routelens import _otlp

REPO = os.path.dirname(os.path.dirname(helpers.AGENT_ROOT))
CLI = os.path.join(REPO, "bin", "routelens.js")
TOKEN = "otlp-export-test-token-0123456789"
SAMPLE = os.path.join(helpers.TESTS_DIR, "sample_apps", "flask_app.py")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELENS_", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def get_json(port, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wait_for(fn, what, timeout=20.0):
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def node():
    for candidate in ("/usr/bin/node", "/usr/local/bin/node"):
        if os.path.exists(candidate):
            return candidate
    return "node"


class RoutelensReceiver:
    """`routelens serve` as a process: the OTLP receiver and the query API to check what arrived."""

    def __init__(self):
        self.port = helpers.free_port()
        self.proc = subprocess.Popen([node(), CLI, "serve", "--port", str(self.port), "--grpc-port", "0", "--token", TOKEN],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = ""
        end = time.monotonic() + 20
        while "Press Ctrl+C" not in line and time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError("routelens serve exited")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()


class App:
    def __init__(self, env):
        self.port = helpers.free_port()
        self.proc = subprocess.Popen([sys.executable, SAMPLE], env=dict(env, PORT=str(self.port)),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def get(self, path, headers=None):
        return helpers.http_get("http://127.0.0.1:%d%s" % (self.port, path), headers=headers)

    def stop(self):
        # SIGTERM: the agent's exit flush sends what is left.
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        out, err = self.proc.communicate()
        return err


@unittest.skipUnless(os.path.exists(os.path.join(REPO, "dist", "cli.js")), "needs `npm run build` (dist/cli.js)")
class OtlpIntoRoutelensTest(unittest.TestCase):
    def setUp(self):
        self.rx = RoutelensReceiver()

    def tearDown(self):
        self.rx.stop()

    def test_a_flask_app_exports_traces_logs_and_metrics_that_the_receiver_accepts(self):
        env = clean_env(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_EXPORTER="otlp",
                        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % self.rx.port,
                        OTEL_EXPORTER_OTLP_COMPRESSION="gzip", OTEL_SERVICE_NAME="staging-shop")
        app = App(env)
        try:
            for i in range(30):
                self.assertEqual(app.get("/hello/n%d" % i)[0], 200)
            for _ in range(3):
                self.assertEqual(app.get("/crash")[0], 500)
            traceparent = "00-%s-%s-01" % ("ab" * 16, "cd" * 8)
            self.assertEqual(app.get("/hello/child", headers={"traceparent": traceparent})[0], 200)

            def routes():
                body = get_json(self.rx.port, "/api/v1/routes?window=300")
                found = {r["route"]: r for r in body["routes"] if r["service"] == "staging-shop"}
                return found if found.get("/hello/<name>", {}).get("count") == 31 and found.get("/crash", {}).get("count") == 3 else None

            found = wait_for(routes, "the app's requests in the receiver")
            # The process metrics, sampled each second, go to /v1/metrics.
            wait_for(lambda: get_json(self.rx.port, "/api/v1/stats")["counters"].get("otlp.datapoints.accepted", 0) > 0, "process metrics")
        finally:
            err = app.stop()
        crash = found["/crash"]
        self.assertEqual(crash["errorRate"], 1)
        self.assertEqual(crash["code"]["function"], "crash", crash)
        stats = get_json(self.rx.port, "/api/v1/stats")["counters"]
        self.assertEqual(stats.get("otlp.spans.rejected", 0), 0, stats)
        self.assertEqual(stats.get("otlp.logs.rejected", 0), 0, stats)
        self.assertGreaterEqual(stats.get("otlp.spans.accepted", 0), 34, stats)
        self.assertNotIn("ws.hello", stats, "nothing came over the native protocol")
        self.assertEqual(stats.get("otlp.datapoints.rejected", 0), 0, stats)
        services = get_json(self.rx.port, "/api/v1/services")["services"]
        self.assertEqual([s["name"] for s in services], ["staging-shop"])
        # The request with a traceparent joined the caller's trace.
        trace = get_json(self.rx.port, "/api/v1/traces/" + "ab" * 16)
        span = trace["spans"][0]
        self.assertEqual(span["parentSpanId"], "cd" * 8)
        self.assertEqual(span["attributes"]["otel.scope.name"], "routelens-python")
        self.assertEqual(span["resource"]["attributes"]["telemetry.sdk.name"], "routelens-python")
        self.assertEqual(span["http"]["route"], "/hello/<name>")
        # The exception as an OTLP exception event, read back into frames by the receiver.
        errors = get_json(self.rx.port, "/api/v1/errors?service=staging-shop")["errors"]
        self.assertTrue(any(e["type"] == "RuntimeError" and e["message"] == "sample crash" for e in errors), errors)
        # Logs (the handler's warning) and the process metrics went too.
        logs = get_json(self.rx.port, "/api/v1/logs?service=staging-shop&limit=100")["logs"]
        self.assertTrue(any(l["body"] == "greeting n3" for l in logs), [l["body"] for l in logs][:5])
        # Flask logs its own tracebacks for /crash; the agent had nothing to complain about.
        self.assertNotIn("routelens:", err)


class Upstream:
    """A scripted OTLP/HTTP endpoint: answers[i] for the i-th request, recording bodies and times."""

    def __init__(self, answers, port=0):
        self.answers = list(answers)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append((self.path, dict(self.headers), body, time.monotonic()))
                status, headers = outer.answers.pop(0) if outer.answers else (200, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                payload = b"{}" if status == 200 else b'{"code":14,"message":"busy"}'
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self, path="/v1/traces"):
        out = []
        for p, _h, body, _t in self.requests:
            if p == path:
                for rs in json.loads(body)["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        out.extend(ss["spans"])
        return out

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def make_exporter(environ, **config):
    from routelens import _config
    from routelens._exporter import default_resource

    cfg = _config.Config(environ=dict(environ, ROUTELENS_EXPORTER="otlp"), flush_interval=0.05, metrics_interval=0, **config)
    return _otlp.OtlpExporter(cfg, lambda: default_resource("svc"), None, settings=_otlp.OtlpSettings(environ=environ))


def finished_span(name="work", trace_id=None):
    from routelens import _trace

    span = _trace.Span(name, {"k": "v"}, trace_id=trace_id)
    span.end_ms = span.start_ms + 3.0
    return span


class RetryRulesTest(unittest.TestCase):
    def test_503_with_retry_after_is_retried_after_that_long_and_nothing_is_lost(self):
        up = Upstream([(503, {"Retry-After": "1"}), (200, {})])
        exp = make_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % up.port, "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def"})
        try:
            for i in range(20):
                exp.export_span(finished_span("s%d" % i))
            self.assertTrue(exp.flush(10))
            first, second = up.requests[0], up.requests[1]
            self.assertGreaterEqual(second[3] - first[3], 0.95)
            self.assertEqual(first[2], second[2], "the same request, sent again")
            self.assertEqual(first[1]["x-api-key"], "abc def")
            self.assertEqual(first[1]["Content-Type"], "application/json")
            self.assertEqual(len(up.spans()) // 2, 20)
            self.assertEqual(exp.stats["retries"], 1)
            self.assertEqual(exp.stats["failed"]["spans"], 0)
        finally:
            exp.shutdown(1)
            up.stop()

    def test_400_is_not_retried_and_the_batch_is_counted_as_failed(self):
        up = Upstream([(400, {}), (200, {})])
        exp = make_exporter({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:%d/custom/traces" % up.port})
        try:
            for i in range(5):
                exp.export_span(finished_span())
            exp.flush(5)
            self.assertEqual([r[0] for r in up.requests], ["/custom/traces"])
            self.assertEqual(exp.stats["failed"]["spans"], 5)
            exp.export_span(finished_span())
            self.assertTrue(exp.flush(5))
            self.assertEqual(len(up.requests), 2)
        finally:
            exp.shutdown(1)
            up.stop()

    def test_upstream_down_holds_up_to_the_queue_bound_then_drops_the_oldest_counted(self):
        port = helpers.free_port()
        exp = make_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % port}, max_queue=50, max_batch=10)
        up = None
        try:
            for i in range(10):
                exp.export_span(finished_span("early%d" % i))
            wait_for(lambda: exp.stats["retries"] >= 1, "a failed attempt")
            # 10 in the retried request, then 80 more into a queue of 50: 30 dropped.
            for i in range(80):
                exp.export_span(finished_span("late%d" % i))
            time.sleep(0.3)
            up = Upstream([], port=port)
            self.assertTrue(exp.flush(40), exp.stats)
            names = [s["name"] for s in up.spans()]
            self.assertEqual(len(names), 60, exp.stats)
            self.assertEqual(names[:10], ["early%d" % i for i in range(10)])
            self.assertEqual(names[-1], "late79")
            self.assertEqual(exp.stats["dropped"]["spans"], 30)
        finally:
            exp.shutdown(1)
            if up is not None:
                up.stop()


class SamplerTest(unittest.TestCase):
    def test_samplers(self):
        on, off = _otlp.Sampler("always_on"), _otlp.Sampler("always_off")
        self.assertTrue(on.sampled("00" * 16))
        self.assertFalse(off.sampled("ff" * 16))
        ratio = _otlp.Sampler("traceidratio", "0.25")
        ids = ["%032x" % (i * 0x9E3779B97F4A7C15 % (1 << 128)) for i in range(1, 4001)]
        share = sum(ratio.sampled(t) for t in ids) / len(ids)
        self.assertAlmostEqual(share, 0.25, delta=0.03)
        # Deterministic by trace id: the same decision for every span of a trace.
        self.assertEqual([ratio.sampled(t) for t in ids[:50]], [ratio.sampled(t) for t in ids[:50]])
        self.assertTrue(_otlp.Sampler("traceidratio", "1").sampled("ff" * 16))
        self.assertFalse(_otlp.Sampler("traceidratio", "0").sampled("00" * 15 + "01"))
        parent = _otlp.Sampler("parentbased_always_off")
        _otlp.note_remote_parent("12" * 16, True)
        _otlp.note_remote_parent("34" * 16, False)
        self.assertTrue(parent.sampled("12" * 16))
        self.assertFalse(_otlp.Sampler("parentbased_always_on").sampled("34" * 16))
        self.assertFalse(parent.sampled("56" * 16))
        self.assertTrue(_otlp.Sampler(None).sampled("56" * 16), "parentbased_always_on by default")
        self.assertEqual(_otlp.Sampler("bogus").name, "parentbased_always_on")

    def test_an_unsampled_trace_is_not_sent(self):
        up = Upstream([])
        exp = make_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % up.port, "OTEL_TRACES_SAMPLER": "always_off"})
        try:
            exp.export_span(finished_span())
            self.assertTrue(exp.flush(5))
            self.assertEqual(up.requests, [])
            self.assertEqual(exp.stats["unsampled"], 1)
        finally:
            exp.shutdown(1)
            up.stop()

    def test_settings_from_the_standard_variables(self):
        s = _otlp.OtlpSettings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://l:1/logs",
                                        "OTEL_EXPORTER_OTLP_HEADERS": "a=1, b = x%3Dy", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=2",
                                        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"})
        self.assertEqual(s.urls["spans"], "http://c:4318/v1/traces")
        self.assertEqual(s.urls["metrics"], "http://c:4318/v1/metrics")
        self.assertEqual(s.urls["logs"], "http://l:1/logs")
        self.assertEqual(s.headers["spans"], {"a": "2", "b": "x=y"})
        self.assertEqual(s.headers["logs"], {"a": "1", "b": "x=y"})
        self.assertEqual(s.timeout["spans"], 2.5)
        self.assertEqual(_otlp.retry_after("3"), 3.0)
        self.assertIsNone(_otlp.retry_after("soon"))
        self.assertEqual(_otlp._nanos(1765000000123.457), "1765000000123457000")


if __name__ == "__main__":
    unittest.main()
