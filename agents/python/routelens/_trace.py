"""Spans, the current-span context and the public span API."""

import contextvars
import functools
import inspect
import itertools
import math
import os
import random
import re
import threading
import time

from . import _errors, _json
from ._codeloc import code_attributes
from ._json import string as _enc

_current = contextvars.ContextVar("routelens.current_span", default=None)

_rng = random.Random()
_id_lock = threading.Lock()


# Request spans take their ids from a per-process sequence number: the ids are a pure
# function of it (so whichever thread first reads them gets the same value, with no lock),
# and the compact `requests` columns of the protocol carry the number instead of 48 hex
# characters. The number is mixed so that ids do not look sequential, and the rest of
# each id is random per process:
#   trace id = hex8(mix(seq)) + SEQ_TRACE (24 hex)    span id = hex8(mix(seq)) + SEQ_SPAN (8 hex)
SEQ_MIX = 2654435761
SEQ_TRACE = None
SEQ_SPAN = None
SEQ_SPAN_INT = None
_seq_counter = None


def _reseed():
    # After fork both processes would otherwise produce the same ids (and a lock held
    # by another thread at fork time would never be released in the child).
    global _id_lock, SEQ_TRACE, SEQ_SPAN, SEQ_SPAN_INT, _seq_counter, next_seq
    _rng.seed(os.urandom(16))
    _id_lock = threading.Lock()
    SEQ_TRACE = "%024x" % (_rng.getrandbits(96) | 1)
    SEQ_SPAN_INT = _rng.getrandbits(32) | 1
    SEQ_SPAN = "%08x" % SEQ_SPAN_INT
    _seq_counter = itertools.count(1)
    next_seq = _seq_counter.__next__


def seq_head(seq):
    """The first 8 hex digits of the ids of the span numbered seq and of the calls under it."""
    return "%08x" % ((seq * SEQ_MIX) & 0xFFFFFFFF)


def seq_ids(seq):
    """(trace id, span id) of the request span numbered seq."""
    head = seq_head(seq)
    return head + SEQ_TRACE, head + SEQ_SPAN


def call_half(n):
    """The second half of the span id of the n-th client call (n >= 1) under a numbered span, as a
    number: the per-process part with n mixed into it. n * SEQ_MIX is never 0 mod 2**32 for
    0 < n < 2**32, so the id differs from the parent's own and from every other call's
    (docs/protocol.md, "calls")."""
    return SEQ_SPAN_INT ^ ((n * SEQ_MIX) & 0xFFFFFFFF)


def call_span_id(seq, n):
    """The span id of the n-th client call (n >= 1) under the span numbered seq: the parent's
    head (seq_head), then call_half(n)."""
    return "%s%08x" % (seq_head(seq), call_half(n))


_reseed()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)

_getrandbits = _rng.getrandbits
_perf = time.perf_counter
_now = time.time

# Wall-clock time as perf_counter() plus an offset: one clock read per span edge instead
# of two. The exporter thread refreshes the offset, so clock adjustments are followed.
_wall_offset = _now() - _perf()


def sync_clock():
    global _wall_offset
    _wall_offset = _now() - _perf()


# Set by the agent: a callable taking a finished span. None while the agent is off.
_export = None
# Set by _http: the fast encoder for request spans (returns None when it does not apply).
_server_json = None


# Set by the agent: a callable taking a plain request's row (_http.finish), or None.
_export_row = None


def set_exporter(fn, row_fn=None):
    """fn takes finished spans, row_fn plain request rows (fn too when row_fn is None)."""
    global _export, _export_row
    _export = fn
    _export_row = row_fn if row_fn is not None else fn


def new_trace_id():
    value = _getrandbits(128)
    while not value:
        value = _getrandbits(128)
    return "%032x" % value


def new_span_id():
    value = _getrandbits(64)
    while not value:
        value = _getrandbits(64)
    return "%016x" % value


_HEX = frozenset("0123456789abcdef")


_TRACESTATE_TEXT = re.compile(r"[\x20-\x7e]*\Z")
MAX_TRACESTATE = 512


