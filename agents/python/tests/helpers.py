"""Shared test plumbing: import paths, an agent per test class, real servers in threads."""

import asyncio
import inspect
import logging
import os
import re
import socket
import sys
import threading
import time
import unittest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
AGENT_ROOT = os.path.dirname(TESTS_DIR)
BOOTSTRAP_DIR = os.path.join(AGENT_ROOT, "bootstrap")
if AGENT_ROOT not in sys.path:
    sys.path.insert(0, AGENT_ROOT)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import routelens  # noqa: E402
from collector import FakeCollector  # noqa: E402

PYTHON = sys.executable

# The test apps log on purpose; a do-nothing handler keeps Python's last-resort
# printing (which the agent preserves) out of the test output.
for _name in ("shop", "flask_shop", "djangoapp", "django"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def def_line(func):
    """The line of the `def` statement of func (below any decorators), read from its source."""
    func = inspect.unwrap(func)
    lines, start = inspect.getsourcelines(func)
    for offset, line in enumerate(lines):
        if re.match(r"\s*(async\s+)?def\s", line):
            return start + offset
    raise AssertionError("no def line for %r" % func)


def marker_line(path, marker):
    """The line number of the only line of path containing `# marker`."""
    found = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.rstrip().endswith("# " + marker):
                found.append(number)
    assert len(found) == 1, (marker, found)
    return found[0]


class AgentTestCase(unittest.TestCase):
    """Runs a fake collector and an agent connected to it for the whole class."""

    agent_options = {}

    @classmethod
    def setUpClass(cls):
        routelens.shutdown()
        cls.collector = FakeCollector().start()
        options = {"metrics_interval": 0, "flush_interval": 0.05}
        options.update(cls.agent_options)
        cls.agent = routelens.start(endpoint=cls.collector.endpoint, service_name="tests", **options)

    @classmethod
    def tearDownClass(cls):
        routelens.shutdown()
        cls.collector.stop()

    def setUp(self):
        # Only what this test produced counts in its assertions.
        routelens.flush(5)
        self.collector.mark()

    def flush(self):
        self.assertTrue(routelens.flush(5), "the agent did not deliver its queue")

    def spans_named(self, name, timeout=5.0):
        self.flush()
        return self.collector.wait_spans(lambda s: s["name"] == name, timeout)

    def one_span(self, predicate, timeout=5.0):
        self.flush()
        spans = self.collector.wait_spans(predicate, timeout)
        self.assertEqual(len(spans), 1, "expected one matching span, got %d" % len(spans))
        return spans[0]

    def assertValidItems(self):
        self.assertEqual(self.collector.invalid, [], "the fake collector rejected items")


def attrs(span):
    return span.get("attributes", {})


class ServerThread:
    """A real HTTP server for an app, in a daemon thread, on a free loopback port."""

    def __init__(self, kind, app):
        self.kind = kind
        self.app = app
        self.port = None
        self._server = None
        self._thread = None

    def __enter__(self):
        if self.kind == "werkzeug":
            from werkzeug.serving import make_server

            self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
            self.port = self._server.server_port
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()
        elif self.kind == "uvicorn":
            import uvicorn

            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            config = uvicorn.Config(self.app, log_config=None, lifespan="off")
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None
            self._server = server

            def run():
                asyncio.run(server.serve(sockets=[sock]))

            self._thread = threading.Thread(target=run, daemon=True)
            self._thread.start()
            deadline = time.monotonic() + 10
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)
            if not server.started:
                raise RuntimeError("uvicorn did not start")
        else:
            raise ValueError(self.kind)
        return self

    def __exit__(self, *exc):
        if self.kind == "werkzeug":
            self._server.shutdown()
            self._server.server_close()
        else:
            self._server.should_exit = True
        self._thread.join(10)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


def http_get(url, headers=None, method="GET", timeout=10):
    """(status, body) of a real HTTP request; error statuses are returned, not raised."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
