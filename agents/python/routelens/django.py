"""Django: a middleware placed first in settings.MIDDLEWARE.

It is inserted when Django builds its middleware chain (BaseHandler.load_middleware),
so neither settings nor code change. It can also be listed by hand as
"routelens.django.RoutelensMiddleware". The route is the URL pattern Django
resolved (`request.resolver_match.route`, includes joined), the code location
that of the resolved view. Unhandled exceptions reach the span through Django's
got_request_exception signal, since Django turns them into responses itself.
"""

import asyncio
import sys

from . import _announce, _http, _otel
from ._patch import patch
from ._trace import _current

MIDDLEWARE_PATH = "routelens.django.RoutelensMiddleware"
_REQUEST_ATTR = "_routelens_span"

try:
    from asgiref.sync import iscoroutinefunction as _iscoroutinefunction
except ImportError:  # asgiref before 3.6
    _iscoroutinefunction = asyncio.iscoroutinefunction


def _begin(request):
    if _announce.pending:
        _announce.django_request(request)
    meta = request.META
    span = _http.begin(
        request.method or "GET",
        request.path,
        meta.get("HTTP_TRACEPARENT"),
        meta.get("REMOTE_ADDR"),
        meta.get("HTTP_HOST") or meta.get("SERVER_NAME"),
        meta.get("HTTP_TRACESTATE"),
    )
    setattr(request, _REQUEST_ATTR, span)
    return span


def _route(request):
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    route = getattr(match, "route", None)
    if route is None:
        return None
    # re_path patterns carry regex anchors; the leading one only gets in the way of reading.
    return _http.route_info("/" + route.lstrip("^/"), match.func, request.method)


def _finish(request, span, response, exc):
    try:
        status = getattr(response, "status_code", None) if response is not None else None
        _http.finish(span, _route(request), status, exc)
    except Exception:
        try:
            span.end()
        except Exception:
            pass


def _otel_request(request, response):
    """OpenTelemetry's request (see _otel): the view's location goes on its span."""
    try:
        info = _route(request)
        if info is not None:
            _otel.annotate({k: v for k, v in info.attributes.items() if k.startswith("code.")})
    except Exception:
        pass
    return response


def RoutelensMiddleware(get_response):
    """Django middleware factory, usable in sync and async stacks."""
    if _iscoroutinefunction(get_response):
        async def middleware(request):
            if _http.State.agent is None or hasattr(request, _REQUEST_ATTR):
                return await get_response(request)
            if _otel.loaded and _otel.traces_request():
                return _otel_request(request, await get_response(request))
            try:
                span = _begin(request)
                token = _current.set(span)
            except Exception:
                return await get_response(request)
            try:
                response = await get_response(request)
            except Exception as exc:
                _finish(request, span, None, exc)
                raise
            except BaseException:
                _finish(request, span, None, None)
                raise
            finally:
                try:
                    _current.reset(token)
                except ValueError:
                    pass
            _finish(request, span, response, None)
            return response

        return middleware

    def middleware(request):
        if _http.State.agent is None or hasattr(request, _REQUEST_ATTR):
            return get_response(request)
        if _otel.loaded and _otel.traces_request():
            return _otel_request(request, get_response(request))
        try:
            span = _begin(request)
            token = _current.set(span)
        except Exception:
            return get_response(request)
        try:
            response = get_response(request)
        except Exception as exc:
            _finish(request, span, None, exc)
            raise
        except BaseException:
            _finish(request, span, None, None)
            raise
        finally:
            try:
                _current.reset(token)
            except ValueError:
                pass
        _finish(request, span, response, None)
        return response

    return middleware


RoutelensMiddleware.sync_capable = True
RoutelensMiddleware.async_capable = True


def _on_exception(sender, request=None, **kwargs):
    try:
        span = getattr(request, _REQUEST_ATTR, None)
        exc = sys.exc_info()[1]
        if span is not None and exc is not None:
            span.record_exception(exc)
    except Exception:
        pass


def ensure_in_settings():
    """Puts the middleware first in settings.MIDDLEWARE (outermost: it sees every response)."""
    from django.conf import settings

    if not settings.configured:
        return False
    current = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH in current:
        return False
    # Inside OpenTelemetry's middleware, where its server span is current: the agent then
    # leaves the request to it and puts the view's location on its span (see _otel).
    otel = [i for i, name in enumerate(current) if name.startswith("opentelemetry.instrumentation.django")]
    at = otel[-1] + 1 if otel else 0
    settings.MIDDLEWARE = current[:at] + [MIDDLEWARE_PATH] + current[at:]
    return True


def _make_load_middleware(original):
    def load_middleware(self, *args, **kwargs):
        if _http.State.agent is not None:
            try:
                ensure_in_settings()
            except Exception:
                pass
        return original(self, *args, **kwargs)

    return load_middleware


def instrument_django(module=None):
    if module is None:
        import django.core.handlers.base as module
    from django.core.signals import got_request_exception

    patch(module.BaseHandler, "load_middleware", _make_load_middleware)
    got_request_exception.connect(_on_exception, weak=False, dispatch_uid="routelens")


def uninstrument_django():
    try:
        from django.core.signals import got_request_exception

        got_request_exception.disconnect(dispatch_uid="routelens")
    except Exception:
        pass


def instrument_handler(handler):
    """For routelens.instrument(get_wsgi_application()): rebuild a chain built before the agent ran."""
    instrument_django()
    if ensure_in_settings() and getattr(handler, "_middleware_chain", None) is not None:
        is_async = type(handler).__name__ == "ASGIHandler"
        handler.load_middleware(is_async=is_async) if is_async else handler.load_middleware()
    return handler
