"""Test traffic: requests from test clients made while a real pytest runs a test carry the
test's id (`test.case.name`); requests outside a test, and a real server a test starts as a
subprocess, do not. pytest runs as a subprocess instrumented only through the environment."""

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

import helpers
from helpers import attrs
from collector import FakeCollector

TESTS = '''
import os, subprocess, sys, time, urllib.request

import httpx
import pytest
from django.test import Client as DjangoClient
from fastapi import FastAPI
from flask import Flask
from starlette.testclient import TestClient

api = FastAPI()

@api.get("/items/{item_id}")
def read_item(item_id: int):
    if item_id == 500:
        raise RuntimeError("boom")
    return {"id": item_id}

web = Flask(__name__)

@web.route("/hello/<name>")
def hello(name):
    return "hello " + name

# At collection time no test runs: not test traffic.
TestClient(api).get("/items/0")


def test_starlette_testclient():
    client = TestClient(api, raise_server_exceptions=False)
    assert client.get("/items/1").status_code == 200
    assert client.get("/items/500").status_code == 500


def test_flask_test_client():
    assert web.test_client().get("/hello/flask").status_code == 200


def test_django_test_client():
    assert DjangoClient().get("/users/7/").status_code == 200


@pytest.mark.parametrize("n", [2, 3])
def test_httpx_against_the_asgi_app(n):
    import asyncio

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
            return (await client.get("/items/%d" % n)).status_code

    assert asyncio.run(go()) == 200


def test_a_real_server_started_by_the_test():
    port = int(os.environ["SERVER_PORT"])
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "server_app:api", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                assert urllib.request.urlopen("http://127.0.0.1:%d/real/9" % port).status == 200
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not start")
    finally:
        proc.terminate()
        proc.wait(10)
'''

SERVER_APP = '''
from fastapi import FastAPI
api = FastAPI()

@api.get("/real/{n}")
def real(n: int):
    return {"n": n}
'''


class PytestTrafficTest(unittest.TestCase):
    def test_requests_from_test_clients_carry_the_test_id(self):
        collector = FakeCollector().start()
        self.addCleanup(collector.stop)
        work = tempfile.mkdtemp(prefix="routelens-pytest-")
        self.addCleanup(shutil.rmtree, work, True)
        with open(os.path.join(work, "test_shop.py"), "w") as f:
            f.write(textwrap.dedent(TESTS))
        with open(os.path.join(work, "server_app.py"), "w") as f:
            f.write(textwrap.dedent(SERVER_APP))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTELENS_", "PYTEST_", "DJANGO_"))}
        env.update(PYTHONPATH=os.pathsep.join([helpers.BOOTSTRAP_DIR, helpers.TESTS_DIR, work]),
                   ROUTELENS_ENDPOINT=collector.endpoint, ROUTELENS_SERVICE_NAME="shop",
                   DJANGO_SETTINGS_MODULE="djangoapp.settings", SERVER_PORT=str(helpers.free_port()),
                   PYTHONDONTWRITEBYTECODE="1")
        # Django needs setting up before its test client; pytest-django would do it.
        with open(os.path.join(work, "conftest.py"), "w") as f:
            f.write("import django\ndjango.setup()\n")
        result = subprocess.run([helpers.PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_shop.py"],
                                cwd=work, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout[-2000:] + result.stderr[-2000:])

        def server(path):
            return collector.wait_for(lambda: [s for s in collector.spans()
                                               if s.get("kind") == "server" and attrs(s).get("url.path") == path], timeout=10)

        expected = {
            "/items/1": "test_shop.py::test_starlette_testclient",
            "/items/500": "test_shop.py::test_starlette_testclient",
            "/hello/flask": "test_shop.py::test_flask_test_client",
            "/users/7/": "test_shop.py::test_django_test_client",
            "/items/2": "test_shop.py::test_httpx_against_the_asgi_app[2]",
            "/items/3": "test_shop.py::test_httpx_against_the_asgi_app[3]",
        }
        for path, test_id in expected.items():
            spans = server(path)
            self.assertEqual(len(spans), 1, path)
            self.assertEqual(attrs(spans[0]).get("test.case.name"), test_id, path)
        self.assertEqual(server("/items/500")[0]["status"], "error")
        # Outside a test, and in a server process of its own: not test traffic.
        for path in ("/items/0", "/real/9"):
            spans = server(path)
            self.assertEqual(len(spans), 1, path)
            self.assertNotIn("test.case.name", attrs(spans[0]), path)
        print("\n    pytest: %s" % json.dumps({p: attrs(server(p)[0]).get("test.case.name") for p in list(expected) + ["/items/0", "/real/9"]}))


if __name__ == "__main__":
    unittest.main()
