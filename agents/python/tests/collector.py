"""A stand-in for the Routelens collector's native WebSocket endpoint (docs/protocol.md).

It runs a real `websockets` server on its own event loop thread, answers hello
with welcome and batches with acks, validates every item against the protocol's
item formats and records everything for the tests to inspect.
"""

import asyncio
import json
import math
import re
import threading
import time

import websockets

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
_SEVERITIES = {"trace", "debug", "info", "warn", "error", "fatal"}
_KINDS = {"server", "client", "internal", "producer", "consumer"}


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _attributes_ok(attrs):
    if attrs is None:
        return True
    if not isinstance(attrs, dict):
        return False
    for key, value in attrs.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not (isinstance(v, (str, bool)) or _number(v)):
                return False
    return True


def _exception_ok(exc):
    if not isinstance(exc, dict) or not isinstance(exc.get("type"), str):
        return False
    frames = exc.get("frames", [])
    return isinstance(frames, list) and all(
        isinstance(f.get("file"), str) and isinstance(f.get("line"), int) and isinstance(f.get("function"), str)
        for f in frames
    )


def span_problem(span):
    if not isinstance(span.get("traceId"), str) or not _TRACE_ID.match(span["traceId"]) or set(span["traceId"]) == {"0"}:
        return "traceId"
    if not isinstance(span.get("spanId"), str) or not _SPAN_ID.match(span["spanId"]) or set(span["spanId"]) == {"0"}:
        return "spanId"
    if "parentSpanId" in span and not _SPAN_ID.match(str(span["parentSpanId"])):
        return "parentSpanId"
    if not isinstance(span.get("name"), str):
        return "name"
    if span.get("kind", "internal") not in _KINDS:
        return "kind"
    if not _number(span.get("startMs")) or not _number(span.get("endMs")) or span["endMs"] < span["startMs"]:
        return "times"
    if span.get("status", "unset") not in ("unset", "ok", "error"):
        return "status"
    if not _attributes_ok(span.get("attributes")):
        return "attributes"
    for event in span.get("events", []):
        if not isinstance(event.get("name"), str) or not _number(event.get("timeMs")) or not _attributes_ok(event.get("attributes")):
            return "events"
    if "exception" in span and not _exception_ok(span["exception"]):
        return "exception"
    return None


SEQ_MIX = 2654435761


def expand_requests(message):
    """The spans of a batch's compact `requests` columns (docs/protocol.md), as span objects.

    Raises ValueError when the columns do not fit together.
    """
    cols = message.get("requests")
    if cols is None:
        return []
    if not isinstance(cols, dict):
        raise ValueError("requests is not an object")
    ids, shapes, t0 = cols.get("ids"), cols.get("shapes"), cols.get("t0")
    seqs, rows, start, dur, path = cols.get("seq"), cols.get("shape"), cols.get("start"), cols.get("dur"), cols.get("path")
    if "seq0" in cols and isinstance(cols["seq0"], int) and isinstance(rows, list):
        if seqs is not None:
            raise ValueError("requests has both seq and seq0")
        seqs = list(range(cols["seq0"], cols["seq0"] + len(rows)))
    if not isinstance(shapes, dict) or not all(isinstance(c, list) for c in (seqs, rows, start, dur, path)) \
            or not isinstance(t0, int):
        raise ValueError("requests columns have the wrong types")
    if not isinstance(ids, dict) or not re.fullmatch(r"[0-9a-f]{24}", str(ids.get("trace"))) \
            or not re.fullmatch(r"[0-9a-f]{8}", str(ids.get("span"))):
        raise ValueError("requests ids")
    n = len(rows)
    if not all(len(c) == n for c in (seqs, start, dur, path)):
        raise ValueError("requests columns differ in length")
    spans = []
    for i in range(n):
        shape = shapes[str(rows[i])]
        if not isinstance(start[i], int) or not isinstance(dur[i], int) or dur[i] < 0:
            raise ValueError("requests[%d]: times" % i)
        if not isinstance(seqs[i], int) or seqs[i] < 0:
            raise ValueError("requests[%d]: seq" % i)
        head = "%08x" % ((seqs[i] * SEQ_MIX) & 0xFFFFFFFF)
        span = {
            "traceId": head + ids["trace"],
            "spanId": head + ids["span"],
            "name": shape.get("name"),
            "kind": shape.get("kind", "internal"),
            "startMs": (t0 + start[i]) / 1000.0,
            "endMs": (t0 + start[i] + dur[i]) / 1000.0,
            "attributes": dict(shape.get("attributes") or {}, **{"url.path": path[i]}),
        }
        if "status" in shape:
            span["status"] = shape["status"]
        spans.append(span)
    return spans


