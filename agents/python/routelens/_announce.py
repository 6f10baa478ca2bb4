"""Announcing the app's own Prometheus endpoint to the collector (protocol message `announce`).

When the instrumented app serves Prometheus metrics at /metrics (prometheus_client's
make_asgi_app/make_wsgi_app mounted there, a view returning generate_latest(),
prometheus-fastapi-instrumentator's expose(), prometheus_flask_exporter,
django-prometheus), the agent tells the collector, which then scrapes it under the
agent's service name.

The request path pays one test of the module flag `pending` per request: the first
request after start() clears it and hands the app object and the address the server
answered on to the exporter thread (`offer`). Everything else (finding out whether
the app serves /metrics, building the URL, sending) happens on the exporter thread
(`Announcer.tick`), which sends the announcement after the hello of every connection.
"""

import ipaddress
import logging

from . import _json

log = logging.getLogger("routelens")

# Tested by the framework hooks on every request; True from start() until the first request.
pending = False

_announcer = None

METRICS_PATH = "/metrics"


class Announcer:
    """The exporter's side: detection (once) and one announce message per connection."""

    def __init__(self, exporter):
        self.exporter = exporter
        self.source = None  # (kind, app, host, port, user_agent) from the first request
        self.urls = None  # None until detection ran; then the URLs to announce (maybe none)
        self.sent_for = None  # exporter.stats["connects"] when the last announce went out

    def offer(self, source):
        """From the first request's thread: what detection needs. Cheap; never raises."""
        if self.source is None and self.urls is None:
            self.source = source
            try:
                self.exporter._wake.set()
            except Exception:
                pass

    def tick(self, exporter):
        """On the exporter thread, each time round its loop. Never raises."""
        try:
            if self.urls is None:
                source = self.source
                if source is None:
                    return
                self.source = None  # no reference to the app is kept
                self.urls = announced_urls(*source)
                if self.urls:
                    log.debug("routelens: the app serves Prometheus metrics at %s", ", ".join(self.urls))
            if not self.urls:
                return
            client = exporter._client
            connects = exporter.stats["connects"]
            if client is None or self.sent_for == connects:
                return
            # Once per connection, sent or not: a failed send drops the connection and the next
            # one (a new connects count) announces again.
            self.sent_for = connects
            text = _json.dumps({"v": 1, "type": "announce", "prometheus": list(self.urls)})
            try:
                client.send_text(text)
            except Exception as exc:
                exporter._note("announce failed: %r" % (exc,))
                exporter._disconnect()
                return
            exporter.stats["announces"] = exporter.stats.get("announces", 0) + 1
        except Exception as exc:
            try:
                exporter._note("announce: %r" % (exc,))
            except Exception:
                pass


def arm(exporter, enabled=True):
    """Called by start(): the next request is looked at (unless announcing is switched off)."""
    global pending, _announcer
    if not enabled:
        disarm()
        return None
    announcer = Announcer(exporter)
    exporter.announcer = announcer
    _announcer = announcer
    pending = True
    return announcer


def disarm():
    global pending, _announcer
    pending = False
    announcer, _announcer = _announcer, None
    if announcer is not None:
        announcer.exporter.announcer = None


# -- the first request (request thread: only reads what is at hand) ------------------

def asgi_request(app, scope):
    global pending
    pending = False
    try:
        announcer = _announcer
        server = scope.get("server")
        if announcer is not None and server and len(server) >= 2:
            announcer.offer(("asgi", app, server[0], server[1], None))
    except Exception:
        pass


def wsgi_request(app, environ):
    global pending
    pending = False
    try:
        announcer = _announcer
        if announcer is not None:
            announcer.offer(("wsgi", app, environ.get("SERVER_NAME"), environ.get("SERVER_PORT"),
                             environ.get("HTTP_USER_AGENT")))
    except Exception:
        pass


def django_request(request):
    global pending
    pending = False
    try:
        announcer = _announcer
        if announcer is not None:
            meta = request.META
            announcer.offer(("django", None, meta.get("SERVER_NAME"), meta.get("SERVER_PORT"),
                             meta.get("HTTP_USER_AGENT")))
    except Exception:
        pass


# -- detection (exporter thread) -------------------------------------------------------

