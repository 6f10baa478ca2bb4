"""Client spans: what every hook of a call out of the process (HTTP, database, cache) shares.

A hook asks begin() for a span before the call and gives it to end() after (fail() first if
the call raised). begin() answers None when the call is not traced: outside any request
(unless ROUTELENS_CLIENT_SPANS_OUTSIDE_REQUESTS=trace), inside another client span (a
statement SQLAlchemy runs on a hooked driver is SQLAlchemy's span only), or with client
spans switched off.

A request has at most `max_spans` client spans (ROUTELENS_MAX_CLIENT_SPANS, default 500).
Past that, each call is folded into one summary span per shape (span name and statement or
URL): its count, total and the time from the first to the last call, sent when the request
ends. A loop of 100,000 queries then costs a few summary spans, not 100,000.
"""

import contextvars
import os
import re
import sys
import threading
import time
from urllib.parse import urlsplit

from . import _callsite, _json, _otel, _trace
from ._callsite import add_callsite
from ._trace import ClientSpan, _current

_new_span = ClientSpan.__new__
_perf = _trace._perf

DEFAULT_MAX_SPANS = 500
# Distinct shapes folded under one request; calls of further shapes share one summary.
MAX_FOLD_SHAPES = 64


class Settings:
    enabled = True
    max_spans = DEFAULT_MAX_SPANS
    outside_requests = False
    # (host, port) pairs of the collector: the agent's own traffic is never a client span.
    collector = frozenset()
    collector_ports = frozenset()


def configure(config=None, environ=None):
    environ = environ if environ is not None else os.environ
    value = environ.get("ROUTELENS_CLIENT_SPANS", "").strip().lower()
    Settings.enabled = value not in ("0", "false", "no", "off")
    try:
        Settings.max_spans = max(0, int(environ.get("ROUTELENS_MAX_CLIENT_SPANS", "").strip()))
    except ValueError:
        Settings.max_spans = DEFAULT_MAX_SPANS
    outside = environ.get("ROUTELENS_CLIENT_SPANS_OUTSIDE_REQUESTS", "").strip().lower()
    Settings.outside_requests = outside in ("trace", "1", "true", "yes", "on")
    addresses = set()
    endpoint = getattr(config, "ws_url", None) if config is not None else None
    if endpoint:
        try:
            parts = urlsplit(endpoint)
            port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
            host = (parts.hostname or "").lower()
            names = {host}
            if host in ("localhost", "127.0.0.1", "::1", "[::1]"):
                names.update(("localhost", "127.0.0.1", "::1"))
            for name in names:
                addresses.add((name, port))
        except ValueError:
            pass
    Settings.collector = frozenset(addresses)
    Settings.collector_ports = frozenset(port for _, port in addresses)


def is_collector(host, port):
    if port not in Settings.collector_ports:
        return False
    try:
        return (str(host).lower().strip("[]"), int(port)) in Settings.collector
    except (TypeError, ValueError):
        return False


class Fold:
    """Stands in for a span past the per-request limit: end() adds the call to its summary."""

    __slots__ = ("entry", "_t0", "failed")
    # Hooks write attributes on whatever begin() gave them; a folded call's are not kept.
    attributes = {}

    def __init__(self, entry):
        self.entry = entry
        self.failed = False
        self._t0 = _perf()

    @property
    def trace_id(self):
        return self.entry[0].trace_id

    @property
    def span_id(self):
        return self.entry[0].span_id


_owned = {}


def otel_owns(libraries):
    """Whether an OpenTelemetry instrumentation of one of `libraries` (names under
    opentelemetry.instrumentation) is active: then OpenTelemetry makes the client span and sends
    the traceparent, and the agent makes neither. Checked at most once a second per library set;
    without OpenTelemetry in the process, one flag."""
    if not _otel.loaded:
        return False
    now = time.monotonic()
    hit = _owned.get(libraries)
    if hit is not None and now - hit[0] < 1.0:
        return hit[1]
    owned = any(_otel.library_instrumented(name) for name in libraries)
    _owned[libraries] = (now, owned)
    return owned


def begin(name, attributes):
    """A started client span (or Fold) for a call, or None when the call is not traced.

    attributes becomes the span's own dictionary.
    """
    return _start(_current.get(), name, attributes)


# True while a call that an OpenTelemetry instrumentation traces runs (a statement through an
# SQLAlchemy engine that OpenTelemetry instruments): the driver hooks under it stand aside.
_otel_quiet = contextvars.ContextVar("routelens_otel_quiet", default=False)


def otel_stands_for(libraries):
    """Whether OpenTelemetry traces this call of one of libraries (only asked once OpenTelemetry
    is loaded): its instrumentation of the library is active, or an instrumented call above it
    runs this one."""
    return _otel_quiet.get() or otel_owns(libraries)


