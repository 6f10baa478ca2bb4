"""Stand-in for AsyncPGInstrumentor: only whether it is instrumented."""

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class AsyncPGInstrumentor(BaseInstrumentor):
    pass
