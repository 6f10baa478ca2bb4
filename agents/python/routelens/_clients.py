"""Client spans: what every hook of a call out of the process (HTTP, database, cache) shares.

A hook asks begin() for a span before the call and gives it to end() after (fail() first if
the call raised). begin() answers None when the call is not traced: outside any request
(unless ROUTELENS_CLIENT_SPANS_OUTSIDE_REQUESTS=trace), inside another client span (a
statement SQLAlchemy runs on a hooked driver is SQLAlchemy's span only), or with client
spans switched off.

A request has at most `max_spans` client spans (ROUTELENS_MAX_CLIENT_SPANS, default 500).
Past that, each call is folded into one summary span per shape (span name and statement or
URL): its count, total and the time from the first to the last call, sent when the request
ends. A loop of 100,000 queries then costs a few summary spans, not 100,000.
"""

import contextvars
import os
import re
import sys
import threading
import time
from urllib.parse import urlsplit

from . import _callsite, _json, _otel, _trace
from ._callsite import add_callsite
from ._trace import ClientSpan, _current
from ._json import ints as _ints, string as _enc

_new_span = ClientSpan.__new__
_perf = _trace._perf

DEFAULT_MAX_SPANS = 500
# Distinct shapes folded under one request; calls of further shapes share one summary.
MAX_FOLD_SHAPES = 64


class Settings:
    enabled = True
    max_spans = DEFAULT_MAX_SPANS
    outside_requests = False
    # (host, port) pairs of the collector: the agent's own traffic is never a client span.
    collector = frozenset()
    collector_ports = frozenset()


def configure(config=None, environ=None):
    environ = environ if environ is not None else os.environ
    value = environ.get("ROUTELENS_CLIENT_SPANS", "").strip().lower()
    Settings.enabled = value not in ("0", "false", "no", "off")
    try:
        Settings.max_spans = max(0, int(environ.get("ROUTELENS_MAX_CLIENT_SPANS", "").strip()))
    except ValueError:
        Settings.max_spans = DEFAULT_MAX_SPANS
    outside = environ.get("ROUTELENS_CLIENT_SPANS_OUTSIDE_REQUESTS", "").strip().lower()
    Settings.outside_requests = outside in ("trace", "1", "true", "yes", "on")
    addresses = set()
    endpoint = getattr(config, "ws_url", None) if config is not None else None
    if endpoint:
        try:
            parts = urlsplit(endpoint)
            port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
            host = (parts.hostname or "").lower()
            names = {host}
            if host in ("localhost", "127.0.0.1", "::1", "[::1]"):
                names.update(("localhost", "127.0.0.1", "::1"))
            for name in names:
                addresses.add((name, port))
        except ValueError:
            pass
    Settings.collector = frozenset(addresses)
    Settings.collector_ports = frozenset(port for _, port in addresses)


def is_collector(host, port):
    if port not in Settings.collector_ports:
        return False
    try:
        return (str(host).lower().strip("[]"), int(port)) in Settings.collector
    except (TypeError, ValueError):
        return False


class Fold:
    """Stands in for a span past the per-request limit: end() adds the call to its summary."""

    __slots__ = ("entry", "_t0", "failed")
    # Hooks write attributes on whatever begin() gave them; a folded call's are not kept.
    attributes = {}

    def __init__(self, entry):
        self.entry = entry
        self.failed = False
        self._t0 = _perf()

    @property
    def trace_id(self):
        return self.entry[0].trace_id

    @property
    def span_id(self):
        return self.entry[0].span_id


_owned = {}


def otel_owns(libraries):
    """Whether an OpenTelemetry instrumentation of one of `libraries` (names under
    opentelemetry.instrumentation) is active: then OpenTelemetry makes the client span and sends
    the traceparent, and the agent makes neither. Checked at most once a second per library set;
    without OpenTelemetry in the process, one flag."""
    if not _otel.loaded:
        return False
    now = time.monotonic()
    hit = _owned.get(libraries)
    if hit is not None and now - hit[0] < 1.0:
        return hit[1]
    owned = any(_otel.library_instrumented(name) for name in libraries)
    _owned[libraries] = (now, owned)
    return owned


def begin(name, attributes):
    """A started client span (or Fold) for a call, or None when the call is not traced.

    attributes becomes the span's own dictionary.
    """
    return _start(_current.get(), name, attributes)


