"""Outgoing HTTP as client spans: http.client (so urllib.request, urllib3, requests), httpx, aiohttp.

Each request is one client span from the request line to the response's status and headers
(reading the body is the caller's, and not in the span), named after the method, with the
OpenTelemetry HTTP client attributes, and the W3C traceparent header sent with it so that the
next service continues the trace, with the tracestate the current request received (carried on
unchanged). A header the caller set itself is left alone (a caller's own traceparent: neither
is added). Requests to the collector are never traced.
"""

import asyncio
import inspect

from . import _otel
from ._clients import (_METHOD_NAMES, Settings, begin_form, begin_http, cancelled, end, end_http, fail,
                       http_method, http_shared, is_collector, otel_owns, redact_url, traceparent, traceparent_header,
                       tracestate)
from ._trace import _current
from ._patch import add_default, patch

_BYTE_METHODS = {m.encode("ascii"): m for m in _METHOD_NAMES}


# -- http.client ----------------------------------------------------------------------

def _make_origin(conn):
    """(scheme://host[:port], host, port, {method: Form}, {request line: (Form, URL)}) of a
    connection, kept on it (_begin_request) while host and port stay."""
    scheme = "https" if getattr(conn, "default_port", 80) == 443 else "http"
    host = conn.host
    port = conn.port
    shown = "[%s]" % host if ":" in host else host
    if port and port != conn.default_port:
        shown = "%s:%d" % (shown, port)
    return scheme + "://" + shown, host, port, {}, {}


# Request lines remembered per connection (a client calling the same few URLs again): past it,
# a line is worked out on every request.
MAX_LINES = 64


def _line_form(origin, line):
    """(Form, url.full) of a request line (b"GET /path HTTP/1.1") sent to origin; remembered
    when the line has no query, fragment or credentials (so nothing to redact is kept)."""
    base, host, port, forms, lines = origin
    method, _, rest = line.partition(b" ")
    url = rest.rpartition(b" ")[0].decode("latin-1")
    full = url if "://" in url[:16] else base + (url if url[:1] == "/" else "/" + url)
    plain = "?" not in full and "@" not in full and "#" not in full
    if not plain:
        full = redact_url(full)
    name = _BYTE_METHODS.get(method) or http_method(method)
    try:
        form = forms[name]
    except KeyError:
        form = forms[name] = http_shared(name, host, port)
    if plain and len(lines) < MAX_LINES:
        lines[line] = (form, full)
    return form, full


# OpenTelemetry instruments these on top of http.client: where one is active it owns the span.
_HTTP_CLIENT_OTEL = ("requests", "urllib", "urllib3")


def _begin_request(conn, parent):
    """The span (Call) of the request conn is about to send under parent (the current span, or
    None outside any request), from its request line, with the traceparent (and tracestate)
    header added; None when it is not traced."""
    before = conn._routelens_span
    if before is not None:
        # A request sent without a response read for the one before: that one is over.
        conn._routelens_span = None
        end(before)
    if parent is None and not Settings.outside_requests:
        return None
    port = conn.port
    if port in Settings.collector_ports and is_collector(conn.host, port):
        return None
    if _otel.loaded and otel_owns(_HTTP_CLIENT_OTEL):
        return None
    buffer = conn._buffer
    # The request line putrequest() wrote first.
    line = buffer[0]
    origin = conn._routelens_origin
    if origin is None or origin[1] is not conn.host or origin[2] != port:
        origin = conn._routelens_origin = _make_origin(conn)
    try:
        form, full = origin[4][line]
    except KeyError:
        form, full = _line_form(origin, line)
    # The walk starts at endheaders()'s caller (_call, begin_form, this, endheaders).
    span = begin_form(parent, form, full, 4)
    if span is None:
        return None
    # The header lines as putheader() wrote them: one pass in C to see whether the caller set a
    # traceparent (or tracestate) of its own.
    written = b"\n".join(buffer).lower()
    if b"\ntraceparent:" not in written:
        # What putheader() would append, without its checks: the value is ours and valid.
        buffer.append(traceparent_header(span))
        state = tracestate(span)
        if state is not None and b"\ntracestate:" not in written:
            buffer.append(b"tracestate: " + state.encode("ascii"))
    return span


def _same_signature(function, expected):
    """Whether function's parameters are spelled `expected` (a hook then takes exactly them: a
    call through *args and **kwargs builds a tuple and a dict, and costs more than the hook's
    own work)."""
    try:
        return str(inspect.signature(function)) == expected
    except (TypeError, ValueError):
        return False


