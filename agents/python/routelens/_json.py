"""Fast JSON for spans.

A request's span is mostly the same few strings every time (its route and the
handler's location), so those are encoded once per route and spliced in; the
rest is encoded with the C string escaper. Anything unusual goes through the
json module.
"""

import json
import math
from json.encoder import encode_basestring_ascii as _enc


def _default(value):
    try:
        return str(value)
    except Exception:
        return "<unserialisable>"


def finite(value):
    """A copy of value with NaN and infinities replaced by strings (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(obj):
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_default)
    except ValueError:
        return json.dumps(finite(obj), separators=(",", ":"), allow_nan=False, default=_default)


_keys = {}


def _key(name):
    try:
        return _keys[name]
    except KeyError:
        encoded = _enc(str(name)) + ":"
        if len(_keys) < 4096:
            _keys[name] = encoded
        return encoded


def number(value):
    if value.__class__ is int:
        return str(value)
    if math.isfinite(value):
        return repr(float(value))
    return _enc(str(value))


def attributes_body(attrs):
    """The members of a flat attribute object, without the braces."""
    keys = _keys
    parts = []
    append = parts.append
    for name, value in attrs.items():
        key = keys.get(name)
        if key is None:
            key = _key(name)
        cls = value.__class__
        if cls is str:
            append(key + _enc(value))
        elif cls is int:
            append(key + str(value))
        elif cls is bool:
            append(key + ("true" if value else "false"))
        elif cls is float:
            append(key + number(value))
        else:
            append(key + dumps(value))
    return ",".join(parts)


string = _enc


def ints(column):
    """The members of a JSON array of ints, without the brackets: "1,2,3" for (1, 2, 3).

    One %-format over the whole column: about twice as fast as joining str() of each member,
    which is most of what writing a batch's columns costs."""
    return ("%d," * len(column))[:-1] % tuple(column)

