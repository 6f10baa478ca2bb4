"""A FastAPI app serving its own Prometheus metrics at /metrics, with no trace of Routelens in it."""

from fastapi import FastAPI
from prometheus_client import Counter, make_asgi_app

app = FastAPI()
lookups = Counter("sample_order_lookups", "Orders looked up", ["outcome"])
app.mount("/metrics", make_asgi_app())


@app.get("/orders/{order_id}")
async def get_order(order_id: int):
    lookups.labels(outcome="found").inc()
    return {"order": order_id}
