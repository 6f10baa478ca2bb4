"""The inventory service (Django, on PostgreSQL; SQLite when PostgreSQL is not there).

    python inventory.py runserver --noreload 127.0.0.1:PORT

It has a bug worth finding: /reserve/ looks items up one query at a time, in a loop (an N+1).
"""
import os
import random
import sys

import django
from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

if os.environ.get("JOURNEY_PG_PORT"):
    DATABASE = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("JOURNEY_PG_DB", "inventory"),
        "USER": os.environ.get("JOURNEY_PG_USER", "postgres"),
        "HOST": os.environ.get("JOURNEY_PG_HOST", "127.0.0.1"),
        "PORT": os.environ["JOURNEY_PG_PORT"],
    }
else:
    DATABASE = {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("JOURNEY_SQLITE", "/tmp/routelens-journey-inventory.sqlite3")}

settings.configure(
    DEBUG=False,
    SECRET_KEY="demo-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    DATABASES={"default": DATABASE},
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)
django.setup()


def setup_schema():
    with connection.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name VARCHAR(80), price NUMERIC(8, 2), stock INTEGER)")
        c.execute("SELECT COUNT(*) FROM items")
        if c.fetchone()[0] == 0:
            for i in range(1, 41):
                c.execute("INSERT INTO items (id, name, price, stock) VALUES (%s, %s, %s, %s)", [i, f"item {i}", round(random.uniform(2, 90), 2), 1000])


def item(request, item_id):
    with connection.cursor() as c:
        c.execute("SELECT id, name, price, stock FROM items WHERE id = %s", [item_id])
        row = c.fetchone()
    if row is None:
        raise Http404("no such item")
    return JsonResponse({"id": row[0], "name": row[1], "price": float(row[2]), "stock": row[3]})


@csrf_exempt
def reserve(request):
    import json

    ids = json.loads(request.body or b"{}").get("items", [])
    total = 0.0
    with connection.cursor() as c:
        for item_id in ids:
            # The N+1: one query per item, where one `WHERE id IN (...)` would do.
            c.execute("SELECT price, stock FROM items WHERE id = %s", [item_id])
            row = c.fetchone()
            if row is None or row[1] <= 0:
                return JsonResponse({"error": f"item {item_id} unavailable"}, status=409)
            total += float(row[0])
        c.execute("UPDATE items SET stock = stock - 1 WHERE id IN (%s)" % ",".join(["%s"] * len(ids)), ids) if ids else None
    return JsonResponse({"total": round(total, 2)})


def health(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("health/", health),
    path("items/<int:item_id>/", item),
    path("reserve/", reserve),
]

if __name__ == "__main__":
    setup_schema()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
