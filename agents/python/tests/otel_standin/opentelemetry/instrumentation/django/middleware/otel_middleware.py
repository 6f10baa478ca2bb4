"""Stand-in for OpenTelemetry's Django middleware: a server span around the rest of the stack."""

from opentelemetry import trace


class _DjangoMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.tracer = trace.get_tracer(__name__)

    def __call__(self, request):
        with self.tracer.start_as_current_span(request.method, kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("url.path", request.path)
            return self.get_response(request)
