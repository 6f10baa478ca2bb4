"""Stand-in for RequestsInstrumentor: only whether it is instrumented."""

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class RequestsInstrumentor(BaseInstrumentor):
    pass
