"""The agent's transport: hello, batching, drops, reconnects and the exit flush."""

import os
import subprocess
import textwrap
import time
import unittest

import helpers
from collector import FakeCollector

import routelens
from routelens import _config


def make_spans(count, name="work"):
    for i in range(count):
        with routelens.span(name, {"i": i}):
            pass


class HelloTest(unittest.TestCase):
    def tearDown(self):
        routelens.shutdown()
        self.collector.stop()

    def test_hello_carries_the_resource(self):
        self.collector = FakeCollector().start()
        old = os.environ.get("ROUTELENS_SERVICE_NAME")
        os.environ["ROUTELENS_SERVICE_NAME"] = "orders-api"
        try:
            routelens.start(endpoint=self.collector.endpoint, metrics_interval=0)
        finally:
            if old is None:
                del os.environ["ROUTELENS_SERVICE_NAME"]
            else:
                os.environ["ROUTELENS_SERVICE_NAME"] = old
        hello = self.collector.wait_for(lambda: self.collector.of_type("hello"))
        self.assertEqual(len(hello), 1)
        resource = hello[0]["resource"]
        self.assertEqual(hello[0]["v"], 1)
        self.assertEqual(resource["service.name"], "orders-api")
        self.assertEqual(resource["process.pid"], os.getpid())
        self.assertTrue(resource["service.instance.id"].endswith("-%d" % os.getpid()))
        self.assertEqual(resource["telemetry.sdk.name"], "routelens-python")
        self.assertEqual(resource["telemetry.sdk.language"], "python")
        self.assertEqual(resource["telemetry.sdk.version"], routelens.__version__)

    def test_the_first_message_is_hello_and_batches_follow(self):
        self.collector = FakeCollector().start()
        routelens.start(endpoint=self.collector.endpoint, service_name="t", metrics_interval=0)
        make_spans(3)
        self.assertTrue(routelens.flush(5))
        kinds = [m["type"] for _, m in self.collector.messages]
        self.assertEqual(kinds[0], "hello")
        self.assertIn("batch", kinds)
        self.assertEqual(self.collector.of_type("error"), [])
        self.assertEqual(routelens._agent.State.agent.exporter.stats["accepted"]["spans"], 3)


class ConfigTest(unittest.TestCase):
    def test_endpoint_becomes_the_websocket_url(self):
        self.assertEqual(_config.websocket_url("http://127.0.0.1:4318"), "ws://127.0.0.1:4318/v1/ws")
        self.assertEqual(_config.websocket_url("http://localhost:9999/"), "ws://localhost:9999/v1/ws")
        self.assertEqual(_config.websocket_url("127.0.0.1:5000"), "ws://127.0.0.1:5000/v1/ws")
        self.assertEqual(_config.websocket_url("ws://127.0.0.1:1/v1/ws"), "ws://127.0.0.1:1/v1/ws")
        self.assertEqual(_config.websocket_url("https://[::1]:4318"), "wss://[::1]:4318/v1/ws")
        with self.assertRaises(ValueError):
            _config.websocket_url("ftp://x")

    def test_service_name_sources(self):
        self.assertEqual(_config.derive_service_name({"OTEL_SERVICE_NAME": "a"}, ["x.py"], "/p"), "a")
        self.assertEqual(_config.derive_service_name(
            {"ROUTELENS_SERVICE_NAME": "b", "OTEL_SERVICE_NAME": "a"}, ["x.py"], "/p"), "b")
        self.assertEqual(_config.derive_service_name({}, ["/srv/billing.py"], "/p"), "billing")
        self.assertEqual(_config.derive_service_name({}, ["/usr/bin/uvicorn", "shop.main:app"], "/p"), "shop")
        self.assertEqual(_config.derive_service_name(
            {"DJANGO_SETTINGS_MODULE": "blog.settings"}, ["manage.py", "runserver"], "/p"), "blog")
        # A generic module name says less than the project folder.
        self.assertEqual(_config.derive_service_name({}, ["/usr/bin/uvicorn", "main:app"], "/home/u/orders-api"),
                         "orders-api")

    def test_disabled_means_not_started(self):
        old = os.environ.get("ROUTELENS_DISABLED")
        os.environ["ROUTELENS_DISABLED"] = "true"
        try:
            self.assertIsNone(routelens.start(endpoint="http://127.0.0.1:1"))
            self.assertIsNone(routelens._agent.State.agent)
        finally:
            if old is None:
                del os.environ["ROUTELENS_DISABLED"]
            else:
                os.environ["ROUTELENS_DISABLED"] = old

    def test_log_level_parsing(self):
        self.assertEqual(_config.parse_log_level(None), 20)
        self.assertEqual(_config.parse_log_level("debug"), 10)
        self.assertEqual(_config.parse_log_level("warning"), 30)
        self.assertEqual(_config.parse_log_level("15"), 15)
        self.assertEqual(_config.parse_log_level("nonsense"), 20)
        self.assertEqual(_config.parse_log_level("off"), _config.LOG_LEVEL_OFF)


