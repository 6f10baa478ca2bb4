"""Stand-in for Psycopg2Instrumentor: only whether it is instrumented."""

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class Psycopg2Instrumentor(BaseInstrumentor):
    pass