# True while a call that an OpenTelemetry instrumentation traces runs (a statement through an
# SQLAlchemy engine that OpenTelemetry instruments): the driver hooks under it stand aside.
_otel_quiet = contextvars.ContextVar("routelens_otel_quiet", default=False)


def otel_stands_for(libraries):
    """Whether OpenTelemetry traces this call of one of libraries (only asked once OpenTelemetry
    is loaded): its instrumentation of the library is active, or an instrumented call above it
    runs this one."""
    return _otel_quiet.get() or otel_owns(libraries)


def begin_db(target, statement, depth=2):
    """begin() for a SQL statement on a connection described by target (a DbTarget).

    depth: how far up from _call() the calling-line walk starts (see _call): 2 is begin_db's
    caller; a hook that is always called by another of the agent's frames passes more."""
    parent = _current.get()
    if parent is None and not Settings.outside_requests:
        return None
    if _otel.loaded and otel_stands_for(getattr(target, "otel", ())):
        return None
    try:
        form = target.statements[statement]
    except (KeyError, TypeError, AttributeError):
        form = _parse_db(target, statement)
    if parent is None:
        return _start_form(None, form, None)
    return _call(parent, form, None, depth)


def begin_form(parent, form, value=None, depth=2):
    """begin() for a call of form (a Form) under parent (the current span, which the hook has read
    already: None outside any request), value its own attribute (form.value_key's); depth as for
    begin_db()."""
    if parent is None:
        if not Settings.outside_requests:
            return None
        return _start_form(None, form, value)
    return _call(parent, form, value, depth)


def _start_form(parent, form, value):
    """A span object (not a row) for a call of form under parent (None: outside any request)."""
    return _start(parent, form.name, {} if value is None else {form.value_key: value}, (form.attributes, form.encoded))


class Form:
    """What every call of one statement on one connection target (or one Redis command shape,
    or one HTTP method to one server) shares: the span's name, its attributes and their encoded
    members, and the name of the one attribute that differs per call (`value_key`: the row count,
    the URL), if any. `shapes` numbers the forms' rows by calling line (and HTTP status)."""

    __slots__ = ("name", "attributes", "encoded", "value_key", "shapes")

    def __init__(self, name, attributes, value_key=None):
        self.name = name
        self.attributes = attributes
        self.encoded = _json.attributes_body(attributes)
        self.value_key = value_key
        self.shapes = {}


ROWS_KEY = "db.response.returned_rows"


class DbTarget(tuple):
    """(db.system.name, db.namespace, server.address, server.port) of a connection, with the
    parses of the statements run on it (so a statement is looked up by itself, not by a tuple
    that would be hashed on every call), and `otel`: the names (under
    opentelemetry.instrumentation) of the instrumentations that trace the library it is used
    through, which then make the span instead of the agent."""

    otel = ()

    def __new__(cls, values, otel=()):
        target = tuple.__new__(cls, values)
        target.statements = {}
        target.otel = otel
        return target


_targets = {}


def db_target(system, namespace=None, address=None, port=None, otel=()):
    key = (system, namespace, address, port, otel)
    target = _targets.get(key)
    if target is None:
        target = DbTarget(key[:4], otel)
        if len(_targets) < 1024:
            _targets[key] = target
    return target


_verdicts = _callsite._verdicts
_learn = _callsite.learn
_line_of = _callsite.line_of
_getframe = sys._getframe


def _start(parent, name, attributes, static=None):
    if parent is None:
        if not Settings.outside_requests or not Settings.enabled:
            return None
        root = None
    else:
        if parent.kind == "client" or not Settings.enabled:
            return None
        root = parent._root or parent
        count = root._clients
        if count >= Settings.max_spans:
            if static is not None:
                attributes = dict(static[0], **attributes)
            return _fold(root, parent, name, attributes)
        root._clients = count + 1
    # The calling line (_callsite.add_callsite, written out: this runs for every call).
    frame = _getframe(2)
    verdicts = _verdicts
    code = None
    while frame is not None:
        code = frame.f_code
        found = verdicts.get(code)
        if found is None:
            found = _learn(code)
        if found:
            lines = found[2]
            line = lines.get(frame.f_lasti)
            if line is None:
                line = _line_of(frame, lines)
            code = (found[0], found[1], line)
            break
        frame = frame.f_back
    span = _new_span(ClientSpan)
    if parent is not None:
        span._trace_id = parent._trace_id or parent.trace_id
        span.parent_span_id = parent._span_id or parent.span_id
        span._root = root
    else:
        span._trace_id = None
        span.parent_span_id = None
        span._root = None
    span.name = name
    span.attributes = attributes
    if static is not None:
        span._static = static
    if code is not None:
        span._code = code
    t0 = span._t0 = _perf()
    span.start_ms = (t0 + _trace._wall_offset) * 1000.0
    return span


