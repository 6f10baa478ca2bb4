"""Structured fields, the per-second bound, and structlog instrumented with no code change."""

import io
import logging
import unittest

import helpers
import structlog

import routelens
from routelens import _logs


def logs_with_body(collector, body, timeout=5.0):
    return collector.wait_for(lambda: [l for l in collector.logs() if l["body"] == body], timeout)


class ExtraFieldsTest(helpers.AgentTestCase):
    def setUp(self):
        super().setUp()
        self.logger = logging.getLogger("shop.accounts")
        self.addCleanup(self.logger.setLevel, self.logger.level)
        self.logger.setLevel(logging.DEBUG)

    def test_extra_fields_become_attributes(self):
        class Plan:
            def __str__(self):
                return "plan<pro>"

        self.logger.info("user logged in", extra={"user_id": 42, "plan": Plan(), "ok": True, "ratio": 0.5,
                                                  "none": None, "huge": 10 ** 30})
        a = logs_with_body(self.collector, "user logged in")[0]["attributes"]
        self.assertEqual(a["user_id"], 42)
        self.assertEqual(a["plan"], "plan<pro>")
        self.assertIs(a["ok"], True)
        self.assertEqual(a["ratio"], 0.5)
        self.assertEqual(a["none"], "None")
        self.assertEqual(a["huge"], str(10 ** 30))
        self.assertEqual(a["logger.name"], "shop.accounts")
        self.assertNotIn("msg", a)
        self.assertNotIn("args", a)
        self.assertValidItems()

    def test_fields_are_bounded(self):
        fields = {"f%03d" % i: i for i in range(200)}
        fields["long"] = "x" * 100000
        self.logger.warning("many fields", extra=fields)
        a = logs_with_body(self.collector, "many fields")[0]["attributes"]
        self.assertLessEqual(len(a), _logs.MAX_FIELDS)
        self.assertEqual(a["code.function.name"], "test_fields_are_bounded")  # the agent's own come first
        self.assertEqual(a["f000"], 0)

    def test_a_long_value_is_cut(self):
        self.logger.warning("long value", extra={"blob": "y" * 100000, "k" * 1000: 1})
        a = logs_with_body(self.collector, "long value")[0]["attributes"]
        self.assertEqual(len(a["blob"]), _logs.MAX_FIELD_VALUE)
        self.assertTrue(a["blob"].endswith("..."))
        self.assertEqual(max(len(k) for k in a), _logs.MAX_FIELD_NAME)

    def test_an_extra_cannot_overwrite_the_callsite(self):
        self.logger.warning("spoof", extra={"thread.name": "spoofed"})
        a = logs_with_body(self.collector, "spoof")[0]["attributes"]
        self.assertNotEqual(a["thread.name"], "spoofed")


class RateBoundTest(helpers.AgentTestCase):
    agent_options = {"log_rate": 5}

    def test_records_over_the_bound_are_dropped_and_counted(self):
        logger = logging.getLogger("shop.chatty")
        logger.setLevel(logging.INFO)
        self.addCleanup(logger.setLevel, logging.NOTSET)
        before = self.collector.dropped()["logs"]
        gate = self.agent.log_gate
        # One second's worth: wait for a fresh second so all 50 records fall in it.
        import time
        start = int(time.monotonic())
        while int(time.monotonic()) == start:
            time.sleep(0.01)
        for i in range(50):
            logger.info("chatty %d", i)
        self.flush()
        sent = [l for l in self.collector.logs() if l["body"].startswith("chatty ")]
        self.assertGreaterEqual(len(sent), 5)
        self.assertLessEqual(len(sent), 10)  # at most two seconds' worth if the loop crossed one
        self.assertEqual([l["body"] for l in sent], ["chatty %d" % i for i in range(len(sent))])
        dropped = self.collector.wait_for(lambda: self.collector.dropped()["logs"] - before >= 50 - len(sent))
        self.assertTrue(dropped)
        self.assertEqual(self.collector.dropped()["logs"] - before, 50 - len(sent))
        self.assertGreaterEqual(gate.dropped, 40)

    def test_the_bound_applies_to_structlog_too(self):
        out = io.StringIO()
        structlog.configure(processors=[structlog.processors.KeyValueRenderer()],
                            logger_factory=structlog.PrintLoggerFactory(file=out), cache_logger_on_first_use=False)
        self.addCleanup(structlog.reset_defaults)
        log = structlog.get_logger()
        import time
        start = int(time.monotonic())
        while int(time.monotonic()) == start:
            time.sleep(0.01)
        for i in range(30):
            log.info("burst", i=i)
        self.flush()
        sent = [l for l in self.collector.logs() if l["body"] == "burst"]
        self.assertGreaterEqual(len(sent), 5)
        self.assertLessEqual(len(sent), 10)
        self.assertEqual(out.getvalue().count("event='burst'"), 30)  # the app's output keeps all


def _chain():
    return structlog.get_config()["processors"]


