"""Leaving to OpenTelemetry what it already traces in this process.

F5 sets OTEL_EXPORTER_OTLP_ENDPOINT as well, so an app that uses the OpenTelemetry SDK with a
framework instrumentation sends its own server span for every request. A second server span from
the agent (in another trace) would count every request twice. So, per request:

- when an OpenTelemetry server span is already current (an instrumentation outside the agent's
  hook: Flask's, or an ASGI/WSGI middleware around the whole app), or the app is marked
  `_is_instrumented_by_opentelemetry` (FlaskInstrumentor.instrument_app,
  FastAPIInstrumentor.instrument_app), or carries OpenTelemetry's ASGI middleware, the agent
  makes no server span and reads no traceparent;
- it still adds what OpenTelemetry lacks: the handler's code location on OpenTelemetry's server
  span (`code.*` attributes), the trace context of that span on the agent's log records, and the
  process metrics.

Nothing here imports OpenTelemetry: it is only looked at once the app imported it, through its
public API (get_current_span, get_span_context, is_recording, set_attribute, and the SDK span's
`kind`).
"""

import sys

# True once opentelemetry.trace is imported in this process (the import hook sets it): until
# then each request pays one global lookup.
loaded = False


def mark_loaded(module=None):
    global loaded
    loaded = True


def _api():
    return sys.modules.get("opentelemetry.trace")


def current_span():
    """OpenTelemetry's current span when it is valid, else None."""
    api = _api()
    if api is None:
        return None
    try:
        span = api.get_current_span()
        context = span.get_span_context()
        if not context.is_valid:
            return None
        return span
    except Exception:
        return None


def current_ids():
    """(trace id, span id) of OpenTelemetry's current span as hex, or None."""
    span = current_span()
    if span is None:
        return None
    try:
        context = span.get_span_context()
        return "%032x" % context.trace_id, "%016x" % context.span_id
    except Exception:
        return None


def _is_server_span(span):
    kind = getattr(span, "kind", None)
    return getattr(kind, "name", None) == "SERVER"


def _app_instrumented(app):
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        return True
    for middleware in getattr(app, "user_middleware", None) or ():
        cls = getattr(middleware, "cls", None)
        if (getattr(cls, "__module__", "") or "").startswith("opentelemetry.instrumentation."):
            return True
    return False


def traces_request(app=None):
    """Whether OpenTelemetry makes the server span of the request about to run in app."""
    if not loaded:
        return False
    try:
        if app is not None and _app_instrumented(app):
            _arm_code_locations()
            return True
        span = current_span()
        if span is not None and _is_server_span(span) and span.is_recording():
            _arm_code_locations()
            return True
    except Exception:
        pass
    return False


def annotate(code_attributes):
    """Puts the handler's code location on OpenTelemetry's current span (if it records)."""
    if not code_attributes:
        return
    span = current_span()
    if span is None:
        return
    try:
        if not span.is_recording():
            return
        for key, value in code_attributes.items():
            span.set_attribute(key, value)
    except Exception:
        pass


def library_instrumented(name):
    """Whether opentelemetry.instrumentation.<name> (requests, httpx, psycopg2, …) is active.

    For client hooks: where it is, OpenTelemetry makes the client span and sends the
    traceparent, and the agent should do neither.
    """
    if not loaded:
        return False
    module = sys.modules.get("opentelemetry.instrumentation." + name)
    if module is None:
        return False
    try:
        for attr in dir(module):
            if attr.endswith("Instrumentor"):
                cls = getattr(module, attr)
                # Only the module's own instrumentor: calling BaseInstrumentor() (imported into
                # the module) would make its singleton the one every subclass inherits.
                if not isinstance(cls, type) or cls.__module__ != module.__name__:
                    continue
                if getattr(cls(), "is_instrumented_by_opentelemetry", False):
                    return True
    except Exception:
        pass
    return False


# -- code locations on OpenTelemetry's spans --------------------------------------------
#
# Flask's view and Django's resolver match are known inside OpenTelemetry's span, where the
# agent's hooks run anyway. Starlette's endpoint is only known inside the router, within the
# app's middleware (and so within OpenTelemetry's ASGI middleware): Route.handle is wrapped, but
# only once an app traced by OpenTelemetry is seen, so other apps pay nothing for it.

_armed = False


def _arm_code_locations():
    global _armed
    if _armed:
        return
    _armed = True
    routing = sys.modules.get("starlette.routing")
    if routing is None:
        return
    from . import _codeloc
    from ._patch import patch

    def make(original):
        async def handle(self, scope, receive, send):
            try:
                annotate(_codeloc.code_attributes(self.endpoint, scope.get("method")))
            except Exception:
                pass
            return await original(self, scope, receive, send)

        return handle

    try:
        patch(routing.Route, "handle", make)
    except Exception:
        pass
