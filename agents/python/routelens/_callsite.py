"""The application line that made a client call: the innermost frame of the app's own code.

A hook walks outwards from its caller with sys._getframe and f_back, asking of each frame's
code object whether it belongs to the application. The verdict (and the file path and
function name it implies) is computed once per code object and kept, so a walk costs a
dictionary lookup per frame: a call through requests and urllib3 passes about a dozen
library frames before it reaches the view that made it.

Not the application: the standard library, anything under site-packages or dist-packages,
the agent itself, code without a file (`<frozen ...>`, `<string>`) and code compiled from
anything but a .py file (templates).
"""

import os
import sys
import sysconfig
import threading

from ._codeloc import abspath

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _library_prefixes():
    prefixes = set()
    try:
        paths = sysconfig.get_paths()
    except Exception:
        paths = {}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = paths.get(key)
        if path:
            prefixes.add(os.path.abspath(path) + os.sep)
            try:
                prefixes.add(os.path.realpath(path) + os.sep)
            except OSError:
                pass
    # os.py is in the standard library wherever this Python keeps it.
    prefixes.add(os.path.dirname(os.path.abspath(os.__file__)) + os.sep)
    return tuple(sorted(prefixes))


_LIBRARY_PREFIXES = _library_prefixes()
_SOURCE_SUFFIXES = (".py", ".pyw")
_LIBRARY_PARTS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)

# code object -> (file path, function name) for application code, False for the rest.
# Code objects live as long as their functions; the bound keeps a process that compiles
# code on the fly (templates, exec) from growing the table without end.
_verdicts = {}
MAX_VERDICTS = 8192


def is_application_file(path):
    if not path or path.startswith("<"):
        return False
    full = abspath(path)
    if not full.endswith(_SOURCE_SUFFIXES):
        # Code compiled from templates (Jinja names it after the .html file, with lines of the
        # generated code): the line to show is the view's that rendered it.
        return False
    if full.startswith(_PACKAGE_DIR):
        return False
    if full.startswith(_LIBRARY_PREFIXES):
        return False
    for part in _LIBRARY_PARTS:
        if part in full:
            return False
    return True


def _verdict(code):
    path = code.co_filename
    if not is_application_file(path):
        return False
    name = getattr(code, "co_qualname", None) or code.co_name
    # The third member maps an instruction offset to its line: frame.f_lineno decodes the
    # code's line table from its start on every read, which costs a microsecond in a long
    # function; the offset of the call is the same every time the line runs. The fourth maps
    # it to the line's site number (site()).
    return (abspath(path), name, {}, {})


def learn(code):
    """The verdict of code, kept while the table has room."""
    found = _verdict(code)
    if len(_verdicts) < MAX_VERDICTS:
        _verdicts[code] = found
    return found


MAX_LINES_PER_CODE = 256


def line_of(frame, lines):
    """frame.f_lineno, remembered per instruction offset in lines (a verdict's third member)."""
    lasti = frame.f_lasti
    line = lines.get(lasti)
    if line is None:
        line = frame.f_lineno
        if len(lines) < MAX_LINES_PER_CODE:
            lines[lasti] = line
    return line


# Calling lines by number: SITES[n] is (file, function, line); 0 stands for "no application
# frame". A client call's row names its line by number (a small integer hashes in no time), and
# the number is kept per instruction offset of the code that made the call.
SITES = [None]
_site_numbers = {}
_site_lock = threading.Lock()
MAX_SITES = 16384


def site(frame, found):
    """The site number of frame's current line (found: the frame code's verdict), or None
    when the table is full."""
    lasti = frame.f_lasti
    sites = found[3]
    number = sites.get(lasti)
    if number is not None:
        return number
    key = (found[0], found[1], line_of(frame, found[2]))
    number = _site_numbers.get(key)
    if number is None:
        with _site_lock:
            number = _site_numbers.get(key)
            if number is None:
                if len(SITES) >= MAX_SITES:
                    return None
                number = len(SITES)
                SITES.append(key)
                _site_numbers[key] = number
    if len(sites) < MAX_LINES_PER_CODE:
        sites[lasti] = number
    return number


_getframe = sys._getframe


def callsite(depth=2):
    """(file, line, function) of the innermost application frame outside the agent, or None.

    depth counts from the caller of callsite(): 2 skips the hook that asks.
    """
    try:
        frame = _getframe(depth)
    except ValueError:
        return None
    verdicts = _verdicts
    while frame is not None:
        code = frame.f_code
        found = verdicts.get(code)
        if found is None:
            found = learn(code)
        if found:
            return found[0], line_of(frame, found[2]), found[1]
        frame = frame.f_back
    return None


def add_callsite(attributes, depth=3):
    """Puts the code.* attributes of the calling application line into attributes."""
    try:
        frame = _getframe(depth)
    except ValueError:
        return
    verdicts = _verdicts
    while frame is not None:
        code = frame.f_code
        found = verdicts.get(code)
        if found is None:
            found = learn(code)
        if found:
            attributes["code.file.path"] = found[0]
            attributes["code.line.number"] = line_of(frame, found[2])
            attributes["code.function.name"] = found[1]
            return
        frame = frame.f_back
