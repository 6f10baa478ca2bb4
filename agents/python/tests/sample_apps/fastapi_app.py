"""A FastAPI app with no trace of Routelens in it, served by uvicorn in the tests."""

import logging

from fastapi import FastAPI

app = FastAPI()
log = logging.getLogger("sample.fastapi")


@app.get("/orders/{order_id}")
async def get_order(order_id: int):
    log.warning("order %s looked up", order_id)
    return {"order": order_id}


@app.get("/crash")
async def crash():
    raise RuntimeError("sample crash")  # sample-raise