def begin_db(target, statement):
    """begin() for a SQL statement on a connection described by target (a DbTarget)."""
    parent = _current.get()
    if parent is None and not Settings.outside_requests:
        return None
    if _otel.loaded and otel_stands_for(getattr(target, "otel", ())):
        return None
    try:
        name, template, encoded = target.statements[statement]
    except (KeyError, TypeError, AttributeError):
        name, template, encoded = _parse_db(target, statement)
    return _start(parent, name, {}, (template, encoded))


class DbTarget(tuple):
    """(db.system.name, db.namespace, server.address, server.port) of a connection, with the
    parses of the statements run on it (so a statement is looked up by itself, not by a tuple
    that would be hashed on every call), and `otel`: the names (under
    opentelemetry.instrumentation) of the instrumentations that trace the library it is used
    through, which then make the span instead of the agent."""

    otel = ()

    def __new__(cls, values, otel=()):
        target = tuple.__new__(cls, values)
        target.statements = {}
        target.otel = otel
        return target


_targets = {}


def db_target(system, namespace=None, address=None, port=None, otel=()):
    key = (system, namespace, address, port, otel)
    target = _targets.get(key)
    if target is None:
        target = DbTarget(key[:4], otel)
        if len(_targets) < 1024:
            _targets[key] = target
    return target


_verdicts = _callsite._verdicts
_verdict = _callsite._verdict
_line_of = _callsite.line_of
_getframe = sys._getframe


def _start(parent, name, attributes, static=None):
    if parent is None:
        if not Settings.outside_requests or not Settings.enabled:
            return None
        root = None
    else:
        if parent.kind == "client" or not Settings.enabled:
            return None
        root = parent._root or parent
        count = root._clients
        if count >= Settings.max_spans:
            if static is not None:
                attributes = dict(static[0], **attributes)
            return _fold(root, parent, name, attributes)
        root._clients = count + 1
    # The calling line (_callsite.add_callsite, written out: this runs for every call).
    frame = _getframe(2)
    verdicts = _verdicts
    code = None
    while frame is not None:
        code = frame.f_code
        found = verdicts.get(code)
        if found is None:
            found = _verdict(code)
            if len(verdicts) < _callsite.MAX_VERDICTS:
                verdicts[code] = found
        if found:
            lines = found[2]
            line = lines.get(frame.f_lasti)
            if line is None:
                line = _line_of(frame, lines)
            code = (found[0], found[1], line)
            break
        frame = frame.f_back
    span = _new_span(ClientSpan)
    if parent is not None:
        span._trace_id = parent._trace_id or parent.trace_id
        span.parent_span_id = parent._span_id or parent.span_id
        span._root = root
    else:
        span._trace_id = None
        span.parent_span_id = None
        span._root = None
    span.name = name
    span.attributes = attributes
    if static is not None:
        span._static = static
    if code is not None:
        span._code = code
    t0 = span._t0 = _perf()
    span.start_ms = (t0 + _trace._wall_offset) * 1000.0
    return span


_fold_lock = threading.Lock()


def _fold(root, parent, name, attributes):
    # Calls of one shape: the same name, statement (or none) and server.
    key = (name, attributes.get("db.query.text"), attributes.get("server.address"), attributes.get("server.port"))
    folds = root._folds
    if folds is None:
        with _fold_lock:
            folds = root._folds
            if folds is None:
                folds = root._folds = {}
    entry = folds.get(key)
    if entry is None:
        with _fold_lock:
            entry = folds.get(key)
            if entry is None:
                if len(folds) >= MAX_FOLD_SHAPES:
                    key = None
                    entry = folds.get(key)
                    if entry is None:
                        attributes = {}
                        name = "other client calls"
                if entry is None:
                    add_callsite(attributes, 3)
                    summary = _new_span(ClientSpan)
                    summary._trace_id = parent._trace_id or parent.trace_id
                    summary.parent_span_id = parent._span_id or parent.span_id
                    summary._root = root
                    summary.name = name
                    summary.attributes = attributes
                    t0 = summary._t0 = _perf()
                    summary.start_ms = (t0 + _trace._wall_offset) * 1000.0
                    # [summary span, calls, seconds spent in them, failed calls, end of the last]
                    entry = folds[key] = [summary, 0, 0.0, 0, t0]
    return Fold(entry)


def _flush_folds(root):
    folds = root._folds
    if not folds:
        return
    export = _trace._export
    for summary, count, total, failed, last_end in list(folds.values()):
        attributes = summary.attributes
        attributes["routelens.folded.count"] = count
        attributes["routelens.folded.duration_ms"] = round(total * 1000.0, 3)
        if failed:
            attributes["routelens.folded.errors"] = failed
            summary.status = "error"
        summary.end_ms = summary.start_ms + max(0.0, last_end - summary._t0) * 1000.0
        if export is not None:
            export(summary)