def expand_calls(message):
    """The spans of a batch's compact `calls` columns (docs/protocol.md), as span objects.

    Written from the protocol's text, apart from the agent's own expansion (_otlp.expand_calls).
    Raises ValueError when the columns do not fit together.
    """
    cols = message.get("calls")
    if cols is None:
        return []
    if not isinstance(cols, dict):
        raise ValueError("calls is not an object")
    ids, shapes, t0 = cols.get("ids"), cols.get("shapes"), cols.get("t0")
    parents, ns, rows, start, dur = cols.get("parent"), cols.get("n"), cols.get("shape"), cols.get("start"), cols.get("dur")
    values = cols.get("value")
    traces = cols.get("traces", {})
    if not isinstance(shapes, dict) or not all(isinstance(c, list) for c in (parents, ns, rows, start, dur)) \
            or not isinstance(t0, int) or not isinstance(traces, dict) or not (values is None or isinstance(values, list)):
        raise ValueError("calls columns have the wrong types")
    if not isinstance(ids, dict) or not re.fullmatch(r"[0-9a-f]{24}", str(ids.get("trace"))) \
            or not re.fullmatch(r"[0-9a-f]{8}", str(ids.get("span"))):
        raise ValueError("calls ids")
    n = len(rows)
    if not all(len(c) == n for c in (parents, ns, start, dur) + ((values,) if values is not None else ())):
        raise ValueError("calls columns differ in length")
    own = int(ids["span"], 16)
    spans = []
    for i in range(n):
        shape = shapes[str(rows[i])]
        if not isinstance(start[i], int) or not isinstance(dur[i], int) or dur[i] < 0:
            raise ValueError("calls[%d]: times" % i)
        if not isinstance(parents[i], int) or parents[i] < 0 or not isinstance(ns[i], int) or not 0 < ns[i] < 2 ** 32:
            raise ValueError("calls[%d]: parent or n" % i)
        head = "%08x" % ((parents[i] * SEQ_MIX) & 0xFFFFFFFF)
        attributes = dict(shape.get("attributes") or {})
        if values is not None and values[i] is not None:
            attributes[shape["value"]] = values[i]
        spans.append({
            "traceId": traces.get(str(parents[i]), head + ids["trace"]),
            "spanId": head + "%08x" % (own ^ ((ns[i] * SEQ_MIX) & 0xFFFFFFFF)),
            "parentSpanId": head + ids["span"],
            "name": shape.get("name"),
            "kind": shape.get("kind", "internal"),
            "startMs": (t0 + start[i]) / 1000.0,
            "endMs": (t0 + start[i] + dur[i]) / 1000.0,
            "attributes": attributes,
        })
    return spans


def log_problem(record):
    if not _number(record.get("timeMs")):
        return "timeMs"
    if record.get("severity") not in _SEVERITIES:
        return "severity"
    if not isinstance(record.get("body"), str):
        return "body"
    if not _attributes_ok(record.get("attributes")):
        return "attributes"
    if "traceId" in record and not _TRACE_ID.match(record["traceId"]):
        return "traceId"
    if "spanId" in record and not _SPAN_ID.match(record["spanId"]):
        return "spanId"
    if "exception" in record and not _exception_ok(record["exception"]):
        return "exception"
    return None


def metric_problem(point):
    if not isinstance(point.get("name"), str):
        return "name"
    if point.get("kind") not in ("gauge", "sum"):
        return "kind"
    if not _number(point.get("value")) or not _number(point.get("timeMs")):
        return "value"
    if not _attributes_ok(point.get("attributes")):
        return "attributes"
    return None


