"""Process metrics: the sampled values and their delivery each interval."""

import gc
import os
import resource
import tempfile
import threading
import time
import unittest

import helpers

from routelens import _metrics


def by_name(points):
    out = {}
    for p in points:
        out.setdefault(p["name"], []).append(p)
    return out


class SamplerTest(unittest.TestCase):
    def test_values_reflect_the_process(self):
        sampler = _metrics.ProcessMetrics()
        handle = tempfile.TemporaryFile()
        stop = threading.Event()
        workers = [threading.Thread(target=stop.wait) for _ in range(5)]
        for worker in workers:
            worker.start()
        try:
            deadline = time.process_time() + 0.3
            while time.process_time() < deadline:  # burn CPU so utilisation is clearly non-zero
                pass
            gc.collect()
            points = by_name(sampler.sample())
            fds_with_file = points["process.open_file_descriptor.count"][0]["value"]
            threads_with_worker = points["process.thread.count"][0]["value"]
            # listdir's own descriptor shows up in the listing it returns.
            reference_fds = len(os.listdir("/proc/self/fd")) - 1
            reference_threads = threading.active_count() - 1
        finally:
            stop.set()
            for worker in workers:
                worker.join()
            handle.close()
        after = by_name(sampler.sample())

        rss = points["process.memory.usage"][0]
        self.assertEqual(rss["kind"], "gauge")
        self.assertEqual(rss["unit"], "By")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.assertGreater(rss["value"], 5 * 1024 * 1024)
        self.assertLessEqual(rss["value"], peak * 1.05)

        cpu = points["process.cpu.utilization"][0]
        self.assertEqual(cpu["unit"], "1")
        # 0.3 s of CPU burnt; on a loaded machine the wall time around it stretches, so only
        # "clearly non-zero" is asserted.
        self.assertGreater(cpu["value"], 0.05)
        self.assertLess(cpu["value"], os.cpu_count() + 0.5)
        self.assertGreater(points["process.cpu.time"][0]["value"], 0.25)

        # Threads left by earlier tests may open or close sockets meanwhile: allow them a little.
        self.assertAlmostEqual(fds_with_file - 1, after["process.open_file_descriptor.count"][0]["value"], delta=2)
        # Other tests' threads may come and go meanwhile; five of our own make the difference plain.
        self.assertGreaterEqual(threads_with_worker - after["process.thread.count"][0]["value"], 4)
        self.assertAlmostEqual(fds_with_file, reference_fds, delta=2)
        self.assertGreaterEqual(threads_with_worker, reference_threads)

        collections = {p["attributes"]["generation"]: p for p in points["python.gc.collections"]}
        self.assertEqual(set(collections), {0, 1, 2})
        self.assertGreaterEqual(collections[2]["value"], 1)
        self.assertEqual(collections[2]["kind"], "sum")
        self.assertTrue(collections[2]["monotonic"])
        # Deltas: nothing collected since the previous sample means zero, not a running total.
        self.assertEqual({p["attributes"]["generation"]: p["value"] for p in after["python.gc.collections"]}[2], 0)


class MetricsDeliveryTest(helpers.AgentTestCase):
    agent_options = {"metrics_interval": 0.2}

    def test_metrics_arrive_every_interval(self):
        self.collector.wait_for(lambda: len([m for m in self.collector.metrics()
                                             if m["name"] == "process.memory.usage"]) >= 3, timeout=10)
        memory = [m for m in self.collector.metrics() if m["name"] == "process.memory.usage"]
        self.assertGreaterEqual(len(memory), 3)
        times = [m["timeMs"] for m in memory[:3]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(all(100 < gap < 2000 for gap in gaps), gaps)
        names = {m["name"] for m in self.collector.metrics()}
        self.assertTrue({"process.memory.usage", "process.cpu.utilization", "process.thread.count",
                         "process.open_file_descriptor.count", "python.gc.collections"} <= names)
        self.assertValidItems()


if __name__ == "__main__":
    unittest.main()
