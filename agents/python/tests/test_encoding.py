"""Plain requests travel as compact `requests` columns that say what their span objects say."""

import json
import unittest

import helpers  # noqa: F401  (puts the agent on sys.path)
from collector import expand_requests, span_problem

from routelens import _http, _json, _trace


def handler():
    return "ok"


def finished_requests():
    """(what finish() exported, the request spans) for every kind of request the encoder meets."""
    exported = []
    _trace.set_exporter(exported.append)
    spans = []

    def request(method, path, client, host, traceparent=None):
        span = _http.begin(method, path, traceparent, client, host)
        spans.append(span)
        return span

    try:
        item = _http.route_info("/items/{item_id}", handler, "GET")
        for i in range(5):
            _http.finish(request("GET", "/items/%d" % i, "127.0.0.1", "localhost:8000"), item, 200 if i % 2 else 404)
        _http.finish(request("PUT", '/items/"x"\u00e9', None, None), item, 503)
        failed = request("POST", "/items", "10.0.0.2", "[::1]:9000")
        _http.finish(failed, _http.route_info("/items", handler, "POST"), None, ValueError("boom"))
        continued = request("GET", "/items/9", "127.0.0.1", "localhost", "00-%s-%s-01" % ("ab" * 16, "cd" * 8))
        _http.finish(continued, item, 200)
        tagged = request("GET", "/items/7", "127.0.0.1", "localhost")
        tagged.set_attribute("tenant", "acme")
        _http.finish(tagged, item, 200)
        _http.finish(request("BREW", "/pot", None, "localhost"), None, 418)
    finally:
        _trace.set_exporter(None)
    return exported, spans


class CompactEncodingTest(unittest.TestCase):
    def test_plain_requests_become_rows_that_expand_to_their_span_objects(self):
        exported, spans = finished_requests()
        rows = [e for e in exported if e.__class__ is tuple]
        objects = [e for e in exported if isinstance(e, _trace.Span)]
        self.assertEqual(len(rows) + len(objects), len(spans))
        # The exception, the continued trace, the extra attribute and the unknown method stay
        # span objects; the rest are rows.
        self.assertEqual(sorted(s.name for s in objects),
                         ["GET /items/{item_id}", "GET /items/{item_id}", "HTTP /{unmatched}", "POST /items"])
        compact = expand_requests({"requests": json.loads(_http.encode_rows(rows))})
        self.assertEqual(len(compact), 6)
        by_span_id = {s.span_id: s for s in spans}
        for span in compact:
            self.assertIsNone(span_problem(span))
            # The ids the collector derives are the ones the span reports to logs and children.
            source = by_span_id[span["spanId"]]
            self.assertEqual(span["traceId"], source.trace_id)
            # A row's span object is left as it was (its name is the shape's).
            self.assertEqual(span["name"], source._route.span_name(source._request[0]))
            source.name = span["name"]
            reference = json.loads(source.to_json())
            for member in ("kind", "status", "attributes"):
                self.assertEqual(span.get(member), reference.get(member), member)
            self.assertAlmostEqual(span["startMs"], reference["startMs"], places=3)
            self.assertAlmostEqual(span["endMs"], reference["endMs"], places=2)
        self.assertEqual(sorted(s["attributes"]["url.path"] for s in compact),
                         ['/items/"x"\u00e9', "/items/0", "/items/1", "/items/2", "/items/3", "/items/4"])
        crashed = [s for s in compact if s["attributes"]["http.response.status_code"] == 503]
        self.assertEqual(crashed[0]["status"], "error")
        self.assertEqual(crashed[0]["attributes"]["http.request.method"], "PUT")
        # One shape per route, method, client, host and outcome, however many requests share it.
        self.assertEqual(len(json.loads(_http.encode_rows(rows))["shapes"]), 3)

    def test_integer_columns_are_json_arrays_of_their_values(self):
        for column in [(), (0,), (1, -2, 30), [7] * 3, tuple(range(-5, 2000, 7)), (2 ** 70, -(2 ** 64))]:
            text = _json.ints(column)
            self.assertEqual(json.loads("[" + text + "]"), list(column))
            self.assertEqual(text, ",".join(map(str, column)))

    def test_consecutive_request_numbers_are_sent_as_the_first_one(self):
        exported, spans = finished_requests()
        rows = [e for e in exported if e.__class__ is tuple]
        run = rows[:5]  # five requests finished one after the other
        self.assertEqual([r[-1] for r in run], list(range(run[0][-1], run[0][-1] + 5)))
        compact = json.loads(_http.encode_rows(run))
        self.assertEqual(compact["seq0"], run[0][-1])
        self.assertNotIn("seq", compact)
        shuffled = json.loads(_http.encode_rows([run[1], run[0], run[2]]))
        self.assertEqual(shuffled["seq"], [run[1][-1], run[0][-1], run[2][-1]])
        self.assertNotIn("seq0", shuffled)
        by_span_id = {s.span_id: s for s in spans}
        for cols in (compact, shuffled):
            for span in expand_requests({"requests": cols}):
                self.assertEqual(span["traceId"], by_span_id[span["spanId"]].trace_id)

    def test_request_ids_are_distinct_and_stable_whoever_reads_them_first(self):
        exported, spans = finished_requests()
        traces = {s.trace_id for s in spans if s.parent_span_id is None}
        self.assertEqual(len(traces), len([s for s in spans if s.parent_span_id is None]))
        self.assertEqual(len({s.span_id for s in spans}), len(spans))
        again = _trace.Span.__new__(_trace.Span)
        again._trace_id = again._span_id = None
        again._seq = spans[0]._seq
        self.assertEqual((again.trace_id, again.span_id), (spans[0].trace_id, spans[0].span_id))
        # The continued trace keeps the caller's trace id and gets its own span id.
        continued = [s for s in spans if s.parent_span_id][0]
        self.assertEqual(continued.trace_id, "ab" * 16)
        self.assertEqual(continued.parent_span_id, "cd" * 8)

    def test_span_objects_get_ids_and_full_json(self):
        span = _trace.Span("work", {"i": 1})
        span.end()
        text = _http.encode_spans([span])[0]
        self.assertEqual(json.loads(text)["attributes"], {"i": 1})
        self.assertRegex(json.loads(text)["traceId"], "^[0-9a-f]{32}$")

    def test_client_span_times_are_the_milliseconds_to_three_decimals(self):
        parent = _trace.Span("request")
        for start, end in ((1796607311715.5664, 1796607311716.0004), (1796607311715.0, 1796607311715.9996),
                           (0.25, 3.5), (999.9994, 1000.0)):
            span = _trace.ClientSpan.__new__(_trace.ClientSpan)
            span._trace_id = parent.trace_id
            span.parent_span_id = parent.span_id
            span._root = parent
            span.name = "SELECT"
            span.attributes = {"db.system.name": "sqlite"}
            span._code = ("/app/x.py", "f", 3)
            span.start_ms = start
            span.end_ms = end
            got = json.loads(_http.encode_spans([span])[0])
            self.assertAlmostEqual(got["startMs"], start, delta=0.0005, msg=(start, got))
            self.assertAlmostEqual(got["endMs"], end, delta=0.0005, msg=(end, got))
            self.assertEqual(span_problem(got), None, got)


if __name__ == "__main__":
    unittest.main()
