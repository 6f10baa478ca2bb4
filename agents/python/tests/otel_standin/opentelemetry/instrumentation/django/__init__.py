"""Stand-in for DjangoInstrumentor: puts its middleware first in settings.MIDDLEWARE."""

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"


class DjangoInstrumentor(BaseInstrumentor):
    def _instrument(self, **kwargs):
        from django.conf import settings

        middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
        if MIDDLEWARE not in middleware:
            settings.MIDDLEWARE = [MIDDLEWARE] + middleware
