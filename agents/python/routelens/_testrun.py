"""Requests made by test clients while pytest runs a test are test traffic.

Starlette's TestClient, Flask's test_client, Django's test Client and httpx against an ASGI app
all call the app inside the test process. While pytest runs a test it sets PYTEST_CURRENT_TEST
(`tests/test_api.py::test_create (call)`); every server span begun then gets the attribute
`test.case.name` with the test's id (the phase dropped), and the collector keeps such requests
out of the server's figures (docs/protocol.md). Only in a process that imported pytest: a server
a test started as a subprocess inherits the variable but serves real requests.
"""

import os

ATTRIBUTE = "test.case.name"
_MAX = 512

# True once pytest is imported in this process (the import hook sets it): until then each
# request pays one global lookup.
active = False


def mark_active(module=None):
    global active
    active = True


def current_test():
    """The running test's id, or None outside a test."""
    value = os.environ.get("PYTEST_CURRENT_TEST")
    if not value:
        return None
    head, sep, phase = value.rpartition(" (")
    if sep and phase.endswith(")"):
        value = head
    return value[:_MAX] or None
