"""The gateway (FastAPI): the shop's public API. A checkout passes through auth, inventory,
payment and shipping, one after the other, as a real one would."""
import random

import httpx
from fastapi import FastAPI, HTTPException, Request

from common import url

app = FastAPI(title="gateway")


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.post("/checkout")
async def checkout(request: Request):
    order = await request.json()
    async with httpx.AsyncClient(timeout=5) as client:
        who = await client.get(f"{url('auth')}/verify", headers={"Authorization": request.headers.get("Authorization", "")})
        if who.status_code != 200:
            raise HTTPException(status_code=401, detail="not signed in")
        reserved = await client.post(f"{url('inventory')}/reserve/", json={"items": order.get("items", [])})
        if reserved.status_code != 200:
            raise HTTPException(status_code=409, detail="out of stock")
        total = reserved.json()["total"]
        paid = await client.post(f"{url('payment')}/charge", json={"amount": total, "user": who.json()["user"]})
        if paid.status_code != 200:
            raise HTTPException(status_code=502, detail="payment failed")
        shipped = await client.post(f"{url('shipping')}/ship", json={"order": paid.json()["charge"], "items": order.get("items", [])})
    return {"charge": paid.json()["charge"], "total": total, "eta_days": shipped.json()["eta_days"]}


@app.get("/items/{item_id}")
async def item(item_id: int):
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.get(f"{url('inventory')}/items/{item_id}/")
    if r.status_code == 404:
        raise HTTPException(status_code=404, detail="no such item")
    return r.json()


@app.get("/recommendations")
async def recommendations():
    # Three lookups at once: a fan-out, which is not an N+1.
    import asyncio

    async with httpx.AsyncClient(timeout=5) as client:
        ids = random.sample(range(1, 40), 3)
        rs = await asyncio.gather(*(client.get(f"{url('inventory')}/items/{i}/") for i in ids))
    return [r.json() for r in rs if r.status_code == 200]