def clean_tracestate(header):
    """A received tracestate header as it may be sent on, or None.

    W3C trace context: at most 512 characters (32 members) is what a service must carry on; the
    value is printable ASCII, so it can never end a header line early. Anything else is dropped
    (the trace goes on without it)."""
    if not isinstance(header, str):
        return None
    value = header.strip(" \t,")
    if not value or len(value) > MAX_TRACESTATE or not _TRACESTATE_TEXT.match(value):
        return None
    return value


def parse_traceparent(header):
    """(trace_id, parent_span_id) from a W3C traceparent header, or None if it is invalid."""
    if not header or not isinstance(header, str):
        return None
    header = header.strip()
    parts = header.split("-")
    if len(parts) < 4:
        return None
    version, trace_id, span_id, flags = parts[0], parts[1], parts[2], parts[3]
    if len(version) != 2 or len(trace_id) != 32 or len(span_id) != 16 or len(flags) != 2:
        return None
    if version == "ff" or (version == "00" and len(parts) != 4):
        return None
    if not (_HEX.issuperset(version) and _HEX.issuperset(trace_id) and _HEX.issuperset(span_id)
            and _HEX.issuperset(flags)):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return trace_id, span_id


def _attr_value(value):
    """Coerces a user-supplied value to what the protocol allows in attributes."""
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        # Beyond 2**53 a JSON number loses precision in the collector; a string does not.
        return value if -(2 ** 53) <= value <= 2 ** 53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            item = _attr_value(item)
            if isinstance(item, list):
                item = str(item)
            out.append(item)
        return out
    if value is None:
        return ""
    try:
        return str(value)
    except Exception:
        return "<unprintable>"


