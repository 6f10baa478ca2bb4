"""Outgoing HTTP as client spans, against a real local HTTP server: http.client, urllib.request,
requests (urllib3), httpx (sync and async) and aiohttp.

Each client is driven the same way with the agent off and on: same statuses, bodies, types and
exceptions; with the agent the calls are client spans with the HTTP client attributes, the line
that made them, and a traceparent header that the server received.
"""

import asyncio
import http.client
import http.server
import json
import threading
import unittest
import urllib.error
import urllib.request

from helpers import AgentTestCase, attrs, free_port  # noqa: F401  (helpers sets sys.path)

import routelens
from routelens import _clients

import aiohttp
import httpx
import requests

THIS_FILE = __file__


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status = 200
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2].split("?")[0])
        body = json.dumps({"traceparent": self.headers.get("traceparent"), "tracestate": self.headers.get("tracestate"),
                           "path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def _line(marker):
    with open(THIS_FILE) as f:
        for number, line in enumerate(f, 1):
            if line.rstrip().endswith("# " + marker):
                return number
    raise AssertionError(marker)


class HttpClientSpans(AgentTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        cls.port = cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.base = "http://127.0.0.1:%d" % cls.port

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        super().tearDownClass()

    def client_spans(self, root, count):
        self.flush()
        spans = self.collector.wait_spans(lambda s: s.get("parentSpanId") == root.span_id and s["kind"] == "client")
        self.assertEqual(len(spans), count, spans)
        return sorted(spans, key=lambda s: s["startMs"])

    def check_span(self, span, root, received, path, status, marker, method="GET"):
        a = attrs(span)
        self.assertEqual(span["traceId"], root.trace_id)
        self.assertEqual(span["name"], method)
        self.assertEqual(a["http.request.method"], method)
        self.assertEqual(a["server.address"], "127.0.0.1")
        self.assertEqual(a["server.port"], self.port)
        self.assertEqual(a["http.response.status_code"], status)
        self.assertEqual(a["url.full"], self.base + path)
        self.assertEqual(a["code.file.path"], THIS_FILE)
        self.assertEqual(a["code.line.number"], _line(marker))
        if received is not None:
            self.assertEqual(received, "00-%s-%s-01" % (span["traceId"], span["spanId"]))
        if status >= 400:
            self.assertEqual(span["status"], "error")
            self.assertEqual(a["error.type"], str(status))
        else:
            self.assertNotIn("error.type", a)

    def test_http_client_urllib_and_requests(self):
        with routelens.span("request") as root:
            conn = http.client.HTTPConnection("127.0.0.1", self.port)
            conn.request("GET", "/a?token=s3cret&x=1")  # hc-call
            response = conn.getresponse()
            first = json.loads(response.read())
            conn.close()
            with urllib.request.urlopen(self.base + "/b") as r:  # urllib-call
                second = json.loads(r.read())
            with self.assertRaises(urllib.error.HTTPError):
                urllib.request.urlopen(self.base + "/status/404")  # urllib-404
            third = requests.get(self.base + "/c", headers={"X-Test": "1"}).json()  # requests-call
        spans = self.client_spans(root, 4)
        self.check_span(spans[0], root, first["traceparent"], "/a?token=REDACTED&x=REDACTED", 200, "hc-call")
        self.assertEqual(first["path"], "/a?token=s3cret&x=1", "the request itself is unchanged")
        self.check_span(spans[1], root, second["traceparent"], "/b", 200, "urllib-call")
        self.check_span(spans[2], root, None, "/status/404", 404, "urllib-404")
        self.check_span(spans[3], root, third["traceparent"], "/c", 200, "requests-call")
        self.assertValidItems()

    def test_an_opentelemetry_instrumentation_of_the_library_owns_the_call(self):
        # The stand-in package (tests/otel_standin, see its README): the real SDK cannot be
        # installed here. With RequestsInstrumentor active, OpenTelemetry makes the client span and
        # sends the traceparent: the agent makes neither, and counts nothing twice.
        import os
        import sys

        from routelens import _otel

        standin = os.path.join(os.path.dirname(THIS_FILE), "otel_standin")
        sys.path.insert(0, standin)
        try:
            from opentelemetry.instrumentation.requests import RequestsInstrumentor

            _otel.mark_loaded()
            RequestsInstrumentor().instrument()
            _clients._owned.clear()
            try:
                with routelens.span("request") as owned_root:
                    got = requests.get(self.base + "/owned").json()
                self.assertIsNone(got["traceparent"], "no traceparent from the agent")
            finally:
                RequestsInstrumentor().uninstrument()
                _clients._owned.clear()
            with routelens.span("request") as root:
                again = requests.get(self.base + "/ours").json()
            self.assertIsNotNone(again["traceparent"])
            self.client_spans(root, 1)
            self.flush()
            self.assertEqual([s for s in self.collector.spans() if s.get("parentSpanId") == owned_root.span_id and s["kind"] == "client"], [])
        finally:
            sys.path.remove(standin)

    def test_a_traceparent_set_by_the_caller_is_kept(self):
        mine = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
        with routelens.span("request") as root:
            got = requests.get(self.base + "/own", headers={"traceparent": mine}).json()
        self.assertEqual(got["traceparent"], mine)
        self.client_spans(root, 1)

    def test_tracestate_received_by_a_server_goes_on_with_each_call(self):
        """A request with traceparent and tracestate, to a real WSGI server with the agent: every
        call out of it carries the tracestate unchanged next to its own traceparent; without a
        valid traceparent, or when the value is not one a header may carry, none is sent."""
        import wsgiref.simple_server

        from routelens.wsgi import RoutelensMiddleware

        base = self.base

        def app(environ, start_response):
            out = {}
            conn = http.client.HTTPConnection("127.0.0.1", self.port)
            conn.request("GET", "/ts-hc")
            out["hc"] = json.loads(conn.getresponse().read())
            conn.close()
            out["requests"] = requests.get(base + "/ts-requests").json()
            with httpx.Client() as client:
                out["httpx"] = client.get(base + "/ts-httpx").json()

            async def aio():
                async with aiohttp.ClientSession() as session:
                    async with session.get(base + "/ts-aio") as r:
                        return await r.json()

            out["aiohttp"] = asyncio.run(aio())
            own = requests.get(base + "/ts-own", headers={"tracestate": "mine=1"}).json()
            out["own"] = own
            body = json.dumps(out).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]

        class Quiet(wsgiref.simple_server.WSGIRequestHandler):
            def log_message(self, *args):
                pass

        server = wsgiref.simple_server.make_server("127.0.0.1", 0, RoutelensMiddleware(app), handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = "http://127.0.0.1:%d/in" % server.server_address[1]
        incoming = "00-" + "12" * 16 + "-" + "34" * 8 + "-01"
        state = "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"
        try:
            got = requests.get(url, headers={"traceparent": incoming, "tracestate": state}).json()
            no_parent = requests.get(url, headers={"tracestate": state}).json()
            too_long = requests.get(url, headers={"traceparent": incoming, "tracestate": "k=" + "v" * 600}).json()
            not_ascii = requests.get(url, headers={"traceparent": incoming,
                                                   "tracestate": "k=v\u00e9".encode("utf-8")}).json()
        finally:
            server.shutdown()
            server.server_close()
        for name in ("hc", "requests", "httpx", "aiohttp"):
            self.assertEqual(got[name]["tracestate"], state, name)
            self.assertTrue(got[name]["traceparent"].startswith("00-" + "12" * 16 + "-"), got[name])
            self.assertNotEqual(got[name]["traceparent"], incoming)
            for other in (no_parent, too_long, not_ascii):
                self.assertIsNone(other[name]["tracestate"], (name, other))
                self.assertIsNotNone(other[name]["traceparent"])
        # A tracestate the app set itself is the one that goes.
        self.assertEqual(got["own"]["tracestate"], "mine=1")

    def test_asgi_server_accepts_tracestate_in_several_headers(self):
        from routelens import asgi
        from routelens._trace import _current

        seen = {}

        async def app(scope, receive, send):
            seen["request"] = _current.get()
            with routelens.span("inner") as inner:
                seen["tracestate"] = _clients.tracestate(inner)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            pass

        scope = {"type": "http", "method": "GET", "path": "/x", "root_path": "", "query_string": b"",
                 "headers": [(b"traceparent", ("00-" + "ab" * 16 + "-" + "cd" * 8 + "-01").encode()),
                             (b"tracestate", b"a=1"), (b"tracestate", b"b=2")]}
        asyncio.run(asgi.RoutelensMiddleware(app)(scope, receive, send))
        self.assertIsNotNone(seen["request"])
        self.assertEqual(seen["tracestate"], "a=1,b=2")

    def test_refused_connection_is_a_failed_span_and_the_same_exception(self):
        port = free_port()
        with self.assertRaises(requests.ConnectionError):
            requests.get("http://127.0.0.1:%d/x" % port, timeout=2)
        with routelens.span("request") as root:
            with self.assertRaises(requests.ConnectionError):
                requests.get("http://user:pw@127.0.0.1:%d/x" % port, timeout=2)  # refused
        (span,) = self.client_spans(root, 1)
        self.assertEqual(span["status"], "error")
        # The error of the layer that failed: urllib3 wraps the refusal before http.client sees it.
        self.assertRegex(attrs(span)["error.type"], "ConnectionRefusedError|NewConnectionError")
        # requests moves the credentials into an Authorization header; they are in no attribute.
        self.assertEqual(attrs(span)["url.full"], "http://127.0.0.1:%d/x" % port)
        self.assertEqual(attrs(span)["code.line.number"], _line("refused"))

    def test_httpx_sync_and_async(self):
        async def run_async():
            async with httpx.AsyncClient() as client:
                r = await client.get(self.base + "/async")  # httpx-async
                return r.status_code, r.json()

        with routelens.span("request") as root:
            with httpx.Client() as client:
                response = client.get(self.base + "/sync", params={"q": "v"})  # httpx-sync
                self.assertIsInstance(response, httpx.Response)
                sync_body = response.json()
                not_found = client.get(self.base + "/status/500")  # httpx-500
            status, async_body = asyncio.run(run_async())
        self.assertEqual((response.status_code, not_found.status_code, status), (200, 500, 200))
        spans = self.client_spans(root, 3)
        self.check_span(spans[0], root, sync_body["traceparent"], "/sync?q=REDACTED", 200, "httpx-sync")
        self.check_span(spans[1], root, None, "/status/500", 500, "httpx-500")
        self.check_span(spans[2], root, async_body["traceparent"], "/async", 200, "httpx-async")

    def test_aiohttp(self):
        async def run():
            async with aiohttp.ClientSession() as session:
                async with session.get(self.base + "/aio", headers={"A": "b"}) as r:  # aiohttp-call
                    return r.status, await r.json(), type(r)

        status, body, kind = asyncio.run(run())
        self.assertEqual((status, kind), (200, aiohttp.ClientResponse))
        with routelens.span("request") as root:
            status, body, kind = asyncio.run(run())
        self.assertEqual((status, kind), (200, aiohttp.ClientResponse))
        (span,) = self.client_spans(root, 1)
        self.check_span(span, root, body["traceparent"], "/aio", 200, "aiohttp-call")

    def test_async_cancellation_propagates_and_ends_the_span(self):
        class Slow(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                import time

                time.sleep(1.0)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        slow = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        threading.Thread(target=slow.serve_forever, daemon=True).start()
        try:
            async def run():
                async with httpx.AsyncClient() as client:
                    task = asyncio.ensure_future(client.get("http://127.0.0.1:%d/" % slow.server_address[1]))
                    await asyncio.sleep(0.1)
                    task.cancel()
                    with self.assertRaises(asyncio.CancelledError):
                        await task

            with routelens.span("request") as root:
                asyncio.run(run())
            (span,) = self.client_spans(root, 1)
            self.assertEqual(attrs(span)["error.type"], "cancelled")
        finally:
            slow.shutdown()
            slow.server_close()

    def test_one_connection_many_requests(self):
        # A kept-alive connection: the request lines it remembers give each request its own URL
        # and span, a query is redacted every time and its line not remembered, and the
        # connection's attributes stay as they are (not turned into a dict by the agent).
        import gc
        import sys

        with routelens.span("request") as root:
            conn = http.client.HTTPConnection("127.0.0.1", self.port)
            seen = []
            for path in ("/same", "/same", "/other", "/q?token=abc", "/q?token=def", "/same"):
                conn.request("GET", path)  # keep-alive-call
                seen.append(json.loads(conn.getresponse().read()))
            # urllib3 1.x asks for getresponse(buffering=True) first: the TypeError is
            # http.client's own, and the span waits for the call without it.
            conn.request("GET", "/after-typeerror")  # buffering-call
            with self.assertRaises(TypeError) as caught:
                conn.getresponse(buffering=True)
            bare = http.client.HTTPConnection("127.0.0.1", self.port)
            with self.assertRaises(TypeError) as expected:
                http.client.HTTPConnection.getresponse.__routelens_original__(bare, buffering=True)
            self.assertEqual(str(caught.exception), str(expected.exception))
            self.assertEqual(conn.getresponse().status, 200)
            if sys.version_info >= (3, 11):
                self.assertFalse(any(r.__class__ is dict and "host" in r for r in gc.get_referents(conn)),
                                 "the connection's attributes were turned into a dict")
            lines = conn._routelens_origin[4]
            conn.close()
        self.assertEqual(sorted(lines), [b"GET /after-typeerror HTTP/1.1", b"GET /other HTTP/1.1", b"GET /same HTTP/1.1"])
        spans = self.client_spans(root, 7)
        paths = ["/same", "/same", "/other", "/q?token=REDACTED", "/q?token=REDACTED", "/same"]
        for span, got, path in zip(spans, seen, paths):
            self.check_span(span, root, got["traceparent"], path, 200, "keep-alive-call")
        self.assertEqual(len({s["spanId"] for s in spans}), 7)
        self.check_span(spans[6], root, None, "/after-typeerror", 200, "buffering-call")

    def test_no_span_outside_a_request_or_to_the_collector(self):
        requests.get(self.base + "/outside")
        with routelens.span("request") as root:
            conn = http.client.HTTPConnection("127.0.0.1", self.collector.port)
            try:
                conn.request("GET", "/")
                conn.getresponse().read()
            except Exception:
                pass
            conn.close()
        self.flush()
        self.assertEqual([s for s in self.collector.spans() if s["kind"] == "client"], [])
        self.assertTrue(self.collector.wait_spans(lambda s: s["spanId"] == root.span_id))


class Defaults(unittest.TestCase):
    def test_a_default_attribute_goes_with_the_patches(self):
        from routelens import _patch

        class Owner:
            kept = "own"

        self.assertTrue(_patch.add_default(Owner, "_routelens_test", None))
        self.assertFalse(_patch.add_default(Owner, "_routelens_test", 1), "once")
        self.assertFalse(_patch.add_default(Owner, "kept", None), "an attribute of its own stays")
        self.assertIsNone(Owner()._routelens_test)
        try:
            _patch.unpatch_all()
            self.assertFalse(hasattr(Owner, "_routelens_test"))
            self.assertEqual(Owner.kept, "own")
        finally:
            routelens.shutdown()


class OtherSignatures(unittest.TestCase):
    def test_hooks_of_a_method_spelled_otherwise_pass_its_arguments_on(self):
        # The http.client hooks take the arguments of this Python's endheaders() and
        # getresponse() exactly; a method spelled otherwise gets hooks that pass anything on.
        from routelens import _clients_http

        seen = []

        def endheaders(self, message_body=None, extra=None):
            seen.append((message_body, extra))
            return "sent"

        def getresponse(self, buffering=False):
            seen.append(buffering)
            return "response"

        class Conn:
            _routelens_span = None

        conn = Conn()
        self.assertEqual(_clients_http._make_endheaders(endheaders)(conn, b"body", extra=1), "sent")
        self.assertEqual(_clients_http._make_getresponse(getresponse)(conn, buffering=True), "response")
        self.assertEqual(seen, [(b"body", 1), True])


class RedactionAndParsing(unittest.TestCase):
    def test_redact_url(self):
        r = _clients.redact_url
        self.assertEqual(r("https://u:p@h:1/p?a=1&b=&c#frag"), "https://REDACTED:REDACTED@h:1/p?a=REDACTED&b=REDACTED&c")
        self.assertEqual(r("http://h/p"), "http://h/p")
        self.assertEqual(r("http://h/p?"), "http://h/p?")

    def test_sanitize_statements(self):
        p = _clients.parse_statement
        self.assertEqual(p("SELECT * FROM users WHERE name = 'o''brien' AND age > 42 AND id = $1"),
                         ("SELECT * FROM users WHERE name = ? AND age > ? AND id = $1", "SELECT", "users"))
        self.assertEqual(p("insert into public.\"Orders\" (a, b) values (%s, 1.5e3)"),
                         ("insert into public.\"Orders\" (a, b) values (%s, ?)", "INSERT", "public.Orders"))
        self.assertEqual(p("update t2 set x = x + 1 where k = :k"), ("update t2 set x = x + ? where k = :k", "UPDATE", "t2"))
        self.assertEqual(p("/* c */ delete from t3 where x in (1, 2, 0x1F)")[1:], ("DELETE", "t3"))
        self.assertEqual(p("select $$dollar 'q'$$, col1 from t4")[0], "select ?, col1 from t4")


if __name__ == "__main__":
    unittest.main()
