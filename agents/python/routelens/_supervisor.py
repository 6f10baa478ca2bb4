"""Processes that watch or supervise the app without serving it: they send nothing.

A development server with a reloader runs as two processes: a watcher that restarts the serving
child whenever a file changes, and the child. Worker servers run a master and N workers. Only the
processes that serve are instances of the service; the watcher and the master would otherwise
show as an extra instance with memory, CPU and (when they import the app) startup logs.

How each marks its processes:
- werkzeug (`flask run` with reload, `app.run(debug=True)`): the child has
  WERKZEUG_RUN_MAIN=true; the watcher calls werkzeug._reloader.run_with_reloader without it and
  never returns from there.
- Django (`manage.py runserver`): the child has RUN_MAIN=true; the watcher runs
  django.utils.autoreload.restart_with_reloader.
- uvicorn (`--reload`, `--workers N`): the supervisor runs BaseReload.run or Multiprocess.run and
  starts each server with multiprocessing's spawn (a fresh interpreter: its own agent).
- gunicorn: the master (Arbiter.run) forks the workers; the agent wakes up in each child.

The command line decides before anything is sent (the watcher of `flask run` imports Flask, and
with it the agent's hooks, long before it calls the reloader); the patches below catch the rest
(a script calling app.run(debug=True) or uvicorn.run(reload=True)), from the moment the process
becomes a watcher.
"""

import os
import sys

from . import _patch

_TRUE = ("1", "true", "yes", "on")


def _command(argv):
    """(program name, its arguments) from sys.argv, with `python -m X` and scripts unified."""
    if not argv:
        return "", []
    first = argv[0] or ""
    if first == "-m":
        # Early in startup (sitecustomize) `python -m X a b` has sys.argv ['-m', 'a', 'b']:
        # the module's name is only in sys.orig_argv (3.10+); without it, decide later.
        orig = getattr(sys, "orig_argv", None) or []
        if "-m" in orig[1:]:
            i = orig.index("-m", 1)
            if i + 1 < len(orig):
                return orig[i + 1].split(".")[0], list(argv[1:])
        return "", list(argv[1:])
    base = os.path.basename(first)
    if base == "__main__.py":
        # `python -m flask`: argv[0] is .../flask/__main__.py by the time anything runs.
        base = os.path.basename(os.path.dirname(first))
    elif base.endswith(".py"):
        base = base[:-3]
    return base, list(argv[1:])


def _spawned_child():
    if "--multiprocessing-fork" in (getattr(sys, "orig_argv", None) or ()):
        return True
    mp = sys.modules.get("multiprocessing")
    try:
        return mp is not None and mp.parent_process() is not None
    except Exception:
        return False


def _flask_reloads(args, environ):
    if "run" not in args:
        return False
    if "--no-reload" in args:
        return False
    if "--reload" in args:
        return True
    # Flask's command line reads its options from FLASK_<COMMAND>_<OPTION> too.
    reload_env = environ.get("FLASK_RUN_RELOAD", "").strip().lower()
    if reload_env:
        return reload_env in _TRUE
    if "--no-debug" in args:
        return False
    if "--debug" in args:
        return True
    debug = environ.get("FLASK_DEBUG", "").strip().lower()
    if debug:
        return debug not in ("0", "false", "no")
    return environ.get("FLASK_ENV", "").strip() == "development"


def _uvicorn_supervises(args, environ):
    if "--reload" in args or environ.get("UVICORN_RELOAD", "").strip().lower() in _TRUE:
        return True
    workers = None
    for i, arg in enumerate(args):
        if arg == "--workers" and i + 1 < len(args):
            workers = args[i + 1]
        elif arg.startswith("--workers="):
            workers = arg.split("=", 1)[1]
    if workers is None:
        workers = environ.get("UVICORN_WORKERS") or environ.get("WEB_CONCURRENCY")
    try:
        return workers is not None and int(workers) > 1
    except ValueError:
        return False


def watcher_reason(argv=None, environ=None):
    """Why this process only watches or supervises (a short name), or None when it may serve."""
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if _spawned_child():
        # A multiprocessing child (uvicorn's servers) gets its parent's sys.argv copied over,
        # but it is the one serving.
        return None
    program, args = _command(argv)
    if program == "flask":
        if environ.get("WERKZEUG_RUN_MAIN") == "true":
            return None
        return "werkzeug reloader" if _flask_reloads(args, environ) else None
    if args[:1] == ["runserver"] and program in ("manage", "django-admin", "django"):
        if environ.get("RUN_MAIN") == "true" or "--noreload" in args:
            return None
        return "django autoreloader"
    if program == "uvicorn":
        return "uvicorn supervisor" if _uvicorn_supervises(args, environ) else None
    if program == "gunicorn":
        return "gunicorn master"
    return None


# How long a process started as a script waits before its first connection (see below).
SCRIPT_SETTLE = 0.5
_CLIS = ("flask", "manage", "django-admin", "django", "uvicorn", "gunicorn")


def first_connect_delay(argv=None, environ=None):
    """Seconds to wait before the first connection: 0, or SCRIPT_SETTLE for a script.

    A script that imports a framework may call a reloader right after (`app.run(debug=True)`,
    `uvicorn.run("main:app", reload=True)`); the command line does not say so, but the call comes
    within moments of the import. Waiting that long before connecting (what is queued meanwhile
    is sent then) means such a watcher never connects at all.
    """
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if not argv or _spawned_child():
        return 0.0
    if environ.get("WERKZEUG_RUN_MAIN") == "true" or environ.get("RUN_MAIN") == "true":
        return 0.0
    first = argv[0] or ""
    if not first.endswith(".py") or os.path.basename(first) == "__main__.py":
        return 0.0
    program, _ = _command(argv)
    return 0.0 if program in _CLIS else SCRIPT_SETTLE


# Set by the agent: mute(reason) silences this process for good (or, for a forking master,
# until it forks a worker).
_mute = None


def _watching(reason):
    def make(original):
        def run(*args, **kwargs):
            if _mute is not None:
                try:
                    _mute(reason)
                except Exception:
                    pass
            return original(*args, **kwargs)

        return run

    return make


def _patch_werkzeug(module):
    def make(original):
        inner = _watching("werkzeug reloader")(original)

        def run_with_reloader(*args, **kwargs):
            # The child runs this function too, to serve; only the process without the marker watches.
            if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
                return original(*args, **kwargs)
            return inner(*args, **kwargs)

        return run_with_reloader

    _patch.patch(module, "run_with_reloader", make)


def _patch_django(module):
    _patch.patch(module, "restart_with_reloader", _watching("django autoreloader"))


def _patch_uvicorn_reload(module):
    _patch.patch(module.BaseReload, "run", _watching("uvicorn supervisor"))


def _patch_uvicorn_workers(module):
    _patch.patch(module.Multiprocess, "run", _watching("uvicorn supervisor"))


def _patch_gunicorn(module):
    _patch.patch(module.Arbiter, "run", _watching("gunicorn master"))


HOOKS = {
    "werkzeug._reloader": _patch_werkzeug,
    "django.utils.autoreload": _patch_django,
    "uvicorn.supervisors.basereload": _patch_uvicorn_reload,
    "uvicorn.supervisors.multiprocess": _patch_uvicorn_workers,
    "gunicorn.arbiter": _patch_gunicorn,
}

# Masters whose workers are forks of them: the agent comes back to life in each child.
FORKING = ("gunicorn master",)
