"""Exceptions turned into the protocol's `exception` object."""

import traceback

from ._codeloc import abspath, is_agent_file

MAX_STRING = 16 * 1024
MAX_FRAMES = 100


def truncate(text, limit=MAX_STRING):
    if len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def type_name(exc_type):
    module = getattr(exc_type, "__module__", "") or ""
    name = getattr(exc_type, "__qualname__", None) or getattr(exc_type, "__name__", "Exception")
    if module in ("builtins", "__main__", ""):
        return name
    return module + "." + name


def _safe_str(exc):
    try:
        return str(exc)
    except Exception:
        return "<unprintable %s>" % type(exc).__name__


def describe(exc, tb=None):
    """The protocol's exception object: type, message, frames (innermost last), stacktrace."""
    if tb is None:
        tb = exc.__traceback__
    frames = []
    for entry in traceback.extract_tb(tb, limit=None)[-MAX_FRAMES * 2:]:
        # The agent's own wrappers sit between the server and the app; they are noise here.
        if is_agent_file(entry.filename):
            continue
        frames.append({"file": abspath(entry.filename), "line": entry.lineno or 0, "function": entry.name})
    frames = frames[-MAX_FRAMES:]
    try:
        lines = traceback.format_exception(type(exc), exc, tb)
        stacktrace = "".join(lines)
    except Exception:
        stacktrace = ""
    if len(stacktrace) > MAX_STRING:
        # The innermost frames and the message are at the end; keep those.
        stacktrace = "..." + stacktrace[-(MAX_STRING - 3):]
    return {
        "type": type_name(type(exc)),
        "message": truncate(_safe_str(exc)),
        "frames": frames,
        "stacktrace": stacktrace,
    }


def event(described, time_ms):
    return {
        "name": "exception",
        "timeMs": time_ms,
        "attributes": {
            "exception.type": described["type"],
            "exception.message": described["message"],
            "exception.stacktrace": described["stacktrace"],
        },
    }
