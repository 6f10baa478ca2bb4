"""The second service of a three-service journey (Flask): a query, then the payments service with requests."""

import os
import sqlite3

import requests
from flask import Flask, jsonify

app = Flask(__name__)
PAYMENTS = os.environ.get("PAYMENTS_URL", "http://127.0.0.1:1")


@app.route("/health")
def health():
    return "ok"


@app.route("/stock/<int:item>")
def stock(item):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE stock (item INTEGER, count INTEGER, note TEXT)")
    conn.execute("INSERT INTO stock VALUES (?, ?, 'inventory-literal')", (item, 3))
    count = conn.execute("SELECT count FROM stock WHERE item = ?", (item,)).fetchone()[0]  # stock-query
    # An N+1 worth finding: one lookup per related item, where one query would do.
    for related in range(6):
        conn.execute("SELECT note FROM stock WHERE item = ?", (item + related,)).fetchall()  # n-plus-one
    conn.close()
    paid = requests.get(PAYMENTS + "/pay/%d/" % item, timeout=10).json()  # call-payments
    return jsonify({"item": item, "count": count, "payment": paid})


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", int(os.environ["PORT"]), app, threaded=True)
    print("ready", flush=True)
    server.serve_forever()