class Span:
    """One operation. Created through `span()`, `traced` or the framework hooks."""

    __slots__ = (
        "_trace_id",
        "_span_id",
        "parent_span_id",
        "name",
        "kind",
        "start_ms",
        "end_ms",
        "_t0",
        "status",
        "status_message",
        "attributes",
        "events",
        "exception",
        "_exc_obj",
        "_token",
        "_route",
        "_request",
        "_status_code",
        "_seq",
        # The request (or other top span) this span belongs to, and on a top span the
        # count of client spans under it and the calls folded past the limit (_clients.py).
        "_root",
        "_clients",
        "_folds",
        # What a client call's row says of the span it was made under (_clients.row_end):
        # (number, start in µs, start on the perf_counter clock, trace id or None). Only numbers
        # and strings, so a row holds no object and the collector of cycles leaves it alone.
        # None on a client span: calls are not made rows under one.
        "_rowkey",
        # b"traceparent: 00-<trace id>-<first half of a call's span id>" of the HTTP calls made
        # under this span, made by the first of them (_clients.traceparent_header).
        "_traceparent",
    )

    # The incoming W3C tracestate (clean_tracestate), carried on by the request's HTTP calls: only
    # a request's span (RequestSpan, which has an instance dictionary) sets it. A class-level None,
    # so reading it costs no AttributeError on the other spans.
    _tracestate = None

    def __init__(self, name, attributes=None, kind="internal", parent=None, trace_id=None,
                 parent_span_id=None):
        self._clients = 0
        self._folds = None
        if parent is not None:
            self._trace_id = parent.trace_id
            self.parent_span_id = parent.span_id
            self._root = parent._root or parent
        elif trace_id is not None:
            self._trace_id = trace_id
            self.parent_span_id = parent_span_id
        else:
            self._trace_id = None
            self.parent_span_id = None
        if parent is None:
            self._root = None
        self._span_id = None
        self.name = name
        self.kind = kind
        self.attributes = attributes if attributes is not None else {}
        self.events = None
        self.exception = None
        self._exc_obj = None
        self.status = None
        self.status_message = None
        self.end_ms = None
        self._token = None
        self._route = None
        self._request = None
        self._status_code = None
        # Numbered like request spans: the span id is a function of the number, and the client
        # calls made under this span travel as rows that name it by the number.
        self._seq = next_seq()
        t0 = self._t0 = _perf()
        start_ms = self.start_ms = (t0 + _wall_offset) * 1000.0
        self._rowkey = None if kind == "client" else (self._seq, start_ms * 1000.0, t0, self._trace_id)
        self._traceparent = None

    # Ids are made on first use: a request nobody logs in or opens a child span under
    # gets its ids on the exporter thread, off the request's path. The lock makes the
    # first use from two threads agree on one value.

    @property
    def trace_id(self):
        value = self._trace_id
        if value is None:
            if self._seq is not None:
                value = self._trace_id = seq_ids(self._seq)[0]
                return value
            with _id_lock:
                value = self._trace_id
                if value is None:
                    value = self._trace_id = new_trace_id()
        return value

    @property
    def span_id(self):
        value = self._span_id
        if value is None:
            if self._seq is not None:
                value = self._span_id = seq_ids(self._seq)[1]
                return value
            with _id_lock:
                value = self._span_id
                if value is None:
                    value = self._span_id = new_span_id()
        return value

    # -- mutation ---------------------------------------------------------

    def set_attribute(self, key, value):
        try:
            attributes = self.attributes
            if attributes is None:
                # Request spans start without a dictionary: most never get an attribute of their own.
                attributes = self.attributes = {}
            attributes[str(key)] = _attr_value(value)
        except Exception:
            pass
        return self

    def set_attributes(self, attributes):
        if attributes:
            for key, value in attributes.items():
                self.set_attribute(key, value)
        return self

    def add_event(self, name, attributes=None):
        try:
            event = {"name": str(name), "timeMs": (_perf() + _wall_offset) * 1000.0}
            if attributes:
                event["attributes"] = {str(k): _attr_value(v) for k, v in attributes.items()}
            if self.events is None:
                self.events = []
            if len(self.events) < 128:
                self.events.append(event)
        except Exception:
            pass
        return self

    def set_status(self, status, message=None):
        if status in ("unset", "ok", "error"):
            self.status = status
            if message is not None:
                self.status_message = _errors.truncate(str(message))
        return self

    def record_exception(self, exc, tb=None):
        """Attaches exc (once) and marks the span as failed."""
        try:
            if exc is None or exc is self._exc_obj:
                return self
            described = _errors.describe(exc, tb)
            self._exc_obj = exc
            self.exception = described
            self.status = "error"
            self.status_message = _errors.truncate(described["type"] + ": " + described["message"], 1024)
            if self.events is None:
                self.events = []
            self.events.append(_errors.event(described, (_perf() + _wall_offset) * 1000.0))
        except Exception:
            pass
        return self

    def end(self):
        if self.end_ms is not None:
            return
        self.end_ms = self.start_ms + (_perf() - self._t0) * 1000.0
        # The exception object keeps frames (and their locals) alive; it is described already.
        self._exc_obj = None
        if self._folds is not None:
            flush_folds(self)
        export = _export
        if export is not None:
            export(self)

    # -- context manager ---------------------------------------------------

    def __enter__(self):
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc is not None and isinstance(exc, Exception):
                self.record_exception(exc, tb)
            token, self._token = self._token, None
            if token is not None:
                _current.reset(token)
        except Exception:
            pass
        self.end()
        return False

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb):
        return self.__exit__(exc_type, exc, tb)

    # -- serialisation (exporter thread) -------------------------------------

    def all_attributes(self):
        """Every attribute of the span: its route's, its request's and those set on it."""
        route = self._route
        request = self._request
        if route is None and request is None:
            return self.attributes or {}
        merged = dict(route.attributes) if route is not None else {}
        if request is not None:
            merged.update(request_attributes(request, self._status_code))
        if self.attributes:
            merged.update(self.attributes)
        return merged

    def to_dict(self):
        d = {
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "startMs": self.start_ms,
            "endMs": self.end_ms if self.end_ms is not None else self.start_ms,
        }
        if self.parent_span_id:
            d["parentSpanId"] = self.parent_span_id
        if self.status:
            d["status"] = self.status
        if self.status_message:
            d["statusMessage"] = self.status_message
        attributes = self.all_attributes()
        if attributes:
            d["attributes"] = attributes
        if self.events:
            d["events"] = self.events
        if self.exception is not None:
            d["exception"] = self.exception
        return d

    def to_json(self):
        """The span as protocol JSON (on the exporter thread, where the cost does not meet a request)."""
        if self._request is not None and _server_json is not None:
            fast = _server_json(self)
            if fast is not None:
                return fast
        start = self.start_ms
        end = self.end_ms if self.end_ms is not None else start
        parts = ['{"traceId":"', self.trace_id, '","spanId":"', self.span_id, '","name":', _enc(self.name),
                 ',"kind":"', self.kind, '","startMs":', "%.3f" % start, ',"endMs":', "%.3f" % end]
        if self.parent_span_id:
            parts.append(',"parentSpanId":"%s"' % self.parent_span_id)
        if self.status:
            parts.append(',"status":"%s"' % self.status)
        if self.status_message:
            parts.append(',"statusMessage":' + _enc(self.status_message))
        attrs = self.attributes
        route = self._route
        request = self._request
        if request is not None:
            generated = request_attributes(request, self._status_code)
            if attrs:
                generated.update(attrs)
            attrs = generated
        if route is not None:
            if not attrs:
                parts.append(',"attributes":{' + route.fragment + "}")
            elif route.keys.isdisjoint(attrs):
                parts.append(',"attributes":{' + route.fragment + "," + _json.attributes_body(attrs) + "}")
            else:
                merged = dict(route.attributes)
                merged.update(attrs)
                parts.append(',"attributes":{' + _json.attributes_body(merged) + "}")
        elif attrs:
            parts.append(',"attributes":{' + _json.attributes_body(attrs) + "}")
        if self.events:
            parts.append(',"events":' + _json.dumps(self.events))
        if self.exception is not None:
            parts.append(',"exception":' + _json.dumps(self.exception))
        parts.append("}")
        return "".join(parts)

    def __repr__(self):
        return "<Span %s trace=%s span=%s>" % (self.name, self.trace_id, self.span_id)


