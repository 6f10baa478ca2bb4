"""Announcing the app's own Prometheus /metrics to the collector: detection on each framework, the
URL from the first request, one `announce` after the hello of every connection, and the switch."""

import logging
import os
import time
import unittest

import helpers
from collector import FakeCollector

import routelens
from routelens import _announce, _config

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoapp.settings")

import django  # noqa: E402

django.setup()

from django.test import Client, override_settings  # noqa: E402
from fastapi import FastAPI, Response  # noqa: E402
from flask import Flask  # noqa: E402
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, make_asgi_app, make_wsgi_app  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from werkzeug.middleware.dispatcher import DispatcherMiddleware  # noqa: E402


# -- apps, built after the agent started (as with the bootstrap, which starts it first) --------

def fastapi_mounted():
    app = FastAPI()
    app.mount("/metrics", make_asgi_app())

    @app.get("/ping")
    async def ping():
        return {"ok": True}

    return app


def fastapi_route():
    app = FastAPI()

    @app.get("/metrics")
    async def metrics():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/ping")
    async def ping():
        return {"ok": True}

    return app


def fastapi_plain():
    app = FastAPI()

    @app.get("/ping")
    async def ping():
        return {"ok": True}

    @app.get("/metrics-report")
    async def not_prometheus():
        return {}

    return app


def flask_route():
    app = Flask("announce_flask_route")

    @app.route("/metrics")
    def metrics():
        return generate_latest(), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    @app.route("/ping")
    def ping():
        return "pong"

    return app


def flask_dispatched():
    app = Flask("announce_flask_dispatch")

    @app.route("/ping")
    def ping():
        return "pong"

    # prometheus_client's documented way for Flask.
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": make_wsgi_app()})
    return app


def flask_plain():
    app = Flask("announce_flask_plain")

    @app.route("/ping")
    def ping():
        return "pong"

    return app


class AnnounceCase(unittest.TestCase):
    """A fresh collector and agent per test: the first request after start() is the one looked at."""

    agent_options = {}

    def setUp(self):
        routelens.shutdown()
        self.collector = FakeCollector().start()
        self.addCleanup(self.collector.stop)
        self.agent = routelens.start(endpoint=self.collector.endpoint, service_name="announce-tests",
                                     metrics_interval=0, flush_interval=0.05, **self.agent_options)
        self.addCleanup(routelens.shutdown)
        quiet = logging.NullHandler()
        for name in ("uvicorn.error", "werkzeug"):
            logging.getLogger(name).addHandler(quiet)
            self.addCleanup(logging.getLogger(name).removeHandler, quiet)

    def announces(self):
        with self.collector._lock:
            return [(n, m) for n, m in self.collector.messages if m.get("type") == "announce"]

    def detected(self):
        """The URLs the agent found (waits for the exporter thread to look)."""
        announcer = self.agent.exporter.announcer
        self.assertIsNotNone(announcer)
        self.assertTrue(self.collector.wait_for(lambda: announcer.urls is not None), "detection did not run")
        return announcer.urls

    def assertAnnouncedOncePerConnection(self, url):
        self.assertEqual(self.detected(), [url])
        self.assertTrue(self.collector.wait_for(self.announces), "nothing announced")
        self.assertTrue(routelens.flush(5))
        time.sleep(0.2)  # room for a second announce that must not come
        with self.collector._lock:
            messages = list(self.collector.messages)
        per_connection = {}
        for number, message in messages:
            per_connection.setdefault(number, []).append(message["type"])
        for number, kinds in per_connection.items():
            self.assertEqual(kinds[0], "hello", "connection %d" % number)
            self.assertEqual(kinds.count("announce"), 1, "connection %d: %s" % (number, kinds))
        for _, message in self.announces():
            self.assertEqual(message, {"v": 1, "type": "announce", "prometheus": [url]})
        self.assertEqual(self.collector.invalid, [])

    def assertNothingAnnounced(self):
        self.assertEqual(self.detected(), [])
        self.assertTrue(routelens.flush(5))
        time.sleep(0.2)
        self.assertEqual(self.announces(), [])


