"""What every framework integration shares: the server span of one request."""

import os
import threading

from . import _json, _testrun, _trace
from ._codeloc import code_attributes
from ._trace import parse_traceparent, split_host

UNMATCHED = "/{unmatched}"

# The queue entry kind of a plain request (see finish()); it counts as a span.
REQUEST = "requests"

# A request line can say anything; unknown methods are folded into one value so they
# cannot multiply the per-route series.
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))


class State:
    """The process-wide switch the patched framework code consults on every request."""

    agent = None


class RouteInfo:
    """What every request of one route shares: its template and handler location, pre-encoded."""

    __slots__ = ("template", "attributes", "keys", "fragment", "_names", "_heads")

    def __init__(self, template, code_attrs=None):
        self.template = template
        attributes = {"http.route": template}
        if code_attrs:
            attributes.update(code_attrs)
        self.attributes = attributes
        self.keys = frozenset(attributes)
        self.fragment = _json.attributes_body(attributes)
        self._names = {}
        self._heads = {}

    def head(self, method):
        """The encoded `"name":...,"kind":"server"` members and the name they spell, per method."""
        try:
            return self._heads[method]
        except KeyError:
            name = self.span_name(method)
            head = (name, ',"name":' + _json.string(name) + ',"kind":"server"')
            if len(self._heads) < 16:
                self._heads[method] = head
            return head

    def span_name(self, method):
        try:
            return self._names[method]
        except KeyError:
            name = ("HTTP" if method == "_OTHER" else method) + " " + self.template
            if len(self._names) < 16:
                self._names[method] = name
            return name


UNMATCHED_ROUTE = RouteInfo(UNMATCHED)
_routes = {}


def route_info(template, handler=None, method=None):
    """The shared RouteInfo of (template, handler, method); template None means unmatched."""
    if template is None:
        return UNMATCHED_ROUTE
    if method not in _METHODS:
        # Whatever a client writes as the method must not grow this cache.
        method = None
    key = (template, handler, method)
    try:
        return _routes[key]
    except KeyError:
        pass
    except TypeError:
        return RouteInfo(template, code_attributes(handler, method) if handler is not None else None)
    info = RouteInfo(template, code_attributes(handler, method) if handler is not None else None)
    if len(_routes) < 10000:
        _routes[key] = info
    return info


_RequestSpan = _trace.RequestSpan
_new_span = _RequestSpan.__new__
_perf = _trace._perf


# Set by the OTLP exporter (_otlp.py): called with (trace id, sampled) for a request with a traceparent.
remote_parent_hook = None


def _sampled_flag(traceparent):
    try:
        return bool(int(traceparent.strip().split("-")[3][:2], 16) & 1)
    except (ValueError, IndexError):
        return True


def begin(method, path, traceparent, client_address, host, tracestate=None):
    """A started server span for one request (route and status come with finish()).

    tracestate (the W3C header, with a valid traceparent only) is kept on the span so that the
    request's outgoing HTTP calls carry it on unchanged."""
    if method in _METHODS:
        request = (method, path, client_address, host, None)
    else:
        request = ("_OTHER", path, client_address, host, str(method)[:32])
    trace_id = parent_span_id = None
    if traceparent:
        parent = parse_traceparent(traceparent)
        if parent is not None:
            trace_id, parent_span_id = parent
            if remote_parent_hook is not None:
                # The OTLP exporter's parent-based samplers follow the caller's sampled flag.
                remote_parent_hook(trace_id, _sampled_flag(traceparent))
    span = _new_span(_RequestSpan)
    if trace_id is not None:
        span._trace_id = trace_id
        span.parent_span_id = parent_span_id
        if tracestate:
            tracestate = _trace.clean_tracestate(tracestate)
            if tracestate is not None:
                span._tracestate = tracestate
    span.name = request[0]
    span._request = request
    seq = span._seq = _trace.next_seq()
    t0 = span._t0 = _perf()
    start_ms = span.start_ms = (t0 + _trace._wall_offset) * 1000.0
    span._rowkey = (seq, start_ms * 1000.0, t0, trace_id)
    if _testrun.active:
        test = _testrun.current_test()
        if test is not None:
            span.set_attribute(_testrun.ATTRIBUTE, test)
    return span