class RequestSpan(Span):
    """The server span of one request (made by _http.begin).

    The members most requests never set are class-level defaults here (this class has an
    instance dictionary, and these names shadow the slots of Span), so starting a request's
    span stores five values instead of twenty.
    """

    _trace_id = None
    parent_span_id = None
    _span_id = None
    kind = "server"
    attributes = None
    events = None
    exception = None
    _exc_obj = None
    status = None
    status_message = None
    end_ms = None
    _token = None
    _route = None
    _status_code = None
    _root = None
    _clients = 0
    _folds = None
    _traceparent = None


class ClientSpan(Span):
    """A call out of the process (HTTP, database, cache), made by the hooks of _clients.py.

    Like RequestSpan, the members most client spans never set are class-level defaults.
    """

    _span_id = None
    kind = "client"
    _rowkey = None
    events = None
    exception = None
    _exc_obj = None
    status = None
    status_message = None
    end_ms = None
    _token = None
    _route = None
    _request = None
    _status_code = None
    _seq = None
    _clients = 0
    _folds = None
    # What the calls of one statement share: (attributes, their encoded members), set by
    # _clients.begin_db; the span's own `attributes` then hold only what differs per call.
    _static = None
    # (file, function, line) of the application line that made the call.
    _code = None

    def all_attributes(self):
        merged = {}
        static = self._static
        if static is not None:
            merged.update(static[0])
        code = self._code
        if code is not None:
            merged["code.file.path"] = code[0]
            merged["code.line.number"] = code[2]
            merged["code.function.name"] = code[1]
        if self.attributes:
            merged.update(self.attributes)
        return merged

    def to_json(self):
        static = self._static
        code = self._code
        if static is None and code is None:
            return Span.to_json(self)
        start = self.start_ms
        end = self.end_ms if self.end_ms is not None else start
        # Epoch milliseconds with 3 decimals from the integer microseconds: about half the time of
        # "%.3f" twice, the larger part of this method.
        s = "%d" % (start * 1000.0 + 0.5)
        e = "%d" % (end * 1000.0 + 0.5)
        if start >= 1000.0 and end >= 1000.0:
            times = s[:-3] + "." + s[-3:] + ',"endMs":' + e[:-3] + "." + e[-3:]
        else:
            times = '%.3f,"endMs":%.3f' % (start, end)
        # One format for the members every client span has (the ids are set by now, as a rule).
        parts = ['{"traceId":"%s","spanId":"%s","name":%s,"kind":"client","startMs":%s' % (
            self._trace_id or self.trace_id, self._span_id or self.span_id, _enc(self.name), times)]
        if self.parent_span_id:
            parts.append(',"parentSpanId":"' + self.parent_span_id + '"')
        if self.status:
            parts.append(',"status":"%s"' % self.status)
        if self.status_message:
            parts.append(',"statusMessage":' + _enc(self.status_message))
        members = []
        if static is not None:
            members.append(static[1])
        if code is not None:
            members.append(_code_json(code))
        if self.attributes:
            members.append(_json.attributes_body(self.attributes))
        parts.append(',"attributes":{' + ",".join(members) + "}")
        if self.events:
            parts.append(',"events":' + _json.dumps(self.events))
        if self.exception is not None:
            parts.append(',"exception":' + _json.dumps(self.exception))
        parts.append("}")
        return "".join(parts)


