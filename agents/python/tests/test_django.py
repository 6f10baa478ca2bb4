"""Django: a minimal project (tests/djangoapp) through Django's test clients."""

import asyncio
import os
import unittest
import uuid

import helpers
from helpers import attrs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoapp.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402

from djangoapp import views  # noqa: E402

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
VIEWS_FILE = os.path.abspath(views.__file__)


class DjangoTest(helpers.AgentTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client(raise_request_exception=False)

    def server_span(self, path, method="GET"):
        return self.one_span(lambda s: s["kind"] == "server" and attrs(s)["url.path"] == path
                             and attrs(s)["http.request.method"] == method)

    def test_middleware_goes_first_and_the_projects_own_still_runs(self):
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["X-Project-Middleware"], "yes")
        self.assertEqual(settings.MIDDLEWARE[0], "routelens.django.RoutelensMiddleware")
        self.assertIn("djangoapp.middleware.tag_response", settings.MIDDLEWARE)
        self.assertEqual(attrs(self.server_span("/"))["http.route"], "/")

    def test_route_pattern_status_and_code_location(self):
        response = self.client.get("/users/17/", HTTP_TRACEPARENT=TRACEPARENT)
        self.assertEqual(response.json(), {"id": 17})
        span = self.server_span("/users/17/")
        a = attrs(span)
        self.assertEqual(span["name"], "GET /users/<int:user_id>/")
        self.assertEqual(a["http.route"], "/users/<int:user_id>/")
        self.assertEqual(a["http.response.status_code"], 200)
        self.assertEqual(a["client.address"], "127.0.0.1")
        self.assertEqual(a["server.address"], "testserver")
        self.assertEqual(a["code.file.path"], VIEWS_FILE)
        self.assertEqual(a["code.line.number"], helpers.def_line(views.user_detail))
        self.assertEqual(a["code.function.name"], "user_detail")
        self.assertEqual(span["traceId"], "0af7651916cd43dd8448eb211c80319c")
        self.assertEqual(span["parentSpanId"], "b7ad6b7169203331")
        db = self.one_span(lambda s: s["name"] == "db.query" and s["traceId"] == span["traceId"])
        self.assertEqual(db["parentSpanId"], span["spanId"])
        logs = self.collector.wait_for(lambda: [l for l in self.collector.logs() if l["body"] == "looked up user 17"])
        self.assertEqual(logs[0]["spanId"], span["spanId"])
        self.assertEqual(logs[0]["attributes"]["logger.name"], "djangoapp.views")
        self.assertValidItems()

    def test_exception_becomes_a_500_with_frames(self):
        response = self.client.get("/explode/")
        self.assertEqual(response.status_code, 500)
        span = self.server_span("/explode/")
        self.assertEqual(span["status"], "error")
        self.assertEqual(attrs(span)["http.route"], "/explode/")
        self.assertEqual(attrs(span)["http.response.status_code"], 500)
        exc = span["exception"]
        self.assertEqual(exc["type"], "RuntimeError")
        self.assertEqual(exc["message"], "django view failed")
        self.assertEqual(exc["frames"][-1], {"file": VIEWS_FILE, "line": helpers.marker_line(VIEWS_FILE, "raise-here"),
                                             "function": "explode"})

    def test_the_test_client_still_sees_the_exception(self):
        with self.assertRaises(RuntimeError):
            Client().get("/explode/")
        span = self.server_span("/explode/")
        self.assertEqual(span["exception"]["type"], "RuntimeError")

    def test_class_based_view_include_and_re_path(self):
        self.assertEqual(self.client.get("/api/orders/5/").json(), {"order": 5})
        self.assertEqual(self.client.post("/api/orders/6/").status_code, 201)
        self.assertEqual(self.client.get("/legacy/2021/").status_code, 200)
        get = attrs(self.server_span("/api/orders/5/"))
        self.assertEqual(get["http.route"], "/api/orders/<int:order_id>/")
        self.assertEqual(get["code.function.name"], "OrderView.get")
        self.assertEqual(get["code.line.number"], helpers.def_line(views.OrderView.get))
        post = attrs(self.server_span("/api/orders/6/", "POST"))
        self.assertEqual(post["code.line.number"], helpers.def_line(views.OrderView.post))
        self.assertEqual(post["http.response.status_code"], 201)
        legacy = attrs(self.server_span("/legacy/2021/"))
        self.assertEqual(legacy["http.route"], "/legacy/(?P<year>[0-9]{4})/$")

    def test_unmatched_paths_share_one_route(self):
        paths = ["/zz/%s/" % uuid.uuid4().hex for _ in range(4)]
        for path in paths:
            self.assertEqual(self.client.get(path).status_code, 404)
        self.flush()
        spans = [s for s in self.collector.spans() if attrs(s).get("url.path") in paths]
        self.assertEqual(len(spans), 4)
        self.assertEqual({attrs(s)["http.route"] for s in spans}, {"/{unmatched}"})

    def test_async_view_through_the_async_stack(self):
        async def call():
            # Django 3.2's AsyncClient turns extra keywords into header names as they are.
            return await AsyncClient().get("/async/9/", traceparent=TRACEPARENT)

        response = asyncio.run(call())
        self.assertEqual(response.json(), {"item": 9})
        span = self.server_span("/async/9/")
        self.assertEqual(attrs(span)["http.route"], "/async/<int:item_id>/")
        self.assertEqual(attrs(span)["code.line.number"], helpers.def_line(views.async_view))
        self.assertEqual(span["traceId"], "0af7651916cd43dd8448eb211c80319c")
        work = self.one_span(lambda s: s["name"] == "async.work" and s["traceId"] == span["traceId"])
        self.assertEqual(work["parentSpanId"], span["spanId"])


if __name__ == "__main__":
    unittest.main()