class BatchingTest(helpers.AgentTestCase):
    agent_options = {"max_batch": 400, "flush_interval": 0.2}

    def test_batches_are_bounded_in_size_and_everything_arrives(self):
        make_spans(1500, "bulk")
        self.flush()
        spans = self.collector.spans()
        bulk = [s for s in spans if s["name"] == "bulk"]
        self.assertEqual(sorted(s["attributes"]["i"] for s in bulk), list(range(1500)))
        batches = self.collector.of_type("batch")
        self.assertTrue(all(len(b.get("spans", [])) <= 400 for b in batches))
        seqs = [b["seq"] for b in batches]
        self.assertEqual(seqs, sorted(seqs))
        self.assertValidItems()

    def test_a_lone_span_is_sent_within_the_batch_interval(self):
        before = len(self.collector.spans())
        start = time.monotonic()
        make_spans(1, "lonely")
        arrived = self.collector.wait_spans(lambda s: s["name"] == "lonely", timeout=5)
        elapsed = time.monotonic() - start
        self.assertEqual(len(arrived), 1)
        self.assertGreater(len(self.collector.spans()), before)
        # 200 ms batching plus scheduling slack on a busy machine.
        self.assertLess(elapsed, 1.5)

    def test_message_size_limit_splits_batches(self):
        exporter = self.agent.exporter
        old = exporter.max_message_bytes
        exporter.max_message_bytes = 20000
        try:
            for i in range(60):
                with routelens.span("wide", {"blob": "x" * 1000, "i": i}):
                    pass
            self.flush()
        finally:
            exporter.max_message_bytes = old
        wide = [s for s in self.collector.spans() if s["name"] == "wide"]
        self.assertEqual(len(wide), 60)
        sizes = [len(t) for _, t in self.collector.raw_frames if '"wide"' in t]
        self.assertGreater(len(sizes), 2)
        self.assertTrue(all(size <= 20000 for size in sizes), sizes)

    def test_non_finite_numbers_do_not_break_the_batch(self):
        with routelens.span("odd") as s:
            s.attributes["ratio"] = float("nan")  # bypasses set_attribute's coercion on purpose
            s.set_attribute("inf", float("inf"))
        with routelens.span("even"):
            pass
        self.flush()
        odd = self.one_span(lambda s: s["name"] == "odd")
        self.assertEqual(odd["attributes"]["ratio"], "nan")
        self.assertEqual(odd["attributes"]["inf"], "inf")
        self.assertEqual(len(self.collector.wait_spans(lambda s: s["name"] == "even")), 1)
        self.assertEqual(self.collector.of_type("error"), [])


class DropTest(unittest.TestCase):
    def test_full_queue_drops_oldest_counts_and_reports(self):
        port = helpers.free_port()
        agent = routelens.start(endpoint="http://127.0.0.1:%d" % port, service_name="t",
                                max_queue=10, metrics_interval=0, flush_interval=0.05)
        collector = None
        try:
            started = time.perf_counter()
            make_spans(50, "overflow")
            per_span = (time.perf_counter() - started) / 50
            self.assertLess(per_span, 0.001, "spans must not wait for the missing collector")
            self.assertEqual(len(agent.exporter._queue), 10)
            self.assertEqual(agent.exporter.dropped_pending()["spans"], 40)
            collector = FakeCollector(port=port).start()
            self.assertTrue(routelens.flush(15), "the agent did not reconnect")
            spans = collector.wait_spans(lambda s: s["name"] == "overflow")
            # The newest ten survive; the forty oldest were dropped and reported.
            self.assertEqual(sorted(s["attributes"]["i"] for s in spans), list(range(40, 50)))
            self.assertEqual(collector.dropped()["spans"], 40)
            self.assertEqual(agent.exporter.dropped_pending()["spans"], 0)
        finally:
            routelens.shutdown()
            if collector is not None:
                collector.stop()