_code_texts = {}


def _code_json(code):
    """The encoded code.* members of a calling line, kept: a loop's calls share a few lines."""
    try:
        return _code_texts[code]
    except KeyError:
        pass
    text = _json.attributes_body({"code.file.path": code[0], "code.line.number": code[2],
                                  "code.function.name": code[1]})
    if len(_code_texts) < 8192:
        _code_texts[code] = text
    return text


# Set by _clients: exports the summary spans of the calls folded under a top span.
_fold_flusher = None


def flush_folds(span):
    flusher = _fold_flusher
    if flusher is not None:
        try:
            flusher(span)
        except Exception:
            pass
    span._folds = None


def current_span():
    """The span active in this thread or task, or None."""
    return _current.get()


def span(name, attributes=None, kind="internal"):
    """A child of the current span, for use as `with routelens.span("db.query", {...}) as s:`.

    The span becomes current inside the block; an exception leaving the block is
    recorded on it and propagates unchanged.
    """
    try:
        attrs = {str(k): _attr_value(v) for k, v in attributes.items()} if attributes else {}
        return Span(str(name), attrs, kind if kind in _KINDS else "internal", parent=_current.get())
    except Exception:
        return Span("span")


_KINDS = ("server", "client", "internal", "producer", "consumer")


def traced(func=None, name=None, attributes=None, kind="internal"):
    """Decorator: runs the function (sync or async) inside a span named after it.

    Usable bare (`@traced`), with a name (`@traced("charge card")`) or with
    keywords (`@traced(name=..., attributes=...)`).
    """
    if isinstance(func, str) and name is None:
        name, func = func, None
    if func is None:
        return lambda f: traced(f, name=name, attributes=attributes, kind=kind)

    span_name = name or getattr(func, "__qualname__", None) or getattr(func, "__name__", "function")
    kind = kind if kind in _KINDS else "internal"
    static = {}
    try:
        static.update(code_attributes(func))
    except Exception:
        pass
    if attributes:
        static.update({str(k): _attr_value(v) for k, v in attributes.items()})

    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args, **kwargs):
            with Span(span_name, dict(static), kind, parent=_current.get()):
                return await func(*args, **kwargs)

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with Span(span_name, dict(static), kind, parent=_current.get()):
            return func(*args, **kwargs)

    return wrapper


_hosts = {}


def split_host(host):
    """('example.com', 8000) from 'example.com:8000'; IPv6 brackets removed; port may be None."""
    try:
        return _hosts[host]
    except KeyError:
        pass
    except TypeError:
        return None, None
    result = _split_host(host)
    if len(_hosts) < 256:
        _hosts[host] = result
    return result


def _split_host(host):
    if not host:
        return None, None
    if host.count(":") > 1 and not host.startswith("["):
        return host, None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        address = host[1:end]
        rest = host[end + 1:]
        port = rest[1:] if rest.startswith(":") else None
    else:
        address, sep, port = host.rpartition(":")
        if not sep:
            address, port = host, None
    if port is not None:
        try:
            port = int(port)
        except ValueError:
            port = None
    return address, port


def request_attributes(request, status_code):
    method, path, client, host, original = request
    attributes = {"http.request.method": method, "url.path": path}
    if original:
        attributes["http.request.method_original"] = original
    if client:
        attributes["client.address"] = client
    address, port = split_host(host)
    if address:
        attributes["server.address"] = address
        if port:
            attributes["server.port"] = port
    if status_code is not None:
        attributes["http.response.status_code"] = status_code
    return attributes