_trace._fold_flusher = _flush_folds


def fail(span, exc):
    """Marks the call as failed with exc (which the hook then re-raises unchanged)."""
    try:
        if span.__class__ is Fold:
            span.failed = True
            return
        span.attributes["error.type"] = error_type(exc)
        span.record_exception(exc)
    except Exception:
        pass


def cancelled(span):
    """The call was cancelled (asyncio): not the remote side's failure, but no answer either."""
    try:
        if span.__class__ is not Fold:
            span.attributes["error.type"] = "cancelled"
            span.status = "error"
            span.status_message = "cancelled"
    except Exception:
        pass


def end(span):
    now = _perf()
    if span.__class__ is Fold:
        entry = span.entry
        entry[1] += 1
        entry[2] += now - span._t0
        if span.failed:
            entry[3] += 1
        entry[4] = now
        return
    if span.end_ms is not None:
        return
    span.end_ms = span.start_ms + (now - span._t0) * 1000.0
    if span.exception is not None:
        span._exc_obj = None
    export = _trace._export
    if export is not None:
        export(span)


def error_type(exc):
    cls = type(exc)
    module = cls.__module__
    if module in ("builtins", "__main__") or not module:
        return cls.__qualname__
    return module + "." + cls.__qualname__


def traceparent(span):
    if span.__class__ is not ClientSpan:  # a Fold: its summary span's ids
        return "00-%s-%s-01" % (span.trace_id, span.span_id)
    span_id = span._span_id
    if span_id is None:
        # A client span is seen by no other thread before its call is sent: no lock needed.
        span_id = span._span_id = "%016x" % (_getrandbits(64) or 1)
    return "00-%s-%s-01" % (span._trace_id or span.trace_id, span_id)


_getrandbits = _trace._getrandbits


def tracestate(span):
    """The W3C tracestate the request of span received (to carry on with traceparent), or None."""
    root = span.entry[0]._root if span.__class__ is Fold else span._root
    if root is None:
        return None
    return getattr(root, "_tracestate", None)


# -- statements ----------------------------------------------------------------------

# String literals (with '' inside), dollar-quoted strings and numbers that are not part of a
# name or a placeholder ($1, :1, %s stay as they are).
_LITERALS = re.compile(
    r"'(?:[^']|'')*'"
    r"|\$\$.*?\$\$|\$([A-Za-z_][A-Za-z_0-9]*)\$.*?\$\1\$"
    r"|(?<![\w$:.])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w.])",
    re.S,
)
_LEADING = re.compile(r"\s*(?:(?:/\*.*?\*/|--[^\n]*(?:\n|$))\s*)*([A-Za-z]+)", re.S)
_NAME = r"((?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`|\[[^\]]+\])(?:\.(?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`|\[[^\]]+\]))*)"
_FROM = re.compile(r"\bFROM\s+" + _NAME, re.I)
_INTO = re.compile(r"\bINTO\s+" + _NAME, re.I)
_UPDATE = re.compile(r"^\s*UPDATE\s+(?:ONLY\s+)?" + _NAME, re.I)
_TABLE = re.compile(r"\bTABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?" + _NAME, re.I)
MAX_QUERY_TEXT = 4096


def _replace_literal(match):
    return "?"


def sanitize(statement):
    """The statement with its literals replaced by `?`, cut to MAX_QUERY_TEXT characters."""
    text = _LITERALS.sub(_replace_literal, statement[:MAX_QUERY_TEXT * 2])
    if len(text) > MAX_QUERY_TEXT:
        text = text[:MAX_QUERY_TEXT - 3] + "..."
    return text.strip()


def _unquote(name):
    return ".".join(part.strip('"`[]') for part in name.split("."))


def parse_statement(statement):
    """(query text, operation, collection or None) of a SQL statement."""
    text = sanitize(statement)
    match = _LEADING.match(text)
    operation = match.group(1).upper() if match else None
    collection = None
    pattern = None
    if operation in ("SELECT", "DELETE", "WITH"):
        pattern = _FROM
    elif operation in ("INSERT", "REPLACE", "UPSERT", "MERGE"):
        pattern = _INTO
    elif operation == "UPDATE":
        pattern = _UPDATE
    elif operation in ("CREATE", "DROP", "ALTER", "TRUNCATE"):
        pattern = _TABLE
    if pattern is not None:
        found = pattern.search(text)
        if found:
            collection = _unquote(found.group(1))
    return text, operation, collection


# Statements whose parse each connection target keeps.
MAX_STATEMENTS = 2048


def db_attributes(target, statement):
    """(span name, a fresh attribute dictionary) for one statement on target (a DbTarget or a
    plain 4-tuple)."""
    try:
        name, template, _ = target.statements[statement]
    except (KeyError, TypeError, AttributeError):
        name, template, _ = _parse_db(target, statement)
    return name, template.copy()


