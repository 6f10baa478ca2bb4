"""Stand-in for PsycopgInstrumentor: only whether it is instrumented."""

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class PsycopgInstrumentor(BaseInstrumentor):
    pass
