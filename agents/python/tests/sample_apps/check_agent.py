"""Prints what the interpreter's startup left behind, as JSON, for the sitecustomize tests."""

import json
import sys

agent = None
if "routelens" in sys.modules:
    from routelens._http import State

    agent = State.agent
print(json.dumps({
    "sitecustomize": getattr(sys.modules.get("sitecustomize"), "__file__", None),
    "user_marker": getattr(sys.modules.get("sitecustomize"), "USER_SITECUSTOMIZE_RAN", False),
    "routelens_imported": "routelens" in sys.modules,
    "agent_running": agent is not None,
}))
