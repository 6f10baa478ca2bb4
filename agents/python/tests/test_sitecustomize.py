"""Auto-instrumentation: the bootstrap sitecustomize, in fresh interpreters, with real app processes."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import helpers
from helpers import attrs
from collector import FakeCollector

SAMPLE_APPS = os.path.join(helpers.TESTS_DIR, "sample_apps")
CHECK = os.path.join(SAMPLE_APPS, "check_agent.py")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELENS_", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra)
    return env


class ChainingTest(unittest.TestCase):
    def setUp(self):
        self.user_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.user_dir)
        with open(os.path.join(self.user_dir, "sitecustomize.py"), "w") as f:
            f.write("USER_SITECUSTOMIZE_RAN = True\n")
        self.collector = FakeCollector().start()
        self.addCleanup(self.collector.stop)

    def run_check(self, env):
        result = subprocess.run([helpers.PYTHON, CHECK], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        return json.loads(result.stdout)

    def test_agent_starts_and_the_users_sitecustomize_still_runs(self):
        env = clean_env(PYTHONPATH=os.pathsep.join([helpers.BOOTSTRAP_DIR, self.user_dir]),
                        ROUTELENS_ENDPOINT=self.collector.endpoint)
        state = self.run_check(env)
        self.assertTrue(state["agent_running"])
        self.assertTrue(state["user_marker"])
        self.assertEqual(state["sitecustomize"], os.path.join(self.user_dir, "sitecustomize.py"))

    def test_without_an_endpoint_only_the_users_sitecustomize_runs(self):
        env = clean_env(PYTHONPATH=os.pathsep.join([helpers.BOOTSTRAP_DIR, self.user_dir]))
        state = self.run_check(env)
        self.assertFalse(state["routelens_imported"])
        self.assertTrue(state["user_marker"])

    def test_disabled_wins_over_the_endpoint(self):
        env = clean_env(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_ENDPOINT=self.collector.endpoint,
                        ROUTELENS_DISABLED="1")
        state = self.run_check(env)
        self.assertFalse(state["agent_running"])

    def test_with_client_spans_off_no_client_library_is_touched(self):
        code = ("import http.client, json, sqlite3, urllib.request, routelens; "
                "print(json.dumps([routelens._agent.State.agent is not None, "
                "type(sqlite3.connect(':memory:')) is sqlite3.Connection, "
                "http.client.HTTPConnection.endheaders.__module__, "
                "http.client.HTTPConnection.getresponse.__module__]))")
        seen = {}
        for value in ("0", "on"):
            env = clean_env(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_ENDPOINT=self.collector.endpoint,
                            ROUTELENS_CLIENT_SPANS=value)
            result = subprocess.run([helpers.PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 0, result.stderr)
            seen[value] = json.loads(result.stdout)
        self.assertEqual(seen["0"], [True, True, "http.client", "http.client"])
        # And on, the same libraries are hooked (so the check above can tell the two apart).
        self.assertEqual(seen["on"][:2], [True, False])
        self.assertNotEqual(seen["on"][2], "http.client")

    def test_the_distributions_sitecustomize_is_chained_when_the_user_has_none(self):
        shadowed = None
        for entry in sys.path:
            candidate = os.path.join(entry or ".", "sitecustomize.py")
            if entry and os.path.exists(candidate) and os.path.realpath(entry) != os.path.realpath(helpers.BOOTSTRAP_DIR):
                shadowed = os.path.realpath(candidate)
                break
        if shadowed is None:
            self.skipTest("this Python ships no sitecustomize of its own")
        env = clean_env(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_ENDPOINT=self.collector.endpoint)
        state = self.run_check(env)
        self.assertTrue(state["agent_running"])
        self.assertEqual(os.path.realpath(state["sitecustomize"]), shadowed)

    def test_a_plain_script_does_not_connect(self):
        # Lazy start: no framework imported and nothing to send means no connection.
        env = clean_env(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_ENDPOINT=self.collector.endpoint)
        self.run_check(env)
        time.sleep(0.3)
        self.assertEqual(self.collector.connections, 0)


class AppProcessTest(unittest.TestCase):
    """A real app process, instrumented only by PYTHONPATH and the environment."""

    def setUp(self):
        self.collector = FakeCollector().start()
        self.addCleanup(self.collector.stop)
        self.port = helpers.free_port()

    def start(self, args):
        env = clean_env(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_ENDPOINT=self.collector.endpoint,
                        PORT=str(self.port))
        proc = subprocess.Popen(args, cwd=SAMPLE_APPS, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop, proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.fail("app exited: %s" % proc.stderr.read())
            try:
                status, _ = helpers.http_get("http://127.0.0.1:%d/health-probe" % self.port, timeout=1)
                return proc
            except OSError:
                time.sleep(0.1)
        self.fail("app did not start")

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def check_app(self, proc, service, ok_path, ok_route, handler, sample_file):
        status, body = helpers.http_get(self.url(ok_path))
        self.assertEqual(status, 200)
        self.assertEqual(helpers.http_get(self.url("/crash"))[0], 500)
        spans = self.collector.wait_spans(lambda s: attrs(s).get("url.path") == ok_path, timeout=10)
        self.assertEqual(len(spans), 1)
        a = attrs(spans[0])
        self.assertEqual(a["http.route"], ok_route)
        self.assertEqual(a["code.file.path"], sample_file)
        self.assertEqual(a["code.function.name"], handler)
        with open(sample_file) as f:
            def_line = [i for i, line in enumerate(f, 1) if ("def %s(" % handler) in line][0]
        self.assertEqual(a["code.line.number"], def_line)
        crash = self.collector.wait_spans(lambda s: attrs(s).get("url.path") == "/crash", timeout=10)[0]
        self.assertEqual(crash["status"], "error")
        self.assertEqual(crash["exception"]["frames"][-1]["line"], helpers.marker_line(sample_file, "sample-raise"))
        logs = self.collector.wait_for(lambda: [l for l in self.collector.logs() if "traceId" in l
                                                and l["traceId"] == spans[0]["traceId"]], timeout=10)
        self.assertEqual(len(logs), 1)
        metrics = self.collector.wait_for(lambda: [m for m in self.collector.metrics()
                                                   if m["name"] == "process.memory.usage"], timeout=10)
        self.assertTrue(metrics)
        hello = self.collector.of_type("hello")[0]["resource"]
        self.assertEqual(hello["process.pid"], proc.pid)
        self.assertEqual(hello["service.name"], service)
        self.assertEqual(self.collector.invalid, [])

    def test_flask_app(self):
        proc = self.start([helpers.PYTHON, "flask_app.py"])
        self.check_app(proc, "flask_app", "/hello/ada", "/hello/<name>", "hello",
                       os.path.join(SAMPLE_APPS, "flask_app.py"))

    def test_fastapi_app_under_uvicorn(self):
        proc = self.start([helpers.PYTHON, "-m", "uvicorn", "fastapi_app:app", "--port", str(self.port),
                           "--log-level", "critical"])
        self.check_app(proc, "fastapi_app", "/orders/7", "/orders/{order_id}", "get_order",
                       os.path.join(SAMPLE_APPS, "fastapi_app.py"))

    def test_collector_restart_while_the_app_runs(self):
        port = self.collector.port
        proc = self.start([helpers.PYTHON, "flask_app.py"])
        self.assertEqual(helpers.http_get(self.url("/hello/one"))[0], 200)
        self.assertTrue(self.collector.wait_spans(lambda s: attrs(s).get("url.path") == "/hello/one", timeout=10))
        self.collector.stop()
        for _ in range(5):
            self.assertEqual(helpers.http_get(self.url("/hello/down")), (200, b"hello down"))
        self.collector = FakeCollector(port=port).start()
        self.addCleanup(self.collector.stop)
        self.assertEqual(helpers.http_get(self.url("/hello/two"))[0], 200)
        self.assertTrue(self.collector.wait_spans(lambda s: attrs(s).get("url.path") == "/hello/two", timeout=15))
        self.assertEqual(self.collector.of_type("hello")[0]["resource"]["process.pid"], proc.pid)


if __name__ == "__main__":
    unittest.main()