# -- calls as rows ---------------------------------------------------------------------
#
# A call made directly under a numbered span (a request's, as a rule) that ends well is sent as
# a row of the compact `calls` columns (docs/protocol.md): its shape (form, calling line, HTTP
# status) by number, its parent's number, its own index under the request, its times and its
# one own value. Its ids are functions of those numbers, so nothing random is drawn for it and
# no span object is made. A call that fails, is cancelled or answers 4xx/5xx becomes a span
# object with the same ids (_span_of), since it has attributes of its own.

CALL = "calls"  # the queue entry kind of a call's row; it counts as a span
_call_span_id = _trace.call_span_id
_SITES = _callsite.SITES
_site = _callsite.site


class Call:
    """A client call in flight, to become a row when it ends well (see above)."""

    __slots__ = ("form", "site", "parent", "n", "t0", "value", "code", "span")
    kind = "client"
    _rowkey = None  # no rows under a call (Span._rowkey)

    # What user code or a log record may read of the current span while a call runs (an
    # SQLAlchemy statement is current while its driver runs).
    @property
    def trace_id(self):
        parent = self.parent
        return parent._trace_id or parent.trace_id

    @property
    def span_id(self):
        return _call_span_id(self.parent._seq, self.n)

    @property
    def parent_span_id(self):
        return self.parent.span_id

    @property
    def _root(self):
        parent = self.parent
        return parent._root or parent

    @property
    def name(self):
        return self.form.name

    def set_attribute(self, key, value):
        _span_of(self).set_attribute(key, value)


_new_call = Call.__new__


def _call(parent, form, value, depth=2):
    """A Call (or, where a row does not apply, a ClientSpan or Fold) for a call under parent.

    The calling-line walk starts `depth` frames up from here (2: the caller of begin_db() or
    begin_form()). A hook whose own callers are always the agent's frames passes their number
    on, so that sys._getframe skips them in C: each frame the walk steps through costs a frame
    object and a verdict lookup. Starting too high would skip the application's own line, so a
    hook counts only the frames it makes itself."""
    if parent.kind == "client" or not Settings.enabled:
        return None
    root = parent._root or parent
    count = root._clients
    if count >= Settings.max_spans:
        attributes = dict(form.attributes)
        if value is not None:
            attributes[form.value_key] = value
        return _fold(root, parent, form.name, attributes)
    if parent._seq is None:
        return _start_form(parent, form, value)
    root._clients = count + 1
    site = _site_at(depth + 1)
    if site is None:  # every site number taken: a span object with its line
        root._clients = count
        return _start_form(parent, form, value)
    call = _make_call(parent, form, count + 1, None, value, site)
    call.t0 = _perf()
    return call


def _site_at(depth):
    """The site number (_callsite) of the innermost application frame from `depth` frames up
    (1: the caller) outwards: 0 when there is none, None when every site number is taken.

    Written out and as tight as it goes: this runs for every call, and a call through requests
    and urllib3 passes a dozen frames."""
    get = _verdicts.get
    try:
        frame = _getframe(depth)
        found = get(frame.f_code)
        while not found:
            if found is None:
                found = _learn(frame.f_code)
                if found:
                    break
            frame = frame.f_back
            found = get(frame.f_code)
    except (AttributeError, ValueError):  # past the outermost frame: no application line
        return 0
    site = found[3].get(frame.f_lasti)
    if site is None:
        return _site(frame, found)
    return site


def _make_call(parent, form, n, t0, value, site):
    call = _new_call(Call)
    call.form = form
    call.site = site
    call.parent = parent
    call.n = n
    call.value = value
    call.code = None
    call.span = None
    call.t0 = t0
    return call


