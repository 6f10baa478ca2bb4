"""Where a handler lives in the source: file, `def` line and name."""

import functools
import inspect
import linecache
import os
import re

_cache = {}
_MAX_CACHE = 4096
_abspaths = {}
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def abspath(path):
    """os.path.abspath, remembered: frames and log records repeat the same few files."""
    try:
        return _abspaths[path]
    except KeyError:
        pass
    if path.startswith("<"):
        result = path
    else:
        result = os.path.abspath(path)
    if len(_abspaths) < _MAX_CACHE:
        _abspaths[path] = result
    return result


def is_agent_file(path):
    return path.startswith(_PACKAGE_DIR)


def _resolve(obj, method=None):
    """Peels decorators, partials, bound methods and class-based views down to a function."""
    for _ in range(32):
        if isinstance(obj, functools.partial):
            obj = obj.func
            continue
        # Django's as_view() and Flask's MethodView.as_view() keep the class here (checked
        # before __wrapped__, which Django points at the generic View.dispatch).
        view_class = getattr(obj, "view_class", None)
        if view_class is not None and inspect.isclass(view_class) and not inspect.isclass(obj):
            obj = view_class
            continue
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None and wrapped is not obj:
            obj = wrapped
            continue
        if inspect.ismethod(obj):
            obj = obj.__func__
            continue
        if inspect.isclass(obj):
            handler = None
            if method:
                handler = getattr(obj, method.lower(), None)
                if handler is None and method.upper() == "HEAD":
                    handler = getattr(obj, "get", None)
            if handler is None:
                handler = getattr(obj, "dispatch", None) or getattr(obj, "dispatch_request", None)
            if handler is None:
                return None
            obj = handler
            continue
        if getattr(obj, "__code__", None) is not None:
            return obj
        call = getattr(type(obj), "__call__", None)
        if call is None or call is obj:
            return None
        obj = call
    return None


def _def_line(code, name):
    """co_firstlineno points at the first decorator; the lens belongs on the `def`."""
    first = code.co_firstlineno
    if name == "<lambda>":
        return first
    pattern = re.compile(r"\s*(?:async\s+)?def\s+" + re.escape(name) + r"\b")
    for lineno in range(first, first + 200):
        line = linecache.getline(code.co_filename, lineno)
        if not line:
            break
        if pattern.match(line):
            return lineno
    return first


def code_attributes(handler, method=None):
    """A dict of code.* attributes for handler, or an empty dict if it has no source."""
    key = (handler, method)
    try:
        return _cache[key]
    except KeyError:
        pass
    except TypeError:
        key = None
    attrs = {}
    try:
        fn = _resolve(handler, method)
        code = getattr(fn, "__code__", None) if fn is not None else None
        if code is not None:
            name = getattr(fn, "__name__", code.co_name)
            attrs = {
                "code.file.path": abspath(code.co_filename),
                "code.line.number": _def_line(code, code.co_name),
                "code.function.name": getattr(fn, "__qualname__", name),
            }
    except Exception:
        attrs = {}
    if key is not None and len(_cache) < _MAX_CACHE:
        _cache[key] = attrs
    return attrs
