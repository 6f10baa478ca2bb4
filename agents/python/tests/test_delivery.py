"""At-least-once delivery: unacknowledged batches are kept and sent again, and what is given up
is counted, logged and reported (docs/protocol.md, "Delivery")."""

import logging
import time
import unittest

import helpers  # noqa: F401  (import paths)
from collector import FakeCollector

import routelens
from routelens import _exporter


def make_spans(count, name):
    for i in range(count):
        with routelens.span(name, {"i": i}):
            pass


def batches(collector):
    return [m for m in collector.of_type("batch", everything=True)]


class DeliveryTest(unittest.TestCase):
    def setUp(self):
        routelens.shutdown()
        self.collector = FakeCollector().start()
        self.agent = routelens.start(endpoint=self.collector.endpoint, service_name="d", metrics_interval=0,
                                     flush_interval=0.05, capture_logs=False)
        self.exporter = self.agent.exporter

    def tearDown(self):
        routelens.shutdown()
        self.collector.stop()

    def test_every_batch_carries_the_instance_and_consecutive_numbers(self):
        for n in range(3):
            make_spans(10, "numbered")
            self.assertTrue(routelens.flush(5))
        sent = batches(self.collector)
        self.assertGreaterEqual(len(sent), 3)
        self.assertEqual([m["seq"] for m in sent], list(range(1, len(sent) + 1)))
        instances = {m["instance"] for m in sent}
        self.assertEqual(len(instances), 1)
        instance = instances.pop()
        hello = self.collector.of_type("hello", everything=True)[0]
        # The resource's instance id plus a random part: unique to this process's life.
        self.assertTrue(instance.startswith(hello["resource"]["service.instance.id"] + "-"), instance)
        self.assertRegex(instance, r"-[0-9a-f]{8}$")

    def test_unacknowledged_batches_are_sent_again_on_the_next_connection(self):
        make_spans(5, "warmup")
        self.assertTrue(routelens.flush(5))
        self.collector.ack_batches = False
        make_spans(30, "unacked")
        self.assertTrue(self.collector.wait_spans(lambda s: s["name"] == "unacked" and s["attributes"]["i"] == 29))
        self.assertFalse(routelens.flush(0.3), "not acknowledged yet")
        first = [m for m in batches(self.collector) if any(s["name"] == "unacked" for s in m.get("spans", []))]
        self.assertTrue(first)
        self.collector.ack_batches = True
        self.collector.drop_connections()
        self.assertTrue(routelens.flush(10), "acknowledged after the reconnect")
        again = [m for m in batches(self.collector) if any(s["name"] == "unacked" for s in m.get("spans", []))]
        # Each unacknowledged batch went out twice, identical (same instance and seq).
        self.assertEqual(len(again), 2 * len(first))
        by_seq = {}
        for m in again:
            by_seq.setdefault(m["seq"], []).append(m)
        self.assertTrue(all(len(v) == 2 and v[0] == v[1] for v in by_seq.values()))
        self.assertEqual(self.exporter.stats["resent"], len(first))
        self.assertEqual(self.exporter.stats["given_up"]["batches"], 0)
        self.assertEqual(len(self.exporter._unacked), 0)

    def test_a_batch_that_never_gets_an_ack_is_given_up_counted_logged_and_reported(self):
        self.collector.ack_batches = False
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())

        keep = Keep()
        logging.getLogger("routelens").addHandler(keep)
        try:
            make_spans(3, "poison")
            self.assertTrue(self.collector.wait_spans(lambda s: s["name"] == "poison" and s["attributes"]["i"] == 2))
            seq = batches(self.collector)[-1]["seq"]
            # Each connection ends with the batch sent and no ack: after enough of them it goes.
            deadline = time.monotonic() + 20
            while self.exporter.stats["given_up"]["batches"] == 0 and time.monotonic() < deadline:
                connects = self.exporter.stats["connects"]
                self.collector.drop_connections()
                while self.exporter.stats["connects"] == connects and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(0.05)
        finally:
            logging.getLogger("routelens").removeHandler(keep)
        given_up = self.exporter.stats["given_up"]
        self.assertEqual(given_up["batches"], 1)
        self.assertEqual(given_up["spans"], 3)
        sends = [m for m in batches(self.collector) if m["seq"] == seq]
        self.assertEqual(len(sends), _exporter.MAX_FRUITLESS_CONNECTIONS)
        self.assertTrue(any("gave up batch %d" % seq in r for r in records), records)
        # The next batch tells the collector.
        self.collector.ack_batches = True
        make_spans(1, "after")
        self.assertTrue(routelens.flush(5))
        reports = [m["givenUp"] for m in batches(self.collector) if "givenUp" in m]
        self.assertEqual(reports, [{"batches": 1, "spans": 3, "logs": 0, "metrics": 0}])

    def test_the_window_of_unacknowledged_batches_is_bounded(self):
        self.collector.ack_batches = False
        for _ in range(_exporter.MAX_UNACKED_BATCHES + 20):
            make_spans(1, "bounded")
            routelens.flush(0.06)
        total = _exporter.MAX_UNACKED_BATCHES + 20
        self.assertEqual(len(self.exporter._unacked), _exporter.MAX_UNACKED_BATCHES)
        self.assertEqual(len(batches(self.collector)), _exporter.MAX_UNACKED_BATCHES)
        # The rest wait in the queue, not lost.
        in_window = len([s for s in self.collector.spans() if s["name"] == "bounded"])
        self.assertGreaterEqual(in_window, _exporter.MAX_UNACKED_BATCHES)
        self.assertEqual(self.exporter.pending(), total - in_window)
        self.collector.ack_batches = True
        self.collector.drop_connections()
        self.assertTrue(routelens.flush(10))
        names = [s for s in self.collector.spans() if s["name"] == "bounded"]
        # The fake collector does not drop duplicates: the window went out twice, the rest once.
        self.assertEqual(len(names), total + in_window)


class ExitTest(unittest.TestCase):
    def test_batches_unacknowledged_at_exit_are_given_up_and_counted(self):
        routelens.shutdown()
        collector = FakeCollector().start()
        collector.ack_batches = False
        agent = routelens.start(endpoint=collector.endpoint, service_name="e", metrics_interval=0,
                                flush_interval=0.05, capture_logs=False)
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())

        keep = Keep()
        logging.getLogger("routelens").addHandler(keep)
        try:
            make_spans(4, "exit")
            self.assertTrue(collector.wait_spans(lambda s: s["name"] == "exit" and s["attributes"]["i"] == 3))
            routelens.shutdown(0.3)
            thread = agent.exporter._thread
            self.assertFalse(thread is not None and thread.is_alive(), "the exit flush ended within its time")
            self.assertEqual(agent.exporter.stats["given_up"]["spans"], 4)
            self.assertTrue(any("not acknowledged before exit" in r for r in records), records)
        finally:
            logging.getLogger("routelens").removeHandler(keep)
            routelens.shutdown()
            collector.stop()


if __name__ == "__main__":
    unittest.main()
