"""Stand-in for SQLAlchemyInstrumentor: a client span per statement from the engine events.

Like the real one, the span is started in before_cursor_execute and ended in
after_cursor_execute (or handle_error), and it is not the current span while the driver runs.
"""

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


def _before(conn, cursor, statement, parameters, context, executemany):
    span = trace.Span(statement.split(None, 1)[0].upper(), trace.SpanKind.CLIENT, trace.get_current_span())
    span.set_attribute("db.statement", statement)
    context._otel_standin_span = span


def _after(conn, cursor, statement, parameters, context, executemany):
    span = getattr(context, "_otel_standin_span", None)
    if span is not None:
        span.end()


def _error(exception_context):
    span = getattr(exception_context.execution_context, "_otel_standin_span", None)
    if span is not None:
        span.set_attribute("error", True)
        span.end()


class SQLAlchemyInstrumentor(BaseInstrumentor):
    def _instrument(self, **kwargs):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", _before)
        event.listen(Engine, "after_cursor_execute", _after)
        event.listen(Engine, "handle_error", _error)

    def _uninstrument(self, **kwargs):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", _before)
        event.remove(Engine, "after_cursor_execute", _after)
        event.remove(Engine, "handle_error", _error)
