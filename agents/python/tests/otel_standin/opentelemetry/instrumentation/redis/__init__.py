"""Stand-in for RedisInstrumentor: only whether it is instrumented."""

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class RedisInstrumentor(BaseInstrumentor):
    pass
