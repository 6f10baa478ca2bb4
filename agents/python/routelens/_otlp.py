"""OTLP/HTTP JSON export, for when the endpoint is an OpenTelemetry Collector rather than Routelens.

Chosen with ROUTELENS_EXPORTER=otlp (or start(exporter="otlp")). Everything else stays as with the
native protocol: the same instrumentation, the same bounded queue that application threads only
append to (the oldest item dropped when full, counted), the same single background thread. That
thread turns each batch into Export*ServiceRequest JSON (standard library only) and POSTs it to
/v1/traces, /v1/logs and /v1/metrics, with the OTLP specification's retry rules: 429, 502, 503,
504 and connection failures are retried with exponential backoff (honouring Retry-After); other
answers drop the batch (counted); partial_success is read and counted.

Configuration, from the standard OpenTelemetry variables first:
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / _LOGS_ / _METRICS_   the signal's full URL
  OTEL_EXPORTER_OTLP_ENDPOINT   base URL, /v1/<signal> appended (else ROUTELENS_ENDPOINT, else
                                http://localhost:4318)
  OTEL_EXPORTER_OTLP_HEADERS (and _TRACES_HEADERS...)   k=v,k2=v2, values URL-decoded
  OTEL_EXPORTER_OTLP_TIMEOUT (and per signal)           milliseconds, default 10000
  OTEL_EXPORTER_OTLP_COMPRESSION (and per signal)       gzip or none
  OTEL_EXPORTER_OTLP_PROTOCOL   http/json is what is spoken; another value is logged once
  OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG         always_on, always_off, traceidratio,
                                parentbased_always_on (default), parentbased_always_off,
                                parentbased_traceidratio
"""

import gzip
import http.client
import json
import logging
import os
import random
import threading
import time
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from . import _clients, _config, _http, _json, _trace
from ._exporter import LOGS, METRICS, SPANS, Exporter, split_rows

log = logging.getLogger("routelens")

SIGNAL_PATHS = {SPANS: "/v1/traces", LOGS: "/v1/logs", METRICS: "/v1/metrics"}
_ENV_SIGNAL = {SPANS: "TRACES", LOGS: "LOGS", METRICS: "METRICS"}
RETRYABLE = frozenset((429, 502, 503, 504))
RETRY_START = 1.0
RETRY_MAX = 32.0
# What the upstream may ask for at most (Retry-After); past it the normal backoff applies.
RETRY_AFTER_MAX = 300.0

_KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_STATUS = {None: 0, "unset": 0, "ok": 1, "error": 2}
_SEVERITY = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}

# -- samplers -------------------------------------------------------------------------

# Remote parents' sampled flags (from traceparent), by trace id: parent-based samplers follow
# them for every span of the trace in this process. Written by request threads, bounded.
_remote_flags = {}
_REMOTE_FLAGS_MAX = 8192


def note_remote_parent(trace_id, sampled):
    """Called when a request arrives with a traceparent (see _http.begin)."""
    flags = _remote_flags
    if len(flags) >= _REMOTE_FLAGS_MAX:
        try:
            flags.clear()
        except Exception:
            pass
    flags[trace_id] = sampled


class Sampler:
    """The OpenTelemetry head samplers, decided per trace from the trace id (and the remote parent)."""

    def __init__(self, name="parentbased_always_on", arg=None):
        name = (name or "parentbased_always_on").strip().lower()
        self.name = name
        ratio = 1.0
        if name.endswith("traceidratio"):
            try:
                ratio = float(arg) if arg not in (None, "") else 1.0
            except ValueError:
                log.warning("routelens: OTEL_TRACES_SAMPLER_ARG %r is not a number; sampling everything", arg)
                ratio = 1.0
            ratio = min(1.0, max(0.0, ratio))
        self.ratio = ratio
        self._bound = int(ratio * (1 << 64))
        root = name[len("parentbased_"):] if name.startswith("parentbased_") else name
        if root not in ("always_on", "always_off", "traceidratio"):
            log.warning("routelens: unknown OTEL_TRACES_SAMPLER %r; using parentbased_always_on", name)
            self.name, root = "parentbased_always_on", "always_on"
        self.parent_based = self.name.startswith("parentbased_")
        self.root = root

    def _root_decision(self, trace_id):
        if self.root == "always_on":
            return True
        if self.root == "always_off":
            return False
        # TraceIdRatioBased: the trace id's lower 64 bits below ratio * 2^64.
        try:
            return int(trace_id[16:], 16) < self._bound
        except (TypeError, ValueError):
            return False

    def sampled(self, trace_id):
        if self.parent_based:
            flag = _remote_flags.get(trace_id)
            if flag is not None:
                return flag
        return self._root_decision(trace_id)


