"""The process-wide agent: configuration, exporter, log capture and framework hooks."""

import atexit
import logging
import sys
import threading

from . import _announce, _config, _logs, _otel, _patch, _supervisor, _testrun, _trace
from ._exporter import LOGS, Exporter, default_resource
from ._http import State
from ._metrics import ProcessMetrics

log = logging.getLogger("routelens")

EXIT_FLUSH_SECONDS = 1.0

_lock = threading.RLock()


class Agent:
    def __init__(self, config):
        self.config = config
        service_name = config.service_name
        if config.exporter == "otlp":
            from ._otlp import OtlpExporter

            self.exporter = OtlpExporter(config, lambda: default_resource(service_name), ProcessMetrics())
        else:
            self.exporter = Exporter(config, lambda: default_resource(service_name), ProcessMetrics())
        self.log_gate = _logs.RateGate(config.log_rate, self.exporter.count_dropped_log)
        self.handler = _logs.RoutelensHandler(self._log_sink, config.log_level, self.log_gate)
        self.hook = None

    def _log_sink(self, item):
        self.exporter.enqueue(LOGS, item)

    def activate(self):
        """Starts the exporter thread: connection, hello and process metrics."""
        self.exporter.start()


def _framework_hooks():
    from . import asgi, django, wsgi

    def activated(fn):
        def run(module=None):
            fn(module)
            agent = State.agent
            if agent is not None:
                agent.activate()

        return run

    return {
        "starlette.applications": activated(asgi.instrument_starlette),
        "flask.app": activated(wsgi.instrument_flask),
        "django.core.handlers.base": activated(django.instrument_django),
    }


def _client_hooks(config):
    """Calls out of the process (HTTP, databases, Redis) as client spans: _clients*.py. None
    with client spans off (ROUTELENS_CLIENT_SPANS=0): the libraries are then left as they are,
    and their calls cost nothing more than without the agent."""
    from . import _clients, _clients_db, _clients_http

    _clients.configure(config)
    if not _clients.Settings.enabled:
        return {}
    hooks = dict(_clients_http.HOOKS)
    hooks.update(_clients_db.HOOKS)
    return hooks


# -- keeping the root handler in place ---------------------------------------------
#
# logging.basicConfig() does nothing when the root logger already has a handler, so
# our handler would silently swallow the app's own logging setup; dictConfig() and
# fileConfig() remove root handlers. The wrappers below hide the handler from the
# first and put it back after the others.

def _reattach():
    agent = State.agent
    if agent is not None and agent.config.log_level is not None:
        root = logging.getLogger()
        if agent.handler not in root.handlers:
            root.addHandler(agent.handler)


def _make_basic_config(original):
    def basicConfig(**kwargs):
        agent = State.agent
        root = logging.getLogger()
        if agent is not None and agent.handler in root.handlers:
            root.removeHandler(agent.handler)
        try:
            return original(**kwargs)
        finally:
            _reattach()

    return basicConfig


