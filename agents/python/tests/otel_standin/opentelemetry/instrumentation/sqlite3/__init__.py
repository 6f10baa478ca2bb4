"""Stand-in for SQLite3Instrumentor: only whether it is instrumented."""

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class SQLite3Instrumentor(BaseInstrumentor):
    pass
