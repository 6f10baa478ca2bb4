"""Reversible monkey-patching and the import hook that applies patches on import."""

import sys
import threading

_patches = []
_lock = threading.Lock()
_MISSING = object()


def patch(owner, name, make_replacement):
    """Replaces owner.name by make_replacement(original), once; shutdown() undoes it."""
    with _lock:
        current = owner.__dict__.get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
        if current is not _MISSING and getattr(current, "__routelens_original__", None) is not None:
            return False
        original = getattr(owner, name)
        replacement = make_replacement(original)
        try:
            replacement.__routelens_original__ = original
        except (AttributeError, TypeError):
            pass
        setattr(owner, name, replacement)
        _patches.append((owner, name, current))
        return True


def add_default(owner, name, value):
    """Gives the class owner the attribute name (value) where it has none, once; shutdown()
    takes it away. A hook keeps its state on an instance this way, read as a plain attribute:
    reading or writing an instance's __dict__ turns its attributes into a dict of their own,
    which makes every attribute access on that object slower, the library's own included."""
    with _lock:
        if name in owner.__dict__:
            return False
        setattr(owner, name, value)
        _patches.append((owner, name, _MISSING))
        return True


def is_patched(owner, name):
    current = getattr(owner, "__dict__", {}).get(name)
    return getattr(current, "__routelens_original__", None) is not None


def unpatch_all():
    with _lock:
        while _patches:
            owner, name, previous = _patches.pop()
            try:
                if previous is _MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, previous)
            except Exception:
                pass


class _PatchingLoader:
    """Runs the real loader, then the callback on the fresh module."""

    def __init__(self, loader, callback):
        self._loader = loader
        self._callback = callback

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        # Hand the module its real loader back, so importlib.resources and friends see no difference.
        try:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        except Exception:
            pass
        try:
            self._callback(module)
        except Exception:
            import logging

            logging.getLogger("routelens").debug("routelens: patching %s failed", module.__name__, exc_info=True)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class ImportHook:
    """A meta path finder that watches a few module names and patches them once loaded."""

    def __init__(self, callbacks):
        self.callbacks = dict(callbacks)
        self._busy = set()

    def find_spec(self, fullname, path=None, target=None):
        callback = self.callbacks.get(fullname)
        if callback is None or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return spec
            spec.loader = _PatchingLoader(spec.loader, callback)
            return spec
        finally:
            self._busy.discard(fullname)

    def install(self):
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self):
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
