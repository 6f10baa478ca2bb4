"""Log capture: the logging handler, the structlog processor and what they leave alone."""

import contextlib
import io
import logging
import logging.config
import os
import unittest

import helpers
import structlog

import routelens


def logs_with_body(collector, body):
    return collector.wait_for(lambda: [l for l in collector.logs() if l["body"] == body])


class LoggingHandlerTest(helpers.AgentTestCase):
    def setUp(self):
        super().setUp()
        self.logger = logging.getLogger("shop.orders")
        self.addCleanup(self.logger.setLevel, self.logger.level)
        self.logger.setLevel(logging.DEBUG)

    def test_threshold_and_exc_info(self):
        # INFO and above by default; DEBUG only with exc_info.
        self.logger.debug("routine debug")
        self.logger.info("routine info")
        self.logger.warning("a warning")
        try:
            {}["missing"]
        except KeyError:
            self.logger.info("handled but worth a look", exc_info=True)
            self.logger.debug("debug with exc_info", exc_info=True)
        self.flush()
        bodies = [l["body"] for l in self.collector.logs()]
        self.assertNotIn("routine debug", bodies)
        self.assertIn("routine info", bodies)
        self.assertIn("a warning", bodies)
        info = logs_with_body(self.collector, "handled but worth a look")[0]
        self.assertEqual(info["severity"], "info")
        self.assertEqual(info["exception"]["type"], "KeyError")
        self.assertEqual(info["exception"]["frames"][-1]["function"], "test_threshold_and_exc_info")
        self.assertEqual(logs_with_body(self.collector, "debug with exc_info")[0]["severity"], "debug")
        self.assertValidItems()

    def test_callsite_logger_name_and_severities(self):
        self.logger.error("order %s failed", 12)  # log-callsite
        self.logger.critical("disk on fire")
        record = logs_with_body(self.collector, "order 12 failed")[0]
        a = record["attributes"]
        self.assertEqual(record["severity"], "error")
        self.assertEqual(a["code.file.path"], __file__)
        self.assertEqual(a["code.line.number"], helpers.marker_line(__file__, "log-callsite"))
        self.assertEqual(a["code.function.name"], "test_callsite_logger_name_and_severities")
        self.assertEqual(a["logger.name"], "shop.orders")
        self.assertEqual(logs_with_body(self.collector, "disk on fire")[0]["severity"], "fatal")

    def test_records_carry_the_current_span(self):
        with routelens.span("checkout") as span:
            self.logger.warning("inside the span")
        self.logger.warning("outside any span")
        inside = logs_with_body(self.collector, "inside the span")[0]
        self.assertEqual(inside["traceId"], span.trace_id)
        self.assertEqual(inside["spanId"], span.span_id)
        outside = logs_with_body(self.collector, "outside any span")[0]
        self.assertNotIn("traceId", outside)

    def test_the_agents_own_logger_is_not_exported(self):
        quiet = logging.NullHandler()
        logging.getLogger("routelens").addHandler(quiet)
        self.addCleanup(logging.getLogger("routelens").removeHandler, quiet)
        logging.getLogger("routelens").error("agent diagnostics")
        logging.getLogger("routelens.exporter").error("more diagnostics")
        self.logger.warning("after the diagnostics")
        self.flush()
        logs_with_body(self.collector, "after the diagnostics")
        bodies = [l["body"] for l in self.collector.logs()]
        self.assertNotIn("agent diagnostics", bodies)
        self.assertNotIn("more diagnostics", bodies)

    def test_basic_config_still_configures_the_app(self):
        root = logging.getLogger()
        saved_handlers, saved_level = list(root.handlers), root.level
        stream = io.StringIO()
        try:
            logging.basicConfig(stream=stream, level=logging.INFO, format="%(levelname)s:%(message)s")
            logging.getLogger("bc").warning("shown by the app's handler")
            self.assertIn("WARNING:shown by the app's handler", stream.getvalue())
            self.assertIn(self.agent.handler, root.handlers)
            self.assertEqual(len(logs_with_body(self.collector, "shown by the app's handler")), 1)
        finally:
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)

    def test_dict_config_does_not_remove_the_handler(self):
        root = logging.getLogger()
        saved_handlers, saved_level = list(root.handlers), root.level
        stream = io.StringIO()
        try:
            logging.config.dictConfig({
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {"s": {"class": "logging.StreamHandler", "stream": stream}},
                "root": {"handlers": ["s"], "level": "WARNING"},
            })
            self.assertIn(self.agent.handler, root.handlers)
            logging.getLogger("dc").error("after dictConfig")
            self.assertIn("after dictConfig", stream.getvalue())
            self.assertEqual(len(logs_with_body(self.collector, "after dictConfig")), 1)
        finally:
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)

    def test_unconfigured_warnings_still_reach_stderr(self):
        # Without any handler Python prints warnings to stderr; the agent's handler must not change that.
        root = logging.getLogger()
        saved = list(root.handlers)
        root.handlers[:] = [self.agent.handler]
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                logging.getLogger("bare.module").warning("nobody configured logging")
                logging.getLogger("bare.module").info("too quiet to print")
        finally:
            root.handlers[:] = saved
        self.assertEqual(stderr.getvalue(), "nobody configured logging\n")
        self.assertEqual(len(logs_with_body(self.collector, "nobody configured logging")), 1)

    def test_no_stderr_output_when_the_app_has_handlers(self):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.logger.warning("handled by the app")  # "shop" has a handler (see helpers)
        self.assertEqual(stderr.getvalue(), "")