# -- statements as rows, begun and ended in one place ------------------------------------
#
# A DB-API or Redis hook whose call can travel as a row (made directly under a numbered span,
# within the limit, OpenTelemetry not loaded) needs no Call: row_begin() takes its index under
# the request, the hook reads the clock around the driver's call, and row_end() (or
# row_failed()) finds its calling line and queues its row. What the row says is what end()
# would have made of a Call; anything else goes through begin_db() as before.

def row_begin(target, statement):
    """(parent, form, n) for a statement that travels as a row, its index n taken; None when
    the hook is to take begin_db() instead. Outside any request the statement is not looked at.

    row_begin_form() written out: this runs for every statement, and the call to it cost about
    780 instructions a statement (callgrind), 3% of an in-memory sqlite3 query with its hook."""
    parent = _current.get()
    if parent is None or parent._rowkey is None or _otel.loaded or not Settings.enabled:
        return None
    try:
        form = target.statements[statement]
    except (KeyError, TypeError, AttributeError):
        form = _parse_db(target, statement)
        if form is None:
            return None
    root = parent._root or parent
    count = root._clients
    if count >= Settings.max_spans:
        return None
    root._clients = count + 1
    return parent, form, count + 1


def row_begin_form(parent, form):
    """row_begin() for a call under parent (the current span, not None) whose Form the hook has
    (a Redis command's); None for no form. A client span (no row key) has no rows under it."""
    if form is None or parent._rowkey is None or _otel.loaded or not Settings.enabled:
        return None
    root = parent._root or parent
    count = root._clients
    if count >= Settings.max_spans:
        return None
    root._clients = count + 1
    return parent, form, count + 1


def row_end(begun, t0, value, depth):
    """Queues the row of a statement row_begin() began at t0 that returned, value its own
    attribute (the row count) or None; depth: how many frames up from here the calling-line
    walk starts (as for _call)."""
    now = _perf()
    parent, form, n = begun
    site = _site_at(depth + 1)
    if site is not None:
        try:
            shape = form.shapes[site]
        except KeyError:
            shape = _new_call_shape(form, site, site, None)
        if shape is not None:
            export_row = _trace._export_row
            if export_row is not None:
                export_row((CALL, shape, parent._rowkey, n, t0, now, value))
            return
        end(_span_of(_make_call(parent, form, n, t0, value, site)))
        return
    _row_span(parent, form, t0, value)


def row_failed(begun, t0, exc, depth):
    """Sends the statement row_begin() began at t0, which raised exc, as a failed span object
    (with the ids its row would have had)."""
    parent, form, n = begun
    site = _site_at(depth + 1)
    if site is None:
        span = _row_span(parent, form, t0, None, send=False)
    else:
        span = _make_call(parent, form, n, t0, None, site)
    fail(span, exc)
    end(span)


def _row_span(parent, form, t0, value, send=True):
    """Every site number taken: the call as a span object with its line (as _call makes then),
    started at t0, and ended now when send is true."""
    root = parent._root or parent
    root._clients -= 1  # _start counts it again
    span = _start_form(parent, form, value)
    if span is not None and span.__class__ is ClientSpan:
        span._t0 = t0
        span.start_ms = parent.start_ms + (t0 - parent._t0) * 1000.0
    if send and span is not None:
        end(span)
    return span


def _span_of(call):
    """The span object a Call stands for (made once): the same ids, times and attributes."""
    span = call.span
    if span is not None:
        return span
    parent = call.parent
    form = call.form
    span = _new_span(ClientSpan)
    span._trace_id = parent._trace_id or parent.trace_id
    span.parent_span_id = parent._span_id or parent.span_id
    span._span_id = _call_span_id(parent._seq, call.n)
    span._root = parent._root or parent
    span.name = form.name
    attributes = {}
    if call.value is not None and form.value_key:
        attributes[form.value_key] = call.value
    if call.code is not None:
        attributes["http.response.status_code"] = call.code
    span.attributes = attributes
    span._static = (form.attributes, form.encoded)
    where = _SITES[call.site] if call.site < len(_SITES) else None
    if where is not None:
        span._code = where
    span._t0 = call.t0
    span.start_ms = parent.start_ms + (call.t0 - parent._t0) * 1000.0
    call.span = span
    return span


