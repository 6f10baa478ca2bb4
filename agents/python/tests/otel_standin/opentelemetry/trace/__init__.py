"""Stand-in for opentelemetry.trace: the current span, span contexts, kinds and a tracer."""

import contextlib
import contextvars
import enum
import os


class SpanKind(enum.Enum):
    INTERNAL = 0
    SERVER = 1
    CLIENT = 2
    PRODUCER = 3
    CONSUMER = 4


class SpanContext:
    def __init__(self, trace_id, span_id):
        self.trace_id = trace_id
        self.span_id = span_id

    @property
    def is_valid(self):
        return self.trace_id != 0 and self.span_id != 0


class NonRecordingSpan:
    def __init__(self, context):
        self._context = context

    def get_span_context(self):
        return self._context

    def is_recording(self):
        return False

    def set_attribute(self, key, value):
        pass


INVALID_SPAN = NonRecordingSpan(SpanContext(0, 0))
_current = contextvars.ContextVar("otel-standin-span", default=INVALID_SPAN)


def get_current_span(context=None):
    return _current.get()


class Span:
    """What the SDK's span offers that the agent looks at."""

    def __init__(self, name, kind, parent):
        self.name = name
        self.kind = kind
        trace_id = parent.get_span_context().trace_id if parent.get_span_context().is_valid else int.from_bytes(os.urandom(16), "big")
        self._context = SpanContext(trace_id, int.from_bytes(os.urandom(8), "big"))
        self.attributes = {}
        self.ended = False

    def get_span_context(self):
        return self._context

    def is_recording(self):
        return not self.ended

    def set_attribute(self, key, value):
        if not self.ended:
            self.attributes[key] = value

    def end(self):
        from opentelemetry.sdk.trace import FINISHED

        self.ended = True
        FINISHED.append(self)


class Tracer:
    @contextlib.contextmanager
    def start_as_current_span(self, name, kind=SpanKind.INTERNAL):
        span = Span(name, kind, get_current_span())
        token = _current.set(span)
        try:
            yield span
        finally:
            _current.reset(token)
            span.end()


def get_tracer(name, *args, **kwargs):
    return Tracer()
