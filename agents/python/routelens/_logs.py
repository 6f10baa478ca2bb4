"""Log records: a `logging` handler and a structlog processor, both tied to the current span."""

import logging
import sys
import threading
import time

from . import _errors, _otel, _patch
from ._codeloc import abspath
from ._trace import _current


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


# Structured fields (logging's `extra`, structlog's key-values) become attributes: at most
# MAX_FIELDS of them, names and string values cut to a bound, anything but a scalar stringified.
MAX_FIELDS = 64
MAX_FIELD_NAME = 128
MAX_FIELD_VALUE = 2048


def field_value(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2 ** 53) <= value <= 2 ** 53 else str(value)
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:
            value = "<unprintable>"
    return _errors.truncate(value, MAX_FIELD_VALUE)


def add_fields(attributes, fields, skip=()):
    """Copies fields into attributes (bounded), leaving names already there and those in skip."""
    for key, value in fields:
        if len(attributes) >= MAX_FIELDS:
            break
        if key in skip:
            continue
        name = _errors.truncate(key if isinstance(key, str) else str(key), MAX_FIELD_NAME)
        if name in attributes:
            continue
        attributes[name] = field_value(value)


class RateGate:
    """At most `per_second` records a second (0: no bound); the others are counted as dropped.

    Called from any application thread without a lock: the count of a second may be off by the
    few records that raced at its start, never by more.
    """

    def __init__(self, per_second, count_drop):
        self.per_second = per_second
        self._count_drop = count_drop
        self._second = 0
        self._used = 0
        self.dropped = 0

    def __call__(self):
        if self.per_second <= 0:
            return True
        now = int(time.monotonic())
        if now != self._second:
            self._second = now
            self._used = 0
        self._used += 1
        if self._used <= self.per_second:
            return True
        self.dropped += 1
        try:
            self._count_drop()
        except Exception:
            pass
        return False


def _own(name):
    # The agent's own diagnostics must not loop back into the queue they report on.
    return name == "routelens" or name.startswith("routelens.")


class RoutelensHandler(logging.Handler):
    """Sends records at or above `threshold`, and any record carrying exc_info, to the collector."""

    def __init__(self, sink, threshold=logging.INFO, gate=None):
        logging.Handler.__init__(self, logging.NOTSET)
        self.sink = sink
        self.threshold = threshold
        self.gate = gate

    def handle(self, record):
        # No handler lock: the sink is a lock-free append, and most records stop at the first test.
        last_resort = logging.lastResort
        if last_resort is not None and record.levelno >= last_resort.level:
            self._stand_in_for_last_resort(record, last_resort)
        if record.levelno < self.threshold and not record.exc_info:
            return False
        if _own(record.name) or not self.filter(record):
            return False
        gate = self.gate
        if gate is not None and not gate():
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


# What every LogRecord has; the rest of its __dict__ came from `extra`.
_STANDARD_RECORD_KEYS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | frozenset(
    ("message", "asctime", "taskName", "_logger", "_name"))