def _make_endheaders(original):
    # The request is traced from here (its line and headers are written; sending it, and
    # connecting first if need be, is what endheaders() does) to its response's status line and
    # headers (getresponse()). http.client, urllib.request, urllib3 and requests all pass here.
    if _same_signature(original, "(self, message_body=None, *, encode_chunked=False)"):
        def endheaders(self, message_body=None, *, encode_chunked=False):
            parent = _current.get()
            if parent is None and self._routelens_span is None and not Settings.outside_requests:
                return original(self, message_body, encode_chunked=encode_chunked)
            try:
                span = _begin_request(self, parent)
            except Exception:
                span = None
            if span is None:
                return original(self, message_body, encode_chunked=encode_chunked)
            try:
                result = original(self, message_body, encode_chunked=encode_chunked)
            except BaseException as exc:
                _call_failed(self, span, exc)
                raise
            self._routelens_span = span
            return result

        # A call with the wrong arguments fails with the message the original's would have.
        endheaders.__qualname__ = original.__qualname__
        return endheaders

    def endheaders(self, *args, **kwargs):
        try:
            span = _begin_request(self, _current.get())
        except Exception:
            span = None
        if span is None:
            return original(self, *args, **kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            _call_failed(self, span, exc)
            raise
        self._routelens_span = span
        return result

    return endheaders


def _response_end(conn, span, response):
    conn._routelens_span = None
    end_http(span, getattr(response, "status", None))


def _call_failed(conn, span, exc):
    """The request or its response failed with exc (which the hook then raises unchanged)."""
    conn._routelens_span = None
    fail(span, exc)
    end(span)


def _make_getresponse(original):
    if _same_signature(original, "(self)"):
        # Called with arguments (urllib3 1.x tries getresponse(buffering=True) first), it raises
        # the TypeError the original would, and the span waits for the call that follows.
        def getresponse(self):
            span = self._routelens_span
            if span is None:
                return original(self)
            try:
                response = original(self)
            except BaseException as exc:
                _call_failed(self, span, exc)
                raise
            _response_end(self, span, response)
            return response

        getresponse.__qualname__ = original.__qualname__
        return getresponse

    def getresponse(self, *args, **kwargs):
        span = self._routelens_span
        if span is None:
            return original(self, *args, **kwargs)
        try:
            response = original(self, *args, **kwargs)
        except BaseException as exc:
            # urllib3 1.x tries getresponse(buffering=True) first and calls again without it:
            # the span waits for that call.
            if not (args or kwargs) or not isinstance(exc, TypeError):
                _call_failed(self, span, exc)
            raise
        _response_end(self, span, response)
        return response

    return getresponse


def instrument_http_client(module=None):
    if module is None:
        import http.client as module
    # The span of the request in flight and the connection's origin, as attributes (see
    # add_default) that are None until set.
    add_default(module.HTTPConnection, "_routelens_span", None)
    add_default(module.HTTPConnection, "_routelens_origin", None)
    patch(module.HTTPConnection, "endheaders", _make_endheaders)
    patch(module.HTTPConnection, "getresponse", _make_getresponse)


# -- httpx ------------------------------------------------------------------------------

def _httpx_begin(request):
    try:
        url = request.url
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        if is_collector(host, port) or otel_owns(("httpx",)):
            return None
        span = begin_http(http_method(request.method), str(url), host, port)
        if span is not None and "traceparent" not in request.headers:
            request.headers["traceparent"] = traceparent(span)
            state = tracestate(span)
            if state is not None and "tracestate" not in request.headers:
                request.headers["tracestate"] = state
        return span
    except Exception:
        return None


def _make_handle_request(original):
    def handle_request(self, request):
        span = _httpx_begin(request)
        if span is None:
            return original(self, request)
        try:
            response = original(self, request)
        except BaseException as exc:
            fail(span, exc)
            end(span)
            raise
        end_http(span, response.status_code)
        return response

    return handle_request


def _make_handle_async_request(original):
    async def handle_async_request(self, request):
        span = _httpx_begin(request)
        if span is None:
            return await original(self, request)
        try:
            response = await original(self, request)
        except asyncio.CancelledError:
            cancelled(span)
            end(span)
            raise
        except BaseException as exc:
            fail(span, exc)
            end(span)
            raise
        end_http(span, response.status_code)
        return response

    return handle_async_request


def instrument_httpx(module=None):
    if module is None:
        import httpx as module
    patch(module.HTTPTransport, "handle_request", _make_handle_request)
    patch(module.AsyncHTTPTransport, "handle_async_request", _make_handle_async_request)


# -- aiohttp ----------------------------------------------------------------------------

def _with_traceparent(headers, value, state=None):
    """The caller's headers plus traceparent (and tracestate), in a new object (the caller's is
    not changed)."""
    if headers is None:
        added = {"traceparent": value}
        if state is not None:
            added["tracestate"] = state
        return added
    try:
        from multidict import CIMultiDict

        merged = CIMultiDict(headers)
    except Exception:
        return headers
    if "traceparent" not in merged:
        merged["traceparent"] = value
        if state is not None and "tracestate" not in merged:
            merged["tracestate"] = state
    return merged


def _make_aiohttp_request(original):
    async def _request(self, method, str_or_url, **kwargs):
        span = None
        try:
            build = getattr(self, "_build_url", None)
            url = build(str_or_url) if build is not None else str_or_url
            if not hasattr(url, "host"):
                from yarl import URL

                url = URL(str(url))
            host = url.host
            port = url.port
            if host and not is_collector(host, port) and not otel_owns(("aiohttp_client",)):
                span = begin_http(http_method(method), str(url), host, port)
                if span is not None:
                    kwargs["headers"] = _with_traceparent(kwargs.get("headers"), traceparent(span), tracestate(span))
        except Exception:
            span = None
        if span is None:
            return await original(self, method, str_or_url, **kwargs)
        try:
            response = await original(self, method, str_or_url, **kwargs)
        except asyncio.CancelledError:
            cancelled(span)
            end(span)
            raise
        except BaseException as exc:
            fail(span, exc)
            end(span)
            raise
        end_http(span, response.status)
        return response

    return _request


def instrument_aiohttp(module=None):
    if module is None:
        import aiohttp.client as module
    patch(module.ClientSession, "_request", _make_aiohttp_request)


HOOKS = {
    "http.client": instrument_http_client,
    "httpx": instrument_httpx,
    "aiohttp.client": instrument_aiohttp,
}
