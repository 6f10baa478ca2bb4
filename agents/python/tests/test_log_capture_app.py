"""A real Flask app logging the usual ways, run with and without the agent, against the real
Routelens collector (`routelens serve`): its records arrive with their fields and the request's
trace id, /api/v1/logs finds them by field, and the app prints exactly what it prints alone."""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest
import urllib.request

import helpers

REPO = os.path.dirname(os.path.dirname(helpers.AGENT_ROOT))
CLI = os.path.join(REPO, "bin", "routelens.js")
APP = os.path.join(helpers.TESTS_DIR, "sample_apps", "flask_logs_app.py")
TOKEN = "logs-test-token-0123456789"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELENS_", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


@unittest.skipUnless(shutil.which("node") and os.path.exists(os.path.join(REPO, "dist", "cli.js")),
                     "needs node and the built collector (npm run build)")
class RealCollectorLogsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = helpers.free_port()
        cls.home = __import__("tempfile").mkdtemp()
        cls.server = subprocess.Popen(
            ["node", CLI, "serve", "--port", str(cls.port), "--grpc-port", "0", "--token", TOKEN],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ, HOME=cls.home),
            start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                cls.query("/api/v1/stats")
                break
            except Exception:
                time.sleep(0.1)
        else:
            cls.tearDownClass()
            raise AssertionError("routelens serve did not answer")

    @classmethod
    def tearDownClass(cls):
        try:
            os.killpg(cls.server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        cls.server.wait(10)
        cls.server.stdout.close()
        shutil.rmtree(cls.home, ignore_errors=True)

    @classmethod
    def query(cls, path):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (cls.port, path),
                                     headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def run_app(self, with_agent):
        env = clean_env(PORT=str(helpers.free_port()))
        if with_agent:
            env.update(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_ENDPOINT="http://127.0.0.1:%d" % self.port,
                       ROUTELENS_SERVICE_NAME="logs-shop")
        result = subprocess.run([helpers.PYTHON, APP], env=env, capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        return result

    def wait_logs(self, query, count=1):
        deadline = time.monotonic() + 10
        while True:
            logs = self.query("/api/v1/logs?" + query)["logs"]
            if len(logs) >= count or time.monotonic() > deadline:
                return logs
            time.sleep(0.1)

    def test_records_arrive_with_fields_and_trace_and_the_output_is_unchanged(self):
        alone = self.run_app(with_agent=False)
        instrumented = self.run_app(with_agent=True)
        # What the app prints is byte for byte the same.
        self.assertEqual(instrumented.stdout, alone.stdout)
        self.assertEqual(instrumented.stderr, alone.stderr)
        self.assertIn(b'{"event": "user logged in", "level": "info", "method": "password", "user_id": 42}\n', alone.stdout)
        self.assertIn(b"INFO shop.accounts session opened\n", alone.stdout)

        logs = self.wait_logs("attr.user_id=42&service=logs-shop", 3)
        by_body = {l["body"]: l for l in logs}
        self.assertEqual(sorted(by_body), ["payment failed", "session opened", "user logged in"])
        login = by_body["user logged in"]
        self.assertEqual(login["severity"], "info")
        self.assertEqual(login["attributes"]["user_id"], 42)
        self.assertEqual(login["attributes"]["method"], "password")
        self.assertEqual(login["attributes"]["code.line.number"], helpers.marker_line(APP, "app-structlog-line"))
        self.assertEqual(login["attributes"]["code.file.path"], APP)
        self.assertEqual(by_body["session opened"]["attributes"]["plan"], "pro")
        self.assertEqual(by_body["session opened"]["attributes"]["code.line.number"], helpers.marker_line(APP, "app-logging-line"))
        # The request's trace: the same id as the POST /login/<int:user_id> server span.
        traces = self.query("/api/v1/traces?service=logs-shop&method=POST&route=/login/%3Cint:user_id%3E")["traces"]
        self.assertEqual(len(traces), 1)
        self.assertEqual(login["traceId"], traces[0]["traceId"])
        self.assertEqual(by_body["session opened"]["traceId"], traces[0]["traceId"])
        self.assertEqual(login["route"], "/login/<int:user_id>")
        # DEBUG stays out by default; the other filters reach the same records.
        self.assertEqual(self.query("/api/v1/logs?service=logs-shop&q=%22session+details%22")["logs"], [])
        self.assertEqual([l["body"] for l in self.query("/api/v1/logs?service=logs-shop&failed=true")["logs"]], ["payment failed"])
        self.assertEqual([l["body"] for l in self.query("/api/v1/logs?service=logs-shop&attr.user_id=42&attr.plan!=pro&level=error")["logs"]], ["payment failed"])
        self.assertEqual(len(self.query("/api/v1/logs?traceId=%s" % login["traceId"])["logs"]), 2)


if __name__ == "__main__":
    unittest.main()
