"""Apps already traced by OpenTelemetry: the agent makes no second server span and still adds
code locations and log correlation.

The real OpenTelemetry packages cannot be installed here: `otel_standin/` is a small package named
`opentelemetry` written for these tests, mimicking only the public surface the agent's detection
relies on (see otel_standin/README.md). It is put on sys.path by this module only.
"""

import logging
import os
import sys
import unittest

import helpers
from helpers import attrs

STANDIN = os.path.join(helpers.TESTS_DIR, "otel_standin")
if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)

from flask import Flask  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import routelens  # noqa: E402
from routelens import _otel  # noqa: E402

log = logging.getLogger("otel_tests")
log.addHandler(logging.NullHandler())


def otel():
    """The stand-in, imported after the agent started (as an app would import it)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import FINISHED

    return trace, FINISHED


def server_spans(finished, path):
    trace, _ = otel()
    return [s for s in finished if s.kind is trace.SpanKind.SERVER and s.attributes.get("url.path") == path]


class OtelTestCase(helpers.AgentTestCase):
    agent_options = {"log_level": "WARNING"}

    def setUp(self):
        super().setUp()
        trace, finished = otel()
        self.trace = trace
        self.finished = finished
        del finished[:]

    def agent_server_spans(self, path):
        self.flush()
        return [s for s in self.collector.spans() if s.get("kind") == "server" and attrs(s).get("url.path") == path]


class FlaskOtelTest(OtelTestCase):
    def make_app(self, instrumented):
        app = Flask("otel_flask_%s" % instrumented)

        @app.route("/hi/<name>")
        def hi(name):
            log.warning("hello from %s", name)
            return "hi " + name

        self.view = hi
        if instrumented:
            from opentelemetry.instrumentation.flask import FlaskInstrumentor

            FlaskInstrumentor().instrument_app(app)
        return app

    def test_the_agent_detects_the_import(self):
        self.assertTrue(_otel.loaded)

    def test_an_instrumented_app_gets_one_server_span_from_opentelemetry_with_the_code_location(self):
        client = self.make_app(True).test_client()
        for i in range(3):
            self.assertEqual(client.get("/hi/o%d" % i).status_code, 200)
        for i in range(3):
            path = "/hi/o%d" % i
            ours = server_spans(self.finished, path)
            self.assertEqual(len(ours), 1, "one OpenTelemetry server span")
            self.assertEqual(self.agent_server_spans(path), [], "no second server span from the agent")
            a = ours[0].attributes
            self.assertEqual(a["code.function.name"], "FlaskOtelTest.make_app.<locals>.hi")
            self.assertEqual(a["code.line.number"], helpers.def_line(self.view))
            self.assertEqual(a["code.file.path"], os.path.abspath(__file__))
        # The log records belong to OpenTelemetry's spans.
        trace_ids = {"%032x" % s.get_span_context().trace_id for s in server_spans(self.finished, "/hi/o0")}
        records = self.collector.wait_for(lambda: [l for l in self.collector.logs() if l["body"] == "hello from o0"])
        self.assertEqual(len(records), 1)
        self.assertIn(records[0]["traceId"], trace_ids)
        self.assertEqual(records[0]["spanId"], "%016x" % server_spans(self.finished, "/hi/o0")[0].get_span_context().span_id)

    def test_an_app_without_the_instrumentation_is_the_agents_in_the_same_process(self):
        client = self.make_app(False).test_client()
        self.assertEqual(client.get("/hi/plain").status_code, 200)
        self.assertEqual(server_spans(self.finished, "/hi/plain"), [])
        spans = self.agent_server_spans("/hi/plain")
        self.assertEqual(len(spans), 1)
        self.assertEqual(attrs(spans[0])["http.route"], "/hi/<name>")

    def test_the_same_requests_are_counted_once_with_and_without_opentelemetry(self):
        both = {True: self.make_app(True).test_client(), False: self.make_app(False).test_client()}
        for instrumented, client in both.items():
            for i in range(10):
                client.get("/hi/%s%d" % ("i" if instrumented else "p", i))
        self.flush()
        for instrumented in (True, False):
            for i in range(10):
                path = "/hi/%s%d" % ("i" if instrumented else "p", i)
                total = len(server_spans(self.finished, path)) + len(self.agent_server_spans(path))
                self.assertEqual(total, 1, path)


class FastAPIOtelTest(OtelTestCase):
    def make_app(self, instrumented):
        app = FastAPI()

        @app.get("/items/{item_id}")
        async def read_item(item_id: int):
            log.warning("item %d", item_id)
            return {"id": item_id}

        self.view = read_item
        if instrumented:
            from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

            FastAPIInstrumentor.instrument_app(app)
        return TestClient(app)

    def test_an_instrumented_app_gets_one_server_span_from_opentelemetry_with_the_code_location(self):
        client = self.make_app(True)
        self.assertEqual(client.get("/items/7").status_code, 200)
        ours = server_spans(self.finished, "/items/7")
        self.assertEqual(len(ours), 1)
        self.assertEqual(self.agent_server_spans("/items/7"), [])
        a = ours[0].attributes
        self.assertEqual(a["code.function.name"], "FastAPIOtelTest.make_app.<locals>.read_item")
        self.assertEqual(a["code.line.number"], helpers.def_line(self.view))
        records = self.collector.wait_for(lambda: [l for l in self.collector.logs() if l["body"] == "item 7"])
        self.assertEqual(records[0]["traceId"], "%032x" % ours[0].get_span_context().trace_id)

    def test_an_app_without_the_instrumentation_is_the_agents(self):
        client = self.make_app(False)
        self.assertEqual(client.get("/items/8").status_code, 200)
        self.assertEqual(server_spans(self.finished, "/items/8"), [])
        spans = self.agent_server_spans("/items/8")
        self.assertEqual(len(spans), 1)
        self.assertEqual(attrs(spans[0])["http.route"], "/items/{item_id}")


DJANGO_SCRIPT = r"""
import json, logging, os, sys
sys.path[:0] = [os.environ["STANDIN"], os.environ["TESTS_DIR"], os.environ["AGENT_ROOT"]]
os.environ["DJANGO_SETTINGS_MODULE"] = "djangoapp.settings"
import django
django.setup()
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.trace import FINISHED
import routelens
routelens.start(service_name="otel-django", metrics_interval=0, log_level="INFO")
DjangoInstrumentor().instrument()
from django.conf import settings
from django.test import Client
client = Client()
for i in (1, 2, 3):
    assert client.get("/users/%d/" % i).status_code == 200
