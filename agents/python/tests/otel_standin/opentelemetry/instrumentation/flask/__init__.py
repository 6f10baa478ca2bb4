"""Stand-in for FlaskInstrumentor: a server span around app.wsgi_app, named after the rule."""

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class FlaskInstrumentor(BaseInstrumentor):
    @staticmethod
    def instrument_app(app):
        if getattr(app, "_is_instrumented_by_opentelemetry", False):
            return
        inner = app.wsgi_app
        tracer = trace.get_tracer(__name__)

        def wsgi_app(environ, start_response):
            with tracer.start_as_current_span(environ.get("REQUEST_METHOD", "GET"), kind=trace.SpanKind.SERVER) as span:
                span.set_attribute("url.path", environ.get("PATH_INFO", ""))
                return inner(environ, start_response)

        app.wsgi_app = wsgi_app
        app._is_instrumented_by_opentelemetry = True
