"""ASGI: Starlette and FastAPI, plus a middleware for any other ASGI app.

Starlette's `__call__` is wrapped, so the span covers the whole middleware stack
(including the server-error middleware that turns an exception into a 500). The
route template is found after the response from the endpoint the router
matched, looked up in the app's route tree (a cache keyed by endpoint makes
this a dictionary hit after the first request).
"""

import weakref

from . import _announce, _http, _otel
from ._patch import patch
from ._trace import _current

# id(app) -> (weak reference to app, {endpoint: {method: RouteInfo}})
_route_cache = {}
SCOPE_KEY = "routelens.span"


class _Status:
    __slots__ = ("code",)

    def __init__(self):
        self.code = None


def _begin(scope, path, root_path):
    traceparent = tracestate = None
    host = None
    for name, value in scope.get("headers") or ():
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"traceparent":
            traceparent = value.decode("latin-1")
        elif name == b"tracestate":
            # Several tracestate headers are one list, in order.
            value = value.decode("latin-1")
            tracestate = value if tracestate is None else tracestate + "," + value
    client = scope.get("client")
    if not host:
        server = scope.get("server")
        if server:
            address = "[%s]" % server[0] if ":" in str(server[0]) else str(server[0])
            host = address if len(server) < 2 or server[1] is None else "%s:%s" % (address, server[1])
    if root_path and not path.startswith(root_path):
        path = root_path + path
    return _http.begin(scope.get("method", "GET"), path, traceparent, client[0] if client else None, host,
                       tracestate)


async def handle(owner, call, scope, receive, send):
    """Runs call(scope, receive, send) inside a server span. owner is the app whose routes apply."""
    if _announce.pending:
        _announce.asgi_request(owner, scope)
    if _otel.loaded and _otel.traces_request(owner):
        # OpenTelemetry makes this request's server span (see _otel).
        return await call(scope, receive, send)
    try:
        path = scope.get("path", "")
        root_path = scope.get("root_path", "")
        span = _begin(scope, path, root_path)
        status = _Status()
        scope[SCOPE_KEY] = span
        token = _current.set(span)
    except Exception:
        return await call(scope, receive, send)

    async def send_with_status(message):
        if message.get("type") == "http.response.start":
            status.code = message.get("status")
        await send(message)

    try:
        await call(scope, receive, send_with_status)
    except Exception as exc:
        _finish(owner, span, scope, status.code, path, root_path, exc)
        raise
    except BaseException:
        # Cancellation (the client went away): not an application error.
        _finish(owner, span, scope, status.code, path, root_path, None)
        raise
    finally:
        try:
            _current.reset(token)
        except ValueError:
            pass
    _finish(owner, span, scope, status.code, path, root_path, None)


def _finish(owner, span, scope, status_code, path, root_path, exc):
    try:
        method = span._request[0]
        endpoint = scope.get("endpoint")
        info = None
        if endpoint is not None:
            try:
                routes = owner._routelens_routes
                if routes.__class__ is dict:  # not an app whose __getattr__ answers anything
                    info = routes[endpoint][method]
            except Exception:
                pass
            if info is None:
                entry = _route_cache.get(id(owner))
                if entry is not None and entry[0]() is owner:
                    by_method = entry[1].get(endpoint)
                    if by_method is not None:
                        info = by_method.get(method)
        if info is None:
            info = _resolve_info(owner, scope, path, root_path, method)
        _http.finish(span, info, status_code, exc)
    except Exception:
        try:
            span.end()
        except Exception:
            pass


def _resolve_info(owner, scope, path, root_path, method):
    """The RouteInfo of the request the slow way, remembered when the endpoint has one route."""
    template, endpoint, unique = resolve_route(owner, scope, path, root_path, scope.get("method", method))
    info = _http.route_info(template, endpoint, scope.get("method", method))
    key = scope.get("endpoint")
    if unique and key is not None:
        try:
            by_method = _cache_for(owner).setdefault(key, {})
            if len(by_method) < 16:
                by_method[method] = info
        except TypeError:
            pass
    return info


# -- route templates --------------------------------------------------------------

def _routing():
    from starlette import routing

    return routing


def _leaves(routes, prefix, routing):
    """(template, endpoint) for every HTTP route under routes, mounts expanded."""
    for route in routes:
        if isinstance(route, routing.WebSocketRoute):
            continue
        if isinstance(route, routing.Mount):
            base = prefix + route.path
            children = route.routes
            if children:
                for leaf in _leaves(children, base, routing):
                    yield leaf
            else:
                yield base + "/{path}", route.app
        elif isinstance(route, routing.Host):
            for leaf in _leaves(route.routes, prefix, routing):
                yield leaf
        else:
            path = getattr(route, "path", None)
            if path is not None:
                yield prefix + path, getattr(route, "endpoint", None)