# Shapes of call rows: numbered once per (form, calling line, status), sent by number.
MAX_CALL_SHAPES = 16384
_call_shape_texts = []
_call_shape_lock = threading.Lock()


def _new_call_shape(form, key, site, status):
    """The shape number of form's calls from site (with status, for HTTP; key stands for both),
    or None when the table is full (the call is then a span object)."""
    with _call_shape_lock:
        shape = form.shapes.get(key)
        if shape is not None:
            return shape
        texts = _call_shape_texts
        if len(texts) >= MAX_CALL_SHAPES:
            return None
        members = [form.encoded]
        where = _SITES[site]
        if where is not None:
            members.append(_trace._code_json(where))
        if status is not None:
            members.append('"http.response.status_code":%d' % status)
        shape = len(texts)
        texts.append('"%d":{"name":%s,"kind":"client","attributes":{%s}%s}' % (
            shape, _enc(form.name), ",".join(m for m in members if m),
            ',"value":' + _enc(form.value_key) if form.value_key else ""))
        form.shapes[key] = shape
        return shape


def _value_text(value):
    if value is None:
        return "null"
    if value.__class__ is int:
        return str(value)
    if value.__class__ is str:
        return _enc(value)
    return _enc(str(value))


def encode_calls(rows):
    """The compact `calls` member (docs/protocol.md) for rows made by end().

    Like _http.encode_rows, all of it runs in C but the loop over the batch's distinct shapes
    (and over its distinct parents with a trace id of their own, when there are any)."""
    _, shapes, keys, ns, t0s, t1s, values = zip(*rows)
    # The parents' row keys (Span._rowkey): number, start in µs, start on the perf_counter clock.
    parents, bases, parent_t0s, traces = zip(*keys)
    # A call's start is its parent's plus the time between the two on the perf_counter clock,
    # so that calls nest in their parent exactly.
    # Every call starts after its parent, so the earliest parent's start (whole µs) is at or
    # before every call's: the offsets from it are worked out in one pass.
    t0 = int(min(bases))
    starts = [int(base + (t - p) * 1e6 + 0.5) - t0 for base, p, t in zip(bases, parent_t0s, t0s)]
    durations = [int((b - a) * 1e6 + 0.5) for a, b in zip(t0s, t1s)]
    texts = _call_shape_texts
    parts = [
        '{"ids":{"trace":"', _trace.SEQ_TRACE, '","span":"', _trace.SEQ_SPAN,
        '"},"shapes":{', ",".join([texts[shape] for shape in set(shapes)]),
        '},"t0":', str(t0),
        ',"parent":[', _ints(parents),
        '],"n":[', _ints(ns),
        '],"start":[', _ints(starts),
        '],"dur":[', _ints(durations),
        '],"shape":[', _ints(shapes), "]",
    ]
    if values.count(None) != len(values):
        parts.append(',"value":[' + ",".join(map(_value_text, values)) + "]")
    # Parents whose trace id is not the one their number gives (a request that continued a
    # caller's trace): named per parent number.
    if traces.count(None) != len(traces):
        seq_ids = _trace.seq_ids
        explicit = ['"%d":%s' % (seq, _enc(trace)) for seq, _b, _t, trace in set(keys)
                    if trace is not None and trace != seq_ids(seq)[0]]
        if explicit:
            parts.append(',"traces":{' + ",".join(explicit) + "}")
    parts.append("}")
    return "".join(parts)


_fold_lock = threading.Lock()


def _fold(root, parent, name, attributes):
    # Calls of one shape: the same name, statement (or none) and server.
    key = (name, attributes.get("db.query.text"), attributes.get("server.address"), attributes.get("server.port"))
    folds = root._folds
    if folds is None:
        with _fold_lock:
            folds = root._folds
            if folds is None:
                folds = root._folds = {}
    entry = folds.get(key)
    if entry is None:
        with _fold_lock:
            entry = folds.get(key)
            if entry is None:
                if len(folds) >= MAX_FOLD_SHAPES:
                    key = None
                    entry = folds.get(key)
                    if entry is None:
                        attributes = {}
                        name = "other client calls"
                if entry is None:
                    add_callsite(attributes, 3)
                    summary = _new_span(ClientSpan)
                    summary._trace_id = parent._trace_id or parent.trace_id
                    summary.parent_span_id = parent._span_id or parent.span_id
                    summary._root = root
                    summary.name = name
                    summary.attributes = attributes
                    t0 = summary._t0 = _perf()
                    summary.start_ms = (t0 + _trace._wall_offset) * 1000.0
                    # [summary span, calls, seconds spent in them, failed calls, end of the last]
                    entry = folds[key] = [summary, 0, 0.0, 0, t0]
    return Fold(entry)