def announced_urls(kind, app, host, port, user_agent=None):
    """The URLs to announce for what the first request showed; [] when there is none."""
    try:
        base = base_url(kind, host, port, user_agent)
        if base is None:
            return []
        path = metrics_path(kind, app)
        return [base + path] if path else []
    except Exception as exc:
        log.debug("routelens: looking for a /metrics endpoint failed: %r", exc)
        return []


def base_url(kind, host, port, user_agent=None):
    """`http://127.0.0.1:PORT` for the server that answered; None for test clients.

    The collector only scrapes loopback URLs, and a server bound to 0.0.0.0 (or a
    hostname) also answers on loopback, so every IPv4 address or name becomes 127.0.0.1;
    a server answering on ::1 or bound to :: gets [::1].
    """
    try:
        port = int(port)
    except (TypeError, ValueError):
        return None
    if not 0 < port < 65536:
        return None
    host = str(host or "").strip().strip("[]").lower()
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        address = None
    if address is None:
        # Real ASGI servers put the socket's address in scope["server"]: a name there comes
        # from an in-process transport (Starlette's TestClient: "testserver", httpx's
        # ASGITransport: the base URL's host).
        if kind == "asgi":
            return None
        # Django's test client; werkzeug's (Flask's) test client says "localhost" but sends
        # its own User-Agent.
        if host == "testserver" or (user_agent or "").startswith("werkzeug/"):
            return None
        return "http://127.0.0.1:%d" % port
    if address.version == 6 and (address.is_loopback or address.is_unspecified):
        return "http://[::1]:%d" % port
    return "http://127.0.0.1:%d" % port


def metrics_path(kind, app):
    """The path that serves /metrics in this app ('/metrics' or '/metrics/'), or None."""
    if kind == "asgi":
        return _starlette_path(app)
    if kind == "wsgi":
        return _wsgi_path(app)
    if kind == "django":
        return _django_path()
    return None


def _starlette_path(app):
    routes = getattr(getattr(app, "router", None), "routes", None)
    if routes is None:
        routes = getattr(app, "routes", None)
    if not routes:
        return None
    try:
        from starlette import routing
    except ImportError:
        return None
    for route in list(routes):
        path = getattr(route, "path", None)
        if isinstance(route, routing.Mount):
            # Mount("/metrics", make_asgi_app()) answers /metrics/ (/metrics is redirected there).
            if path in (METRICS_PATH, METRICS_PATH + "/"):
                return METRICS_PATH + "/"
        elif isinstance(route, (routing.WebSocketRoute, routing.Host)):
            continue
        elif path in (METRICS_PATH, METRICS_PATH + "/"):
            methods = getattr(route, "methods", None)
            if methods is None or "GET" in methods:
                return path
    return None


def _wsgi_path(app):
    owner = getattr(app, "__self__", app)  # Flask hands over its bound wsgi_app
    url_map = getattr(owner, "url_map", None)
    if url_map is not None:
        for rule in list(url_map.iter_rules()):
            if rule.rule in (METRICS_PATH, METRICS_PATH + "/") and "GET" in (rule.methods or ("GET",)):
                return rule.rule
    # werkzeug's DispatcherMiddleware: `app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": ...})`.
    candidates = []
    if isinstance(getattr(owner, "__dict__", None), dict):
        candidates.append(owner.__dict__.get("wsgi_app"))
    candidates.append(owner)
    for wrapper in candidates:
        for _ in range(8):
            if wrapper is None:
                break
            mounts = getattr(wrapper, "mounts", None)
            if isinstance(mounts, dict) and (METRICS_PATH in mounts or METRICS_PATH + "/" in mounts):
                return METRICS_PATH
            wrapper = getattr(wrapper, "app", None)
    return None


def _django_path():
    from django.urls import Resolver404, resolve

    def resolves(path):
        try:
            resolve(path)
        except Resolver404:
            return False
        return True

    for path in (METRICS_PATH, METRICS_PATH + "/"):
        if resolves(path):
            # A catch-all pattern (a single-page app's re_path(r"^.*$", ...)) resolves anything.
            return None if resolves(path.replace("metrics", "routelens-no-such-page")) else path
    return None
