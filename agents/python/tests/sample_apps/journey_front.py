"""The first service of a three-service journey (FastAPI): calls the inventory service with httpx.

No trace of Routelens in it: the tests start it with the agent through the environment only.
"""

import os
import sqlite3

import httpx
from fastapi import FastAPI

app = FastAPI()
INVENTORY = os.environ.get("INVENTORY_URL", "http://127.0.0.1:1")


@app.get("/health")
def health():
    return {"ok": True}


@app.get("/checkout/{cart_id}")
async def checkout(cart_id: int):
    conn = sqlite3.connect(":memory:")
    total = conn.execute("SELECT ? * 2, 'front-literal'", (cart_id,)).fetchone()[0]  # front-query
    conn.close()
    async with httpx.AsyncClient() as client:
        response = await client.get(INVENTORY + "/stock/%d?token=front-secret" % cart_id)  # call-inventory
    return {"cart": cart_id, "total": total, "inventory": response.json()}