class FastAPIAnnounceTest(AnnounceCase):
    def test_make_asgi_app_mounted_at_metrics_is_announced_after_every_hello(self):
        with helpers.ServerThread("uvicorn", fastapi_mounted()) as server:
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            # The mount answers /metrics/ (Starlette redirects /metrics there): announced as such.
            url = "http://127.0.0.1:%d/metrics/" % server.port
            self.assertAnnouncedOncePerConnection(url)
            status, body = helpers.http_get(url)
            self.assertEqual(status, 200)
            self.assertIn(b"# TYPE ", body)
            # A collector that restarted knows nothing: the next connection announces again.
            self.collector.drop_connections()
            self.assertTrue(self.collector.wait_for(lambda: len({n for n, _ in self.announces()}) >= 2, 10),
                            "no announce on the new connection")
            self.assertAnnouncedOncePerConnection(url)
            self.assertGreaterEqual(self.agent.exporter.stats["announces"], 2)
            # Later requests change nothing.
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            self.assertAnnouncedOncePerConnection(url)

    def test_a_route_at_metrics(self):
        with helpers.ServerThread("uvicorn", fastapi_route()) as server:
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            self.assertAnnouncedOncePerConnection("http://127.0.0.1:%d/metrics" % server.port)

    def test_the_first_request_may_be_a_scrape(self):
        with helpers.ServerThread("uvicorn", fastapi_route()) as server:
            self.assertEqual(helpers.http_get(server.url("/metrics"))[0], 200)
            self.assertAnnouncedOncePerConnection("http://127.0.0.1:%d/metrics" % server.port)

    def test_an_app_without_metrics_announces_nothing(self):
        with helpers.ServerThread("uvicorn", fastapi_plain()) as server:
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            self.assertNothingAnnounced()

    def test_a_test_client_is_not_a_server(self):
        client = TestClient(fastapi_mounted())
        self.assertEqual(client.get("/ping").status_code, 200)
        self.assertNothingAnnounced()


class FlaskAnnounceTest(AnnounceCase):
    def test_a_metrics_view(self):
        with helpers.ServerThread("werkzeug", flask_route()) as server:
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            self.assertAnnouncedOncePerConnection("http://127.0.0.1:%d/metrics" % server.port)

    def test_make_wsgi_app_behind_dispatcher_middleware(self):
        with helpers.ServerThread("werkzeug", flask_dispatched()) as server:
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            url = "http://127.0.0.1:%d/metrics" % server.port
            self.assertAnnouncedOncePerConnection(url)
            status, body = helpers.http_get(url)
            self.assertEqual(status, 200)
            self.assertIn(b"# TYPE ", body)

    def test_an_app_without_metrics_announces_nothing(self):
        with helpers.ServerThread("werkzeug", flask_plain()) as server:
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            self.assertNothingAnnounced()

    def test_a_test_client_is_not_a_server(self):
        self.assertEqual(flask_route().test_client().get("/ping").status_code, 200)
        self.assertNothingAnnounced()


class DjangoAnnounceTest(AnnounceCase):
    # Django's test client says SERVER_NAME "testserver"; what runserver and other servers put in
    # META is given explicitly.
    SERVER = {"SERVER_NAME": "localhost", "SERVER_PORT": "8765"}

    def test_a_metrics_url_pattern(self):
        with override_settings(ROOT_URLCONF="djangoapp.metrics_urls"):
            self.assertEqual(Client().get("/", **self.SERVER).status_code, 200)
            self.assertAnnouncedOncePerConnection("http://127.0.0.1:8765/metrics")
            response = Client().get("/metrics", **self.SERVER)
            self.assertEqual(response.status_code, 200)
            self.assertIn(b"# TYPE ", response.content)

    def test_a_project_without_metrics_announces_nothing(self):
        self.assertEqual(Client().get("/", **self.SERVER).status_code, 200)
        self.assertNothingAnnounced()

    def test_a_catch_all_pattern_is_not_a_metrics_view(self):
        with override_settings(ROOT_URLCONF="djangoapp.catchall_urls"):
            self.assertEqual(Client().get("/", **self.SERVER).status_code, 200)
            self.assertNothingAnnounced()

    def test_the_test_client_is_not_a_server(self):
        with override_settings(ROOT_URLCONF="djangoapp.metrics_urls"):
            self.assertEqual(Client().get("/").status_code, 200)
            self.assertNothingAnnounced()


class DisabledTest(AnnounceCase):
    def setUp(self):
        old = os.environ.get("ROUTELENS_ANNOUNCE_METRICS")
        os.environ["ROUTELENS_ANNOUNCE_METRICS"] = "0"
        try:
            super().setUp()
        finally:
            if old is None:
                del os.environ["ROUTELENS_ANNOUNCE_METRICS"]
            else:
                os.environ["ROUTELENS_ANNOUNCE_METRICS"] = old

    def test_the_environment_variable_switches_it_off(self):
        self.assertFalse(self.agent.config.announce_metrics)
        self.assertIsNone(self.agent.exporter.announcer)
        self.assertFalse(_announce.pending)
        with helpers.ServerThread("uvicorn", fastapi_mounted()) as server:
            self.assertEqual(helpers.http_get(server.url("/ping"))[0], 200)
            self.assertTrue(routelens.flush(5))
            time.sleep(0.3)
        self.assertEqual(self.announces(), [])
        self.assertTrue(self.collector.of_type("hello", everything=True))


