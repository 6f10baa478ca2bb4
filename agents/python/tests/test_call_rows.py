"""Client calls as rows of the compact `calls` columns (docs/protocol.md): what travels, and that
the spans they stand for are the ones the span objects would have been.

A request served by a real Flask app (through its test client, the agent started as the F5
sitecustomize would) makes queries, an HTTP call to a real server and failing calls; the test
collector expands the columns from the protocol's text (collector.expand_calls), apart from the
agent's own expansion that the OTLP exporter uses (_otlp.expand_calls), and both must agree.
"""

import http.server
import json
import os
import sqlite3
import threading
import unittest
import urllib.request

from collector import expand_calls
from helpers import AgentTestCase, attrs, marker_line

import routelens
from routelens import _callsite, _clients, _exporter, _http, _otlp, _trace

THIS_FILE = os.path.abspath(__file__)


class _Downstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status = 404 if self.path.startswith("/missing") else 200
        body = json.dumps({"traceparent": self.headers.get("traceparent")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _flask_app(db, base):
    from flask import Flask, jsonify

    app = Flask("call_rows")
    seen = {}

    @app.route("/orders/<int:first>")
    def orders(first):
        rows = []
        for i in range(3):
            rows.append(db.execute("SELECT id, name FROM items WHERE id = ?", (first + i,)).fetchone())  # cr-query
        db.execute("UPDATE items SET name = name WHERE id < ?", (3,))  # cr-update
        try:
            db.execute("SELECT nope FROM items")  # cr-fail
        except sqlite3.OperationalError:
            pass
        with urllib.request.urlopen(base + "/stock?sku=1") as response:  # cr-http
            seen["ok"] = json.loads(response.read())
        try:
            urllib.request.urlopen(base + "/missing")  # cr-404
        except urllib.error.HTTPError as exc:
            seen["missing"] = exc.code
        return jsonify(rows)

    return app, seen


class CallRows(AgentTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Downstream)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.base = "http://127.0.0.1:%d" % cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        super().tearDownClass()

    def _db(self):
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO items VALUES (?, ?)", [(i, "item %d" % i) for i in range(20)])
        return db

    def _serve(self, headers=None):
        app, seen = _flask_app(self._db(), self.base)
        self.collector.mark()
        response = app.test_client().get("/orders/4", headers=headers or {})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.get_json(), [[4, "item 4"], [5, "item 5"], [6, "item 6"]])
        self.flush()
        server = self.one_span(lambda s: s.get("kind") == "server" and s.get("name") == "GET /orders/<int:first>")
        calls = self.collector.wait_spans(lambda s: s["traceId"] == server["traceId"] and s["kind"] == "client")
        return server, sorted(calls, key=lambda s: s["startMs"]), seen

    def batches_with_calls(self):
        return [b for b in self.collector.of_type("batch") if "calls" in b]

    def test_good_calls_travel_as_rows_and_stand_for_the_same_spans(self):
        server, calls, seen = self._serve()
        names = [c["name"] for c in calls]
        self.assertEqual(names, ["SELECT items"] * 3 + ["UPDATE items", "SELECT items", "GET", "GET"])
        rows = [b["calls"] for b in self.batches_with_calls()]
        self.assertTrue(rows, "a batch with calls columns")
        n_rows = sum(len(r["shape"]) for r in rows)
        # The 3 queries, the update and the 200 call are rows; the failing query and the 404 are
        # span objects (they have an error of their own).
        self.assertEqual(n_rows, 5)
        objects = [s for b in self.collector.of_type("batch") for s in b.get("spans", []) if s.get("kind") == "client"]
        self.assertEqual(sorted(s["name"] for s in objects), ["GET", "SELECT items"])
        for call in calls:
            self.assertEqual(call["parentSpanId"], server["spanId"])
            self.assertEqual(call["traceId"], server["traceId"])
            self.assertGreaterEqual(call["startMs"], server["startMs"])
            self.assertLessEqual(call["endMs"], server["endMs"] + 0.002)
        self.assertEqual(len({c["spanId"] for c in calls} | {server["spanId"]}), len(calls) + 1)
        a = [attrs(c) for c in calls]
        for i, marker in enumerate(["cr-query"] * 3 + ["cr-update", "cr-fail"]):
            self.assertEqual(a[i]["code.file.path"], THIS_FILE)
            self.assertEqual(a[i]["code.line.number"], marker_line(THIS_FILE, marker), calls[i])
            self.assertEqual(a[i]["code.function.name"], "_flask_app.<locals>.orders")
        self.assertEqual(a[0]["db.query.text"], "SELECT id, name FROM items WHERE id = ?")
        self.assertEqual(a[3]["db.response.returned_rows"], 3)
        self.assertEqual(a[4]["error.type"], "sqlite3.OperationalError")
        self.assertEqual(a[5]["url.full"], self.base + "/stock?sku=REDACTED")
        self.assertEqual(a[5]["http.response.status_code"], 200)
        self.assertNotIn("error.type", a[5])
        self.assertEqual(a[6]["http.response.status_code"], 404)
        self.assertEqual(a[6]["error.type"], "404")
        # The downstream server was told the call's own span id, row or object alike.
        self.assertEqual(seen["ok"]["traceparent"], "00-%s-%s-01" % (server["traceId"], calls[5]["spanId"]))
        self.assertEqual(seen["missing"], 404)
        self.assertValidItems()

    def test_with_every_site_or_shape_number_taken_calls_are_span_objects_at_their_lines(self):
        from flask import Flask

        db = self._db()
        app = Flask("full_tables")

        @app.route("/full-sites")
        def full_sites():
            db.execute("SELECT name FROM items WHERE id = 1").fetchone()  # cr-full-site
            try:
                db.execute("SELECT nope FROM items WHERE id = 1")  # cr-full-fail
            except sqlite3.OperationalError:
                pass
            return "ok"

        @app.route("/full-shapes")
        def full_shapes():
            db.execute("SELECT name FROM items WHERE id = 2").fetchone()  # cr-full-shape
            return "ok"

        saved = _callsite.MAX_SITES, _clients.MAX_CALL_SHAPES
        self.collector.mark()
        client = app.test_client()
        try:
            # No number left for a new calling line, then none for a new shape.
            _callsite.MAX_SITES = len(_callsite.SITES)
            self.assertEqual(client.get("/full-sites").data, b"ok")
            _callsite.MAX_SITES = saved[0]
            _clients.MAX_CALL_SHAPES = len(_clients._call_shape_texts)
            self.assertEqual(client.get("/full-shapes").data, b"ok")
        finally:
            _callsite.MAX_SITES, _clients.MAX_CALL_SHAPES = saved
        self.flush()
        for route, markers in (("GET /full-sites", ["cr-full-site", "cr-full-fail"]),
                               ("GET /full-shapes", ["cr-full-shape"])):
            server = self.one_span(lambda s: s.get("kind") == "server" and s.get("name") == route)
            calls = sorted(self.collector.wait_spans(lambda s: s["traceId"] == server["traceId"] and s["kind"] == "client"),
                           key=lambda s: s["startMs"])
            self.assertEqual(len(calls), len(markers), calls)
            for call, marker in zip(calls, markers):
                self.assertEqual(attrs(call)["code.line.number"], marker_line(THIS_FILE, marker), call)
                self.assertEqual(call["parentSpanId"], server["spanId"])
                self.assertGreaterEqual(call["startMs"], server["startMs"])
                self.assertGreaterEqual(call["endMs"], call["startMs"])
                self.assertLessEqual(call["endMs"], server["endMs"] + 0.002)
            objects = [s for b in self.collector.of_type("batch") for s in b.get("spans", [])
                       if s.get("traceId") == server["traceId"] and s.get("kind") == "client"]
            self.assertEqual(len(objects), len(markers), "span objects, not rows")
        failed = [c for c in self.collector.spans() if attrs(c).get("code.line.number") == marker_line(THIS_FILE, "cr-full-fail")]
        self.assertEqual(attrs(failed[-1])["error.type"], "sqlite3.OperationalError")
        self.assertValidItems()

    def test_a_request_that_continues_a_trace_names_it_for_its_rows(self):
        incoming = "4bf92f3577b34da6a3ce929d0e0e4736"
        server, calls, _ = self._serve({"traceparent": "00-%s-00f067aa0ba902b7-01" % incoming})
        self.assertEqual(server["traceId"], incoming)
        self.assertEqual(len(calls), 7)
        self.assertTrue(all(c["traceId"] == incoming and c["parentSpanId"] == server["spanId"] for c in calls))
        traces = [b["calls"].get("traces") for b in self.batches_with_calls()]
        self.assertIn(incoming, [t for named in traces if named for t in named.values()])

    def test_rows_hold_no_objects_and_free_the_request_span(self):
        """A queued row is numbers and strings only: it keeps no span alive while it waits to be
        sent, and the collector of cycles can drop it from its lists."""
        import gc
        import weakref

        routelens.shutdown()
        finished = []
        routelens.start(endpoint=self.collector.endpoint, service_name="tests", lazy=True)
        try:
            _trace.set_exporter(finished.append, finished.append)
            db = self._db()
            # A request's span as the framework hooks make it.
            request = _http.begin("GET", "/orders/1", None, "127.0.0.1", "localhost")
            token = _trace._current.set(request)
            try:
                for i in range(3):
                    db.execute("SELECT name FROM items WHERE id = ?", (i,))
            finally:
                _trace._current.reset(token)
            _http.finish(request, None, 200)
            ref = weakref.ref(request)
            seq, trace_id = request._seq, request.trace_id
            del request, token
        finally:
            routelens.shutdown()
            type(self).agent = routelens.start(endpoint=self.collector.endpoint, service_name="tests",
                                               metrics_interval=0, flush_interval=0.05)
        rows = [e for e in finished if e.__class__ is tuple and e[0] is _clients.CALL]
        self.assertEqual(len(rows), 3)
        self.assertEqual([e[0] for e in finished].count(_http.REQUEST), 1, "the request is a row too")
        self.assertIsNone(ref(), "a queued row keeps its request span alive")

        def atoms(value):
            if value.__class__ is tuple:
                return all(atoms(v) for v in value)
            return value is None or value.__class__ in (int, float, str)

        self.assertTrue(all(atoms(row) for row in rows), rows)
        # A tuple is let go of when a collection finds only untracked members in it (its row key
        # first, then the row).
        gc.collect()
        gc.collect()
        self.assertFalse(any(gc.is_tracked(row) for row in rows), "rows still tracked by the collector of cycles")
        spans = _otlp.expand_calls(json.loads(_clients.encode_calls(rows)))
        self.assertEqual([s["spanId"] for s in spans], [_trace.call_span_id(seq, n) for n in (1, 2, 3)])
        self.assertTrue(all(s["traceId"] == trace_id for s in spans))

    def test_the_otlp_expansion_agrees_with_the_protocol(self):
        """The OTLP exporter turns rows into spans itself: the same spans the collector makes."""
        routelens.shutdown()
        finished = []
        agent = routelens.start(endpoint=self.collector.endpoint, service_name="tests", lazy=True)
        try:
            _trace.set_exporter(finished.append, finished.append)
            db = self._db()
            with routelens.span("outer"):
                for i in range(4):
                    db.execute("SELECT name FROM items WHERE id = ?", (i,))
                db.execute("DELETE FROM items WHERE id > ?", (15,))
        finally:
            routelens.shutdown()
            type(self).agent = routelens.start(endpoint=self.collector.endpoint, service_name="tests",
                                               metrics_interval=0, flush_interval=0.05)
        self.assertIsNotNone(agent)
        rows = [e for e in finished if e.__class__ is tuple and e[0] is _clients.CALL]
        self.assertEqual(len(rows), 5)
        text = _clients.encode_calls(rows)
        ours = _otlp.expand_calls(json.loads(text))
        theirs = expand_calls({"calls": json.loads(text)})
        self.assertEqual(ours, theirs)
        outer = next(e for e in finished if e.__class__ is not tuple)
        self.assertTrue(all(s["parentSpanId"] == outer.span_id and s["traceId"] == outer.trace_id for s in ours))
        self.assertEqual(ours[4]["attributes"]["db.response.returned_rows"], 4)
        # The times, from the columns' µs: each call inside its parent, one after the other.
        for span in ours:
            self.assertGreaterEqual(span["startMs"], outer.start_ms - 0.001)
            self.assertLessEqual(span["endMs"], outer.end_ms + 0.001)
            self.assertGreaterEqual(span["endMs"], span["startMs"])
        for before, after in zip(ours, ours[1:]):
            self.assertGreaterEqual(after["startMs"], before["endMs"] - 0.001)
        first = min(r[4] for r in rows)
        self.assertAlmostEqual(ours[0]["startMs"], outer.start_ms + (first - outer._t0) * 1000.0, delta=0.002)
        self.assertEqual([s["spanId"] for s in ours], [_trace.call_span_id(outer._seq, n) for n in range(1, 6)])
        requests, calls = _exporter.split_rows(finished[:0] + rows)
        self.assertEqual((requests, len(calls)), ([], 5))


if __name__ == "__main__":
    unittest.main()
