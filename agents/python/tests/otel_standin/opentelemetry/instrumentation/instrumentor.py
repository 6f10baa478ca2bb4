"""Stand-in for BaseInstrumentor: one instance per class, instrument() once."""


class BaseInstrumentor:
    _instance = None
    _is_instrumented_by_opentelemetry = False

    def __new__(cls, *args, **kwargs):
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    @property
    def is_instrumented_by_opentelemetry(self):
        return self._is_instrumented_by_opentelemetry

    def instrument(self, **kwargs):
        if not self._is_instrumented_by_opentelemetry:
            self._instrument(**kwargs)
            self._is_instrumented_by_opentelemetry = True

    def uninstrument(self, **kwargs):
        if self._is_instrumented_by_opentelemetry:
            self._uninstrument(**kwargs)
            self._is_instrumented_by_opentelemetry = False

    def _instrument(self, **kwargs):
        pass

    def _uninstrument(self, **kwargs):
        pass