def _flush_folds(root):
    folds = root._folds
    if not folds:
        return
    export = _trace._export
    for summary, count, total, failed, last_end in list(folds.values()):
        attributes = summary.attributes
        attributes["routelens.folded.count"] = count
        attributes["routelens.folded.duration_ms"] = round(total * 1000.0, 3)
        if failed:
            attributes["routelens.folded.errors"] = failed
            summary.status = "error"
        summary.end_ms = summary.start_ms + max(0.0, last_end - summary._t0) * 1000.0
        if export is not None:
            export(summary)


_trace._fold_flusher = _flush_folds


def fail(span, exc):
    """Marks the call as failed with exc (which the hook then re-raises unchanged)."""
    try:
        if span.__class__ is Fold:
            span.failed = True
            return
        if span.__class__ is Call:
            span = _span_of(span)
        span.attributes["error.type"] = error_type(exc)
        span.record_exception(exc)
    except Exception:
        pass


def cancelled(span):
    """The call was cancelled (asyncio): not the remote side's failure, but no answer either."""
    try:
        if span.__class__ is Call:
            span = _span_of(span)
        if span.__class__ is not Fold:
            span.attributes["error.type"] = "cancelled"
            span.status = "error"
            span.status_message = "cancelled"
    except Exception:
        pass


def end(span):
    now = _perf()
    if span.__class__ is Call:
        if span.span is None:
            # The common case: a row of the compact `calls` columns (docs/protocol.md).
            form = span.form
            if form is None:
                return  # ended already
            code = span.code
            # By calling line, and for HTTP by line and status (numbers below 0: no collision).
            key = span.site if code is None else -1 - (span.site * 1000 + code)
            try:
                shape = form.shapes[key]
            except KeyError:
                shape = _new_call_shape(form, key, span.site, code)
            if shape is not None:
                span.form = None
                export_row = _trace._export_row
                if export_row is not None:
                    # Times and ids are worked out by the exporter thread (encode_calls).
                    export_row((CALL, shape, span.parent._rowkey, span.n, span.t0, now, span.value))
                return
            span = _span_of(span)
        else:
            span = span.span
    if span.__class__ is Fold:
        entry = span.entry
        entry[1] += 1
        entry[2] += now - span._t0
        if span.failed:
            entry[3] += 1
        entry[4] = now
        return
    if span.end_ms is not None:
        return
    span.end_ms = span.start_ms + (now - span._t0) * 1000.0
    if span.exception is not None:
        span._exc_obj = None
    export = _trace._export
    if export is not None:
        export(span)


def error_type(exc):
    cls = type(exc)
    module = cls.__module__
    if module in ("builtins", "__main__") or not module:
        return cls.__qualname__
    return module + "." + cls.__qualname__


def traceparent(span):
    if span.__class__ is Call:
        parent = span.parent
        return "00-%s-%s-01" % (parent._trace_id or parent.trace_id, _call_span_id(parent._seq, span.n))
    if span.__class__ is not ClientSpan:  # a Fold: its summary span's ids
        return "00-%s-%s-01" % (span.trace_id, span.span_id)
    span_id = span._span_id
    if span_id is None:
        # A client span is seen by no other thread before its call is sent: no lock needed.
        span_id = span._span_id = "%016x" % (_getrandbits(64) or 1)
    return "00-%s-%s-01" % (span._trace_id or span.trace_id, span_id)


_getrandbits = _trace._getrandbits
_call_half = _trace.call_half


def traceparent_header(span):
    """The `traceparent: ...` header line (bytes) for the call span stands for.

    For a call (the common case) the line up to the second half of its span id is its parent's,
    made once and kept on the parent: the rest is one small format of call_half()."""
    if span.__class__ is Call:
        parent = span.parent
        head = parent._traceparent
        if head is None:
            head = parent._traceparent = ("traceparent: 00-%s-%s" % (
                parent._trace_id or parent.trace_id, _trace.seq_head(parent._seq))).encode("ascii")
        return head + b"%08x-01" % _call_half(span.n)
    return b"traceparent: " + traceparent(span).encode("ascii")


