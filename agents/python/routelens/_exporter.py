"""The bounded queue and the thread that ships it to the collector.

The application's threads only ever append to a deque (dropping the oldest
item when it is full); everything else (serialising, connecting, sending,
reading acknowledgements, sampling process metrics) happens on one daemon
thread, so a slow or absent collector costs the application nothing.
"""

import collections
from itertools import islice
import json
import logging
import os
import socket
import sys
import threading
import time
import weakref

from . import _clients, _config, _http, _json, _supervisor, _trace
from ._ws import WebSocketClient, WebSocketError

log = logging.getLogger("routelens")

SPANS, LOGS, METRICS = "spans", "logs", "metrics"
_KINDS = (SPANS, LOGS, METRICS)

BACKOFF_START = 0.1
# The collector is local (loopback, or the host of a container): a refused connect costs next to
# nothing, so retrying every second is cheap, and an agent is back within about a second of a
# collector that restarts (a window reload, Restart Collector), however long it was gone.
BACKOFF_MAX = 1.0
WELCOME_WAIT = 1.0
STABLE_CONNECTION = 5.0

# Delivery is at least once (docs/protocol.md, "Delivery"): every batch is kept until the
# collector acknowledges it and sent again on the next connection. While this many batches (or
# bytes) wait for their acks, no new batch is built: the queue takes the strain and, when full,
# drops its oldest items (counted), as it does while there is no collector.
MAX_UNACKED_BATCHES = 64
MAX_UNACKED_BYTES = 16 * 1024 * 1024
# When this many connections in a row end with the oldest unacknowledged batch sent on them and
# no ack at all, that batch is given up (counted, logged, reported): a batch that the collector
# keeps refusing by closing the connection must not hold back the rest for ever.
MAX_FRUITLESS_CONNECTIONS = 5


def _dumps(obj):
    return _json.dumps(obj)


_Span = _trace.Span


_REQUEST = _http.REQUEST
_CALL = _clients.CALL


def _kind(entry):
    # Span objects are queued as they are, plain requests and client calls as rows
    # (_http.finish, _clients.end), logs and metric points as (kind, item). A row counts as a span.
    if entry.__class__ is not tuple:  # a Span (or RequestSpan) object
        return SPANS
    kind = entry[0]
    return SPANS if kind is _REQUEST or kind is _CALL else kind


def split_rows(rows):
    """(request rows, call rows) of the rows queue's items."""
    calls = [row for row in rows if row[0] is _CALL]
    if not calls:
        return rows, calls
    if len(calls) == len(rows):
        return [], calls
    return [row for row in rows if row[0] is not _CALL], calls


# Every exporter of this process, so a forked child can reset them all.
_live = weakref.WeakSet()


# When this process started (a forked child: when it was forked), as the resource's
# process.creation.time: the collector groups workers started together into one run.
_started = time.time()


