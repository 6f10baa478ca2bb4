"""A Flask app with no trace of Routelens in it, started by the tests as a real process."""

import logging
import os

from flask import Flask

app = Flask(__name__)
log = logging.getLogger("sample.flask")


@app.route("/hello/<name>")
def hello(name):
    log.warning("greeting %s", name)
    return "hello " + name


@app.route("/crash")
def crash():
    raise RuntimeError("sample crash")  # sample-raise


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", int(os.environ["PORT"]), app, threaded=True)
    print("ready", flush=True)
    server.serve_forever()
