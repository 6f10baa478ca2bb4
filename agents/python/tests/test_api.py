"""The public API: span(), traced, context propagation, traceparent, exceptions."""

import asyncio
import threading
import unittest

import helpers
from helpers import attrs

import routelens
from routelens import _trace


@routelens.traced
def charge_card(amount):
    with routelens.span("card.network", {"amount": amount}):
        return amount * 2


@routelens.traced("fetch rates")
async def fetch_rates(currency):
    await asyncio.sleep(0)
    with routelens.span("rates.cache", {"currency": currency}):
        await asyncio.sleep(0.01)
    return currency


def failing_helper():
    raise KeyError("missing-key")  # failing-helper-raise


@routelens.traced(name="explicit", attributes={"team": "payments"})
def uses_failing_helper():
    failing_helper()


class SpanApiTest(helpers.AgentTestCase):
    def test_nested_spans_share_the_trace_and_link_parents(self):
        with routelens.span("outer", {"db.system": "sqlite"}) as outer:
            self.assertIs(routelens.current_span(), outer)
            with routelens.span("inner") as inner:
                self.assertIs(routelens.current_span(), inner)
            self.assertIs(routelens.current_span(), outer)
        self.assertIsNone(routelens.current_span())
        got_outer = self.one_span(lambda s: s["spanId"] == outer.span_id)
        got_inner = self.one_span(lambda s: s["spanId"] == inner.span_id)
        self.assertNotIn("parentSpanId", got_outer)
        self.assertEqual(got_inner["parentSpanId"], got_outer["spanId"])
        self.assertEqual(got_inner["traceId"], got_outer["traceId"])
        self.assertEqual(attrs(got_outer)["db.system"], "sqlite")
        self.assertEqual(got_outer["kind"], "internal")
        self.assertLessEqual(got_outer["startMs"], got_inner["startMs"])
        self.assertGreaterEqual(got_outer["endMs"], got_inner["endMs"])
        self.assertValidItems()

    def test_traced_sync_function_records_its_code_location(self):
        self.assertEqual(charge_card(21), 42)
        span = self.one_span(lambda s: s["name"] == "charge_card")
        a = attrs(span)
        self.assertEqual(a["code.line.number"], helpers.def_line(charge_card))
        self.assertEqual(a["code.file.path"], __file__)
        self.assertEqual(a["code.function.name"], "charge_card")
        child = self.one_span(lambda s: s["name"] == "card.network")
        self.assertEqual(child["parentSpanId"], span["spanId"])
        self.assertEqual(attrs(child)["amount"], 21)

    def test_async_tasks_get_their_own_children(self):
        async def request(currency):
            with routelens.span("request", {"currency": currency}):
                return await fetch_rates(currency)

        async def main():
            return await asyncio.gather(*(request(c) for c in ("EUR", "USD", "JPY")))

        self.assertEqual(asyncio.run(main()), ["EUR", "USD", "JPY"])
        self.flush()
        spans = self.collector.spans()
        for currency in ("EUR", "USD", "JPY"):
            parent = [s for s in spans if s["name"] == "request" and attrs(s)["currency"] == currency][0]
            traced = [s for s in spans if s["name"] == "fetch rates" and s.get("parentSpanId") == parent["spanId"]]
            self.assertEqual(len(traced), 1, currency)
            leaf = [s for s in spans if s["name"] == "rates.cache" and s.get("parentSpanId") == traced[0]["spanId"]]
            self.assertEqual(len(leaf), 1)
            self.assertEqual(attrs(leaf[0])["currency"], currency)
            self.assertEqual(leaf[0]["traceId"], parent["traceId"])
        traces = {s["traceId"] for s in spans if s["name"] == "request"}
        self.assertEqual(len(traces), 3)

    def test_threads_do_not_inherit_the_current_span(self):
        seen = []
        with routelens.span("main-thread"):
            thread = threading.Thread(target=lambda: seen.append(routelens.current_span()))
            thread.start()
            thread.join()
        self.assertEqual(seen, [None])

    def test_exception_is_recorded_and_propagates_unchanged(self):
        try:
            uses_failing_helper()
        except KeyError as exc:
            caught = exc
        else:
            self.fail("the exception was swallowed")
        span = self.one_span(lambda s: s["name"] == "explicit")
        self.assertEqual(span["status"], "error")
        self.assertEqual(attrs(span)["team"], "payments")
        exc = span["exception"]
        self.assertEqual(exc["type"], "KeyError")
        self.assertEqual(exc["message"], "'missing-key'")
        innermost = exc["frames"][-1]
        self.assertEqual(innermost["function"], "failing_helper")
        self.assertEqual(innermost["file"], __file__)
        self.assertEqual(innermost["line"], helpers.marker_line(__file__, "failing-helper-raise"))
        self.assertEqual(exc["frames"][-2]["function"], "uses_failing_helper")
        self.assertIn("KeyError: 'missing-key'", exc["stacktrace"])
        self.assertFalse(any("routelens" in f["file"] and "/tests/" not in f["file"] for f in exc["frames"]))
        events = [e for e in span["events"] if e["name"] == "exception"]
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["attributes"]["exception.type"], "KeyError")
        # The caller got the very exception the helper raised, with its traceback intact.
        tb = caught.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        self.assertEqual(tb.tb_frame.f_code.co_name, "failing_helper")

    def test_base_exceptions_are_not_errors(self):
        with self.assertRaises(SystemExit):
            with routelens.span("exiting"):
                raise SystemExit(0)
        span = self.one_span(lambda s: s["name"] == "exiting")
        self.assertNotIn("exception", span)
        self.assertNotEqual(span.get("status"), "error")

    def test_attribute_values_are_coerced_to_the_protocol(self):
        with routelens.span("coerce", {"obj": object(), "none": None, "big": 2 ** 70, "list": [1, "a", (2,)],
                                       "flag": True}) as s:
            s.set_attribute("float", 1.5)
            s.add_event("checkpoint", {"n": 1})
        span = self.one_span(lambda x: x["name"] == "coerce")
        a = attrs(span)
        self.assertTrue(a["obj"].startswith("<object object"))
        self.assertEqual(a["none"], "")
        self.assertEqual(a["big"], str(2 ** 70))
        self.assertEqual(a["list"], [1, "a", "[2]"])
        self.assertIs(a["flag"], True)
        self.assertEqual(a["float"], 1.5)
        self.assertEqual(span["events"][0]["name"], "checkpoint")
        self.assertValidItems()


