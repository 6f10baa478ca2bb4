"""Stand-in for FastAPIInstrumentor.instrument_app: the ASGI middleware inside the app."""

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class FastAPIInstrumentor(BaseInstrumentor):
    @staticmethod
    def instrument_app(app):
        if getattr(app, "_is_instrumented_by_opentelemetry", False):
            return
        app.add_middleware(OpenTelemetryMiddleware)
        app._is_instrumented_by_opentelemetry = True