def record_to_item(record):
    msg = record.msg
    structured = isinstance(msg, dict) and hasattr(record, "_logger") and "event" in msg
    if structured:
        # structlog's ProcessorFormatter.wrap_for_formatter: the event dict rides in msg.
        body = str(msg.get("event", ""))
    else:
        try:
            body = record.getMessage()
        except Exception:
            body = str(msg)
    attributes = {
        "logger.name": record.name,
        "code.file.path": abspath(record.pathname),
        "code.line.number": record.lineno,
        "code.function.name": record.funcName,
        "thread.name": record.threadName or "",
    }
    if structured:
        add_fields(attributes, msg.items(), _RESERVED)
        if "structlog" in (record.pathname or ""):
            # A logger made before structlog's LoggerFactory could fix its findCaller.
            frame = _app_frame(sys._getframe(1))
            if frame is not None:
                attributes["code.file.path"] = abspath(frame.f_code.co_filename)
                attributes["code.line.number"] = frame.f_lineno
                attributes["code.function.name"] = frame.f_code.co_name
    extra = [(k, v) for k, v in record.__dict__.items() if k not in _STANDARD_RECORD_KEYS]
    if extra:
        add_fields(attributes, extra)
    item = {
        "timeMs": record.created * 1000.0,
        "severity": severity(record.levelno),
        "body": _errors.truncate(body),
        "attributes": attributes,
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
_structlog_threshold = logging.INFO
_structlog_gate = None

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


def configure_structlog(sink, threshold, gate=None):
    global _structlog_sink, _structlog_threshold, _structlog_gate
    _structlog_sink = sink
    _structlog_threshold = threshold
    _structlog_gate = gate


def _app_frame(frame):
    """The first frame, from frame outwards, outside structlog, logging and the agent."""
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        if not (module.startswith("structlog") or module == "logging" or _own(module)):
            return frame
        frame = frame.f_back
    return None


def _callsite():
    return _app_frame(sys._getframe(2))


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
        gate = _structlog_gate
        if gate is not None and not gate():
            return event_dict
        frame = _callsite()
        attributes = {}
        add_fields(attributes, event_dict.items(), _RESERVED)
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


# -- structlog with no code change -------------------------------------------------
#
# The agent's processor goes into structlog's configured chain just before its last processor
# (the renderer): into the chain in place when structlog is already configured as the agent
# starts (so loggers bound earlier see it too), and into a copy of the chain that configure()
# or reset_defaults() installs afterwards. A chain that ends by handing events to `logging`
# (ProcessorFormatter.wrap_for_formatter, render_to_log_kwargs) is left alone: the logging
# handler sees those events. The processor returns the event dict unchanged, so what the app
# prints is what it prints without the agent.

_STDLIB_FORWARDERS = ("wrap_for_formatter", "render_to_log_kwargs")
_wired = []  # the chains (lists) the agent put its processor into
_wire_lock = threading.Lock()


def _forwards_to_logging(processor):
    name = getattr(processor, "__name__", None) or type(processor).__name__
    module = getattr(processor, "__module__", "") or ""
    return module.startswith("structlog.stdlib") and name in _STDLIB_FORWARDERS


def _has_processor(processors):
    return any(p is structlog_processor for p in processors)


def with_processor(processors):
    """The chain (a list) with the agent's processor before its last one, or None to keep it."""
    if not processors or _has_processor(processors) or _forwards_to_logging(processors[-1]):
        return None
    return list(processors[:-1]) + [structlog_processor, processors[-1]]


def _wire_current(config_module, in_place):
    cfg = getattr(config_module, "_CONFIG", None)
    if cfg is None:
        return
    current = cfg.default_processors
    if not isinstance(current, (list, tuple)):
        current = list(current)
        cfg.default_processors = current
    wired = with_processor(current)
    if wired is None:
        return
    with _wire_lock:
        if in_place and isinstance(current, list):
            current[:] = wired
            wired = current
        else:
            cfg.default_processors = wired
        _wired.append(wired)


def _make_configure(config_module):
    def make(original):
        def configure(*args, **kwargs):
            if _structlog_sink is not None:
                try:
                    if args and args[0] is not None:
                        procs = list(args[0])
                        wired = with_processor(procs)
                        args = (wired if wired is not None else procs,) + tuple(args[1:])
                    elif kwargs.get("processors") is not None:
                        procs = list(kwargs["processors"])
                        wired = with_processor(procs)
                        kwargs["processors"] = wired if wired is not None else procs
                    else:
                        wired = None
                    if wired is not None:
                        with _wire_lock:
                            _wired.append(wired)
                except Exception:
                    pass
            return original(*args, **kwargs)

        return configure

    return make


def _make_reset(config_module):
    def make(original):
        def reset_defaults(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            finally:
                if _structlog_sink is not None:
                    try:
                        _wire_current(config_module, in_place=False)
                    except Exception:
                        pass

        return reset_defaults

    return make


def instrument_structlog(module=None):
    """Puts the agent's processor into structlog's chain now and after every (re)configuration."""
    if module is None:
        import structlog as module
    config_module = sys.modules.get("structlog._config")
    if config_module is None or not hasattr(config_module, "configure"):
        return
    for owner in (config_module, module):
        if hasattr(owner, "configure"):
            _patch.patch(owner, "configure", _make_configure(config_module))
        if hasattr(owner, "reset_defaults"):
            _patch.patch(owner, "reset_defaults", _make_reset(config_module))
    _wire_current(config_module, in_place=True)


def uninstrument_structlog():
    """Takes the agent's processor out of the chains it put it into (the patches go with _patch)."""
    with _wire_lock:
        chains = list(_wired)
        del _wired[:]
    for chain in chains:
        try:
            chain[:] = [p for p in chain if p is not structlog_processor]
        except Exception:
            pass
