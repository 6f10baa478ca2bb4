"""FastAPI and Starlette: real apps through Starlette's TestClient and a real uvicorn server."""

import functools
import logging
import unittest
import uuid

import helpers
from helpers import attrs

import routelens
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

log = logging.getLogger("shop.api")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def audited(fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        return await fn(*args, **kwargs)

    return wrapper


app = FastAPI()


@app.get("/items/{item_id}")
@audited
async def read_item(item_id: int):
    with routelens.span("db.query", {"db.system": "sqlite"}):
        pass
    log.warning("item %s read", item_id)
    return {"id": item_id}


@app.get("/sync/{n}")
def sync_handler(n: int):
    with routelens.span("compute"):
        pass
    return {"n": n}


@app.get("/boom")
async def boom():
    raise ValueError("bad value")  # fastapi-raise


class TeapotError(Exception):
    pass


@app.exception_handler(TeapotError)
async def teapot_handler(request, exc):
    return JSONResponse({"teapot": True}, status_code=418)


@app.get("/teapot")
async def teapot():
    raise TeapotError()


@app.get("/missing")
async def missing():
    raise HTTPException(status_code=404, detail="no such thing")


router = APIRouter(prefix="/api/v1")


@router.get("/orders/{order_id}")
async def get_order(order_id: int):
    return {"order": order_id}


app.include_router(router)

admin = FastAPI()


@admin.get("/status")
async def admin_status():
    return {"ok": True}


app.mount("/admin", admin)


async def shared():
    return {"shared": True}


app.add_api_route("/alias-a", shared)
app.add_api_route("/alias-b/{x}", shared)


class Greeting(HTTPEndpoint):
    async def get(self, request):
        return PlainTextResponse("hi " + request.path_params["name"])


async def homepage(request):
    return PlainTextResponse("home")


starlette_app = Starlette(routes=[
    Route("/", homepage),
    Route("/greet/{name}", Greeting),
    Mount("/v2", routes=[Route("/greet/{name}", Greeting)]),
])


class FastAPITest(helpers.AgentTestCase):
    def setUp(self):
        super().setUp()
        self.client = TestClient(app, raise_server_exceptions=False)

    def server_span(self, path, method="GET"):
        return self.one_span(lambda s: s["kind"] == "server" and attrs(s)["url.path"] == path
                             and attrs(s)["http.request.method"] == method)

    def test_route_template_status_and_code_location(self):
        response = self.client.get("/items/42")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"id": 42})
        span = self.server_span("/items/42")
        a = attrs(span)
        self.assertEqual(span["name"], "GET /items/{item_id}")
        self.assertEqual(a["http.route"], "/items/{item_id}")
        self.assertEqual(a["http.request.method"], "GET")
        self.assertEqual(a["http.response.status_code"], 200)
        self.assertEqual(a["client.address"], "testclient")
        self.assertEqual(a["server.address"], "testserver")
        self.assertEqual(a["code.file.path"], __file__)
        # The def line, not the decorator lines above it.
        self.assertEqual(a["code.line.number"], helpers.def_line(read_item))
        self.assertEqual(a["code.function.name"], "read_item")
        self.assertNotIn("status", span)
        self.assertGreaterEqual(span["endMs"], span["startMs"])
        self.assertValidItems()

    def test_sub_spans_and_logs_belong_to_the_request(self):
        self.client.get("/items/7")
        server = self.server_span("/items/7")
        db = self.one_span(lambda s: s["name"] == "db.query" and s["traceId"] == server["traceId"])
        self.assertEqual(db["parentSpanId"], server["spanId"])
        self.assertEqual(attrs(db)["db.system"], "sqlite")
        logs = self.collector.wait_for(lambda: [l for l in self.collector.logs() if l["body"] == "item 7 read"])
        self.assertEqual(len(logs), 1)
        self.assertEqual(logs[0]["traceId"], server["traceId"])
        self.assertEqual(logs[0]["spanId"], server["spanId"])
        self.assertEqual(logs[0]["attributes"]["logger.name"], "shop.api")

    def test_sync_handler_in_the_threadpool_keeps_the_context(self):
        self.assertEqual(self.client.get("/sync/3").json(), {"n": 3})
        server = self.server_span("/sync/3")
        compute = self.one_span(lambda s: s["name"] == "compute" and s["traceId"] == server["traceId"])
        self.assertEqual(compute["parentSpanId"], server["spanId"])
        self.assertEqual(attrs(server)["code.line.number"], helpers.def_line(sync_handler))

    def test_unmatched_paths_share_one_route(self):
        paths = ["/nothing/%s" % uuid.uuid4().hex for _ in range(5)]
        for path in paths:
            self.assertEqual(self.client.get(path).status_code, 404)
        self.flush()
        spans = [s for s in self.collector.spans() if attrs(s).get("url.path") in paths]
        self.assertEqual(len(spans), 5)
        self.assertEqual({attrs(s)["http.route"] for s in spans}, {"/{unmatched}"})
        self.assertEqual({s["name"] for s in spans}, {"GET /{unmatched}"})
        self.assertTrue(all("code.file.path" not in attrs(s) for s in spans))

    def test_method_not_allowed_keeps_the_template(self):
        self.assertEqual(self.client.post("/items/5").status_code, 405)
        span = self.server_span("/items/5", "POST")
        self.assertEqual(attrs(span)["http.route"], "/items/{item_id}")
        self.assertEqual(attrs(span)["http.response.status_code"], 405)

    def test_unhandled_exception_is_recorded_and_still_a_500(self):
        response = self.client.get("/boom")
        self.assertEqual(response.status_code, 500)
        span = self.server_span("/boom")
        self.assertEqual(span["status"], "error")
        self.assertEqual(attrs(span)["http.response.status_code"], 500)
        exc = span["exception"]
        self.assertEqual(exc["type"], "ValueError")
        self.assertEqual(exc["message"], "bad value")
        self.assertEqual(exc["frames"][-1], {"file": __file__, "line": helpers.marker_line(__file__, "fastapi-raise"),
                                             "function": "boom"})
        self.assertIn("ValueError: bad value", exc["stacktrace"])

    def test_the_exception_still_reaches_the_caller(self):
        with self.assertRaises(ValueError) as caught:
            TestClient(app).get("/boom")
        self.assertEqual(str(caught.exception), "bad value")

    def test_the_apps_own_exception_handler_still_answers(self):
        response = self.client.get("/teapot")
        self.assertEqual(response.status_code, 418)
        self.assertEqual(response.json(), {"teapot": True})
        span = self.server_span("/teapot")
        self.assertEqual(attrs(span)["http.response.status_code"], 418)
        self.assertNotIn("exception", span)

    def test_http_exception_on_a_matched_route(self):
        self.assertEqual(self.client.get("/missing").status_code, 404)
        span = self.server_span("/missing")
        self.assertEqual(attrs(span)["http.route"], "/missing")
        self.assertNotEqual(span.get("status"), "error")

    def test_traceparent_continues_the_trace(self):
        self.client.get("/items/9", headers={"traceparent": TRACEPARENT})
        span = self.server_span("/items/9")
        self.assertEqual(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertEqual(span["parentSpanId"], "00f067aa0ba902b7")
        db = self.one_span(lambda s: s["name"] == "db.query" and s["traceId"] == span["traceId"])
        self.assertEqual(db["parentSpanId"], span["spanId"])

    def test_a_malformed_traceparent_starts_a_new_trace(self):
        self.client.get("/items/10", headers={"traceparent": "00-zz-yy-01"})
        span = self.server_span("/items/10")
        self.assertNotIn("parentSpanId", span)
        self.assertRegex(span["traceId"], "^[0-9a-f]{32}$")

    def test_router_prefix_and_mounted_app(self):
        self.assertEqual(self.client.get("/api/v1/orders/12").json(), {"order": 12})
        self.assertEqual(self.client.get("/admin/status").json(), {"ok": True})
        order = self.server_span("/api/v1/orders/12")
        self.assertEqual(attrs(order)["http.route"], "/api/v1/orders/{order_id}")
        self.assertEqual(attrs(order)["code.line.number"], helpers.def_line(get_order))
        status = self.server_span("/admin/status")
        self.assertEqual(attrs(status)["http.route"], "/admin/status")
        self.assertEqual(attrs(status)["code.function.name"], "admin_status")
        # One request, one server span, even though two FastAPI apps handled it.
        self.flush()
        self.assertEqual(len([s for s in self.collector.spans() if attrs(s).get("url.path") == "/admin/status"]), 1)

    def test_one_endpoint_on_two_paths(self):
        self.client.get("/alias-a")
        self.client.get("/alias-b/1")
        self.client.get("/alias-a")
        self.flush()
        a = self.collector.wait_spans(lambda s: attrs(s).get("url.path") == "/alias-a")
        b = self.server_span("/alias-b/1")
        self.assertEqual([attrs(s)["http.route"] for s in a], ["/alias-a", "/alias-a"])
        self.assertEqual(attrs(b)["http.route"], "/alias-b/{x}")


class StarletteTest(helpers.AgentTestCase):
    def test_class_endpoint_and_mount(self):
        client = TestClient(starlette_app)
        self.assertEqual(client.get("/greet/ada").text, "hi ada")
        self.assertEqual(client.get("/v2/greet/bob").text, "hi bob")
        self.assertEqual(client.get("/").text, "home")
        self.flush()
        spans = {attrs(s)["url.path"]: s for s in self.collector.spans() if s["kind"] == "server"}
        greet = attrs(spans["/greet/ada"])
        self.assertEqual(greet["http.route"], "/greet/{name}")
        self.assertEqual(greet["code.function.name"], "Greeting.get")
        self.assertEqual(greet["code.line.number"], helpers.def_line(Greeting.get))
        self.assertEqual(attrs(spans["/v2/greet/bob"])["http.route"], "/v2/greet/{name}")
        self.assertEqual(attrs(spans["/"])["http.route"], "/")
        self.assertEqual(attrs(spans["/"])["code.line.number"], helpers.def_line(homepage))


class UvicornTest(helpers.AgentTestCase):
    def test_real_server_requests(self):
        # uvicorn logs the unhandled exception; that is the app's business, not this test's output.
        quiet = logging.NullHandler()
        uvicorn_errors = logging.getLogger("uvicorn.error")
        uvicorn_errors.addHandler(quiet)
        self.addCleanup(uvicorn_errors.removeHandler, quiet)
        with helpers.ServerThread("uvicorn", app) as server:
            status, body = helpers.http_get(server.url("/items/5"), headers={"traceparent": TRACEPARENT})
            self.assertEqual((status, body), (200, b'{"id":5}'))
            status, _ = helpers.http_get(server.url("/boom"))
            self.assertEqual(status, 500)
            status, _ = helpers.http_get(server.url("/no/such/page"))
            self.assertEqual(status, 404)
            self.flush()
        ok = self.one_span(lambda s: attrs(s).get("url.path") == "/items/5" and s["kind"] == "server")
        a = attrs(ok)
        self.assertEqual(a["http.route"], "/items/{item_id}")
        self.assertEqual(a["client.address"], "127.0.0.1")
        self.assertEqual(a["server.address"], "127.0.0.1")
        self.assertEqual(a["server.port"], server.port)
        self.assertEqual(ok["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736")
        failed = self.one_span(lambda s: attrs(s).get("url.path") == "/boom")
        self.assertEqual(failed["status"], "error")
        self.assertEqual(failed["exception"]["frames"][-1]["line"], helpers.marker_line(__file__, "fastapi-raise"))
        lost = self.one_span(lambda s: attrs(s).get("url.path") == "/no/such/page")
        self.assertEqual(attrs(lost)["http.route"], "/{unmatched}")
        self.assertValidItems()


if __name__ == "__main__":
    unittest.main()
