"""Outgoing HTTP as client spans: http.client (so urllib.request, urllib3, requests), httpx, aiohttp.

Each request is one client span from the request line to the response's status and headers
(reading the body is the caller's, and not in the span), named after the method, with the
OpenTelemetry HTTP client attributes, and the W3C traceparent header sent with it so that the
next service continues the trace, with the tracestate the current request received (carried on
unchanged). A header the caller set itself is left alone (a caller's own traceparent: neither
is added). Requests to the collector are never traced.
"""

import asyncio

from . import _otel
from ._clients import (_METHOD_NAMES, Settings, begin_form, begin_http, cancelled, end, fail, http_method,
                       http_shared, http_status, is_collector, otel_owns, redact_url, traceparent, traceparent_header,
                       tracestate)
from ._trace import _current
from ._patch import patch

_SPAN_KEY = "_routelens_client_span"
_BYTE_METHODS = {m.encode("ascii"): m for m in _METHOD_NAMES}


# -- http.client ----------------------------------------------------------------------

def _origin(conn):
    """(scheme://host[:port], host, port, {method: Form}) of a connection, kept on it while host
    and port stay."""
    kept = conn.__dict__.get("_routelens_origin")
    if kept is not None and kept[1] is conn.host and kept[2] == conn.port:
        return kept
    kept = conn.__dict__["_routelens_origin"] = _make_origin(conn)
    return kept


def _make_origin(conn):
    scheme = "https" if getattr(conn, "default_port", 80) == 443 else "http"
    host = conn.host
    port = conn.port
    shown = "[%s]" % host if ":" in host else host
    if port and port != conn.default_port:
        shown = "%s:%d" % (shown, port)
    return scheme + "://" + shown, host, port, {}


# OpenTelemetry instruments these on top of http.client: where one is active it owns the span.
_HTTP_CLIENT_OTEL = ("requests", "urllib", "urllib3")


def _begin_request(conn):
    """The span (Call) of the request conn is about to send, from its request line, with the
    traceparent (and tracestate) header added; None when it is not traced."""
    if conn.port in Settings.collector_ports and is_collector(conn.host, conn.port):
        return None
    if _otel.loaded and otel_owns(_HTTP_CLIENT_OTEL):
        return None
    buffer = conn._buffer
    # The request line putrequest() wrote: b"GET /path HTTP/1.1".
    method, _, rest = buffer[0].partition(b" ")
    url = rest.rpartition(b" ")[0].decode("latin-1")
    origin, host, port, forms = _origin(conn)
    full = url if "://" in url[:16] else origin + (url if url[:1] == "/" else "/" + url)
    if "?" in full or "@" in full or "#" in full:
        full = redact_url(full)
    name = _BYTE_METHODS.get(method) or http_method(method)
    try:
        form = forms[name]
    except KeyError:
        form = forms[name] = http_shared(name, host, port)
    # The walk starts at endheaders()'s caller (_call, begin_form, this, endheaders).
    span = begin_form(form, full, 4)
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


def _make_endheaders(original):
    # The request is traced from here (its line and headers are written; sending it, and
    # connecting first if need be, is what endheaders() does) to its response's status line and
    # headers (getresponse()). http.client, urllib.request, urllib3 and requests all pass here.
    def endheaders(self, *args, **kwargs):
        state = self.__dict__
        if _SPAN_KEY in state:
            # A request sent without a response read for the one before: that one is over.
            end(state.pop(_SPAN_KEY))
        if _current.get() is None and not Settings.outside_requests:
            return original(self, *args, **kwargs)
        try:
            span = _begin_request(self)
        except Exception:
            span = None
        if span is None:
            return original(self, *args, **kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            fail(span, exc)
            end(span)
            raise
        state[_SPAN_KEY] = span
        return result

    return endheaders


def _make_getresponse(original):
    def getresponse(self, *args, **kwargs):
        span = self.__dict__.get(_SPAN_KEY)
        if span is None:
            return original(self, *args, **kwargs)
        try:
            response = original(self, *args, **kwargs)
        except TypeError:
            if args or kwargs:
                # urllib3 1.x tries getresponse(buffering=True) first and calls again without it.
                raise
            self.__dict__.pop(_SPAN_KEY, None)
            end(span)
            raise
        except BaseException as exc:
            self.__dict__.pop(_SPAN_KEY, None)
            fail(span, exc)
            end(span)
            raise
        del self.__dict__[_SPAN_KEY]
        try:
            http_status(span, response.status)
        except Exception:
            pass
        end(span)
        return response

    return getresponse


def instrument_http_client(module=None):
    if module is None:
        import http.client as module
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
        http_status(span, response.status_code)
        end(span)
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
        http_status(span, response.status_code)
        end(span)
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
        http_status(span, response.status)
        end(span)
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
