"""What every framework integration shares: the server span of one request."""

from . import _json, _trace
from ._codeloc import code_attributes
from ._trace import parse_traceparent, server_span, split_host

UNMATCHED = "/{unmatched}"

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


def begin(method, path, traceparent, client_address, host):
    """A started server span for one request (route and status come with finish())."""
    if method in _METHODS:
        request = (method, path, client_address, host, None)
    else:
        request = ("_OTHER", path, client_address, host, str(method)[:32])
    if traceparent:
        parent = parse_traceparent(traceparent)
        if parent is not None:
            return server_span(request, parent[0], parent[1])
    return server_span(request)


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
    span.name = route.span_name(span._request[0])
    span.end()


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


# Times as whole microseconds printed with a decimal point: integer formatting costs
# half of what "%.3f" does on a float.
_TEMPLATE = ('{"traceId":"%s","spanId":"%s"%s,"startMs":%d.%03d,"endMs":%d.%03d%s%s'
             ',"attributes":{%s,"http.request.method":"%s","url.path":%s%s%s%s}}')


def _server_json(span):
    route = span._route
    request = span._request
    if (route is None or span.attributes or span.events or span.exception is not None
            or span.status_message or request[4] is not None or span.end_ms is None):
        return None
    method = request[0]
    name, head = route.head(method)
    if span.name != name:
        return None
    parent = span.parent_span_id
    status = span.status
    code = span._status_code
    start = int(span.start_ms * 1000.0 + 0.5)
    end = int(span.end_ms * 1000.0 + 0.5)
    return _TEMPLATE % (
        span.trace_id,
        span.span_id,
        head,
        start // 1000,
        start % 1000,
        end // 1000,
        end % 1000,
        ',"parentSpanId":"%s"' % parent if parent else "",
        ',"status":"%s"' % status if status else "",
        route.fragment,
        method,
        _json.string(request[1]),
        _fragment("client", request[2]),
        _fragment("host", request[3]),
        ',"http.response.status_code":%d' % code if code.__class__ is int else "",
    )


_trace._server_json = _server_json