def _parse_db(target, statement):
    if not isinstance(target, DbTarget):
        target = db_target(*target)
    if not isinstance(statement, str):  # bytes, or a composed statement object
        statement = _statement_text(statement)
        try:
            return target.statements[statement]
        except KeyError:
            pass
    system, namespace, address, port = target
    template = {"db.system.name": system}
    if namespace:
        template["db.namespace"] = namespace
    if address:
        template["server.address"] = address
        if port:
            template["server.port"] = port
    name = system
    try:
        text, operation, collection = parse_statement(statement)
        template["db.query.text"] = text
        if operation:
            template["db.operation.name"] = operation
            name = operation
        if collection:
            template["db.collection.name"] = collection
            name = operation + " " + collection
    except Exception:
        pass
    entry = (name, template, _json.attributes_body(template))
    if len(target.statements) < MAX_STATEMENTS:
        target.statements[statement] = entry
    return entry


def _statement_text(statement):
    if isinstance(statement, (bytes, bytearray, memoryview)):
        return bytes(statement).decode("utf-8", "replace")
    as_string = getattr(statement, "as_string", None)
    if as_string is not None:  # psycopg's sql.Composed needs a connection to render; its parts do not
        try:
            return "".join(str(getattr(part, "_obj", part)) for part in getattr(statement, "_obj", [statement]))
        except Exception:
            pass
    return str(statement)


def operation_span(static, operation):
    """(name, attributes) of a connection-level operation such as COMMIT or ROLLBACK."""
    system, namespace, address, port = static
    attributes = {"db.system.name": system, "db.operation.name": operation}
    if namespace:
        attributes["db.namespace"] = namespace
    if address:
        attributes["server.address"] = address
        if port:
            attributes["server.port"] = port
    return operation, attributes


# -- URLs ----------------------------------------------------------------------------

REDACTED = "REDACTED"


def redact_url(url):
    """url.full without credentials, and with every query value replaced by REDACTED."""
    if "@" not in url and "?" not in url and "#" not in url:
        return url
    try:
        scheme_end = url.find("://")
        if scheme_end >= 0:
            authority_start = scheme_end + 3
            path_start = len(url)
            for sep in "/?#":
                at = url.find(sep, authority_start)
                if 0 <= at < path_start:
                    path_start = at
            authority = url[authority_start:path_start]
            if "@" in authority:
                url = url[:authority_start] + REDACTED + ":" + REDACTED + "@" + authority.rpartition("@")[2] + url[path_start:]
        fragment = url.find("#")
        if fragment >= 0:
            url = url[:fragment]
        query = url.find("?")
        if query < 0:
            return url
        pairs = []
        for pair in url[query + 1:].split("&"):
            if not pair:
                continue
            name, sep, _ = pair.partition("=")
            pairs.append(name + "=" + REDACTED if sep else name)
        return url[:query + 1] + "&".join(pairs)
    except Exception:
        return ""


def http_attributes(method, url, address, port):
    attributes = {"http.request.method": method, "url.full": redact_url(url)}
    if address:
        attributes["server.address"] = address
    if port:
        attributes["server.port"] = port
    return attributes


_http_shared = {}


def http_shared(method, address, port):
    """What every call of one method to one server shares: (attributes, their encoded members),
    kept, so a client span holds only its URL (and status) and the exporter writes the rest as
    one fragment."""
    key = (method, address, port)
    try:
        return _http_shared[key]
    except KeyError:
        pass
    except TypeError:
        key = None
    attributes = {"http.request.method": method}
    if address:
        attributes["server.address"] = address
    if port:
        attributes["server.port"] = port
    shared = (attributes, _json.attributes_body(attributes))
    if key is not None and len(_http_shared) < 1024:
        _http_shared[key] = shared
    return shared


def begin_http(method, url, address, port):
    """begin() for an HTTP request: the span's own attributes are its redacted URL only."""
    return _start(_current.get(), method, {"url.full": redact_url(url)}, http_shared(method, address, port))


def http_status(span, status):
    """Records the response status; 4xx and 5xx make a client span failed."""
    try:
        attributes = span.attributes
        attributes["http.response.status_code"] = status
        if status >= 400 and span.__class__ is not Fold:
            attributes["error.type"] = str(status)
            span.status = "error"
    except Exception:
        pass


_KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))


_METHOD_NAMES = {m: m for m in _KNOWN_METHODS}


def http_method(method):
    known = _METHOD_NAMES.get(method)
    if known is not None:
        return known
    method = method.decode("latin-1") if isinstance(method, bytes) else str(method)
    upper = method.upper()
    return upper if upper in _KNOWN_METHODS else "_OTHER"
