"""Reloaders and worker servers, each the real server started through the environment only
(PYTHONPATH=bootstrap, as the extension does): the watcher or master process sends nothing, each
serving process is an instance of one service, and a reload's new process is the same service."""

import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import unittest

import helpers
from collector import FakeCollector

from routelens import _config, _supervisor

FLASK_APP = '''
from flask import Flask
app = Flask(__name__)

@app.route("/hello/<name>")
def hello(name):
    return "hello " + name

if __name__ == "__main__":
    import os
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), debug=True)
'''

FASTAPI_APP = '''
from fastapi import FastAPI
app = FastAPI()

@app.get("/hello/{name}")
def hello(name: str):
    return {"hello": name}
'''

DJANGO_FILES = {
    "manage.py": '''
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
''',
    "shop/__init__.py": "",
    "shop/settings.py": '''
SECRET_KEY = "routelens-tests-only"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "shop.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
''',
    "shop/urls.py": '''
from django.http import HttpResponse
from django.urls import path

def hello(request, name):
    return HttpResponse("hello " + name)

urlpatterns = [path("hello/<str:name>/", hello)]
''',
}


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ROUTELENS_", "OTEL_", "FLASK_", "WERKZEUG_", "UVICORN_"))
           and k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "RUN_MAIN", "WEB_CONCURRENCY")}
    env.update(extra)
    return env


class DetectionTest(unittest.TestCase):
    """How each reloader and master marks its processes, read from the command line and environment."""

    def reason(self, argv, **env):
        return _supervisor.watcher_reason(argv, env)

    def test_flask(self):
        flask = "/usr/lib/python3/dist-packages/flask/__main__.py"
        self.assertEqual(self.reason([flask, "--debug", "run"]), "werkzeug reloader")
        self.assertEqual(self.reason([flask, "run", "--reload"]), "werkzeug reloader")
        self.assertEqual(self.reason(["/usr/bin/flask", "run"], FLASK_DEBUG="1"), "werkzeug reloader")
        self.assertEqual(self.reason([flask, "run"], FLASK_ENV="development"), "werkzeug reloader")
        # The child, and runs without the reloader.
        self.assertIsNone(self.reason([flask, "--debug", "run"], WERKZEUG_RUN_MAIN="true"))
        self.assertIsNone(self.reason([flask, "run"]))
        self.assertIsNone(self.reason([flask, "run", "--no-reload"], FLASK_DEBUG="1"))
        self.assertIsNone(self.reason([flask, "run"], FLASK_DEBUG="0"))
        self.assertIsNone(self.reason([flask, "routes"], FLASK_DEBUG="1"))
        self.assertEqual(self.reason([flask, "run"], FLASK_RUN_RELOAD="true"), "werkzeug reloader")
        self.assertIsNone(self.reason([flask, "run"], FLASK_RUN_RELOAD="0", FLASK_DEBUG="1"))

    def test_django(self):
        self.assertEqual(self.reason(["manage.py", "runserver"]), "django autoreloader")
        self.assertEqual(self.reason(["/x/django/__main__.py", "runserver", "8001"]), "django autoreloader")
        self.assertIsNone(self.reason(["manage.py", "runserver"], RUN_MAIN="true"))
        self.assertIsNone(self.reason(["manage.py", "runserver", "--noreload"]))
        self.assertIsNone(self.reason(["manage.py", "migrate"]))

    def test_uvicorn(self):
        uvicorn = "/usr/lib/python3/dist-packages/uvicorn/__main__.py"
        self.assertEqual(self.reason([uvicorn, "main:app", "--reload"]), "uvicorn supervisor")
        self.assertEqual(self.reason([uvicorn, "main:app", "--workers", "4"]), "uvicorn supervisor")
        self.assertEqual(self.reason([uvicorn, "main:app", "--workers=2"]), "uvicorn supervisor")
        self.assertEqual(self.reason([uvicorn, "main:app"], WEB_CONCURRENCY="3"), "uvicorn supervisor")
        self.assertEqual(self.reason([uvicorn, "main:app"], UVICORN_RELOAD="true"), "uvicorn supervisor")
        self.assertIsNone(self.reason([uvicorn, "main:app", "--workers", "1"]))
        self.assertIsNone(self.reason([uvicorn, "main:app"]))

    def test_scripts_wait_a_moment_before_connecting(self):
        self.assertEqual(_supervisor.first_connect_delay(["/srv/app.py"], {}), _supervisor.SCRIPT_SETTLE)
        self.assertEqual(_supervisor.first_connect_delay(["/srv/app.py"], {"WERKZEUG_RUN_MAIN": "true"}), 0)
        self.assertEqual(_supervisor.first_connect_delay(["manage.py", "runserver", "--noreload"], {}), 0)
        self.assertEqual(_supervisor.first_connect_delay(["/x/uvicorn/__main__.py", "main:app"], {}), 0)
        self.assertEqual(_supervisor.first_connect_delay(["-c"], {}), 0)

    def test_gunicorn_and_plain_scripts(self):
        self.assertEqual(self.reason(["/usr/local/bin/gunicorn", "-w", "2", "app:app"]), "gunicorn master")
        self.assertIsNone(self.reason(["app.py"]))
        self.assertIsNone(self.reason(["-c"]))
        self.assertIsNone(self.reason([]))

    def test_the_service_is_named_the_same_while_python_m_is_still_importing(self):
        # `python -m flask run`: flask's import (and the agent with it) runs before sys.argv[0]
        # is set; the name comes from sys.orig_argv then, as it does later from sys.argv[0].
        import sys

        saved = getattr(sys, "orig_argv", None)
        sys.orig_argv = ["/usr/bin/python3", "-m", "flask", "run"]
        try:
            early = _config.derive_service_name({"FLASK_APP": "shop.py"}, ["-m", "run"], "/tmp/x")
        finally:
            sys.orig_argv = saved
        late = _config.derive_service_name({"FLASK_APP": "shop.py"}, ["/usr/lib/python3/dist-packages/flask/__main__.py", "run"], "/tmp/x")
        self.assertEqual(early, "shop")
        self.assertEqual(late, "shop")

    def test_runner_arguments_that_are_addresses_do_not_name_the_service(self):
        self.assertEqual(_config._module_from_runner_args(["gunicorn", "-b", "127.0.0.1:8000", "shop.wsgi:app"]), "shop.wsgi")
        self.assertEqual(_config._module_from_runner_args(["gunicorn", "-b", "localhost:8000", "app:create_app()"]), "app")