def tracestate(span):
    """The W3C tracestate the request of span received (to carry on with traceparent), or None."""
    cls = span.__class__
    if cls is Call:
        parent = span.parent
        root = parent._root or parent
    else:
        root = span.entry[0]._root if cls is Fold else span._root
    if root is None:
        return None
    return root._tracestate


# -- statements ----------------------------------------------------------------------

# String literals (with '' inside), dollar-quoted strings and numbers that are not part of a
# name or a placeholder ($1, :1, %s stay as they are).
_LITERALS = re.compile(
    r"'(?:[^']|'')*'"
    r"|\$\$.*?\$\$|\$([A-Za-z_][A-Za-z_0-9]*)\$.*?\$\1\$"
    r"|(?<![\w$:.])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w.])",
    re.S,
)
_LEADING = re.compile(r"\s*(?:(?:/\*.*?\*/|--[^\n]*(?:\n|$))\s*)*([A-Za-z]+)", re.S)
_NAME = r"((?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`|\[[^\]]+\])(?:\.(?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`|\[[^\]]+\]))*)"
_FROM = re.compile(r"\bFROM\s+" + _NAME, re.I)
_INTO = re.compile(r"\bINTO\s+" + _NAME, re.I)
_UPDATE = re.compile(r"^\s*UPDATE\s+(?:ONLY\s+)?" + _NAME, re.I)
_TABLE = re.compile(r"\bTABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?" + _NAME, re.I)
MAX_QUERY_TEXT = 4096


def _replace_literal(match):
    return "?"


def sanitize(statement):
    """The statement with its literals replaced by `?`, cut to MAX_QUERY_TEXT characters."""
    text = _LITERALS.sub(_replace_literal, statement[:MAX_QUERY_TEXT * 2])
    if len(text) > MAX_QUERY_TEXT:
        text = text[:MAX_QUERY_TEXT - 3] + "..."
    return text.strip()


def _unquote(name):
    return ".".join(part.strip('"`[]') for part in name.split("."))


def parse_statement(statement):
    """(query text, operation, collection or None) of a SQL statement."""
    text = sanitize(statement)
    match = _LEADING.match(text)
    operation = match.group(1).upper() if match else None
    collection = None
    pattern = None
    if operation in ("SELECT", "DELETE", "WITH"):
        pattern = _FROM
    elif operation in ("INSERT", "REPLACE", "UPSERT", "MERGE"):
        pattern = _INTO
    elif operation == "UPDATE":
        pattern = _UPDATE
    elif operation in ("CREATE", "DROP", "ALTER", "TRUNCATE"):
        pattern = _TABLE
    if pattern is not None:
        found = pattern.search(text)
        if found:
            collection = _unquote(found.group(1))
    return text, operation, collection


# Statements whose parse each connection target keeps.
MAX_STATEMENTS = 2048


def db_attributes(target, statement):
    """(span name, a fresh attribute dictionary) for one statement on target (a DbTarget or a
    plain 4-tuple)."""
    try:
        form = target.statements[statement]
    except (KeyError, TypeError, AttributeError):
        form = _parse_db(target, statement)
    return form.name, dict(form.attributes)


def _parse_db(target, statement):
    if not isinstance(target, DbTarget):
        target = db_target(*target)
    if not isinstance(statement, str):  # bytes, or a composed statement object
        try:
            return target.statements[statement]
        except (KeyError, TypeError):
            pass
        text = _statement_text(statement)
        try:
            return target.statements[text]
        except KeyError:
            pass
        form = _parse_db(target, text)
        try:
            if len(target.statements) < MAX_STATEMENTS:
                target.statements[statement] = form
        except TypeError:  # not hashable: looked up by its text each time
            pass
        return form
    system, namespace, address, port = target
    template = {"db.system.name": system}
    if namespace:
        template["db.namespace"] = namespace
    if address:
        template["server.address"] = address
        if port:
            template["server.port"] = port
    name = system
    try:
        text, operation, collection = parse_statement(statement)
        template["db.query.text"] = text
        if operation:
            template["db.operation.name"] = operation
            name = operation
        if collection:
            template["db.collection.name"] = collection
            name = operation + " " + collection
    except Exception:
        pass
    form = Form(name, template, ROWS_KEY)
    if len(target.statements) < MAX_STATEMENTS:
        target.statements[statement] = form
    return form