class FakeCollector:
    def __init__(self, port=0, send_welcome=True, ping_interval=None, max_items=10000):
        self.port = port
        self.send_welcome = send_welcome
        self.ping_interval = ping_interval
        self.max_items = max_items
        # False: batches are received but never acknowledged (delivery tests).
        self.ack_batches = True
        self.messages = []  # (connection number, decoded message)
        self.raw_frames = []  # (connection number, text)
        self.binary_frames = 0
        self.request_headers = []
        self.invalid = []
        self.connections = 0
        self.closed_connections = 0
        self._active = set()
        self._lock = threading.Lock()
        self._loop = None
        self._server = None
        self._thread = None
        self._ready = threading.Event()
        self._mark = 0

    # -- lifecycle ---------------------------------------------------------------

    def start(self):
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("fake collector did not start")
        return self

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

        async def serve():
            self._server = await websockets.serve(
                self._handler, "127.0.0.1", self.port, max_size=None,
                ping_interval=self.ping_interval, ping_timeout=self.ping_interval,
            )
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()
        self._loop.close()

    def stop(self):
        """Shuts the server down, dropping open connections without a closing handshake."""
        if self._loop is None:
            return

        async def shutdown():
            for ws in list(self._active):
                ws.transport.abort()
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    def drop_connections(self):
        async def drop():
            for ws in list(self._active):
                ws.transport.abort()

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(5)

    def ping_all(self, timeout=3.0):
        """Schedules a ping on every connection; the future resolves to True once all pongs came back."""

        async def ping():
            waiters = [await ws.ping(b"routelens-test") for ws in list(self._active)]
            await asyncio.wait_for(asyncio.gather(*waiters), timeout)
            return bool(waiters)

        return asyncio.run_coroutine_threadsafe(ping(), self._loop)

    def close_all(self, code=1000, reason=""):
        """Starts a closing handshake on every connection (does not wait for it)."""

        async def close():
            for ws in list(self._active):
                await ws.close(code, reason)

        return asyncio.run_coroutine_threadsafe(close(), self._loop)

    def send_to_all(self, text_or_fragments):
        async def send():
            for ws in list(self._active):
                await ws.send(text_or_fragments)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def url(self):
        return "ws://127.0.0.1:%d/v1/ws" % self.port

    # -- the protocol ---------------------------------------------------------------

    async def _handler(self, ws, path=None):
        with self._lock:
            self.connections += 1
            number = self.connections
            self.request_headers.append((ws.path, {k.lower(): v for k, v in ws.request_headers.raw_items()}))
        self._active.add(ws)
        hello = False
        try:
            async for frame in ws:
                if isinstance(frame, bytes):
                    self.binary_frames += 1
                    await ws.close(1003)
                    return
                with self._lock:
                    self.raw_frames.append((number, frame))
                try:
                    message = json.loads(frame)
                except ValueError as exc:
                    await ws.send(json.dumps({"v": 1, "type": "error", "code": "bad_json", "message": str(exc)}))
                    continue
                with self._lock:
                    self.messages.append((number, message))
                kind = message.get("type")
                if kind == "hello":
                    hello = True
                    if self.send_welcome:
                        await ws.send(json.dumps({"v": 1, "type": "welcome", "server": "fake/0",
                                                  "maxMessageBytes": 4194304, "maxBatchItems": self.max_items}))
                elif kind == "batch":
                    if not hello:
                        await ws.send(json.dumps({"v": 1, "type": "error", "code": "no_hello", "message": "no hello"}))
                        continue
                    if self.ack_batches:
                        await ws.send(json.dumps(self._ack(message)))
                elif kind == "announce":
                    # The collector reads the announcer's service from its hello; URLs are strings.
                    urls = message.get("prometheus")
                    if not hello or message.get("v") != 1 or not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
                        with self._lock:
                            self.invalid.append(("announce", "shape" if hello else "before hello", message))
        except websockets.ConnectionClosed:
            pass
        finally:
            self._active.discard(ws)
            with self._lock:
                self.closed_connections += 1

    def _ack(self, message):
        accepted = {"spans": 0, "logs": 0, "metrics": 0}
        rejected = {"spans": 0, "logs": 0, "metrics": 0}
        errors = []
        try:
            requests = expand_requests(message)
        except ValueError as exc:
            requests = []
            with self._lock:
                self.invalid.append(("requests", str(exc), message.get("requests")))
        try:
            requests = requests + expand_calls(message)
        except (ValueError, KeyError) as exc:
            with self._lock:
                self.invalid.append(("calls", str(exc), message.get("calls")))
        for kind, check in (("spans", span_problem), ("logs", log_problem), ("metrics", metric_problem)):
            for i, item in enumerate(message.get(kind, []) + (requests if kind == "spans" else [])):
                problem = check(item)
                if problem:
                    rejected[kind] += 1
                    errors.append("%s[%d]: %s" % (kind, i, problem))
                    with self._lock:
                        self.invalid.append((kind, problem, item))
                else:
                    accepted[kind] += 1
        return {"v": 1, "type": "ack", "seq": message.get("seq"), "accepted": accepted, "rejected": rejected,
                "errors": errors[:10]}

    # -- inspection -----------------------------------------------------------------

    def mark(self):
        """From now on, of_type() and the item accessors only see messages that arrive later."""
        with self._lock:
            self._mark = len(self.messages)

    def of_type(self, kind, everything=False):
        with self._lock:
            messages = self.messages if everything else self.messages[self._mark:]
            return [m for _, m in messages if m.get("type") == kind]

    def items(self, field):
        out = []
        for batch in self.of_type("batch"):
            out.extend(batch.get(field, []))
            if field == "spans":
                out.extend(expand_requests(batch))
                out.extend(expand_calls(batch))
        return out

    def spans(self):
        return self.items("spans")

    def logs(self):
        return self.items("logs")

    def metrics(self):
        return self.items("metrics")

    def dropped(self):
        total = {"spans": 0, "logs": 0, "metrics": 0}
        for batch in self.of_type("batch"):
            for k, v in (batch.get("dropped") or {}).items():
                total[k] += v
        return total

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        return predicate()

    def wait_spans(self, predicate, timeout=5.0):
        return self.wait_for(lambda: [s for s in self.spans() if predicate(s)], timeout)