def sampler_from_env(environ=None):
    environ = environ if environ is not None else os.environ
    return Sampler(environ.get("OTEL_TRACES_SAMPLER"), environ.get("OTEL_TRACES_SAMPLER_ARG"))


# -- settings -------------------------------------------------------------------------

def parse_headers(text):
    """OTEL_EXPORTER_OTLP_HEADERS: `k=v,k2=v2`, keys trimmed, values URL-decoded."""
    headers = {}
    for item in (text or "").split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            continue
        value = unquote(value.strip())
        if "\r" in value or "\n" in value:
            continue
        headers[key] = value
    return headers


class OtlpSettings:
    def __init__(self, environ=None, endpoint=None):
        environ = environ if environ is not None else os.environ

        def get(name, signal=None):
            if signal is not None:
                value = environ.get("OTEL_EXPORTER_OTLP_%s_%s" % (_ENV_SIGNAL[signal], name), "").strip()
                if value:
                    return value
            return environ.get("OTEL_EXPORTER_OTLP_%s" % name, "").strip()

        base = endpoint or get("ENDPOINT") or environ.get("ROUTELENS_ENDPOINT", "").strip() or "http://localhost:4318"
        if "://" not in base:
            base = "http://" + base
        self.urls = {}
        self.headers = {}
        self.timeout = {}
        self.gzip = {}
        for signal, path in SIGNAL_PATHS.items():
            own = environ.get("OTEL_EXPORTER_OTLP_%s_ENDPOINT" % _ENV_SIGNAL[signal], "").strip()
            # A signal's own endpoint is used as it is; the base gets the signal's path.
            self.urls[signal] = own if own else base.rstrip("/") + path
            headers = parse_headers(get("HEADERS"))
            headers.update(parse_headers(environ.get("OTEL_EXPORTER_OTLP_%s_HEADERS" % _ENV_SIGNAL[signal], "")))
            self.headers[signal] = headers
            try:
                self.timeout[signal] = max(0.001, float(get("TIMEOUT", signal) or 10000) / 1000.0)
            except ValueError:
                self.timeout[signal] = 10.0
            self.gzip[signal] = get("COMPRESSION", signal).lower() == "gzip"
        self.protocol = get("PROTOCOL") or "http/json"
        self.sampler = sampler_from_env(environ)


# -- OTLP JSON ------------------------------------------------------------------------

def _nanos(ms):
    """Epoch milliseconds (float) as a decimal nanosecond string, exact to the microsecond."""
    try:
        return str(int(round(ms * 1000.0)) * 1000)
    except (TypeError, ValueError, OverflowError):
        return "0"


def any_value(value):
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if -(1 << 63) <= value < (1 << 63):
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"stringValue": str(value)}
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": str(value)}


def key_values(attrs):
    return [{"key": str(k), "value": any_value(v)} for k, v in (attrs or {}).items()]


def _stacktrace(exc):
    text = exc.get("stacktrace")
    if text:
        return text
    lines = ["Traceback (most recent call last):"]
    for f in exc.get("frames") or []:
        lines.append('  File "%s", line %s, in %s' % (f.get("file"), f.get("line"), f.get("function")))
    lines.append("%s: %s" % (exc.get("type", "Exception"), exc.get("message", "")))
    return "\n".join(lines)


def _exception_attrs(exc):
    return {"exception.type": exc.get("type", "Exception"), "exception.message": exc.get("message", ""),
            "exception.stacktrace": _stacktrace(exc)}


def otlp_span(d):
    """A native span dict (Span.to_dict / the protocol JSON) as an OTLP/JSON span."""
    events = []
    for e in d.get("events") or []:
        events.append({"timeUnixNano": _nanos(e.get("timeMs", d.get("startMs", 0))), "name": str(e.get("name", "")),
                       "attributes": key_values(e.get("attributes"))})
    exc = d.get("exception")
    if exc and not any(e["name"] == "exception" for e in events):
        events.append({"timeUnixNano": _nanos(d.get("endMs", d.get("startMs", 0))), "name": "exception",
                       "attributes": key_values(_exception_attrs(exc))})
    out = {
        "traceId": d["traceId"],
        "spanId": d["spanId"],
        "name": d.get("name", ""),
        "kind": _KIND.get(d.get("kind"), 1),
        "startTimeUnixNano": _nanos(d.get("startMs", 0)),
        "endTimeUnixNano": _nanos(d.get("endMs", d.get("startMs", 0))),
        "attributes": key_values(d.get("attributes")),
        "events": events,
        "status": {"code": _STATUS.get(d.get("status"), 0)},
    }
    if d.get("parentSpanId"):
        out["parentSpanId"] = d["parentSpanId"]
    if d.get("statusMessage"):
        out["status"]["message"] = d["statusMessage"]
    return out