class ReconnectTest(unittest.TestCase):
    def test_collector_killed_and_restarted(self):
        port = helpers.free_port()
        collector = FakeCollector(port=port).start()
        agent = routelens.start(endpoint=collector.endpoint, service_name="t", metrics_interval=0,
                                flush_interval=0.05)
        try:
            make_spans(5, "before")
            self.assertTrue(routelens.flush(5))
            self.assertEqual(len(collector.wait_spans(lambda s: s["name"] == "before")), 5)
            collector.stop()

            # The app keeps working while the collector is gone.
            started = time.perf_counter()
            make_spans(20, "during")
            self.assertLess(time.perf_counter() - started, 0.5)
            time.sleep(0.3)

            collector = FakeCollector(port=port).start()
            self.assertTrue(routelens.flush(15), "the agent did not reconnect")
            make_spans(5, "after")
            self.assertTrue(routelens.flush(5))
            hellos = collector.of_type("hello")
            self.assertEqual(len(hellos), 1, "hello must be sent again on the new connection")
            self.assertEqual(collector.of_type("error"), [])
            during = collector.wait_spans(lambda s: s["name"] == "during")
            after = collector.wait_spans(lambda s: s["name"] == "after")
            self.assertEqual(len(after), 5)
            # What was queued while disconnected is delivered (or, if lost in the failed
            # send, counted as dropped): nothing disappears silently.
            self.assertEqual(len(during) + collector.dropped()["spans"], 20)
            self.assertGreaterEqual(agent.exporter.stats["connects"], 2)
        finally:
            routelens.shutdown()
            collector.stop()

    def test_collector_closing_with_1001_is_followed_by_a_reconnect(self):
        collector = FakeCollector().start()
        agent = routelens.start(endpoint=collector.endpoint, service_name="t", metrics_interval=0,
                                flush_interval=0.05)
        try:
            make_spans(1, "first")
            self.assertTrue(routelens.flush(5))
            collector.close_all(1001, "collector shutting down").result(5)
            make_spans(1, "second")
            self.assertTrue(collector.wait_for(lambda: len(collector.of_type("hello")) == 2, timeout=10))
            self.assertEqual(len(collector.wait_spans(lambda s: s["name"] == "second", timeout=10)), 1)
            self.assertGreaterEqual(agent.exporter.stats["connects"], 2)
        finally:
            routelens.shutdown()
            collector.stop()

    def test_retries_stay_at_most_a_second_apart(self):
        # A collector that comes back after any outage is found within a second (plus the
        # connect): the backoff doubles from 0.1 s but never past 1 s.
        from routelens import _exporter

        port = helpers.free_port()
        config = _config.Config(endpoint="http://127.0.0.1:%d" % port, service_name="t", metrics_interval=0)
        exporter = _exporter.Exporter(config, lambda: {"service.name": "t"})
        delays = []
        for _ in range(8):
            started = time.monotonic()
            self.assertFalse(exporter._connect(2.0))
            failed = time.monotonic()
            self.assertLess(failed - started, 0.5, "a refused connect must be cheap")
            wait = exporter._next_connect - failed
            self.assertLessEqual(wait, 1.0)
            delays.append(wait)
        # Each wait is the backoff (0.1 s doubling, at most 1 s) less the moment since the failure.
        expected = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
        for wait, backoff in zip(delays, expected):
            self.assertTrue(backoff - 0.1 < wait <= backoff, (delays, expected))
        exporter.shutdown(0)