class TraceparentTest(unittest.TestCase):
    def test_valid_headers(self):
        self.assertEqual(_trace.parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                         ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"))
        # Future versions may append fields.
        self.assertEqual(_trace.parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-x"),
                         ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"))

    def test_invalid_headers(self):
        for header in (
            "",
            "garbage",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  # uppercase
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero span id
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # forbidden version
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",  # v00 has 4 fields
            "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",  # short
        ):
            self.assertIsNone(_trace.parse_traceparent(header), header)

    def test_ids_are_lowercase_hex_and_not_zero(self):
        ids = {_trace.new_span_id() for _ in range(1000)}
        self.assertEqual(len(ids), 1000)
        for value in list(ids)[:50]:
            self.assertRegex(value, r"^[0-9a-f]{16}$")
        self.assertRegex(_trace.new_trace_id(), r"^[0-9a-f]{32}$")


class WithoutAgentTest(unittest.TestCase):
    def test_api_works_when_the_agent_is_not_running(self):
        routelens.shutdown()
        with routelens.span("quiet") as s:
            self.assertIs(routelens.current_span(), s)
        self.assertEqual(charge_card(1), 2)
        self.assertIsNotNone(s.end_ms)
        self.assertFalse(routelens.flush(0.1))


if __name__ == "__main__":
    unittest.main()