def row_spans(rows):
    """Plain request rows (_http.finish) as native span dicts, as the collector expands them."""
    cols = json.loads(_http.encode_rows(rows))
    shapes = cols["shapes"]
    t0 = cols["t0"]
    seqs = cols.get("seq") or [cols["seq0"] + i for i in range(len(cols["shape"]))]
    out = []
    for i, shape in enumerate(cols["shape"]):
        form = shapes[str(shape)]
        trace_id, span_id = _trace.seq_ids(seqs[i])
        start_us = t0 + cols["start"][i]
        attrs = dict(form.get("attributes") or {})
        attrs["url.path"] = cols["path"][i]
        d = {"traceId": trace_id, "spanId": span_id, "name": form.get("name", ""), "kind": form.get("kind", "server"),
             "startMs": start_us / 1000.0, "endMs": (start_us + cols["dur"][i]) / 1000.0, "attributes": attrs}
        if form.get("status"):
            d["status"] = form["status"]
        out.append(d)
    return out


def call_spans(rows):
    """Client call rows (_clients.end) as native span dicts, as the collector expands them."""
    cols = json.loads(_clients.encode_calls(rows))
    return expand_calls(cols)


def expand_calls(cols):
    """The native span dicts of a `calls` member (docs/protocol.md)."""
    shapes = cols["shapes"]
    t0 = cols["t0"]
    traces = cols.get("traces") or {}
    values = cols.get("value")
    span_part = int(cols["ids"]["span"], 16)
    out = []
    for i, shape in enumerate(cols["shape"]):
        form = shapes[str(shape)]
        seq = cols["parent"][i]
        n = cols["n"][i]
        head = "%08x" % ((seq * _trace.SEQ_MIX) & 0xFFFFFFFF)
        start_us = t0 + cols["start"][i]
        attrs = dict(form.get("attributes") or {})
        if values is not None and values[i] is not None and form.get("value"):
            attrs[form["value"]] = values[i]
        out.append({"traceId": traces.get(str(seq)) or head + cols["ids"]["trace"],
                    "spanId": head + "%08x" % (span_part ^ ((n * _trace.SEQ_MIX) & 0xFFFFFFFF)),
                    "parentSpanId": head + cols["ids"]["span"],
                    "name": form.get("name", ""), "kind": form.get("kind", "client"),
                    "startMs": start_us / 1000.0, "endMs": (start_us + cols["dur"][i]) / 1000.0, "attributes": attrs})
    return out


def _scope():
    return {"name": _config.SDK_NAME, "version": _config.VERSION}


def traces_request(resource, spans):
    return {"resourceSpans": [{"resource": {"attributes": key_values(resource)},
                               "scopeSpans": [{"scope": _scope(), "spans": spans}]}]}


def otlp_log(item):
    attrs = dict(item.get("attributes") or {})
    exc = item.get("exception")
    if exc and "exception.type" not in attrs:
        attrs.update(_exception_attrs(exc))
    severity = item.get("severity", "info")
    out = {
        "timeUnixNano": _nanos(item.get("timeMs", 0)),
        "observedTimeUnixNano": _nanos(item.get("timeMs", 0)),
        "severityNumber": _SEVERITY.get(severity, 9),
        "severityText": str(severity).upper(),
        "body": {"stringValue": str(item.get("body", ""))},
        "attributes": key_values(attrs),
    }
    if item.get("traceId"):
        out["traceId"] = item["traceId"]
    if item.get("spanId"):
        out["spanId"] = item["spanId"]
    return out


def logs_request(resource, records):
    return {"resourceLogs": [{"resource": {"attributes": key_values(resource)},
                              "scopeLogs": [{"scope": _scope(), "logRecords": records}]}]}