def _reset_after_fork():
    global _started
    _started = time.time()
    for exporter in list(_live):
        exporter._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class Exporter:
    # Set by _announce.arm(): announces the app's /metrics after the hello of each connection.
    announcer = None

    def __init__(self, config, resource_fn, sampler=None):
        self.config = config
        self._resource_fn = resource_fn
        self._resource = None
        self._sampler = sampler
        self._init_state()
        self.stats = {
            "connects": 0,
            "batches": 0,
            # Batches sent again on a new connection, and acks that said "already stored".
            "resent": 0,
            "duplicates": 0,
            # Sent but never acknowledged, then given up (attempts spent, or exit): they may or
            # may not have been stored.
            "given_up": {"batches": 0, SPANS: 0, LOGS: 0, METRICS: 0},
            "sent": {SPANS: 0, LOGS: 0, METRICS: 0},
            "accepted": {SPANS: 0, LOGS: 0, METRICS: 0},
            "rejected": {SPANS: 0, LOGS: 0, METRICS: 0},
            "errors": [],
        }
        self._closed = False
        # Why this process sends nothing (a reloader's watcher, a worker server's master), or
        # None. Survives fork, except for a forking master's workers (see _after_fork).
        self._muted = None
        self._role_checked = False
        _live.add(self)

    def _init_state(self):
        self._queue = collections.deque()
        # Rows (plain requests, _http.finish, and client calls, _clients.end) have a queue of
        # their own: the batch takes them without looking at each, and other items (spans,
        # logs, metrics) are few.
        self._rows = collections.deque()
        self._dropped = {SPANS: 0, LOGS: 0, METRICS: 0}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._stop_deadline = None
        self._thread = None
        self._started = False
        self._client = None
        self._backoff = BACKOFF_START
        self._next_connect = 0.0
        self._connected_at = 0.0
        self._acked_on_connection = False
        self._sent_on_connection = False
        self._seq = 0
        self._acked_seq = 0
        self._sent_seq = 0
        # seq -> [message text, (spans, logs, metrics) counts, fruitless connections (see
        # MAX_FRUITLESS_CONNECTIONS)]
        self._unacked = collections.OrderedDict()
        self._unacked_bytes = 0
        # Given up since the last batch that reported it (docs/protocol.md, "givenUp").
        self._given_up_report = None
        # Unique to this process's life (a new one after fork): the collector drops batches it
        # has already stored by (instance, seq), and a restarted process with the same pid (a
        # container's pid 1) must not look like the old one resending.
        self.instance = None
        self._busy = False
        self._flush_requested = False
        self.max_message_bytes = 4 * 1024 * 1024
        self.max_batch_items = self.config.max_batch
        self._trigger = max(1, self.config.max_batch // 2)
        self._max_queue = self.config.max_queue
        # Below this queue length export_span() only appends (see there).
        self._gate = 0

    def _after_fork(self):
        # The child shares the parent's socket and queue contents; both belong to the parent.
        client = self._client
        if client is not None:
            client.abort()
        self._init_state()
        self._resource = None
        if self._sampler is not None:
            try:
                self._sampler.reset()
            except Exception:
                pass
        if self._muted in _supervisor.FORKING and not self._closed:
            # A worker forked by a silent master serves: it is an instance of its own from now,
            # with its process metrics before its first request.
            self._muted = None
            self._role_checked = True
            self.start()

    def mute(self, reason):
        """This process only watches or supervises: nothing more is queued or sent.

        An open connection is closed by the exporter thread, which then ends.
        """
        if self._muted is not None:
            return
        self._muted = reason
        self._gate = 0
        with self._lock:
            self._queue.clear()
            self._rows.clear()
        log.debug("routelens: %s process: sending nothing", reason)
        self._wake.set()

    @property
    def muted(self):
        return self._muted

    # -- called from application threads ----------------------------------------

    def enqueue(self, kind, item):
        """Never blocks and never raises; when the queue is full the oldest item goes."""
        self._put(self._queue, (kind, item))

    def export_span(self, span):
        """Queues a finished span: once per request, so the common case is one length check.

        _gate is 0 until the exporter thread runs and after shutdown, which sends the first
        item and every item after close down _put(). While connected it is the batch trigger
        (_put() wakes the exporter thread); while not, the queue's bound: with no collector to
        send to there is nothing to wake the thread for, and a full queue drops its oldest item.
        """
        queue = self._queue
        if len(queue) < self._gate:
            queue.append(span)
        else:
            self._put(queue, span)

    def export_row(self, row):
        """Queues a plain request's row; export_span() for the request-rows queue."""
        rows = self._rows
        if len(rows) < self._gate:
            rows.append(row)
        else:
            self._put(rows, row)

    def _put(self, queue, entry):
        """The slow path of queueing: closed, full, first item, or time to wake the thread."""
        try:
            if self._closed or self._muted is not None:
                return
            if len(queue) >= self._max_queue:
                self._drop_oldest(queue)
            queue.append(entry)
            if not self._started:
                self.start()
            elif len(queue) >= self._trigger and self._client is not None and not self._wake.is_set():
                self._wake.set()
        except Exception:
            pass

    def pending(self):
        """How many items wait to be sent."""
        return len(self._queue) + len(self._rows)

    def _drop_oldest(self, queue):
        with self._lock:
            while len(queue) >= self._max_queue:
                try:
                    kind = _kind(queue.popleft())
                except IndexError:
                    return
                self._dropped[kind] += 1

    def count_dropped_log(self):
        """A log record the rate bound turned away: reported in `dropped` like the queue's drops."""
        with self._lock:
            self._dropped[LOGS] += 1

    def dropped_pending(self):
        with self._lock:
            return dict(self._dropped)

    def start(self):
        if self._muted is None and not self._role_checked:
            # Decided when the first thing would be sent: by then sys.argv is final.
            self._role_checked = True
            reason = _supervisor.watcher_reason()
            if reason is not None:
                self.mute(reason)
        with self._lock:
            if self._started or self._closed or self._muted is not None:
                return
            self._started = True
        thread = threading.Thread(target=self._run, name="routelens-exporter", daemon=True)
        # Under a debugger (debugpy/pydevd) a breakpoint stops every thread but the debugger's own:
        # marked as one of those, the exporter keeps the connection alive through a long pause.
        thread.pydev_do_not_trace = True
        thread.is_pydev_daemon_thread = True
        self._thread = thread
        try:
            thread.start()
        except RuntimeError:
            # Interpreter shutting down: nothing more will be sent.
            self._closed = True
            return
        self._gate = self._max_queue  # until connected (see export_span)

    def flush(self, timeout=2.0):
        """Waits until everything queued so far is sent and acknowledged (or timeout).

        True if the collector acknowledged every batch sent up to then.
        """
        deadline = time.monotonic() + timeout
        self._flush_requested = True
        self._wake.set()
        while time.monotonic() < deadline:
            if not self._queue and not self._rows and not self._busy and not self._flush_requested:
                if not self._unacked:
                    return self._client is not None
                if self._client is None and not self._started:
                    return False
                # Connected or reconnecting: the next connection sends the unacknowledged again.
                # The exporter thread reads acknowledgements when woken.
                self._wake.set()
            time.sleep(0.005)
        return False

    def shutdown(self, timeout=1.0):
        """Stops the thread after a last send bounded by timeout seconds."""
        if self._closed:
            return
        self._gate = 0
        self._stop_deadline = time.monotonic() + max(0.0, timeout)
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(max(0.0, timeout))
        self._closed = True
        client = self._client
        if client is not None and (thread is None or not thread.is_alive()):
            self._client = None
            client.abort()

    @property
    def connected(self):
        return self._client is not None

    # -- exporter thread ------------------------------------------------------------

    def _run(self):
        interval = self.config.flush_interval
        metrics_interval = self.config.metrics_interval
        now = time.monotonic()
        next_flush = now + interval
        next_metrics = now + metrics_interval
        try:
            settle = _supervisor.first_connect_delay()
        except Exception:
            settle = 0.0
        if settle and not self.stats["connects"]:
            self._next_connect = now + settle
        while True:
            try:
                if self._muted is not None:
                    self._go_quiet()
                    return
                if self._stopping:
                    self._final_flush()
                    return
                _trace.sync_clock()
                now = time.monotonic()
                if self._sampler is not None and metrics_interval > 0 and now >= next_metrics:
                    self._sample()
                    next_metrics += metrics_interval
                    if next_metrics < now:
                        next_metrics = now + metrics_interval
                if self._client is None and now >= self._next_connect:
                    self._connect(2.0)
                if self.announcer is not None:
                    self.announcer.tick(self)
                if self._client is not None:
                    self._read_incoming(0.0)
                flush_now = self._flush_requested or now >= next_flush or self.pending() >= self._trigger
                if flush_now:
                    if self._client is not None:
                        self._send_pending()
                    next_flush = time.monotonic() + interval
                    self._flush_requested = False
                now = time.monotonic()
                deadlines = [next_flush]
                if self._sampler is not None and metrics_interval > 0:
                    deadlines.append(next_metrics)
                if self._client is None:
                    deadlines.append(self._next_connect)
                wait = max(0.0, min(deadlines) - now)
                if self._wake.wait(wait):
                    self._wake.clear()
            except Exception as exc:  # never let the thread die
                self._note("exporter loop: %r" % (exc,))
                self._disconnect()
                time.sleep(0.05)

    def _go_quiet(self):
        client, self._client = self._client, None
        if client is not None:
            client.close(1000)
        self._unacked.clear()
        self._unacked_bytes = 0

    def _sample(self):
        try:
            for point in self._sampler.sample():
                self.enqueue(METRICS, point)
        except Exception as exc:
            self._note("metrics: %r" % (exc,))

    def _note(self, message):
        errors = self.stats["errors"]
        if len(errors) < 50:
            errors.append(message)
        log.debug("routelens: %s", message)

    def _resource_attrs(self):
        if self._resource is None:
            self._resource = self._resource_fn()
        return self._resource

    def _instance_id(self):
        if self.instance is None:
            base = self._resource_attrs().get("service.instance.id") or "%d" % os.getpid()
            self.instance = "%s-%s" % (base, os.urandom(4).hex())
        return self.instance

    def _connect(self, timeout):
        client = WebSocketClient(self.config.ws_url, timeout=max(0.05, min(2.0, timeout)),
                                 user_agent="%s/%s" % (_config.SDK_NAME, _config.VERSION))
        try:
            client.connect()
            client.send_text(_dumps({"v": 1, "type": "hello", "resource": self._resource_attrs()}))
            deadline = time.monotonic() + min(WELCOME_WAIT, timeout)
            welcomed = False
            while not welcomed and time.monotonic() < deadline:
                for text in client.receive(deadline - time.monotonic()):
                    if self._handle_message(text) == "welcome":
                        welcomed = True
            if not welcomed:
                # Still usable: the protocol orders hello before any batch on the socket.
                self._note("no welcome within %.1fs" % WELCOME_WAIT)
        except Exception as exc:
            client.abort()
            self._note("connect to %s failed: %r" % (self.config.ws_url, exc))
            self._next_connect = time.monotonic() + self._backoff
            self._backoff = min(BACKOFF_MAX, self._backoff * 2)
            return False
        self._client = client
        if not self._stopping and not self._closed:
            self._gate = min(self._trigger, self._max_queue)
        self._connected_at = time.monotonic()
        self._acked_on_connection = False
        self._sent_on_connection = False
        self.stats["connects"] += 1
        self._resend_unacked()
        return self._client is not None

    def _resend_unacked(self):
        """Sends every batch still waiting for its ack again, oldest first, on the new connection."""
        for seq in list(self._unacked):
            entry = self._unacked.get(seq)
            if entry is None or self._client is None:
                return
            if entry[2] >= MAX_FRUITLESS_CONNECTIONS:
                self._give_up(seq, "%d connections in a row ended without an ack after it was sent" % entry[2])
                continue
            self.stats["resent"] += 1
            self._sent_on_connection = True
            try:
                self._client.send_text(entry[0])
            except (OSError, WebSocketError) as exc:
                self._note("resend failed: %r" % (exc,))
                self._disconnect()
                return

    def _give_up(self, seq, why):
        entry = self._unacked.pop(seq, None)
        if entry is None:
            return
        self._unacked_bytes -= len(entry[0])
        spans, logs, metrics = entry[1]
        for report in (self.stats["given_up"], self._given_up_report_dict()):
            report["batches"] += 1
            report[SPANS] += spans
            report[LOGS] += logs
            report[METRICS] += metrics
        log.warning("routelens: gave up batch %d (%d spans, %d logs, %d metrics): %s",
                    seq, spans, logs, metrics, why)

    def _given_up_report_dict(self):
        if self._given_up_report is None:
            self._given_up_report = {"batches": 0, SPANS: 0, LOGS: 0, METRICS: 0}
        return self._given_up_report

    def _disconnect(self):
        client, self._client = self._client, None
        if not self._stopping and not self._closed:
            self._gate = self._max_queue
        if client is not None:
            client.abort()
            if self._sent_on_connection and not self._acked_on_connection and self._unacked:
                self._unacked[next(iter(self._unacked))][2] += 1
            now = time.monotonic()
            # A connection that lasted, or on which the collector acknowledged a batch, starts
            # the backoff afresh (the collector is there; the cut was the network's); one that
            # flaps without ever acknowledging keeps doubling it.
            if self._acked_on_connection or now - self._connected_at > STABLE_CONNECTION:
                self._backoff = BACKOFF_START
            self._next_connect = now + self._backoff
            self._backoff = min(BACKOFF_MAX, self._backoff * 2)

    def _read_incoming(self, timeout):
        try:
            for text in self._client.receive(timeout):
                self._handle_message(text)
        except (OSError, WebSocketError) as exc:
            self._note("connection lost: %r" % (exc,))
            self._disconnect()

    def _handle_message(self, text):
        try:
            message = json.loads(text)
        except ValueError:
            return None
        if not isinstance(message, dict):
            return None
        kind = message.get("type")
        if kind == "welcome":
            limit = message.get("maxMessageBytes")
            if isinstance(limit, int) and limit > 1024:
                self.max_message_bytes = limit
            items = message.get("maxBatchItems")
            if isinstance(items, int) and items > 0:
                self.max_batch_items = min(self.config.max_batch, items)
        elif kind == "ack":
            seq = message.get("seq")
            if isinstance(seq, int):
                self._acked_on_connection = True
                if seq > self._acked_seq:
                    self._acked_seq = seq
                # Acks come in the order the batches were sent on the connection, and the
                # collector handles a connection's messages in order: every earlier batch has
                # been handled too (stored, or refused as a whole).
                unacked = self._unacked
                while unacked:
                    first = next(iter(unacked))
                    if first > seq:
                        break
                    self._unacked_bytes -= len(unacked.pop(first)[0])
            if message.get("duplicate") is True:
                self.stats["duplicates"] += 1
            for field in ("accepted", "rejected"):
                counts = message.get(field)
                if isinstance(counts, dict):
                    for k in _KINDS:
                        value = counts.get(k)
                        if isinstance(value, int):
                            self.stats[field][k] += value
            for error in (message.get("errors") or [])[:10]:
                self._note("collector rejected %s" % (error,))
        elif kind == "error":
            self._note("collector error %s: %s" % (message.get("code"), message.get("message")))
        return kind

    def _take(self, limit):
        """(up to limit items, how many of them are request rows): rows first, then the rest.

        The lock keeps application threads' drops (the only other taker) out, so each queue
        has at least the items counted and C's islice pops them without a Python loop.
        """
        with self._lock:
            rows = self._rows
            n = min(limit, len(rows))
            items = list(islice(iter(rows.popleft, None), n)) if n else []
            queue = self._queue
            m = min(limit - n, len(queue))
            if m:
                items.extend(islice(iter(queue.popleft, None), m))
        return items, n

    def _window_full(self):
        return len(self._unacked) >= MAX_UNACKED_BATCHES or self._unacked_bytes >= MAX_UNACKED_BYTES

    def _send_pending(self, deadline=None):
        self._busy = True
        try:
            while self._client is not None:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if self._window_full():
                    # Wait (briefly, on this thread only) for acks to make room.
                    self._read_incoming(0.05)
                    if self._window_full():
                        return
                    continue
                items, n_rows = self._take(self.max_batch_items)
                with self._lock:
                    dropped = self._dropped
                    has_drops = any(dropped.values())
                    if has_drops:
                        self._dropped = {SPANS: 0, LOGS: 0, METRICS: 0}
                given_up, self._given_up_report = self._given_up_report, None
                if not items and not has_drops and given_up is None:
                    return
                extra = {}
                if has_drops:
                    extra["dropped"] = dropped
                if given_up is not None:
                    extra["givenUp"] = given_up
                self._send_items(items, n_rows, extra)
                if self._client is None:
                    return
                if self.pending() < self._trigger and not self._flush_requested and not self._stopping:
                    return
                # An app producing faster than we send keeps this loop going: read the acks
                # and answer the collector's pings between batches, or it cuts us as unresponsive.
                self._read_incoming(0.0)
        finally:
            self._busy = False

    def _encode(self, items, n_rows=0):
        """(span texts, compact requests text or None, compact calls text or None, how many rows
        they have, logs, metrics).

        The first n_rows items are rows (requests and calls); the rest are told apart here.
        """
        spans, logs, metrics = [], [], []
        rows = items[:n_rows] if n_rows else []
        REQUEST = _REQUEST
        for entry in (items[n_rows:] if n_rows else items):
            if entry.__class__ is not tuple:  # a Span (or RequestSpan) object
                spans.append(entry)
                continue
            kind = entry[0]
            if kind is REQUEST or kind is _CALL:
                rows.append(entry)
            elif kind == LOGS:
                logs.append(entry[1])
            elif kind == SPANS:
                spans.append(entry[1])
            else:
                metrics.append(entry[1])
        if spans:
            spans = _http.encode_spans(spans)
        n = len(rows)
        requests, calls = split_rows(rows) if rows else (rows, None)
        return (spans, (_http.encode_rows(requests) if requests else None),
                (_clients.encode_calls(calls) if calls else None), n, logs, metrics)

    def _message(self, seq, spans, requests, calls, logs, metrics, extra):
        head = '{"v":1,"type":"batch","seq":%d,"instance":%s' % (seq, _dumps(self._instance_id()))
        tail = []
        if requests:
            tail.append(',"requests":' + requests)
        if calls:
            tail.append(',"calls":' + calls)
        if logs:
            tail.append(',"logs":' + _json.dumps(logs))
        if metrics:
            tail.append(',"metrics":' + _json.dumps(metrics))
        for key, value in extra.items():
            tail.append(',"%s":%s' % (key, _json.dumps(value)))
        tail.append("}")
        if not spans:
            return head + "".join(tail)
        # Span objects are hundreds of bytes each: the frame around them goes onto the
        # first and last span so that the whole message is built by one join, not copied
        # again by each concatenation.
        spans = list(spans)
        spans[0] = head + ',"spans":[' + spans[0]
        spans[-1] = spans[-1] + "]" + "".join(tail)
        return ",".join(spans)

    def _send_items(self, items, n_rows, extra):
        """Makes batches of items (the first n_rows of them request rows), as many as the size
        limit needs, keeps each until it is acknowledged and sends it if connected.

        `extra` (the dropped and givenUp reports) goes into the first batch.
        """
        spans, requests, calls, rows, logs, metrics = self._encode(items, n_rows)
        seq = self._seq + 1
        text = self._message(seq, spans, requests, calls, logs, metrics, extra)
        if len(text) > self.max_message_bytes:
            if len(items) <= 1:
                # One item alone is over the limit: it can never be sent.
                with self._lock:
                    if items:
                        self._dropped[_kind(items[0])] += 1
                    for k, v in (extra.get("dropped") or {}).items():
                        self._dropped[k] += v
                if extra.get("givenUp"):
                    report = self._given_up_report_dict()
                    for k, v in extra["givenUp"].items():
                        report[k] += v
                return
            half = len(items) // 2
            first_rows = min(n_rows, half)
            self._send_items(items[:half], first_rows, extra)
            self._send_items(items[half:], n_rows - first_rows, {})
            return
        # Numbered only now, so the numbers the collector sees have no holes but lost batches.
        self._seq = seq
        self._unacked[seq] = [text, (len(spans) + rows, len(logs), len(metrics)), 0]
        self._unacked_bytes += len(text)
        self.stats["batches"] += 1
        sent = self.stats["sent"]
        sent[SPANS] += len(spans) + rows
        sent[LOGS] += len(logs)
        sent[METRICS] += len(metrics)
        if self._client is None:
            return
        self._sent_on_connection = True
        try:
            self._client.send_text(text)
        except (OSError, WebSocketError) as exc:
            # Kept: the next connection sends it again.
            self._note("send failed: %r" % (exc,))
            self._disconnect()
            return
        self._sent_seq = seq

    def _final_flush(self):
        deadline = self._stop_deadline or (time.monotonic() + 1.0)
        try:
            if self._client is None and (self._queue or self._rows or self._unacked):
                remaining = deadline - time.monotonic()
                if remaining > 0.05:
                    self._connect(min(remaining / 2, 0.5))
            if self._client is not None:
                self._read_incoming(0.0)
                self._send_pending(deadline)
                # Wait for the acks (within the deadline) so nothing is given up needlessly and
                # the collector has read everything before the close.
                while self._client is not None and self._unacked:
                    # A little before the deadline, so the give-up below still happens while
                    # shutdown() waits for this thread.
                    left = deadline - 0.03 - time.monotonic()
                    if left <= 0:
                        break
                    self._read_incoming(min(0.05, left))
        finally:
            client, self._client = self._client, None
            if client is not None:
                client.close(1000)
            for seq in list(self._unacked):
                self._give_up(seq, "not acknowledged before exit")


def default_resource(service_name=None):
    pid = os.getpid()
    try:
        host = socket.gethostname()
    except OSError:
        host = "localhost"
    impl = sys.implementation
    version = "%d.%d.%d" % sys.version_info[:3]
    return {
        "service.name": service_name or _config.derive_service_name(),
        "service.instance.id": "%s-%d" % (host, pid),
        "process.pid": pid,
        "process.parent_pid": os.getppid(),
        "process.creation.time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(_started)) + ".%03dZ" % int((_started % 1) * 1000),
        "process.runtime.name": impl.name,
        "process.runtime.version": version,
        "host.name": host,
        "telemetry.sdk.name": _config.SDK_NAME,
        "telemetry.sdk.version": _config.VERSION,
        "telemetry.sdk.language": "python",
    }
