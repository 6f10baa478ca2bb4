"""Routelens auto-instrumentation, loaded by Python at startup through PYTHONPATH.

When ROUTELENS_ENDPOINT is set (or ROUTELENS_EXPORTER=otlp, which sends to the
OTEL_EXPORTER_OTLP_* endpoint), the agent next to this folder is put on sys.path
and started. Whatever happens, the sitecustomize this one shadows (the user's own,
or the distribution's) still runs afterwards, exactly once.
"""


def _start_routelens():
    import os
    import sys

    if not os.environ.get("ROUTELENS_ENDPOINT", "").strip() and os.environ.get("ROUTELENS_EXPORTER", "").strip().lower() != "otlp":
        return
    if os.environ.get("ROUTELENS_DISABLED", "").strip().lower() in ("1", "true", "yes", "on"):
        return
    if sys.version_info < (3, 9):
        return
    agent_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if agent_root not in sys.path:
        sys.path.append(agent_root)
    try:
        import routelens

        routelens.start(lazy=True)
    except Exception as exc:  # a broken agent must never stop the program from running
        sys.stderr.write("routelens: agent not started: %r\n" % (exc,))


def _chain_next_sitecustomize():
    import importlib.machinery
    import importlib.util
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))

    def same_dir(entry):
        try:
            return os.path.samefile(entry or os.getcwd(), here)
        except OSError:
            return False

    entries = list(sys.path)
    position = next((i for i, entry in enumerate(entries) if same_dir(entry)), None)
    later = entries[position + 1:] if position is not None else [e for e in entries if not same_dir(e)]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", later)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    # The shadowed file becomes the real `sitecustomize`, as it would have been without us.
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


try:
    _start_routelens()
finally:
    _chain_next_sitecustomize()
