"""The shipping and email service (Flask): quotes from a Redis cache, then "sends" the email."""
import logging
import os
import random
import time

from flask import Flask, request

app = Flask("shipping")
log = logging.getLogger("shipping")
logging.basicConfig(level=logging.INFO)

try:
    import redis

    cache = redis.Redis(host="127.0.0.1", port=int(os.environ["JOURNEY_REDIS_PORT"])) if os.environ.get("JOURNEY_REDIS_PORT") else None
except ImportError:  # the demo runs without its cache when Redis is not there
    cache = None


# Shipping zones by the first item's warehouse. Two items were never given one: a bug worth finding.
ZONES = {i: ("north" if i % 2 else "south") for i in range(1, 41) if i not in (13, 29)}


@app.post("/ship")
def ship():
    order = request.get_json()
    items = order.get("items") or [1]
    zone = ZONES[items[0]]
    eta = None
    if cache is not None:
        eta = cache.get("eta:default")
        if eta is None:
            time.sleep(0.02)  # the carrier's quote, when not cached
            cache.set("eta:default", 3, ex=5)
            eta = 3
        cache.incr("shipments")
    time.sleep(random.uniform(0.005, 0.015))  # the email
    log.info("confirmation email sent for order %s (zone %s)", order.get("order"), zone)
    return {"eta_days": int(eta or 3)}


@app.get("/health")
def health():
    return {"status": "ok"}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
