"""A small FastAPI shop API for trying Routelens: some routes are fast, some slow, some fail."""
import asyncio
import logging
import random

from fastapi import FastAPI, HTTPException

app = FastAPI(title="Demo shop")
log = logging.getLogger("shop")

ITEMS = {i: {"id": i, "name": f"item {i}", "price": round(random.uniform(1, 99), 2)} for i in range(1, 51)}


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/items")
async def list_items(limit: int = 10):
    await asyncio.sleep(random.uniform(0.002, 0.01))
    return list(ITEMS.values())[:limit]


@app.get("/items/{item_id}")
async def read_item(item_id: int):
    await asyncio.sleep(random.lognormvariate(-4.0, 0.6))
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="no such item")
    return ITEMS[item_id]


@app.post("/orders")
async def create_order(order: dict):
    await asyncio.sleep(random.uniform(0.02, 0.08))
    return {"id": random.randint(1000, 9999), "total": apply_discount(order)}


def apply_discount(order: dict) -> float:
    total = sum(ITEMS[i]["price"] for i in order.get("items", []))
    coupon = order.get("coupon")
    if coupon:
        # A bug worth finding: unknown coupons raise instead of being refused.
        rate = {"WELCOME10": 0.1, "SPRING20": 0.2}[coupon]
        total *= 1 - rate
    return round(total, 2)


@app.get("/reports/daily")
def daily_report():
    # Synchronous and slow on purpose: the p95 of this route stands out.
    import time

    time.sleep(random.uniform(0.15, 0.4))
    if random.random() < 0.1:
        log.warning("daily report took the slow path")
    return {"orders": random.randint(10, 100)}