def finish(span, route, status_code, exc=None):
    """Names the span after its route (a RouteInfo), sets the outcome and exports the span."""
    if route is None:
        route = UNMATCHED_ROUTE
    span._route = route
    if exc is not None:
        span.record_exception(exc)
        if status_code is None:
            # The server answers an unhandled exception with a 500.
            status_code = 500
    if status_code is not None:
        span._status_code = status_code
        if status_code >= 500 and span.status is None:
            span.status = "error"
    # Span.end() written out, for the same reason as above.
    if span.end_ms is None:
        elapsed = _perf() - span._t0
        span.end_ms = span.start_ms + elapsed * 1000.0
        if span._folds is not None:
            # Client calls past the per-request limit, summarised (_clients.py).
            _trace.flush_folds(span)
        export = _trace._export
        if export is None:
            return
        request = span._request
        method = request[0]
        if (span.exception is None and not span.attributes and span.events is None
                and span.status_message is None and span.parent_span_id is None and request[4] is None
                and span._seq is not None):
            # A plain request: what the exporter needs of it, as one row of the compact
            # `requests` columns (encode_rows); the span object itself is not kept.
            try:
                shape = _shape_ids[(route, method, request[2], request[3], span._status_code, span.status)]
            except KeyError:
                shape = _new_shape((route, method, request[2], request[3], span._status_code, span.status))
            except TypeError:  # a client or host that is not a string
                shape = None
            export_row = _trace._export_row
            if shape is not None and export_row is not None:
                export_row((REQUEST, shape, int(span.start_ms * 1000.0 + 0.5), int(elapsed * 1e6 + 0.5),
                            request[1], span._seq))
                return
        name = route._names.get(method)
        span.name = name if name is not None else route.span_name(method)
        # The exception object keeps frames (and their locals) alive; it is described already.
        span._exc_obj = None
        export(span)


# What the requests of one route, method, client, host and outcome share (a "shape" of the
# `requests` columns) gets a number the first time it is seen; rows carry the number. The
# table is bounded: past MAX_SHAPES, requests of new shapes are sent as span objects.
MAX_SHAPES = 4096
_shape_ids = {}
_shape_keys = []
_shape_texts = []
_shape_lock = threading.Lock()


def _new_shape(key):
    with _shape_lock:
        shape = _shape_ids.get(key)
        if shape is None and len(_shape_keys) < MAX_SHAPES:
            name, text = _static(*key)
            shape = len(_shape_keys)
            _shape_keys.append(key)
            # The shared members, spliced after "{" (they start with a comma) and closed.
            _shape_texts.append('"%d":{%s}}' % (shape, text[1:]))
            _shape_ids[key] = shape
        return shape


# -- encoding request spans --------------------------------------------------------
#
# Most request spans differ only in ids, times, path and status; the rest repeats per
# route, client and host, so it is encoded once and reused.

_fragments = {}


def _fragment(kind, value):
    key = (kind, value)
    try:
        return _fragments[key]
    except KeyError:
        pass
    if kind == "client":
        text = ',"client.address":' + _json.string(value) if value else ""
    else:
        address, port = split_host(value)
        text = ""
        if address:
            text = ',"server.address":' + _json.string(address)
            if port:
                text += ',"server.port":%d' % port
    if len(_fragments) < 512:
        _fragments[key] = text
    return text


# Everything but the ids, times and path repeats across the requests of one route, method,
# client, host and outcome: it is encoded once and spliced between them. Times are whole
# microseconds printed with a decimal point (integer formatting costs half of "%.3f").
_TEMPLATE = '{"traceId":"%s","spanId":"%s","startMs":%d.%03d,"endMs":%d.%03d%s%s,"url.path":%s}}'
_statics = {}