class LogLevelFromEnvironmentTest(unittest.TestCase):
    def test_routelens_log_level_debug(self):
        collector = helpers.FakeCollector().start()
        old = os.environ.get("ROUTELENS_LOG_LEVEL")
        os.environ["ROUTELENS_LOG_LEVEL"] = "DEBUG"
        logger = logging.getLogger("shop.level")
        logger.setLevel(1)
        try:
            routelens.start(endpoint=collector.endpoint, service_name="t", metrics_interval=0)
            logger.log(5, "too detailed")
            logger.debug("interesting detail")
            self.assertTrue(routelens.flush(5))
            bodies = [l["body"] for l in collector.logs()]
            self.assertIn("interesting detail", bodies)
            self.assertNotIn("too detailed", bodies)
        finally:
            if old is None:
                del os.environ["ROUTELENS_LOG_LEVEL"]
            else:
                os.environ["ROUTELENS_LOG_LEVEL"] = old
            logger.setLevel(logging.NOTSET)
            routelens.shutdown()
            collector.stop()

    def test_shutdown_removes_the_handler(self):
        collector = helpers.FakeCollector().start()
        try:
            agent = routelens.start(endpoint=collector.endpoint, service_name="t", metrics_interval=0)
            self.assertIn(agent.handler, logging.getLogger().handlers)
            routelens.shutdown()
            self.assertNotIn(agent.handler, logging.getLogger().handlers)
            self.assertFalse(hasattr(logging.basicConfig, "__routelens_original__"))
        finally:
            routelens.shutdown()
            collector.stop()


class StructlogTest(helpers.AgentTestCase):
    def setUp(self):
        super().setUp()
        self.output = io.StringIO()
        structlog.configure(
            processors=[structlog.processors.add_log_level, routelens.structlog_processor,
                        structlog.processors.KeyValueRenderer(key_order=["event"])],
            logger_factory=structlog.PrintLoggerFactory(file=self.output),
            cache_logger_on_first_use=False,
        )
        self.addCleanup(structlog.reset_defaults)
        self.log = structlog.get_logger("shop.payments")

    def test_events_are_captured_with_span_callsite_and_fields(self):
        with routelens.span("pay") as span:
            self.log.warning("payment failed", order_id=3, amount=9.5)  # structlog-callsite
        self.log.debug("payment details", order_id=4)
        record = logs_with_body(self.collector, "payment failed")[0]
        a = record["attributes"]
        self.assertEqual(record["severity"], "warn")
        self.assertEqual(record["traceId"], span.trace_id)
        self.assertEqual(record["spanId"], span.span_id)
        self.assertEqual(a["order_id"], 3)
        self.assertEqual(a["amount"], 9.5)
        self.assertEqual(a["code.file.path"], __file__)
        self.assertEqual(a["code.line.number"], helpers.marker_line(__file__, "structlog-callsite"))
        self.assertEqual(a["code.function.name"], "test_events_are_captured_with_span_callsite_and_fields")
        self.flush()
        self.assertNotIn("payment details", [l["body"] for l in self.collector.logs()])
        # The app's own output is untouched.
        self.assertIn("event='payment failed'", self.output.getvalue())
        self.assertIn("event='payment details'", self.output.getvalue())
        self.assertNotIn("trace", self.output.getvalue())

    def test_exception_method_attaches_the_exception(self):
        try:
            int("not a number")
        except ValueError:
            self.log.exception("parse failed")
        record = logs_with_body(self.collector, "parse failed")[0]
        self.assertEqual(record["severity"], "error")
        self.assertEqual(record["exception"]["type"], "ValueError")
        self.assertEqual(record["exception"]["frames"][-1]["function"], "test_exception_method_attaches_the_exception")


if __name__ == "__main__":
    unittest.main()