print(json.dumps({"middleware": list(settings.MIDDLEWARE), "flushed": routelens.flush(5),
                  "spans": [{"path": s.attributes.get("url.path"), "kind": s.kind.name, "attributes": s.attributes,
                             "traceId": "%032x" % s.get_span_context().trace_id} for s in FINISHED]}))
"""


class DjangoOtelTest(unittest.TestCase):
    def test_django_with_opentelemetrys_middleware(self):
        import json
        import subprocess

        from collector import FakeCollector

        with open(os.path.join(helpers.TESTS_DIR, "djangoapp", "views.py")) as f:
            def_line = [n for n, line in enumerate(f, 1) if line.startswith("def user_detail(")][0]

        collector = FakeCollector().start()
        self.addCleanup(collector.stop)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELENS_", "DJANGO_"))}
        env.update(STANDIN=STANDIN, TESTS_DIR=helpers.TESTS_DIR, AGENT_ROOT=helpers.AGENT_ROOT,
                   ROUTELENS_ENDPOINT=collector.endpoint)
        result = subprocess.run([helpers.PYTHON, "-c", DJANGO_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        out = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertTrue(out["flushed"])
        # The agent's middleware goes inside OpenTelemetry's.
        self.assertEqual(out["middleware"][:2], ["opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware",
                                                 "routelens.django.RoutelensMiddleware"])
        for i in (1, 2, 3):
            path = "/users/%d/" % i
            ours = [s for s in out["spans"] if s["kind"] == "SERVER" and s["path"] == path]
            self.assertEqual(len(ours), 1)
            self.assertEqual(ours[0]["attributes"]["code.function.name"], "user_detail")
            self.assertEqual(ours[0]["attributes"]["code.line.number"], def_line)
            agent = [s for s in collector.spans() if s.get("kind") == "server" and attrs(s).get("url.path") == path]
            self.assertEqual(agent, [], "no second server span")
        record = collector.wait_for(lambda: [l for l in collector.logs() if l["body"] == "looked up user 1"])
        self.assertEqual(record[0]["traceId"], [s for s in out["spans"] if s["path"] == "/users/1/"][0]["traceId"])


class LibraryTest(unittest.TestCase):
    def test_library_instrumentations_are_seen(self):
        otel()
        _otel.mark_loaded()
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        self.assertFalse(_otel.library_instrumented("requests"))
        self.assertFalse(_otel.library_instrumented("httpx"), "not imported at all")
        RequestsInstrumentor().instrument()
        try:
            self.assertTrue(_otel.library_instrumented("requests"))
        finally:
            RequestsInstrumentor().uninstrument()
        self.assertFalse(_otel.library_instrumented("requests"))


if __name__ == "__main__":
    unittest.main()
