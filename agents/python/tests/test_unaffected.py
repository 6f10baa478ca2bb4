"""With the agent on and no collector listening, apps answer exactly as without the agent."""

import time
import unittest

import helpers
import test_django  # noqa: F401  (configures Django)
import test_fastapi
import test_flask
from django.test import Client as DjangoClient
from starlette.testclient import TestClient

import routelens

REQUESTS = {
    "fastapi": ["/items/3", "/nothing/here", "/boom", "/teapot", "/missing", "/api/v1/orders/1", "/admin/status"],
    "flask": ["/users/3", "/divide/0", "/gone", "/nowhere", "/items/x"],
    "django": ["/", "/users/3/", "/explode/", "/api/orders/2/", "/nowhere/"],
}


def fastapi_responses():
    client = TestClient(test_fastapi.app, raise_server_exceptions=False)
    return [(r.status_code, r.content, r.headers.get("content-type")) for r in map(client.get, REQUESTS["fastapi"])]


def flask_responses():
    test_flask.app.testing = False
    client = test_flask.app.test_client()
    return [(r.status_code, r.data, r.headers.get("content-type")) for r in map(client.get, REQUESTS["flask"])]


def django_responses():
    client = DjangoClient(raise_request_exception=False)
    return [(r.status_code, r.content, r.get("content-type")) for r in map(client.get, REQUESTS["django"])]


class NoCollectorTest(unittest.TestCase):
    def setUp(self):
        routelens.shutdown()

    def tearDown(self):
        routelens.shutdown()

    def test_responses_are_identical(self):
        baseline = {"fastapi": fastapi_responses(), "flask": flask_responses(), "django": django_responses()}
        routelens.start(endpoint="http://127.0.0.1:%d" % helpers.free_port(), service_name="t")
        started = time.monotonic()
        instrumented = {"fastapi": fastapi_responses(), "flask": flask_responses(), "django": django_responses()}
        elapsed = time.monotonic() - started
        for framework in baseline:
            self.assertEqual(instrumented[framework], baseline[framework], framework)
        self.assertEqual([s for s, _, _ in baseline["fastapi"]], [200, 404, 500, 418, 404, 200, 200])
        self.assertEqual([s for s, _, _ in baseline["flask"]], [200, 500, 410, 404, 200])
        self.assertEqual([s for s, _, _ in baseline["django"]], [200, 200, 500, 200, 404])
        # Nothing waited for the missing collector.
        self.assertLess(elapsed, 5.0)
        agent = routelens._agent.State.agent
        self.assertFalse(agent.exporter.connected)
        self.assertGreater(agent.exporter.pending(), 0)

    def test_exceptions_propagate_identically(self):
        outcomes = []
        for _ in range(2):
            try:
                TestClient(test_fastapi.app).get("/boom")
            except ValueError as exc:
                outcomes.append((type(exc), str(exc)))
            test_flask.app.testing = True
            try:
                test_flask.app.test_client().get("/divide/0")
            except ZeroDivisionError as exc:
                outcomes.append((type(exc), str(exc)))
            finally:
                test_flask.app.testing = False
            routelens.start(endpoint="http://127.0.0.1:%d" % helpers.free_port(), service_name="t")
        self.assertEqual(len(outcomes), 4)
        self.assertEqual(outcomes[:2], outcomes[2:])


if __name__ == "__main__":
    unittest.main()
