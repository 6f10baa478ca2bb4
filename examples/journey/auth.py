"""The auth service (Flask): checks the caller's token."""
import os
import random
import time

from flask import Flask, abort, request

app = Flask("auth")


@app.get("/verify")
def verify():
    time.sleep(random.uniform(0.002, 0.008))
    token = request.headers.get("Authorization", "")
    if not token.startswith("Bearer "):
        abort(401)
    return {"user": f"user-{abs(hash(token)) % 1000}"}


@app.get("/health")
def health():
    return {"status": "ok"}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