class StructlogConfiguredAfterStartTest(helpers.AgentTestCase):
    def setUp(self):
        super().setUp()
        self.addCleanup(structlog.reset_defaults)

    def test_configure_gets_the_processor_before_the_renderer(self):
        out = io.StringIO()
        renderer = structlog.processors.KeyValueRenderer(key_order=["event", "user_id"])
        procs = [structlog.processors.add_log_level, renderer]
        structlog.configure(processors=procs, logger_factory=structlog.PrintLoggerFactory(file=out),
                            cache_logger_on_first_use=False)
        self.assertEqual(procs, [structlog.processors.add_log_level, renderer])  # the app's list untouched
        self.assertEqual(_chain(), [structlog.processors.add_log_level, routelens.structlog_processor, renderer])
        with routelens.span("login") as span:
            structlog.get_logger("shop.auth").info("user logged in", user_id=42)  # auto-callsite
        record = logs_with_body(self.collector, "user logged in")[0]
        self.assertEqual(record["severity"], "info")
        self.assertEqual(record["traceId"], span.trace_id)
        self.assertEqual(record["attributes"]["user_id"], 42)
        self.assertEqual(record["attributes"]["code.line.number"], helpers.marker_line(__file__, "auto-callsite"))
        self.assertEqual(out.getvalue(), "event='user logged in' user_id=42 level='info'\n")

    def test_the_default_chain_after_reset_is_instrumented(self):
        structlog.reset_defaults()
        chain = _chain()
        self.assertIs(chain[-2], routelens.structlog_processor)
        self.assertIsInstance(chain[-1], structlog.dev.ConsoleRenderer)

    def test_a_chain_that_already_has_it_is_kept(self):
        renderer = structlog.processors.JSONRenderer()
        structlog.configure(processors=[routelens.structlog_processor, renderer])
        self.assertEqual(_chain(), [routelens.structlog_processor, renderer])

    def test_a_chain_handing_events_to_logging_is_left_alone_and_logging_sends_them_once(self):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(structlog.stdlib.ProcessorFormatter(processor=structlog.processors.KeyValueRenderer()))
        app_logger = logging.getLogger("shop.stdlib")
        app_logger.addHandler(handler)
        app_logger.setLevel(logging.INFO)
        self.addCleanup(app_logger.removeHandler, handler)
        self.addCleanup(app_logger.setLevel, logging.NOTSET)
        procs = [structlog.stdlib.add_log_level, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
        structlog.configure(processors=procs, logger_factory=structlog.stdlib.LoggerFactory(),
                            wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=False)
        self.assertEqual(_chain(), procs)
        structlog.get_logger("shop.stdlib").info("order placed", order_id=7)  # stdlib-callsite
        self.flush()
        records = logs_with_body(self.collector, "order placed")
        self.assertEqual(len(records), 1)
        a = records[0]["attributes"]
        self.assertEqual(a["order_id"], 7)
        self.assertEqual(a["logger.name"], "shop.stdlib")
        self.assertEqual(a["code.line.number"], helpers.marker_line(__file__, "stdlib-callsite"))
        self.assertIn("event='order placed'", stream.getvalue())

    def test_shutdown_takes_the_processor_out(self):
        structlog.configure(processors=[structlog.processors.JSONRenderer()])
        self.assertIn(routelens.structlog_processor, _chain())
        routelens.shutdown()
        try:
            self.assertNotIn(routelens.structlog_processor, _chain())
            self.assertFalse(hasattr(structlog.configure, "__routelens_original__"))
        finally:
            type(self).agent = routelens.start(endpoint=self.collector.endpoint, service_name="tests",
                                               metrics_interval=0, flush_interval=0.05)


class StructlogConfiguredBeforeStartTest(unittest.TestCase):
    def test_the_configured_chain_gains_the_processor_in_place(self):
        routelens.shutdown()
        collector = helpers.FakeCollector().start()
        self.addCleanup(collector.stop)
        self.addCleanup(structlog.reset_defaults)
        out = io.StringIO()
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
        procs = [structlog.processors.add_log_level, renderer]
        structlog.configure(processors=procs, logger_factory=structlog.PrintLoggerFactory(file=out),
                            cache_logger_on_first_use=True)
        bound_early = structlog.get_logger().bind(request="r1")
        bound_early.info("before the agent")
        routelens.start(endpoint=collector.endpoint, service_name="t", metrics_interval=0, flush_interval=0.05)
        self.addCleanup(routelens.shutdown)
        self.assertIs(_chain(), procs)
        self.assertIs(procs[-2], routelens.structlog_processor)
        bound_early.info("user logged in", user_id=42)
        self.assertTrue(routelens.flush(5))
        record = logs_with_body(collector, "user logged in")[0]
        self.assertEqual(record["attributes"]["user_id"], 42)
        self.assertEqual(record["attributes"]["request"], "r1")
        self.assertEqual(out.getvalue(),
                         '{"event": "before the agent", "level": "info", "request": "r1"}\n'
                         '{"event": "user logged in", "level": "info", "request": "r1", "user_id": 42}\n')
        routelens.shutdown()
        self.assertEqual(procs, [structlog.processors.add_log_level, renderer])


if __name__ == "__main__":
    unittest.main()
