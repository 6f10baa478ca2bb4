"""A Flask app that logs the usual ways (structlog configured by the app, logging with `extra`),
with no trace of Routelens in it. It serves on PORT, calls itself once, then exits.

What it prints (stdout: structlog's lines and the logging handler's) must be the same with and
without the agent.
"""

import logging
import os
import sys
import threading
import urllib.request

import structlog
from flask import Flask

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines carry the time

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(sort_keys=True),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    logger_factory=structlog.PrintLoggerFactory(),
    cache_logger_on_first_use=True,
)

app = Flask(__name__)
log = structlog.get_logger()
accounts = logging.getLogger("shop.accounts")


@app.route("/login/<int:user_id>", methods=["POST"])
def login(user_id):
    log.info("user logged in", user_id=user_id, method="password")  # app-structlog-line
    log.debug("session details", user_id=user_id)
    accounts.info("session opened", extra={"user_id": user_id, "plan": "pro"})  # app-logging-line
    return "welcome %d" % user_id


@app.route("/pay", methods=["POST"])
def pay():
    accounts.error("payment failed", extra={"user_id": 42, "amount": 9.5})
    return "declined", 503


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", int(os.environ["PORT"]), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = "http://127.0.0.1:%s" % os.environ["PORT"]
    with urllib.request.urlopen(urllib.request.Request(base + "/login/42", data=b"", method="POST")) as r:
        print("response", r.status, r.read().decode(), flush=True)
    try:
        urllib.request.urlopen(urllib.request.Request(base + "/pay", data=b"", method="POST"))
    except urllib.error.HTTPError as e:
        print("response", e.code, e.read().decode(), flush=True)
    server.shutdown()