class NoCollectorTest(unittest.TestCase):
    def test_everything_keeps_working_without_a_collector(self):
        port = helpers.free_port()
        routelens.start(endpoint="http://127.0.0.1:%d" % port, service_name="t", metrics_interval=0)
        try:
            started = time.perf_counter()
            for i in range(2000):
                with routelens.span("nobody listens", {"i": i}):
                    pass
            elapsed = time.perf_counter() - started
            self.assertLess(elapsed / 2000, 0.0005)
            started = time.monotonic()
            self.assertFalse(routelens.flush(0.3))
            self.assertLess(time.monotonic() - started, 1.0)
        finally:
            started = time.monotonic()
            routelens.shutdown(timeout=1.0)
            self.assertLess(time.monotonic() - started, 2.0)


class ForkTest(helpers.AgentTestCase):
    @unittest.skipUnless(hasattr(os, "fork"), "needs fork")
    def test_a_forked_worker_reports_as_its_own_process(self):
        with routelens.span("parent before fork") as before:
            pass
        self.flush()
        pid = os.fork()
        if pid == 0:  # the child: a pre-fork server's worker
            status = 1
            try:
                with routelens.span("child work") as child:
                    pass
                ok = routelens.flush(10) and child.trace_id != before.trace_id
                status = 0 if ok else 2
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.WEXITSTATUS(status), 0)
        hellos = [m["resource"] for m in self.collector.of_type("hello", everything=True)]
        self.assertIn(pid, [h["process.pid"] for h in hellos])
        child_span = self.one_span(lambda s: s["name"] == "child work")
        self.assertNotEqual(child_span["spanId"], before.span_id)
        # The parent keeps working on its own connection.
        with routelens.span("parent after fork"):
            pass
        self.assertEqual(len(self.spans_named("parent after fork")), 1)


EXIT_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, %(root)r)
    import routelens
    routelens.start(endpoint=%(endpoint)r, service_name="exiting", metrics_interval=0)
    with routelens.span("last words"):
        pass
    print(time.monotonic(), flush=True)
""")


class ExitFlushTest(unittest.TestCase):
    def run_script(self, endpoint):
        code = EXIT_SCRIPT % {"root": helpers.AGENT_ROOT, "endpoint": endpoint}
        started = time.monotonic()
        result = subprocess.run([helpers.PYTHON, "-c", code], capture_output=True, text=True, timeout=30)
        ended = time.monotonic()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        return ended - float(result.stdout.strip()), ended - started

    def test_spans_of_a_short_script_are_flushed_at_exit(self):
        collector = FakeCollector().start()
        try:
            exit_time, _ = self.run_script(collector.endpoint)
            spans = collector.wait_spans(lambda s: s["name"] == "last words", timeout=5)
            self.assertEqual(len(spans), 1)
            self.assertLess(exit_time, 2.0)
        finally:
            collector.stop()

    def test_exit_is_quick_without_a_collector(self):
        exit_time, _ = self.run_script("http://127.0.0.1:%d" % helpers.free_port())
        self.assertLess(exit_time, 1.6)


if __name__ == "__main__":
    unittest.main()


class NoCollectorTest(unittest.TestCase):
    def tearDown(self):
        routelens.shutdown(0.1)

    def test_requests_neither_wake_the_exporter_nor_grow_the_queue_without_a_collector(self):
        from routelens import _http

        agent = routelens.start(endpoint="http://127.0.0.1:%d" % helpers.free_port(), max_batch=10,
                                max_queue=50, metrics_interval=0)
        exporter = agent.exporter
        wakes = []
        real_set = exporter._wake.set

        def counting_set():
            wakes.append(1)
            real_set()

        exporter._wake.set = counting_set
        info = _http.route_info("/items/{id}", None, "GET")
        for i in range(200):
            _http.finish(_http.begin("GET", "/items/%d" % i, None, "127.0.0.1", "localhost"), info, 200)
        self.assertFalse(exporter.connected)
        # Far past the batch trigger (5), and not one wake-up: there is nothing to send to.
        self.assertEqual(wakes, [])
        self.assertEqual(len(exporter._rows), 50)
        self.assertEqual(exporter.dropped_pending()["spans"], 150)
        # The newest requests are the ones kept.
        self.assertEqual(exporter._rows[-1][4], "/items/199")
