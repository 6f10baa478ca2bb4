"""The compact `requests` columns say exactly what the full span objects say."""

import json
import unittest

import helpers  # noqa: F401  (puts the agent on sys.path)
from collector import expand_requests, span_problem

from routelens import _http, _trace


def handler():
    return "ok"


def request_spans():
    """Finished request spans of every kind the encoder meets, without an agent."""
    finished = []
    _trace.set_exporter(finished.append)
    try:
        item = _http.route_info("/items/{item_id}", handler, "GET")
        plain = [_http.begin("GET", "/items/%d" % i, None, "127.0.0.1", "localhost:8000") for i in range(5)]
        for i, span in enumerate(plain):
            _http.finish(span, item, 200 if i % 2 else 404)
        failed = _http.begin("POST", '/items/"x"\u00e9', None, "10.0.0.2", "[::1]:9000")
        _http.finish(failed, _http.route_info("/items", handler, "POST"), None, ValueError("boom"))
        crashed = _http.begin("PUT", "/items/1", None, None, None)
        _http.finish(crashed, item, 503)
        continued = _http.begin("GET", "/items/9", "00-%s-%s-01" % ("ab" * 16, "cd" * 8), "127.0.0.1", "localhost")
        _http.finish(continued, item, 200)
        tagged = _http.begin("GET", "/items/7", None, "127.0.0.1", "localhost")
        tagged.set_attribute("tenant", "acme")
        _http.finish(tagged, item, 200)
        odd = _http.begin("BREW", "/pot", None, None, "localhost")
        _http.finish(odd, None, 418)
        renamed = _http.begin("GET", "/items/8", None, "127.0.0.1", "localhost")
        _http.finish(renamed, item, 200)
        renamed.name = "custom name"
    finally:
        _trace.set_exporter(None)
    return finished


class CompactEncodingTest(unittest.TestCase):
    def test_plain_request_spans_go_into_columns_and_say_what_span_objects_say(self):
        spans = request_spans()
        texts, requests, rows = _http.encode_spans(spans)
        full = [json.loads(text) for text in texts]
        compact = expand_requests({"requests": json.loads(requests)})
        self.assertEqual(rows, len(compact))
        # Plain spans (five 200/404s, the 503) are rows; the exception, the continued trace,
        # the extra attribute, the unknown method and the renamed span are span objects.
        self.assertEqual(sorted(s["attributes"]["url.path"] for s in compact),
                         ["/items/0", "/items/1", "/items/1", "/items/2", "/items/3", "/items/4"])
        self.assertEqual(sorted(s["name"] for s in full),
                         ["GET /items/{item_id}", "GET /items/{item_id}", "HTTP /{unmatched}", "POST /items",
                          "custom name"])
        self.assertEqual(len(full) + len(compact), len(spans))
        by_id = {s._span_id: s for s in spans}
        for span in compact:
            self.assertIsNone(span_problem(span))
            reference = json.loads(by_id[span["spanId"]].to_json())
            self.assertEqual(span["traceId"], reference["traceId"])
            self.assertEqual(span["name"], reference["name"])
            self.assertEqual(span["kind"], "server")
            self.assertEqual(span.get("status"), reference.get("status"))
            self.assertEqual(span["attributes"], reference["attributes"])
            self.assertAlmostEqual(span["startMs"], reference["startMs"], places=3)
            self.assertAlmostEqual(span["endMs"], reference["endMs"], places=3)
        crashed = [s for s in compact if s["attributes"]["http.response.status_code"] == 503]
        self.assertEqual(crashed[0]["status"], "error")
        self.assertEqual(crashed[0]["attributes"]["http.request.method"], "PUT")
        # One shape per route, method, client, host and outcome, however many requests share it.
        self.assertEqual(len(json.loads(requests)["shapes"]), 3)

    def test_a_batch_without_plain_request_spans_has_no_columns(self):
        span = _trace.Span("work", {"i": 1})
        span.end()
        texts, requests, rows = _http.encode_spans([span])
        self.assertIsNone(requests)
        self.assertEqual(rows, 0)
        self.assertEqual(json.loads(texts[0])["attributes"], {"i": 1})


if __name__ == "__main__":
    unittest.main()
