"""Settings read from the environment, resolved once when the agent starts."""

import logging
import os
import re
import sys
from urllib.parse import urlsplit

VERSION = "0.1.0"
SDK_NAME = "routelens-python"
DEFAULT_ENDPOINT = "http://127.0.0.1:4318"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_LEVELS = {
    "TRACE": 5,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
    "FATAL": logging.CRITICAL,
}
DEFAULT_LOG_RATE = 1000
# A level above every real one: the handler then only takes records with exc_info.
LOG_LEVEL_OFF = 1000


def env_flag(name, environ=None):
    value = (environ if environ is not None else os.environ).get(name, "")
    return value.strip().lower() in _TRUE


def env_int(name, default, minimum=1, environ=None):
    value = (environ if environ is not None else os.environ).get(name, "").strip()
    if not value:
        return default
    try:
        return max(minimum, int(value))
    except ValueError:
        return default


def env_seconds(name, default, minimum, maximum, environ=None):
    """A number of seconds from the environment, within [minimum, maximum]; default when unset
    or not a number."""
    value = (environ if environ is not None else os.environ).get(name, "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return default
    if seconds != seconds:  # NaN
        return default
    return min(maximum, max(minimum, seconds))


def parse_log_level(value, default=logging.INFO):
    if value is None:
        return default
    text = str(value).strip().upper()
    if not text:
        return default
    if text in ("OFF", "NONE"):
        return LOG_LEVEL_OFF
    if text in _LEVELS:
        return _LEVELS[text]
    try:
        return int(text)
    except ValueError:
        return default


def websocket_url(endpoint):
    """Turns the collector's base URL into the native WebSocket URL.

    ``http://127.0.0.1:4318`` becomes ``ws://127.0.0.1:4318/v1/ws``; a URL that
    already names the WebSocket endpoint is kept as it is.
    """
    endpoint = (endpoint or DEFAULT_ENDPOINT).strip()
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    if scheme in ("http", "ws"):
        ws_scheme = "ws"
    elif scheme in ("https", "wss"):
        ws_scheme = "wss"
    else:
        raise ValueError("unsupported collector URL scheme: %r" % parts.scheme)
    if not parts.hostname:
        raise ValueError("collector URL has no host: %r" % endpoint)
    path = parts.path.rstrip("/")
    if not path.endswith("/v1/ws"):
        path = path + "/v1/ws"
    return "%s://%s%s" % (ws_scheme, parts.netloc, path)


def _module_from_runner_args(argv):
    """For `uvicorn main:app`, `gunicorn pkg.wsgi` and friends: the app's module."""
    for arg in argv[1:]:
        if arg.startswith("-"):
            continue
        if ":" in arg:
            module, _, attr = arg.partition(":")
            # `127.0.0.1:8000` or `localhost:8000` is an option's address, not `module:app`.
            if _DOTTED.match(module) and _DOTTED.match(attr.split("(", 1)[0]):
                return module
            continue
        if "." in arg and not arg.endswith(".py") and _DOTTED.match(arg):
            return arg
    return None


_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


_RUNNERS = ("uvicorn", "gunicorn", "hypercorn", "daphne", "waitress", "granian", "flask")
_GENERIC = ("app", "main", "manage", "wsgi", "asgi", "server", "run", "application", "__main__", "api")


def derive_service_name(environ=None, argv=None, cwd=None):
    environ = environ if environ is not None else os.environ
    for key in ("ROUTELENS_SERVICE_NAME", "OTEL_SERVICE_NAME"):
        value = environ.get(key, "").strip()
        if value:
            return value
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip():
            return value.strip()

    argv = list(sys.argv if argv is None else argv) or [""]
    if argv[0] == "-m":
        # `python -m flask run` while the flask package is still importing (its import hooks
        # can start the agent then): sys.argv[0] becomes .../flask/__main__.py only later, the
        # module's name is in sys.orig_argv (3.10+).
        orig = getattr(sys, "orig_argv", None) or []
        if "-m" in orig[1:] and orig.index("-m", 1) + 1 < len(orig):
            argv[0] = os.path.join(orig[orig.index("-m", 1) + 1], "__main__.py")
        else:
            argv[0] = ""
    module = None
    main_file = os.path.basename(argv[0] or "")
    if " " in main_file:
        # `python -m unittest` and friends put a description here, not a file.
        main_file = ""
    stem = main_file[:-3] if main_file.endswith(".py") else main_file
    runner = stem if stem in _RUNNERS else None
    if stem == "__main__":
        runner_dir = os.path.basename(os.path.dirname(argv[0] or ""))
        if runner_dir in _RUNNERS:
            runner = runner_dir
    if runner == "flask":
        module = environ.get("FLASK_APP", "").split(":", 1)[0] or None
        if "--app" in argv[:-1]:
            module = argv[argv.index("--app") + 1].split(":", 1)[0]
    elif runner:
        module = _module_from_runner_args(argv)
    elif stem == "manage" or stem == "django-admin":
        settings = environ.get("DJANGO_SETTINGS_MODULE", "")
        module = settings.split(".", 1)[0] or stem
    elif stem and stem not in ("-c", "python", "python3"):
        module = stem
    if module:
        module = module.rsplit("/", 1)[-1]
        if module.endswith(".py"):
            module = module[:-3]
        # `pkg.wsgi` names the project `pkg`; `main` alone says little, the folder says more.
        head = module.split(".", 1)[0]
        if head and head not in _GENERIC:
            return head
    folder = os.path.basename(os.path.abspath(cwd or os.getcwd()))
    if folder:
        return folder
    return module or "python-app"


class Config:
    __slots__ = (
        "endpoint",
        "ws_url",
        "service_name",
        "log_level",
        "log_rate",
        "disabled",
        "max_queue",
        "max_batch",
        "flush_interval",
        "metrics_interval",
        "debug",
        "announce_metrics",
        "exporter",
    )

    def __init__(self, endpoint=None, service_name=None, log_level=None, max_queue=None,
                 max_batch=None, flush_interval=None, metrics_interval=None, announce_metrics=None,
                 exporter=None, log_rate=None, environ=None):
        environ = environ if environ is not None else os.environ
        self.disabled = env_flag("ROUTELENS_DISABLED", environ)
        self.endpoint = endpoint or environ.get("ROUTELENS_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
        self.ws_url = websocket_url(self.endpoint)
        # Fixed now when the environment names the service; otherwise derived when the
        # first connection opens, by which time the app's own module is known.
        self.service_name = service_name or (
            derive_service_name(environ, argv=[""], cwd=os.getcwd())
            if environ.get("ROUTELENS_SERVICE_NAME", "").strip() or environ.get("OTEL_SERVICE_NAME", "").strip()
            else None
        )
        if log_level is None:
            log_level = environ.get("ROUTELENS_LOG_LEVEL")
        self.log_level = parse_log_level(log_level)
        # Log records sent per second at most (0: no bound); the rest are dropped and counted.
        self.log_rate = log_rate if log_rate is not None else env_int("ROUTELENS_LOG_RATE", DEFAULT_LOG_RATE, minimum=0, environ=environ)
        self.max_queue = max_queue or env_int("ROUTELENS_MAX_QUEUE", 10000, environ=environ)
        self.max_batch = max_batch or env_int("ROUTELENS_MAX_BATCH", 1000, environ=environ)
        # Seconds between sends when no batch has filled (a full batch goes at once).
        self.flush_interval = (env_seconds("ROUTELENS_FLUSH_INTERVAL", 0.2, 0.01, 60.0, environ)
                               if flush_interval is None else flush_interval)
        self.metrics_interval = 1.0 if metrics_interval is None else metrics_interval
        self.debug = env_flag("ROUTELENS_DEBUG", environ)
        # On unless ROUTELENS_ANNOUNCE_METRICS says 0/false/no/off: tell the collector about the
        # app's own /metrics endpoint so that it is scraped (see _announce.py).
        if announce_metrics is None:
            announce_metrics = environ.get("ROUTELENS_ANNOUNCE_METRICS", "").strip().lower() not in _FALSE
        self.announce_metrics = bool(announce_metrics)
        # "native" (the Routelens collector's WebSocket protocol) or "otlp" (OTLP/HTTP JSON to an
        # OpenTelemetry Collector; see _otlp.py).
        exporter = (exporter or environ.get("ROUTELENS_EXPORTER", "") or "native").strip().lower()
        if exporter not in ("native", "otlp"):
            logging.getLogger("routelens").warning("routelens: ROUTELENS_EXPORTER=%s is neither native nor otlp; using native", exporter)
            exporter = "native"
        self.exporter = exporter
        if exporter == "otlp":
            # No Routelens collector to tell about the app's /metrics.
            self.announce_metrics = False