def _match(routes, scope, prefix, routing):
    partial = None
    for route in routes:
        if isinstance(route, routing.WebSocketRoute):
            continue
        try:
            matched, child = route.matches(scope)
        except Exception:
            continue
        if matched == routing.Match.NONE:
            continue
        if isinstance(route, (routing.Mount, routing.Host)):
            if matched != routing.Match.FULL:
                continue
            base = prefix + getattr(route, "path", "") if isinstance(route, routing.Mount) else prefix
            children = route.routes
            if not children:
                return base + "/{path}", route.app
            sub = dict(scope)
            sub.update(child)
            found = _match(children, sub, base, routing)
            if found is not None:
                return found
            continue
        found = (prefix + route.path, getattr(route, "endpoint", None))
        if matched == routing.Match.FULL:
            return found
        if partial is None:
            partial = found
    return partial


# The cache lives on the app object when it takes attributes (one lookup per request), else in
# _route_cache under the app's id. Read as an attribute, not through the app's __dict__ (which
# would make the app's attributes a dict of their own: see _patch.add_default).


def _cache_for(owner):
    try:
        cache = owner._routelens_routes
        if cache.__class__ is dict:
            return cache
    except Exception:  # AttributeError, or an app whose __getattr__ fails otherwise
        pass
    cache = {}
    try:
        owner._routelens_routes = cache
        if owner._routelens_routes is cache:
            return cache
    except Exception:
        pass
    entry = _route_cache.get(id(owner))
    if entry is not None and entry[0]() is owner:
        return entry[1]
    cache = {}
    try:
        key = id(owner)
        _route_cache[key] = (weakref.ref(owner, lambda _, key=key: _route_cache.pop(key, None)), cache)
    except TypeError:
        pass
    return cache


def resolve_route(owner, scope, path, root_path, method):
    """(template, endpoint, unique) of the request; template is None when no route matched.

    unique says the endpoint serves this one route, so the answer holds for every
    request that reaches it.
    """
    router = getattr(owner, "router", None)
    routes = getattr(router, "routes", None)
    if routes is None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        return (template, getattr(route, "endpoint", None), False) if template else (None, None, False)
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return None, None, False
    routing = _routing()
    found = [leaf for leaf in _leaves(routes, "", routing) if leaf[1] is endpoint]
    if len(found) == 1:
        return found[0][0], found[0][1], True
    # The same endpoint serves several paths (or none we can see): match this request.
    found = _match(routes, {"type": "http", "path": path, "root_path": root_path, "method": method}, "", routing)
    return (found[0], found[1], False) if found is not None else (None, None, False)


# -- installation -------------------------------------------------------------------

def _make_call(original):
    # handle() written out again around `original`: this runs on every request of every
    # Starlette and FastAPI app, and one coroutine less per request is measurable.
    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or SCOPE_KEY in scope or _http.State.agent is None:
            return await original(self, scope, receive, send)
        if _announce.pending:
            _announce.asgi_request(self, scope)
        if _otel.loaded and _otel.traces_request(self):
            # OpenTelemetry makes this request's server span (see _otel).
            return await original(self, scope, receive, send)
        try:
            # Routing rewrites path and root_path for mounts; the route lookup needs the originals.
            path = scope.get("path", "")
            root_path = scope.get("root_path", "")
            span = _begin(scope, path, root_path)
            scope[SCOPE_KEY] = span
            token = _current.set(span)
        except Exception:
            return await original(self, scope, receive, send)
        code = None

        async def send_with_status(message):
            nonlocal code
            if message.get("type") == "http.response.start":
                code = message.get("status")
            await send(message)

        try:
            await original(self, scope, receive, send_with_status)
        except Exception as exc:
            _finish(self, span, scope, code, path, root_path, exc)
            raise
        except BaseException:
            _finish(self, span, scope, code, path, root_path, None)
            raise
        finally:
            try:
                _current.reset(token)
            except ValueError:
                pass
        _finish(self, span, scope, code, path, root_path, None)

    return __call__


def instrument_starlette(module=None):
    if module is None:
        import starlette.applications as module
    Starlette = module.Starlette

    patch(Starlette, "__call__", _make_call)


class RoutelensMiddleware:
    """Wraps any ASGI app: `app = RoutelensMiddleware(app)`.

    For Starlette and FastAPI apps the route template comes from their router;
    other apps report the route a framework put in scope["route"], or /{unmatched}.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or SCOPE_KEY in scope or _http.State.agent is None:
            return await self.app(scope, receive, send)
        return await handle(self.app, self.app, scope, receive, send)