def otlp_metric(point, interval_s):
    t = point.get("timeMs", 0)
    dp = {"timeUnixNano": _nanos(t), "asDouble": float(point.get("value", 0)), "attributes": key_values(point.get("attributes"))}
    metric = {"name": point.get("name", "")}
    if point.get("unit"):
        metric["unit"] = point["unit"]
    if point.get("kind") == "sum":
        # The agent's sums are what was added since the previous sample: deltas over one interval.
        dp["startTimeUnixNano"] = _nanos(t - interval_s * 1000.0)
        metric["sum"] = {"aggregationTemporality": 1, "isMonotonic": bool(point.get("monotonic")), "dataPoints": [dp]}
    else:
        metric["gauge"] = {"dataPoints": [dp]}
    return metric


def metrics_request(resource, metrics):
    return {"resourceMetrics": [{"resource": {"attributes": key_values(resource)},
                                 "scopeMetrics": [{"scope": _scope(), "metrics": metrics}]}]}


def retry_after(value, now=None):
    """Retry-After (seconds or an HTTP date) in seconds, or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# -- the exporter ---------------------------------------------------------------------

class _Connectionless:
    """Stands for "connected" in the base exporter's loop: HTTP needs no connection kept open."""

    def receive(self, timeout):
        return []

    def abort(self):
        pass

    def close(self, code=1000):
        pass

    def send_text(self, text):
        pass


