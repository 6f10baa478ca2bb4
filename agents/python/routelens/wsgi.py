"""WSGI: Flask, plus a middleware for any other WSGI app.

For Flask three methods are wrapped: `wsgi_app` (the span around the whole
request), `full_dispatch_request` (by then the URL rule is matched, so the
route template and the view are known) and `handle_exception` (the unhandled
exception, before Flask turns it into a 500 or re-raises it).
"""

from . import _announce, _codeloc, _http, _otel
from ._patch import patch
from ._trace import _current

ENVIRON_KEY = "routelens.span"


def _path(environ):
    path = environ.get("PATH_INFO", "")
    script = environ.get("SCRIPT_NAME")
    if script:
        path = script + path
    if not path.isascii():
        # WSGI hands over the raw bytes as latin-1; the URL itself is UTF-8.
        try:
            path = path.encode("latin-1").decode("utf-8", "replace")
        except UnicodeError:
            pass
    return path


def _begin(environ):
    return _http.begin(
        environ.get("REQUEST_METHOD", "GET"),
        _path(environ),
        environ.get("HTTP_TRACEPARENT"),
        environ.get("REMOTE_ADDR"),
        environ.get("HTTP_HOST") or environ.get("SERVER_NAME"),
        environ.get("HTTP_TRACESTATE"),
    )


def _status_code(status_line):
    try:
        return int(status_line[:3])
    except (TypeError, ValueError):
        return None


def _finish(span, status_line, exc):
    try:
        _http.finish(span, span._route, _status_code(status_line) if status_line else None, exc)
    except Exception:
        try:
            span.end()
        except Exception:
            pass


def call(app, environ, start_response):
    """Runs the WSGI callable app inside a server span."""
    if _announce.pending:
        _announce.wsgi_request(app, environ)
    try:
        span = _begin(environ)
        environ[ENVIRON_KEY] = span
        token = _current.set(span)
    except Exception:
        return app(environ, start_response)
    status = None

    def start_response_with_status(status_line, headers, exc_info=None):
        nonlocal status
        status = status_line
        if exc_info is None:
            return start_response(status_line, headers)
        return start_response(status_line, headers, exc_info)

    try:
        result = app(environ, start_response_with_status)
    except Exception as exc:
        _finish(span, status, exc)
        raise
    except BaseException:
        _finish(span, status, None)
        raise
    finally:
        try:
            _current.reset(token)
        except ValueError:
            pass
    _finish(span, status, None)
    return result


class RoutelensMiddleware:
    """Wraps any WSGI app: `app.wsgi_app = RoutelensMiddleware(app.wsgi_app)`.

    Without a framework hook to name the route, requests are reported as /{unmatched}.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if ENVIRON_KEY in environ or _http.State.agent is None:
            return self.app(environ, start_response)
        if _otel.loaded and _otel.traces_request(self.app):
            return self.app(environ, start_response)
        return call(self.app, environ, start_response)


# -- Flask ---------------------------------------------------------------------------

def _request_getter():
    """A function returning the current Flask request (or None), resolved once per process."""
    try:
        from flask.globals import _cv_request  # Flask 2.2 and later

        get = _cv_request.get

        def current():
            ctx = get(None)
            return ctx.request if ctx is not None else None

        return current
    except ImportError:
        from flask import _request_ctx_stack

        def current_legacy():
            ctx = _request_ctx_stack.top
            return ctx.request if ctx is not None else None

        return current_legacy


def _make_wsgi_app(original):
    # call() written out again around `original`, without its start_response wrapper: Flask's
    # response status is taken from the response full_dispatch_request() (or handle_exception())
    # returns. This runs on every request of every Flask app, and each call less is measurable.
    def wsgi_app(self, environ, start_response):
        if ENVIRON_KEY in environ or _http.State.agent is None:
            return original(self, environ, start_response)
        if _otel.loaded and _otel.traces_request(self):
            # OpenTelemetry makes this request's server span (see _otel).
            return original(self, environ, start_response)
        if _announce.pending:
            _announce.wsgi_request(self, environ)
        try:
            span = _begin(environ)
            environ[ENVIRON_KEY] = span
            token = _current.set(span)
        except Exception:
            return original(self, environ, start_response)
        try:
            result = original(self, environ, start_response)
        except Exception as exc:
            _finish_flask(span, exc)
            raise
        except BaseException:
            _finish_flask(span, None)
            raise
        finally:
            try:
                _current.reset(token)
            except ValueError:
                pass
        _finish_flask(span, None)
        return result

    return wsgi_app


def _finish_flask(span, exc):
    try:
        _http.finish(span, span._route, span._status_code, exc)
    except Exception:
        try:
            span.end()
        except Exception:
            pass


# The RouteInfo of a URL rule, per method, kept on the rule itself (werkzeug's Rule objects
# live as long as the app's URL map): one attribute and one dictionary lookup per request. Read
# as an attribute, not through the rule's __dict__, which would make the rule's attributes a
# dict of their own and werkzeug's every use of them slower (see _patch.add_default).


def _rule_route(app, rule, method):
    try:
        by_method = rule._routelens_routes
    except AttributeError:
        by_method = {}
        try:
            rule._routelens_routes = by_method
        except Exception:
            return _http.route_info(rule.rule, app.view_functions.get(rule.endpoint), method)
    info = _http.route_info(rule.rule, app.view_functions.get(rule.endpoint), method)
    if len(by_method) < 16:
        by_method[method] = info
    return info


def _make_full_dispatch_request(original):
    current_request = _request_getter()

    def full_dispatch_request(self):
        try:
            request = current_request()
            span = request.environ.get(ENVIRON_KEY) if request is not None else None
            if span is not None:
                rule = request.url_rule
                if rule is not None:
                    method = request.method
                    try:
                        span._route = rule._routelens_routes[method]
                    except (KeyError, AttributeError):
                        span._route = _rule_route(self, rule, method)
            elif _otel.loaded and request is not None and request.url_rule is not None:
                # OpenTelemetry's request: the view's location goes on its span.
                _otel.annotate(_codeloc.code_attributes(self.view_functions.get(request.url_rule.endpoint), request.method))
        except Exception:
            span = None
        response = original(self)
        if span is not None:
            try:
                span._status_code = response.status_code
            except Exception:
                pass
        return response

    return full_dispatch_request


def _make_handle_exception(original):
    current_request = _request_getter()

    def handle_exception(self, e):
        try:
            request = current_request()
            span = request.environ.get(ENVIRON_KEY) if request is not None else None
            if span is not None:
                span.record_exception(e)
        except Exception:
            span = None
        # Re-raises when Flask propagates exceptions (debug, testing): wsgi_app's caller sees it.
        response = original(self, e)
        if span is not None:
            try:
                span._status_code = response.status_code
            except Exception:
                pass
        return response

    return handle_exception


def instrument_flask(module=None):
    # Called while `flask/__init__` is still importing flask.app, so take the class from the module.
    if module is None:
        import flask.app as module
    Flask = module.Flask

    patch(Flask, "wsgi_app", _make_wsgi_app)
    patch(Flask, "full_dispatch_request", _make_full_dispatch_request)
    patch(Flask, "handle_exception", _make_handle_exception)