def _make_reattaching(original):
    def configure(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            _reattach()

    return configure


def _patch_logging_config(module=None):
    if module is None:
        import logging.config as module
    _patch.patch(module, "dictConfig", _make_reattaching)
    _patch.patch(module, "fileConfig", _make_reattaching)


# -- lifecycle ----------------------------------------------------------------------

def start(endpoint=None, service_name=None, log_level=None, lazy=False, capture_logs=True,
          instrument_frameworks=True, **options):
    """Starts the agent once per process and returns it (None when ROUTELENS_DISABLED is set).

    With lazy=True the connection is only opened once there is something to send
    or a web framework is imported, so tools that merely run Python are left alone.
    """
    with _lock:
        if State.agent is not None:
            if not lazy:
                State.agent.activate()
            return State.agent
        config = _config.Config(endpoint=endpoint, service_name=service_name, log_level=log_level, **options)
        if config.disabled:
            return None
        if config.debug:
            _debug_to_stderr()
        agent = Agent(config)
        State.agent = agent
        # A reloader's watcher or a worker server's master sends nothing (see _supervisor).
        reason = _supervisor.watcher_reason()
        if reason is not None:
            agent.exporter.mute(reason)
        _supervisor._mute = agent.exporter.mute
        _trace.set_exporter(agent.exporter.export_span, agent.exporter.export_row)
        _announce.arm(agent.exporter, config.announce_metrics)
        if capture_logs:
            logging.getLogger().addHandler(agent.handler)
            _patch.patch(logging, "basicConfig", _make_basic_config)
            _logs.configure_structlog(agent._log_sink, config.log_level, agent.log_gate)
        hooks = _framework_hooks() if instrument_frameworks else {}
        if instrument_frameworks:
            hooks.update(_supervisor.HOOKS)
            hooks["opentelemetry.trace"] = _otel.mark_loaded
            hooks["pytest"] = _testrun.mark_active
            hooks.update(_client_hooks(config))
        if capture_logs:
            hooks["logging.config"] = _patch_logging_config
            hooks["structlog"] = _logs.instrument_structlog
        pending = {}
        for name, callback in hooks.items():
            module = sys.modules.get(name)
            if module is None:
                pending[name] = callback
                continue
            try:
                callback(module)
            except Exception:
                log.debug("routelens: instrumenting %s failed", name, exc_info=True)
        if pending:
            agent.hook = _patch.ImportHook(pending)
            agent.hook.install()
        atexit.register(_at_exit)
        if not lazy:
            agent.activate()
        return agent


def _at_exit():
    agent = State.agent
    if agent is not None:
        agent.exporter.shutdown(EXIT_FLUSH_SECONDS)


def shutdown(timeout=EXIT_FLUSH_SECONDS):
    """Sends what is queued (within timeout), then removes every hook and patch."""
    with _lock:
        agent = State.agent
        if agent is None:
            return
        State.agent = None
        _supervisor._mute = None
        _trace.set_exporter(None)
        _announce.disarm()
        _logs.configure_structlog(None, logging.INFO)
        _logs.uninstrument_structlog()
        try:
            logging.getLogger().removeHandler(agent.handler)
        except Exception:
            pass
        if agent.hook is not None:
            agent.hook.uninstall()
        _patch.unpatch_all()
        if "django.core.signals" in sys.modules:
            from .django import uninstrument_django

            uninstrument_django()
        try:
            atexit.unregister(_at_exit)
        except Exception:
            pass
        agent.exporter.shutdown(timeout)


def flush(timeout=2.0):
    """Blocks until everything queued has been sent (or timeout). For scripts and tests."""
    agent = State.agent
    if agent is None:
        return False
    agent.activate()
    return agent.exporter.flush(timeout)


def instrument(app):
    """Instruments a FastAPI/Starlette, Flask or Django app explicitly and returns it.

    Starts the agent (from the environment) if it is not running yet.
    """
    try:
        agent = start()
        if agent is None:
            return app
        names = [(c.__module__.split(".", 1)[0], c.__name__) for c in type(app).__mro__]
        if ("starlette", "Starlette") in names:
            from .asgi import instrument_starlette

            instrument_starlette()
        elif ("flask", "Flask") in names:
            from .wsgi import instrument_flask

            instrument_flask()
        elif ("django", "WSGIHandler") in names or ("django", "ASGIHandler") in names:
            from .django import instrument_handler

            instrument_handler(app)
        else:
            log.warning("routelens: %r is not a FastAPI, Starlette, Flask or Django app; "
                        "wrap it with routelens.asgi.RoutelensMiddleware or routelens.wsgi.RoutelensMiddleware",
                        type(app).__name__)
        agent.activate()
    except Exception:
        log.debug("routelens: instrument() failed", exc_info=True)
    return app


def _debug_to_stderr():
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