class OtlpExporter(Exporter):
    """Exporter with the native WebSocket replaced by OTLP/HTTP JSON requests."""

    def __init__(self, config, resource_fn, sampler=None, settings=None):
        self.settings = settings or OtlpSettings()
        super().__init__(config, resource_fn, sampler)
        self.stats.update({
            "requests": 0,
            "retries": 0,
            "failed": {SPANS: 0, LOGS: 0, METRICS: 0},
            "dropped": {SPANS: 0, LOGS: 0, METRICS: 0},
            "unsampled": 0,
            "last_error": None,
        })
        self._reported = None
        _http.remote_parent_hook = note_remote_parent
        if self.settings.protocol not in ("http/json",):
            log.warning("routelens: OTEL_EXPORTER_OTLP_PROTOCOL=%s: the agent speaks OTLP/HTTP JSON (http/json)",
                        self.settings.protocol)

    def _init_state(self):
        super()._init_state()
        # Encoded requests waiting to be sent (again): [signal, body, items, attempts, not before].
        self._outbox = []
        self._retry_lock = threading.Lock()

    # The base loop "connects" once; sending is one HTTP request per signal per batch.
    def _connect(self, timeout):
        self._client = _Connectionless()
        if not self._stopping and not self._closed:
            self._gate = min(self._trigger, self._max_queue)
        self._connected_at = time.monotonic()
        self.stats["connects"] += 1
        return True

    def flush(self, timeout=2.0):
        """Waits until everything queued so far is sent (or timeout); True if all of it was accepted."""
        deadline = time.monotonic() + timeout
        self._flush_requested = True
        self._wake.set()
        while time.monotonic() < deadline:
            if not self._queue and not self._rows and not self._busy and not self._flush_requested and not self._outbox:
                return True
            self._wake.set()
            time.sleep(0.005)
        return False

    def _send_pending(self, deadline=None):
        self._busy = True
        try:
            while True:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if not self._send_outbox(deadline):
                    return  # the upstream is failing: what is queued waits (bounded) for it
                items, n_rows = self._take(self.max_batch_items)
                with self._lock:
                    dropped = self._dropped
                    if any(dropped.values()):
                        self._dropped = {SPANS: 0, LOGS: 0, METRICS: 0}
                        for k, v in dropped.items():
                            self.stats["dropped"][k] += v
                if not items:
                    return
                self._outbox.extend(self._build(items, n_rows))
                if not self._send_outbox(deadline):
                    return
                if self.pending() < self._trigger and not self._flush_requested and not self._stopping:
                    return
        finally:
            self._busy = False

    def _build(self, items, n_rows):
        spans, requests_text, rows, logs, metrics = None, None, None, [], []
        span_objs, row_items = [], items[:n_rows]
        for entry in items[n_rows:]:
            if entry.__class__ is not tuple:
                span_objs.append(entry)
                continue
            kind = entry[0]
            if kind is _http.REQUEST or kind is _clients.CALL:
                row_items.append(entry)
            elif kind == LOGS:
                logs.append(entry[1])
            elif kind == SPANS:
                span_objs.append(entry[1])
            else:
                metrics.append(entry[1])
        resource = self._resource_attrs()
        out = []
        native = []
        if span_objs:
            native.extend(json.loads(t) for t in _http.encode_spans(span_objs))
        if row_items:
            requests, calls = split_rows(row_items)
            if requests:
                native.extend(row_spans(requests))
            if calls:
                native.extend(call_spans(calls))
        if native:
            sampler = self.settings.sampler
            kept = [otlp_span(d) for d in native if sampler.sampled(d["traceId"])]
            self.stats["unsampled"] += len(native) - len(kept)
            if kept:
                out.append([SPANS, _json.dumps(traces_request(resource, kept)).encode("utf-8"), len(kept), 0, 0.0])
        if logs:
            out.append([LOGS, _json.dumps(logs_request(resource, [otlp_log(x) for x in logs])).encode("utf-8"), len(logs), 0, 0.0])
        if metrics:
            interval = self.config.metrics_interval or 1.0
            out.append([METRICS, _json.dumps(metrics_request(resource, [otlp_metric(p, interval) for p in metrics])).encode("utf-8"), len(metrics), 0, 0.0])
        for entry in out:
            self.stats["batches"] += 1
            self.stats["sent"][entry[0]] += entry[2]
        return out

    def _send_outbox(self, deadline):
        """Sends what waits, oldest first; False when a request must wait for a retry."""
        while self._outbox:
            entry = self._outbox[0]
            now = time.monotonic()
            if entry[4] > now:
                return False
            if deadline is not None and now >= deadline:
                return False
            signal, body, count = entry[0], entry[1], entry[2]
            status, headers, text, error = self._post(signal, body, deadline)
            self.stats["requests"] += 1
            if error is None and 200 <= status < 300:
                self._outbox.pop(0)
                self._read_partial(signal, text)
                if self._reported:
                    log.info("routelens: %s accepts again", self.settings.urls[signal])
                self._reported = None
                continue
            message = error or "HTTP %d %s" % (status, (text or b"")[:200].decode("utf-8", "replace").strip())
            self.stats["last_error"] = message
            if error is not None or status in RETRYABLE:
                entry[3] += 1
                self.stats["retries"] += 1
                delay = min(RETRY_MAX, RETRY_START * (2 ** (entry[3] - 1))) * random.uniform(0.8, 1.2)
                asked = retry_after(headers.get("retry-after")) if headers else None
                if asked is not None and asked <= RETRY_AFTER_MAX:
                    delay = asked
                entry[4] = time.monotonic() + delay
                self._report("%s: %s; retrying in %.1fs" % (self.settings.urls[signal], message, delay))
                return False
            self._outbox.pop(0)
            self.stats["failed"][signal] += count
            self._report("%s: %s; %d %s dropped (not retryable)" % (self.settings.urls[signal], message, count, signal))
        return True

    def _report(self, message):
        kind = "".join("#" if c.isdigit() else c for c in message)
        if kind == self._reported:
            return
        self._reported = kind
        log.warning("routelens: %s", message)

    def _read_partial(self, signal, text):
        if not text:
            return
        try:
            partial = json.loads(text.decode("utf-8")).get("partialSuccess") or {}
        except (ValueError, AttributeError, UnicodeDecodeError):
            return
        field = {SPANS: "rejectedSpans", LOGS: "rejectedLogRecords", METRICS: "rejectedDataPoints"}[signal]
        try:
            rejected = int(partial.get(field) or 0)
        except (TypeError, ValueError):
            rejected = 0
        if rejected:
            self.stats["rejected"][signal] += rejected
        message = partial.get("errorMessage")
        if rejected or message:
            self._note("upstream refused %d %s: %s" % (rejected, signal, message or ""))

    def _post(self, signal, body, deadline):
        """(status, headers, body, error text or None) of one POST."""
        url = self.settings.urls[signal]
        parts = urlsplit(url)
        timeout = self.settings.timeout[signal]
        if deadline is not None:
            timeout = max(0.05, min(timeout, deadline - time.monotonic()))
        headers = {"Content-Type": "application/json", "User-Agent": "%s/%s" % (_config.SDK_NAME, _config.VERSION)}
        headers.update(self.settings.headers[signal])
        if self.settings.gzip[signal]:
            body = gzip.compress(body, 1)
            headers["Content-Encoding"] = "gzip"
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        conn = None
        try:
            conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read(1024 * 1024)
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text, None
        except (OSError, http.client.HTTPException) as exc:
            return 0, {}, b"", "%s: %s" % (exc.__class__.__name__, exc)
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass

    def _final_flush(self):
        deadline = self._stop_deadline or (time.monotonic() + 1.0)
        try:
            self._send_pending(deadline)
        finally:
            self._client = None
            left = sum(e[2] for e in self._outbox)
            if left:
                log.warning("routelens: %d items not sent to %s before exit", left, self.settings.urls[SPANS])
            self._outbox = []
