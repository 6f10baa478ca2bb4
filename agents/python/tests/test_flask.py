"""Flask: a real app through its test client and a real werkzeug server."""

import functools
import logging
import unittest
import uuid

import helpers
from helpers import attrs

import routelens
from flask import Blueprint, Flask, abort, jsonify
from flask.logging import default_handler
from flask.views import MethodView

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
log = logging.getLogger("shop.flask")


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)

    return wrapper


app = Flask("flask_shop")
app.logger.removeHandler(default_handler)


@app.route("/users/<int:user_id>")
@login_required
def get_user(user_id):
    with routelens.span("db.query", {"db.system": "sqlite"}):
        pass
    log.warning("user %s fetched", user_id)
    return jsonify(id=user_id)


@app.route("/divide/<int:n>")
def divide(n):
    return jsonify(result=10 // n)  # flask-raise


@app.route("/gone")
def gone():
    abort(410)


class ItemAPI(MethodView):
    def get(self, item_id):
        return jsonify(item=item_id)

    def delete(self, item_id):
        return "", 204


app.add_url_rule("/items/<item_id>", view_func=ItemAPI.as_view("item"))

shop = Blueprint("shop", __name__, url_prefix="/shop")


@shop.route("/carts/<uuid:cart_id>")
def get_cart(cart_id):
    return jsonify(cart=str(cart_id))


app.register_blueprint(shop)


@app.errorhandler(404)
def not_found(error):
    return jsonify(error="not found"), 404


class FlaskTest(helpers.AgentTestCase):
    def setUp(self):
        super().setUp()
        app.testing = False
        self.client = app.test_client()

    def server_span(self, path, method="GET"):
        return self.one_span(lambda s: s["kind"] == "server" and attrs(s)["url.path"] == path
                             and attrs(s)["http.request.method"] == method)

    def test_route_template_status_and_code_location(self):
        response = self.client.get("/users/42")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.get_json(), {"id": 42})
        span = self.server_span("/users/42")
        a = attrs(span)
        self.assertEqual(span["name"], "GET /users/<int:user_id>")
        self.assertEqual(a["http.route"], "/users/<int:user_id>")
        self.assertEqual(a["http.response.status_code"], 200)
        self.assertEqual(a["client.address"], "127.0.0.1")
        self.assertEqual(a["server.address"], "localhost")
        self.assertEqual(a["code.file.path"], __file__)
        self.assertEqual(a["code.line.number"], helpers.def_line(get_user))
        self.assertEqual(a["code.function.name"], "get_user")
        self.assertValidItems()

    def test_sub_span_and_log_are_correlated(self):
        self.client.get("/users/8")
        server = self.server_span("/users/8")
        db = self.one_span(lambda s: s["name"] == "db.query" and s["traceId"] == server["traceId"])
        self.assertEqual(db["parentSpanId"], server["spanId"])
        logs = self.collector.wait_for(lambda: [l for l in self.collector.logs() if l["body"] == "user 8 fetched"])
        self.assertEqual(logs[0]["traceId"], server["traceId"])
        self.assertEqual(logs[0]["spanId"], server["spanId"])
        self.assertEqual(logs[0]["severity"], "warn")
        self.assertEqual(logs[0]["attributes"]["code.function.name"], "get_user")

    def test_unhandled_exception_gives_500_and_frames(self):
        response = self.client.get("/divide/0")
        self.assertEqual(response.status_code, 500)
        span = self.server_span("/divide/0")
        self.assertEqual(span["status"], "error")
        self.assertEqual(attrs(span)["http.route"], "/divide/<int:n>")
        self.assertEqual(attrs(span)["http.response.status_code"], 500)
        exc = span["exception"]
        self.assertEqual(exc["type"], "ZeroDivisionError")
        self.assertEqual(exc["frames"][-1], {"file": __file__, "line": helpers.marker_line(__file__, "flask-raise"),
                                             "function": "divide"})
        # Flask logs the exception itself; that record carries the trace and the same frames.
        logs = self.collector.wait_for(
            lambda: [l for l in self.collector.logs() if l.get("exception", {}).get("type") == "ZeroDivisionError"])
        self.assertEqual(len(logs), 1)
        self.assertEqual(logs[0]["traceId"], span["traceId"])
        self.assertEqual(logs[0]["severity"], "error")
        self.assertEqual(logs[0]["exception"]["frames"][-1]["line"], helpers.marker_line(__file__, "flask-raise"))

    def test_in_testing_mode_the_exception_still_propagates(self):
        app.testing = True
        with self.assertRaises(ZeroDivisionError):
            self.client.get("/divide/0")
        span = self.server_span("/divide/0")
        self.assertEqual(span["status"], "error")
        self.assertEqual(span["exception"]["type"], "ZeroDivisionError")

    def test_http_errors_are_not_exceptions(self):
        self.assertEqual(self.client.get("/gone").status_code, 410)
        span = self.server_span("/gone")
        self.assertEqual(attrs(span)["http.route"], "/gone")
        self.assertEqual(attrs(span)["http.response.status_code"], 410)
        self.assertNotIn("exception", span)
        self.assertNotEqual(span.get("status"), "error")

    def test_unmatched_paths_share_one_route_and_the_apps_404_handler_runs(self):
        paths = ["/random/%s" % uuid.uuid4().hex for _ in range(4)]
        for path in paths:
            response = self.client.get(path)
            self.assertEqual(response.status_code, 404)
            self.assertEqual(response.get_json(), {"error": "not found"})
        self.flush()
        spans = [s for s in self.collector.spans() if attrs(s).get("url.path") in paths]
        self.assertEqual(len(spans), 4)
        self.assertEqual({attrs(s)["http.route"] for s in spans}, {"/{unmatched}"})
        self.assertEqual({attrs(s)["http.response.status_code"] for s in spans}, {404})

    def test_method_view_and_blueprint(self):
        self.assertEqual(self.client.get("/items/abc").get_json(), {"item": "abc"})
        self.assertEqual(self.client.delete("/items/abc").status_code, 204)
        cart = str(uuid.uuid4())
        self.assertEqual(self.client.get("/shop/carts/" + cart).status_code, 200)
        get = attrs(self.server_span("/items/abc"))
        self.assertEqual(get["http.route"], "/items/<item_id>")
        self.assertEqual(get["code.function.name"], "ItemAPI.get")
        self.assertEqual(get["code.line.number"], helpers.def_line(ItemAPI.get))
        delete = attrs(self.server_span("/items/abc", "DELETE"))
        self.assertEqual(delete["code.line.number"], helpers.def_line(ItemAPI.delete))
        self.assertEqual(delete["http.response.status_code"], 204)
        blueprint = attrs(self.server_span("/shop/carts/" + cart))
        self.assertEqual(blueprint["http.route"], "/shop/carts/<uuid:cart_id>")

    def test_traceparent_continues_the_trace(self):
        self.client.get("/users/3", headers={"traceparent": TRACEPARENT})
        span = self.server_span("/users/3")
        self.assertEqual(span["traceId"], "0af7651916cd43dd8448eb211c80319c")
        self.assertEqual(span["parentSpanId"], "b7ad6b7169203331")

    def test_odd_methods_are_folded(self):
        response = self.client.open("/users/1", method="PURGE")
        self.assertEqual(response.status_code, 405)
        span = self.one_span(lambda s: attrs(s).get("url.path") == "/users/1"
                             and attrs(s)["http.request.method"] == "_OTHER")
        self.assertEqual(attrs(span)["http.request.method_original"], "PURGE")
        self.assertEqual(span["name"], "HTTP /{unmatched}")


