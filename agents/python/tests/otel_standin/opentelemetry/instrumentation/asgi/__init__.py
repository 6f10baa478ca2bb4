"""Stand-in for the ASGI OpenTelemetryMiddleware: a server span around the inner app."""

from opentelemetry import trace


class OpenTelemetryMiddleware:
    def __init__(self, app, **kwargs):
        self.app = app
        self.tracer = trace.get_tracer(__name__)

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        with self.tracer.start_as_current_span(scope.get("method", "GET"), kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("url.path", scope.get("path", ""))
            await self.app(scope, receive, send)
