"""The payment service (FastAPI): charges through a bank whose API is sometimes slow and sometimes
fails (a stand-in bank runs in this process, on a port of its own, like a partner's API would)."""
import json
import os
import random
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi import FastAPI, HTTPException

app = FastAPI(title="payment")


class Bank(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        r = random.random()
        time.sleep(random.uniform(0.3, 0.6) if r < 0.08 else random.uniform(0.01, 0.03))
        status = 503 if r > 0.96 else 200
        body = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


_bank = ThreadingHTTPServer(("127.0.0.1", 0), Bank)
threading.Thread(target=_bank.serve_forever, daemon=True, name="bank").start()
BANK = f"http://127.0.0.1:{_bank.server_address[1]}"


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/charge")
def charge(payment: dict):
    req = urllib.request.Request(f"{BANK}/v1/charges", data=json.dumps(payment).encode(), headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=2).read()
    except OSError as e:
        raise HTTPException(status_code=502, detail=f"bank unavailable: {e}")
    return {"charge": f"ch_{random.randint(10000, 99999)}"}