def _static(route, method, client, host, code, status):
    name, head = route.head(method)
    text = "".join((
        head,
        ',"status":"%s"' % status if status else "",
        ',"attributes":{',
        route.fragment,
        ',"http.request.method":"%s"' % method,
        _fragment("client", client),
        _fragment("host", host),
        ',"http.response.status_code":%d' % code if code.__class__ is int else "",
    ))
    return name, text


def _server_json(span):
    request = span._request
    if (span.attributes or span.events or span.exception is not None or span.status_message
            or request[4] is not None or span.end_ms is None):
        return None
    route = span._route
    if route is None:
        return None
    key = (route, request[0], request[2], request[3], span._status_code, span.status)
    try:
        entry = _statics[key]
    except KeyError:
        entry = _static(*key)
        if len(_statics) < 4096:
            _statics[key] = entry
    except TypeError:
        return None
    if span.name != entry[0]:
        return None
    parent = span.parent_span_id
    start = int(span.start_ms * 1000.0 + 0.5)
    end = int(span.end_ms * 1000.0 + 0.5)
    return _TEMPLATE % (
        span._trace_id or span.trace_id,
        span._span_id or span.span_id,
        start // 1000,
        start % 1000,
        end // 1000,
        end % 1000,
        ',"parentSpanId":"%s"' % parent if parent else "",
        entry[1],
        _json.string(request[1]),
    )


def encode_spans(spans):
    """Protocol JSON texts of finished span objects (exporter thread).

    Spans without ids get theirs here, from one system call for the batch; the lock (which
    a request thread takes only to read the ids of a span already finished) is held per
    slice of the batch, never for long.
    """
    pending = [span for span in spans
               if (span._span_id is None or span._trace_id is None) and span._seq is None]
    if pending:
        ids = _urandom(24 * len(pending)).hex()
        lock = _trace._id_lock
        at = 0
        for first in range(0, len(pending), 64):
            with lock:
                for span in pending[first:first + 64]:
                    if span._trace_id is None:
                        value = ids[at:at + 32]
                        span._trace_id = value if value != _ZERO_TRACE else _trace.new_trace_id()
                    if span._span_id is None:
                        value = ids[at + 32:at + 48]
                        span._span_id = value if value != _ZERO_SPAN else _trace.new_span_id()
                    at += 48
    return [span.to_json() for span in spans]


def encode_rows(rows):
    """The compact `requests` member (docs/protocol.md) for rows made by finish().

    All of it runs in C (zip, map, join) but the loop over the distinct shapes of the batch.
    """
    _, shapes, starts, durations, paths, seqs = zip(*rows)
    texts = _shape_texts
    t0 = min(starts)
    first = seqs[0]
    if seqs[-1] - first == len(seqs) - 1 and seqs == tuple(range(first, first + len(seqs))):
        # Requests numbered one after the other (the usual case): the first number says it all.
        seq_member = ',"seq0":%d' % first
    else:
        seq_member = ',"seq":[' + _json.ints(seqs) + "]"
    try:
        path_texts = ",".join(map(_json.string, paths))
    except TypeError:
        path_texts = ",".join(_json.string(p if p.__class__ is str else str(p)) for p in paths)
    return "".join((
        '{"ids":{"trace":"', _trace.SEQ_TRACE, '","span":"', _trace.SEQ_SPAN,
        '"},"shapes":{', ",".join([texts[shape] for shape in set(shapes)]),
        '},"t0":', str(t0),
        seq_member,
        ',"start":[', _json.ints(tuple(map(t0.__rsub__, starts))),
        '],"dur":[', _json.ints(durations),
        '],"shape":[', _json.ints(shapes),
        '],"path":[', path_texts,
        "]}",
    ))


_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_urandom = os.urandom

_trace._server_json = _server_json