class SupervisorTestCase(unittest.TestCase):
    def setUp(self):
        self.collector = FakeCollector().start()
        self.addCleanup(self.collector.stop)
        self.dir = tempfile.mkdtemp(prefix="routelens-sup-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.port = helpers.free_port()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def start(self, args, **env):
        env = clean_env(PYTHONPATH=helpers.BOOTSTRAP_DIR, ROUTELENS_ENDPOINT=self.collector.endpoint,
                        PORT=str(self.port), PYTHONDONTWRITEBYTECODE="1", **env)
        proc = subprocess.Popen([helpers.PYTHON] + args, cwd=self.dir, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.addCleanup(self.stop, proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            # The whole group: the watcher's children and the workers too.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.stderr.close()

    def get(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return helpers.http_get("http://127.0.0.1:%d%s" % (self.port, path), timeout=2)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    # -- what the collector saw ---------------------------------------------------

    def resources(self):
        """Connection number -> the resource of its hello."""
        with self.collector._lock:
            return {n: m["resource"] for n, m in self.collector.messages if m.get("type") == "hello"}

    def pids_with(self, predicate):
        """The process.pid of every connection that sent a batch matching predicate."""
        resources = self.resources()
        with self.collector._lock:
            batches = [(n, m) for n, m in self.collector.messages if m.get("type") == "batch"]
        return {resources[n]["process.pid"] for n, m in batches if n in resources and predicate(m)}

    def served_pids(self, path):
        from collector import expand_requests

        def has(m):
            spans = list(m.get("spans", [])) + expand_requests(m)
            return any((s.get("attributes") or {}).get("url.path") == path for s in spans)

        return self.pids_with(has)

    def metric_pids(self):
        return self.pids_with(lambda m: any(p["name"] == "process.memory.usage" for p in m.get("metrics", [])))

    def assert_watcher_silent(self, watcher_pid):
        resources = self.resources()
        pids = {r["process.pid"] for r in resources.values()}
        self.assertNotIn(watcher_pid, pids, "the watcher connected: %r" % resources)

    def report(self, label, watcher_pid):
        resources = self.resources()
        services = sorted({r["service.name"] for r in resources.values()})
        instances = sorted({r["service.instance.id"] for r in resources.values()})
        print("\n    %s: watcher pid %d silent; services %s; instances %s" % (label, watcher_pid, services, instances))
        return services, instances

    def wait(self, predicate, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        self.fail("timed out waiting for %s" % what)


class ReloaderTest(SupervisorTestCase):
    def check_reloader(self, label, proc, path, touch):
        status, _ = self.get(path)
        self.assertEqual(status, 200)
        first = self.wait(lambda: self.served_pids(path), "the request's span")
        self.assertEqual(len(first), 1)
        child = next(iter(first))
        self.assertNotEqual(child, proc.pid, "the child serves, not the watcher")
        self.wait(lambda: child in self.metric_pids(), "the child's process metrics")

        # A change to the code: the watcher starts a new child, which is the same service.
        time.sleep(1.1)  # past the mtime granularity the stat reloaders compare
        with open(touch, "a") as f:
            f.write("\n# changed\n")
        second_path = path.replace("one", "two")

        def served_by_new_child():
            try:
                status, _ = helpers.http_get("http://127.0.0.1:%d%s" % (self.port, second_path), timeout=2)
            except OSError:
                return None
            pids = self.served_pids(second_path) - {child}
            return pids if status == 200 and pids else None

        second = self.wait(served_by_new_child, "a request served by the reloaded child", timeout=30)
        new_child = next(iter(second))
        self.wait(lambda: new_child in self.metric_pids(), "the new child's process metrics")
        time.sleep(1.5)  # a watcher that sends would have sent its metrics by now
        self.assert_watcher_silent(proc.pid)
        self.assertEqual(self.metric_pids() - {child, new_child}, set(), "metrics only from the serving processes")
        services, instances = self.report(label, proc.pid)
        self.assertEqual(len(services), 1, "one service")
        self.assertEqual(len(instances), 2, "one instance per serving process")

    def test_flask_run_debug(self):
        app = self.write("app.py", FLASK_APP)
        proc = self.start(["-m", "flask", "--app", "app", "--debug", "run", "--port", str(self.port)])
        self.check_reloader("flask --debug run", proc, "/hello/one", app)

    def test_flask_run_with_flask_debug_in_the_environment(self):
        # VS Code's Flask launch configuration: FLASK_APP and FLASK_DEBUG, `flask run`.
        app = self.write("app.py", FLASK_APP)
        proc = self.start(["-m", "flask", "run", "--no-debugger", "--port", str(self.port)],
                          FLASK_APP="app.py", FLASK_DEBUG="1")
        self.check_reloader("FLASK_DEBUG=1 flask run", proc, "/hello/one", app)

    def test_django_runserver(self):
        for name, text in DJANGO_FILES.items():
            self.write(name, text)
        proc = self.start(["manage.py", "runserver", "127.0.0.1:%d" % self.port])
        self.check_reloader("manage.py runserver", proc, "/hello/one/", os.path.join(self.dir, "shop", "urls.py"))

    def test_uvicorn_reload(self):
        app = self.write("main.py", FASTAPI_APP)
        proc = self.start(["-m", "uvicorn", "main:app", "--reload", "--port", str(self.port)])
        self.check_reloader("uvicorn --reload", proc, "/hello/one", app)

    def test_app_run_debug_from_a_script(self):
        # The command line says nothing here: the watcher becomes one when it calls the
        # reloader, just after importing Flask; a script waits a moment before connecting.
        app = self.write("app.py", FLASK_APP)
        proc = self.start(["app.py"])
        status, _ = self.get("/hello/one")
        self.assertEqual(status, 200)
        child = next(iter(self.wait(lambda: self.served_pids("/hello/one"), "the request's span")))
        self.assertNotEqual(child, proc.pid)
        self.wait(lambda: child in self.metric_pids(), "the child's process metrics")
        time.sleep(1.5)
        self.assertNotIn(proc.pid, self.metric_pids(), "no metrics from the watcher")
        resources = self.resources()
        with self.collector._lock:
            watcher_batches = [m for n, m in self.collector.messages if m.get("type") == "batch"
                               and resources.get(n, {}).get("process.pid") == proc.pid]
        self.assertEqual(watcher_batches, [], "no batches from the watcher")
        self.assert_watcher_silent(proc.pid)
        services, instances = self.report("python app.py with app.run(debug=True)", proc.pid)
        self.assertEqual((len(services), len(instances)), (1, 1))
        self.assertTrue(os.path.exists(app))

    def test_uvicorn_run_reload_from_a_script(self):
        self.write("main.py", FASTAPI_APP + '''
if __name__ == "__main__":
    import os, uvicorn
    uvicorn.run("main:app", port=int(os.environ["PORT"]), reload=True)
''')
        proc = self.start(["main.py"])
        status, _ = self.get("/hello/one")
        self.assertEqual(status, 200)
        child = next(iter(self.wait(lambda: self.served_pids("/hello/one"), "the request's span")))
        self.assertNotEqual(child, proc.pid)
        self.wait(lambda: child in self.metric_pids(), "the child's process metrics")
        time.sleep(1.5)
        self.assert_watcher_silent(proc.pid)
        services, instances = self.report("python main.py with uvicorn.run(reload=True)", proc.pid)
        self.assertEqual((len(services), len(instances)), (1, 1))


class WorkersTest(SupervisorTestCase):
    def check_workers(self, label, proc, workers=2):
        pids = set()
        for i in range(40):
            status, _ = self.get("/hello/w%d" % i)
            self.assertEqual(status, 200)
        pids = self.wait(lambda: set().union(*(self.served_pids("/hello/w%d" % i) for i in range(40))), "spans")
        metric_pids = self.wait(lambda: len(self.metric_pids()) >= workers and self.metric_pids(), "metrics from each worker")
        time.sleep(1.5)
        self.assert_watcher_silent(proc.pid)
        self.assertNotIn(proc.pid, self.metric_pids())
        self.assertEqual(len(metric_pids), workers, "one instance with memory and CPU per worker")
        self.assertTrue(pids <= metric_pids)
        services, instances = self.report(label, proc.pid)
        self.assertEqual(len(services), 1, "one service")
        self.assertEqual(len(instances), workers, "one instance per worker")

    def test_gunicorn_workers(self):
        self.write("app.py", FLASK_APP)
        proc = self.start(["-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:%d" % self.port, "app:app"])
        self.check_workers("gunicorn -w 2", proc)

    def test_gunicorn_workers_with_the_app_preloaded_in_the_master(self):
        self.write("app.py", FLASK_APP)
        proc = self.start(["-m", "gunicorn", "--preload", "-w", "2", "-b", "127.0.0.1:%d" % self.port, "app:app"])
        self.check_workers("gunicorn --preload -w 2", proc)

    def test_uvicorn_workers(self):
        self.write("main.py", FASTAPI_APP)
        proc = self.start(["-m", "uvicorn", "main:app", "--workers", "2", "--port", str(self.port)])
        self.check_workers("uvicorn --workers 2", proc)


if __name__ == "__main__":
    unittest.main()