class ExplicitInstrumentTest(unittest.TestCase):
    def test_instrument_app_without_the_import_hook(self):
        collector = helpers.FakeCollector().start()
        try:
            routelens.start(endpoint=collector.endpoint, service_name="t", instrument_frameworks=False,
                            metrics_interval=0)
            client = app.test_client()
            client.get("/users/1")
            self.assertTrue(routelens.flush(5))
            self.assertEqual([s for s in collector.spans() if s["kind"] == "server"], [])
            self.assertIs(routelens.instrument(app), app)
            client.get("/users/2")
            self.assertTrue(routelens.flush(5))
            spans = [s for s in collector.spans() if s["kind"] == "server"]
            self.assertEqual([attrs(s)["url.path"] for s in spans], ["/users/2"])
            self.assertEqual(attrs(spans[0])["http.route"], "/users/<int:user_id>")
        finally:
            routelens.shutdown()
            collector.stop()


class WerkzeugServerTest(helpers.AgentTestCase):
    def test_real_server_requests(self):
        app.testing = False
        with helpers.ServerThread("werkzeug", app) as server:
            self.assertEqual(helpers.http_get(server.url("/users/5"), {"traceparent": TRACEPARENT}),
                             (200, b'{"id":5}\n'))
            self.assertEqual(helpers.http_get(server.url("/divide/0"))[0], 500)
            self.assertEqual(helpers.http_get(server.url("/nope"))[0], 404)
            self.flush()
        ok = self.one_span(lambda s: attrs(s).get("url.path") == "/users/5" and s["kind"] == "server")
        a = attrs(ok)
        self.assertEqual(a["http.route"], "/users/<int:user_id>")
        self.assertEqual(a["client.address"], "127.0.0.1")
        self.assertEqual(a["server.port"], server.port)
        self.assertEqual(ok["traceId"], "0af7651916cd43dd8448eb211c80319c")
        self.assertEqual(self.one_span(lambda s: attrs(s).get("url.path") == "/divide/0")["status"], "error")
        self.assertEqual(attrs(self.one_span(lambda s: attrs(s).get("url.path") == "/nope"))["http.route"],
                         "/{unmatched}")
        self.assertValidItems()


if __name__ == "__main__":
    unittest.main()
