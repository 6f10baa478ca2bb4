"""Log records: a `logging` handler and a structlog processor, both tied to the current span."""

import logging
import sys
import time

from . import _errors, _otel
from ._codeloc import abspath
from ._trace import _attr_value, _current


def _otel_ids(item):
    """A record made in a request OpenTelemetry traces (see _otel) belongs to its span."""
    ids = _otel.current_ids()
    if ids is not None:
        item["traceId"], item["spanId"] = ids

_SEVERITIES = ((50, "fatal"), (40, "error"), (30, "warn"), (20, "info"), (10, "debug"))


def severity(levelno):
    for floor, name in _SEVERITIES:
        if levelno >= floor:
            return name
    return "trace"


def _own(name):
    # The agent's own diagnostics must not loop back into the queue they report on.
    return name == "routelens" or name.startswith("routelens.")


class RoutelensHandler(logging.Handler):
    """Sends records at or above `threshold`, and any record carrying exc_info, to the collector."""

    def __init__(self, sink, threshold=logging.WARNING):
        logging.Handler.__init__(self, logging.NOTSET)
        self.sink = sink
        self.threshold = threshold

    def handle(self, record):
        # No handler lock: the sink is a lock-free append, and most records stop at the first test.
        last_resort = logging.lastResort
        if last_resort is not None and record.levelno >= last_resort.level:
            self._stand_in_for_last_resort(record, last_resort)
        if record.levelno < self.threshold and not record.exc_info:
            return False
        if _own(record.name) or not self.filter(record):
            return False
        self.emit(record)
        return True

    def _stand_in_for_last_resort(self, record, last_resort):
        """Prints the record as Python would have if this handler were not there.

        Python writes warnings and errors to stderr when no handler is configured
        (logging.lastResort); merely adding this handler must not silence them.
        """
        try:
            logger = logging.getLogger(record.name) if record.name != "root" else logging.getLogger()
            while logger is not None:
                for handler in logger.handlers:
                    if handler is not self:
                        return
                if not logger.propagate:
                    break
                logger = logger.parent
            last_resort.handle(record)
        except Exception:
            pass

    def emit(self, record):
        try:
            self.sink(record_to_item(record))
        except Exception:
            pass

    def handleError(self, record):
        pass


def record_to_item(record):
    try:
        body = record.getMessage()
    except Exception:
        body = str(record.msg)
    item = {
        "timeMs": record.created * 1000.0,
        "severity": severity(record.levelno),
        "body": _errors.truncate(body),
        "attributes": {
            "logger.name": record.name,
            "code.file.path": abspath(record.pathname),
            "code.line.number": record.lineno,
            "code.function.name": record.funcName,
            "thread.name": record.threadName or "",
        },
    }
    span = _current.get()
    if span is not None:
        item["traceId"] = span.trace_id
        item["spanId"] = span.span_id
    elif _otel.loaded:
        _otel_ids(item)
    exc_info = record.exc_info
    if exc_info and exc_info[1] is not None:
        item["exception"] = _errors.describe(exc_info[1], exc_info[2])
    return item


# -- structlog ------------------------------------------------------------------

_structlog_sink = None
_structlog_threshold = logging.WARNING

_METHOD_LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "err": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
_RESERVED = frozenset(("event", "exc_info", "stack_info", "level", "timestamp", "logger", "_record",
                       "_from_structlog", "exception"))


def configure_structlog(sink, threshold):
    global _structlog_sink, _structlog_threshold
    _structlog_sink = sink
    _structlog_threshold = threshold


def _callsite():
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        if not (module.startswith("structlog") or _own(module)):
            return frame
        frame = frame.f_back
    return None


def _exception_from(value):
    if value is True:
        exc_type, exc, tb = sys.exc_info()
        return (exc, tb) if exc is not None else None
    if isinstance(value, BaseException):
        return value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and value[1] is not None:
        return value[1], value[2]
    return None


def structlog_processor(logger, method_name, event_dict):
    """A structlog processor: sends the event to the collector and returns it unchanged.

    Put it before the renderer in structlog's processor chain.
    """
    sink = _structlog_sink
    if sink is None:
        return event_dict
    try:
        level = event_dict.get("level")
        levelno = _METHOD_LEVELS.get(str(level).lower()) if level else None
        if levelno is None:
            levelno = _METHOD_LEVELS.get(method_name, logging.INFO)
        exc_value = event_dict.get("exc_info")
        if method_name == "exception" and exc_value is None:
            exc_value = True
        if levelno < _structlog_threshold and not exc_value:
            return event_dict
        frame = _callsite()
        attributes = {}
        for key, value in event_dict.items():
            if key in _RESERVED or len(attributes) >= 64:
                continue
            attributes[str(key)] = _attr_value(value)
        logger_name = event_dict.get("logger") or getattr(logger, "name", None)
        if frame is not None:
            code = frame.f_code
            attributes["code.file.path"] = abspath(code.co_filename)
            attributes["code.line.number"] = frame.f_lineno
            attributes["code.function.name"] = code.co_name
            if not logger_name:
                logger_name = frame.f_globals.get("__name__")
        attributes["logger.name"] = str(logger_name or "structlog")
        item = {
            "timeMs": time.time() * 1000.0,
            "severity": severity(levelno),
            "body": _errors.truncate(str(event_dict.get("event", ""))),
            "attributes": attributes,
        }
        span = _current.get()
        if span is not None:
            item["traceId"] = span.trace_id
            item["spanId"] = span.span_id
        elif _otel.loaded:
            _otel_ids(item)
        found = _exception_from(exc_value) if exc_value else None
        if found is not None:
            item["exception"] = _errors.describe(found[0], found[1])
        elif isinstance(event_dict.get("exception"), str):
            # An earlier processor already rendered the traceback to text.
            attributes["exception.stacktrace"] = _errors.truncate(event_dict["exception"])
        sink(item)
    except Exception:
        pass
    return event_dict