class RequestPathTest(AnnounceCase):
    def test_only_the_first_request_is_looked_at(self):
        self.assertTrue(_announce.pending)
        with helpers.ServerThread("uvicorn", fastapi_plain()) as server:
            helpers.http_get(server.url("/ping"))
            self.assertFalse(_announce.pending)
        self.assertNothingAnnounced()

    def test_shutdown_and_start_look_again(self):
        self.assertTrue(_announce.pending)
        routelens.shutdown()
        self.assertFalse(_announce.pending)
        self.agent = routelens.start(endpoint=self.collector.endpoint, service_name="announce-tests",
                                     metrics_interval=0, flush_interval=0.05)
        self.assertTrue(_announce.pending)

    def test_nothing_raises_into_the_app(self):
        # Whatever the first request looks like, the hooks return quietly.
        _announce.asgi_request(object(), {})
        _announce.pending = True
        _announce.asgi_request(None, {"server": None})
        _announce.pending = True
        _announce.wsgi_request(None, {})
        _announce.pending = True
        _announce.django_request(object())
        self.assertFalse(_announce.pending)
        self.assertEqual(_announce.announced_urls("asgi", object(), "127.0.0.1", 8000), [])
        self.assertEqual(_announce.announced_urls("wsgi", 42, "127.0.0.1", "8000"), [])
        self.assertEqual(_announce.announced_urls("nonsense", None, None, None), [])


class UrlTest(unittest.TestCase):
    def test_the_server_address_becomes_a_loopback_url(self):
        base = _announce.base_url
        self.assertEqual(base("asgi", "127.0.0.1", 8000), "http://127.0.0.1:8000")
        self.assertEqual(base("asgi", "0.0.0.0", 8000), "http://127.0.0.1:8000")
        self.assertEqual(base("asgi", "192.168.1.20", 8000), "http://127.0.0.1:8000")
        self.assertEqual(base("asgi", "::1", 8000), "http://[::1]:8000")
        self.assertEqual(base("asgi", "::", 8000), "http://[::1]:8000")
        self.assertEqual(base("wsgi", "localhost", "5000"), "http://127.0.0.1:5000")
        self.assertEqual(base("wsgi", "0.0.0.0", "5000"), "http://127.0.0.1:5000")
        self.assertEqual(base("wsgi", "[::1]", "5000"), "http://[::1]:5000")
        self.assertEqual(base("django", "my-laptop.lan", "8000"), "http://127.0.0.1:8000")
        # In-process test clients: no server to scrape.
        self.assertIsNone(base("asgi", "testserver", 80))
        self.assertIsNone(base("asgi", "test", 80))
        self.assertIsNone(base("django", "testserver", "80"))
        self.assertIsNone(base("wsgi", "localhost", "80", "werkzeug/2.2.2"))
        # No port (a Unix socket), or nonsense.
        self.assertIsNone(base("asgi", "/tmp/app.sock", None))
        self.assertIsNone(base("wsgi", "127.0.0.1", "http"))
        self.assertIsNone(base("wsgi", "127.0.0.1", "0"))
        self.assertIsNone(base("wsgi", "", "8000"))

    def test_the_setting(self):
        self.assertTrue(_config.Config(environ={}).announce_metrics)
        for value in ("0", "false", "No", " off "):
            self.assertFalse(_config.Config(environ={"ROUTELENS_ANNOUNCE_METRICS": value}).announce_metrics, value)
        self.assertTrue(_config.Config(environ={"ROUTELENS_ANNOUNCE_METRICS": "1"}).announce_metrics)
        self.assertFalse(_config.Config(environ={}, announce_metrics=False).announce_metrics)

    def test_flush_interval_from_the_environment(self):
        self.assertEqual(_config.Config(environ={}).flush_interval, 0.2)
        self.assertEqual(_config.Config(environ={"ROUTELENS_FLUSH_INTERVAL": "1.5"}).flush_interval, 1.5)
        for value, expected in (("0", 0.01), ("1e9", 60.0), ("soon", 0.2), ("nan", 0.2), ("", 0.2)):
            self.assertEqual(_config.Config(environ={"ROUTELENS_FLUSH_INTERVAL": value}).flush_interval, expected, value)
        self.assertEqual(_config.Config(environ={"ROUTELENS_FLUSH_INTERVAL": "5"}, flush_interval=0.05).flush_interval, 0.05)


if __name__ == "__main__":
    unittest.main()
