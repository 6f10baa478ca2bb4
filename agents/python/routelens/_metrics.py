"""Process metrics sampled by the exporter thread once per interval."""

import gc
import os
import threading
import time

try:
    import resource as _resource
except ImportError:  # not on Windows
    _resource = None

try:
    _PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):
    _PAGE_SIZE = 4096


def rss_bytes():
    """Resident set size now; where /proc is missing, the peak (the best the OS offers)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        pass
    if _resource is not None:
        peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
        # Linux reports kilobytes, macOS bytes.
        import sys

        return peak if sys.platform == "darwin" else peak * 1024
    return None


def thread_count():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def open_fd_count():
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            # listdir holds one descriptor of its own while it reads the folder.
            return max(0, len(os.listdir(folder)) - 1)
        except OSError:
            continue
    return None


class ProcessMetrics:
    def __init__(self):
        self.reset()

    def reset(self):
        """Starts the deltas afresh (after fork the child's counters begin where the parent's were)."""
        self._last_wall = time.monotonic()
        self._last_cpu = time.process_time()
        self._last_gc = [g.get("collections", 0) for g in gc.get_stats()]

    def sample(self):
        now_ms = time.time() * 1000.0
        points = []
        wall = time.monotonic()
        cpu = time.process_time()
        elapsed = wall - self._last_wall
        cpu_delta = max(0.0, cpu - self._last_cpu)
        self._last_wall, self._last_cpu = wall, cpu

        rss = rss_bytes()
        if rss is not None:
            points.append({"name": "process.memory.usage", "kind": "gauge", "value": rss,
                           "unit": "By", "timeMs": now_ms})
        if elapsed > 0:
            points.append({"name": "process.cpu.utilization", "kind": "gauge",
                           "value": cpu_delta / elapsed, "unit": "1", "timeMs": now_ms})
        points.append({"name": "process.cpu.time", "kind": "sum", "value": cpu_delta, "unit": "s",
                       "monotonic": True, "timeMs": now_ms})
        points.append({"name": "process.thread.count", "kind": "gauge", "value": thread_count(),
                       "unit": "{thread}", "timeMs": now_ms})
        fds = open_fd_count()
        if fds is not None:
            points.append({"name": "process.open_file_descriptor.count", "kind": "gauge", "value": fds,
                           "unit": "{file_descriptor}", "timeMs": now_ms})
        counts = [g.get("collections", 0) for g in gc.get_stats()]
        for generation, count in enumerate(counts):
            before = self._last_gc[generation] if generation < len(self._last_gc) else 0
            points.append({"name": "python.gc.collections", "kind": "sum", "value": max(0, count - before),
                           "unit": "{collection}", "monotonic": True, "timeMs": now_ms,
                           "attributes": {"generation": generation}})
        self._last_gc = counts
        return points