def _statement_text(statement):
    if isinstance(statement, (bytes, bytearray, memoryview)):
        return bytes(statement).decode("utf-8", "replace")
    as_string = getattr(statement, "as_string", None)
    if as_string is not None:  # psycopg's sql.Composed needs a connection to render; its parts do not
        try:
            return "".join(str(getattr(part, "_obj", part)) for part in getattr(statement, "_obj", [statement]))
        except Exception:
            pass
    return str(statement)


def operation_span(static, operation):
    """(name, attributes) of a connection-level operation such as COMMIT or ROLLBACK."""
    system, namespace, address, port = static
    attributes = {"db.system.name": system, "db.operation.name": operation}
    if namespace:
        attributes["db.namespace"] = namespace
    if address:
        attributes["server.address"] = address
        if port:
            attributes["server.port"] = port
    return operation, attributes


# -- URLs ----------------------------------------------------------------------------

REDACTED = "REDACTED"


def redact_url(url):
    """url.full without credentials, and with every query value replaced by REDACTED."""
    if "@" not in url and "?" not in url and "#" not in url:
        return url
    try:
        scheme_end = url.find("://")
        if scheme_end >= 0:
            authority_start = scheme_end + 3
            path_start = len(url)
            for sep in "/?#":
                at = url.find(sep, authority_start)
                if 0 <= at < path_start:
                    path_start = at
            authority = url[authority_start:path_start]
            if "@" in authority:
                url = url[:authority_start] + REDACTED + ":" + REDACTED + "@" + authority.rpartition("@")[2] + url[path_start:]
        fragment = url.find("#")
        if fragment >= 0:
            url = url[:fragment]
        query = url.find("?")
        if query < 0:
            return url
        pairs = []
        for pair in url[query + 1:].split("&"):
            if not pair:
                continue
            name, sep, _ = pair.partition("=")
            pairs.append(name + "=" + REDACTED if sep else name)
        return url[:query + 1] + "&".join(pairs)
    except Exception:
        return ""


def http_attributes(method, url, address, port):
    attributes = {"http.request.method": method, "url.full": redact_url(url)}
    if address:
        attributes["server.address"] = address
    if port:
        attributes["server.port"] = port
    return attributes


_http_shared = {}


def http_shared(method, address, port):
    """What every call of one method to one server shares: (attributes, their encoded members),
    kept, so a client span holds only its URL (and status) and the exporter writes the rest as
    one fragment."""
    key = (method, address, port)
    try:
        return _http_shared[key]
    except KeyError:
        pass
    except TypeError:
        key = None
    attributes = {"http.request.method": method}
    if address:
        attributes["server.address"] = address
    if port:
        attributes["server.port"] = port
    shared = Form(method, attributes, "url.full")
    if key is not None and len(_http_shared) < 1024:
        _http_shared[key] = shared
    return shared


def begin_http(method, url, address, port):
    """begin() for an HTTP request: the span's own attributes are its redacted URL only."""
    return begin_form(_current.get(), http_shared(method, address, port), redact_url(url))


def end_http(span, status):
    """Ends an HTTP call that got a response with status: 4xx and 5xx make it a failed span."""
    if span.__class__ is Call and span.span is None and status.__class__ is int and 0 <= status < 400:
        # The common case: the status is part of the call's row shape (end()).
        span.code = status
    else:
        _http_status(span, status)
    end(span)


def _http_status(span, status):
    """Records a status on a call that is (or becomes) a span object (None: no status read)."""
    if status is None:
        return
    try:
        if span.__class__ is Call:
            span = _span_of(span)
        attributes = span.attributes
        attributes["http.response.status_code"] = status
        if status >= 400 and span.__class__ is not Fold:
            attributes["error.type"] = str(status)
            span.status = "error"
    except Exception:
        pass


_KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))


_METHOD_NAMES = {m: m for m in _KNOWN_METHODS}


def http_method(method):
    known = _METHOD_NAMES.get(method)
    if known is not None:
        return known
    method = method.decode("latin-1") if isinstance(method, bytes) else str(method)
    upper = method.upper()
    return upper if upper in _KNOWN_METHODS else "_OTHER"
