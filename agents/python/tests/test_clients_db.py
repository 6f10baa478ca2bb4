"""Database and cache calls as client spans, against real servers: sqlite3, PostgreSQL (psycopg2,
psycopg 3 sync and async, asyncpg, SQLAlchemy) and Redis (sync and asyncio).

Each scenario runs twice, first with the agent shut down (no hook installed), then with the agent
inside a span: it must observe the same results, types, exceptions, context managers and
iteration both times. Then the spans of the second run are checked.
"""

import asyncio
import os
import sqlite3
import unittest

from helpers import AgentTestCase, attrs
from servers import Postgres, Redis

import routelens
from routelens import _clients

THIS_FILE = os.path.abspath(__file__)

_pg = None
_redis = None
_pg_missing = Postgres.missing()
_redis_missing = Redis.missing()


def setUpModule():
    global _pg, _redis
    if _pg_missing is None:
        _pg = Postgres().__enter__()
    if _redis_missing is None:
        _redis = Redis().__enter__()


def tearDownModule():
    if _pg is not None:
        _pg.__exit__()
    if _redis is not None:
        _redis.__exit__()


def _line(marker):
    with open(THIS_FILE) as f:
        for number, line in enumerate(f, 1):
            if line.rstrip().endswith("# " + marker):
                return number
    raise AssertionError(marker)


def outcome(fn, *args):
    """What a caller observes of fn(*args): (result type name, value) or (exception type, message)."""
    try:
        value = fn(*args)
        return ("ok", type(value).__name__, value)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc).split("\n")[0])


class ClientTestCase(AgentTestCase):
    def both(self, scenario):
        """scenario() without the agent, then with it inside a span: the same observations."""
        routelens.shutdown()
        baseline = scenario()
        type(self).agent = routelens.start(endpoint=self.collector.endpoint, service_name="tests",
                                           metrics_interval=0, flush_interval=0.05)
        self.collector.mark()
        with routelens.span("request") as root:
            traced = scenario()
        self.assertEqual(baseline, traced)
        return root

    def client_spans(self, root, count=None):
        self.flush()
        spans = self.collector.wait_spans(lambda s: s["traceId"] == root.trace_id and s["kind"] == "client"
                                          and (count is None or True))
        spans.sort(key=lambda s: s["startMs"])
        if count is not None:
            self.assertEqual(len(spans), count, [s["name"] for s in spans])
        for span in spans:
            self.assertEqual(span["parentSpanId"], root.span_id)
        self.assertValidItems()
        return spans

    def assertCalledFrom(self, span, marker):
        a = attrs(span)
        self.assertEqual(a.get("code.file.path"), THIS_FILE, span)
        self.assertEqual(a.get("code.line.number"), _line(marker), span)


class Sqlite(ClientTestCase):
    def test_sqlite3_same_behaviour_and_spans(self):
        def scenario():
            seen = []
            conn = sqlite3.connect(":memory:")
            seen.append(isinstance(conn, sqlite3.Connection))
            conn.execute("create table items (id integer primary key, name text)")  # sq-create
            conn.executemany("insert into items (name) values (?)", [("a",), ("b",), ("c",)])  # sq-many
            cur = conn.cursor()
            seen.append(isinstance(cur, sqlite3.Cursor))
            seen.append(cur.execute("select name from items where name != 'zz' order by id") is cur)  # sq-select
            seen.append([row for row in cur])
            seen.append(outcome(conn.execute, "select * from missing_table"))  # sq-fail
            with conn:  # sq-with
                conn.execute("update items set name = 'q' where id = 2")  # sq-update
            conn.row_factory = sqlite3.Row
            row = conn.execute("select id, name from items where id = ?", (2,)).fetchone()  # sq-param
            seen.append((type(row).__name__, tuple(row), row["name"]))
            seen.append(outcome(conn.execute, "insert into items (id, name) values (1, 'dup')"))
            conn.rollback()
            conn.close()
            return seen

        root = self.both(scenario)
        spans = self.client_spans(root)
        names = [s["name"] for s in spans]
        self.assertEqual(names[:5], ["CREATE items", "INSERT items", "SELECT items", "SELECT missing_table", "UPDATE items"])
        self.assertIn("COMMIT", names)
        self.assertIn("ROLLBACK", names)
        self.assertCalledFrom(next(s for s in spans if s["name"] == "COMMIT"), "sq-with")
        create, many, select, failed, update = spans[:5]
        self.assertEqual(attrs(select)["db.query.text"], "select name from items where name != ? order by id")
        self.assertEqual(attrs(select)["db.system.name"], "sqlite")
        self.assertEqual(attrs(select)["db.namespace"], ":memory:")
        self.assertEqual(attrs(select)["db.operation.name"], "SELECT")
        self.assertEqual(attrs(select)["db.collection.name"], "items")
        self.assertEqual(attrs(many)["db.response.returned_rows"], 3)
        self.assertEqual(failed["status"], "error")
        self.assertEqual(attrs(failed)["error.type"], "sqlite3.OperationalError")
        self.assertEqual(failed["exception"]["message"], "no such table: missing_table")
        self.assertEqual(attrs(update)["db.query.text"], "update items set name = ? where id = ?")
        for span, marker in ((create, "sq-create"), (many, "sq-many"), (select, "sq-select"),
                             (update, "sq-update")):
            self.assertCalledFrom(span, marker)
        self.assertEqual(attrs(failed)["code.function.name"], "outcome")
        param = next(s for s in spans if attrs(s).get("db.query.text") == "select id, name from items where id = ?")
        self.assertCalledFrom(param, "sq-param")

    def test_a_factory_of_the_callers_own_is_subclassed(self):
        class MyConnection(sqlite3.Connection):
            marker = "mine"

        class MyCursor(sqlite3.Cursor):
            pass

        with routelens.span("request") as root:
            conn = sqlite3.connect(":memory:", factory=MyConnection)
            cur = conn.cursor(MyCursor)
            cur.execute("select 1")
            self.assertIsInstance(conn, MyConnection)
            self.assertIsInstance(cur, MyCursor)
            self.assertEqual(conn.marker, "mine")
        self.assertEqual(len(self.client_spans(root)), 1)

    def test_no_span_outside_a_request(self):
        conn = sqlite3.connect(":memory:")
        conn.execute("select 1")
        self.flush()
        self.assertEqual([s for s in self.collector.spans() if s["kind"] == "client"], [])

    def test_a_query_run_while_a_template_renders_is_at_the_line_that_rendered_it(self):
        import tempfile

        import jinja2

        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "page.html"), "w") as f:
                f.write("<p>\n{{ query('select 41 + 1').fetchone()[0] }}\n</p>\n")
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder))
            conn = sqlite3.connect(":memory:")
            with routelens.span("request") as root:
                html = env.get_template("page.html").render(query=conn.execute)  # render-line
        self.assertIn("42", html)
        (span,) = self.client_spans(root, 1)
        self.assertCalledFrom(span, "render-line")

    def test_outside_requests_by_setting_each_call_is_a_trace_of_its_own(self):
        previous = _clients.Settings.outside_requests
        _clients.Settings.outside_requests = True
        try:
            conn = sqlite3.connect(":memory:")
            conn.execute("select 'outside one'")  # outside-1
            conn.execute("select 'outside two'")
        finally:
            _clients.Settings.outside_requests = previous
        self.flush()
        spans = self.collector.wait_spans(lambda s: s["kind"] == "client" and attrs(s).get("db.query.text") == "select ?")
        self.assertEqual(len(spans), 2)
        self.assertNotEqual(spans[0]["traceId"], spans[1]["traceId"])
        self.assertTrue(all("parentSpanId" not in s for s in spans))
        self.assertCalledFrom(min(spans, key=lambda s: s["startMs"]), "outside-1")

    def test_settings_from_the_environment(self):
        saved = (_clients.Settings.enabled, _clients.Settings.max_spans, _clients.Settings.outside_requests,
                 _clients.Settings.collector, _clients.Settings.collector_ports)
        try:
            _clients.configure(None, {"ROUTELENS_CLIENT_SPANS": "off", "ROUTELENS_MAX_CLIENT_SPANS": "7",
                                      "ROUTELENS_CLIENT_SPANS_OUTSIDE_REQUESTS": "trace"})
            self.assertEqual((_clients.Settings.enabled, _clients.Settings.max_spans, _clients.Settings.outside_requests),
                             (False, 7, True))
            _clients.configure(None, {"ROUTELENS_MAX_CLIENT_SPANS": "lots"})
            self.assertEqual((_clients.Settings.enabled, _clients.Settings.max_spans, _clients.Settings.outside_requests),
                             (True, 500, False))
        finally:
            (_clients.Settings.enabled, _clients.Settings.max_spans, _clients.Settings.outside_requests,
             _clients.Settings.collector, _clients.Settings.collector_ports) = saved

    def test_past_the_limit_calls_fold_into_summary_spans(self):
        previous = _clients.Settings.max_spans
        _clients.Settings.max_spans = 5
        try:
            conn = sqlite3.connect(":memory:")
            with routelens.span("request") as root:
                for i in range(1000):
                    conn.execute("select %d" % i)  # fold-loop
                for i in range(3):
                    conn.execute("select 'x', %d" % i)
        finally:
            _clients.Settings.max_spans = previous
        spans = self.client_spans(root)
        plain = [s for s in spans if "routelens.folded.count" not in attrs(s)]
        folded = {attrs(s)["db.query.text"]: s for s in spans if "routelens.folded.count" in attrs(s)}
        self.assertEqual(len(plain), 5)
        self.assertEqual(attrs(folded["select ?"])["routelens.folded.count"], 995)
        self.assertEqual(attrs(folded["select ?, ?"])["routelens.folded.count"], 3)
        self.assertGreater(attrs(folded["select ?"])["routelens.folded.duration_ms"], 0)
        self.assertCalledFrom(folded["select ?"], "fold-loop")


@unittest.skipIf(_pg_missing, _pg_missing or "")
class PostgreSQL(ClientTestCase):
    def test_psycopg2(self):
        import psycopg2
        import psycopg2.extras

        def scenario():
            seen = []
            conn = psycopg2.connect(_pg.dsn)
            seen.append(isinstance(conn, psycopg2.extensions.connection))
            with conn.cursor() as cur:
                seen.append(isinstance(cur, psycopg2.extensions.cursor))
                cur.execute("drop table if exists p2; create table p2 (id int, name text)")
                cur.executemany("insert into p2 values (%s, %s)", [(1, "secret-a"), (2, "secret-b")])  # p2-many
                seen.append(cur.execute("select name from p2 where id > %s and name <> 'x' order by id", (0,)))  # p2-select
                seen.append(list(cur))
                seen.append(outcome(cur.execute, "select * from nope"))  # p2-fail
            conn.rollback()
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                seen.append(isinstance(cur, psycopg2.extras.RealDictCursor))
                cur.execute("select 1 as one")
                seen.append(dict(cur.fetchone()))
            conn.commit()
            conn.close()
            return seen

        root = self.both(scenario)
        spans = self.client_spans(root)
        by_text = {attrs(s).get("db.query.text"): s for s in spans}
        select = by_text["select name from p2 where id > %s and name <> ? order by id"]
        self.assertEqual(select["name"], "SELECT p2")
        self.assertEqual(attrs(select)["db.system.name"], "postgresql")
        self.assertEqual(attrs(select)["db.namespace"], "postgres")
        self.assertEqual(attrs(select)["server.address"], "127.0.0.1")
        self.assertEqual(attrs(select)["server.port"], _pg.port)
        self.assertEqual(attrs(select)["db.response.returned_rows"], 2)
        self.assertCalledFrom(select, "p2-select")
        many = by_text["insert into p2 values (%s, %s)"]
        self.assertCalledFrom(many, "p2-many")
        failed = by_text["select * from nope"]
        self.assertEqual(attrs(failed)["error.type"], "psycopg2.errors.UndefinedTable")
        # The innermost application frame is the test's own outcome() helper that made the call.
        self.assertEqual(attrs(failed)["code.function.name"], "outcome")
        self.assertIn("ROLLBACK", [s["name"] for s in spans])
        self.assertIn("COMMIT", [s["name"] for s in spans])
        self.assertNotIn("secret", repr(spans))

    def test_psycopg3_sync_and_async(self):
        import psycopg

        def scenario():
            seen = []
            with psycopg.connect(_pg.url) as conn:
                seen.append(type(conn).__name__)
                conn.execute("drop table if exists p3; create table p3 (id int)")
                with conn.cursor() as cur:
                    seen.append(cur.execute("insert into p3 values (%s), (%s)", (1, 2)) is cur)  # p3-insert
                    seen.append(cur.rowcount)
                    cur.execute("select id from p3 order by id")
                    seen.append([r for r in cur])
                    seen.append(outcome(cur.execute, "select broken syntax here"))  # p3-fail
                conn.rollback()

            async def run_async():
                async with await psycopg.AsyncConnection.connect(_pg.url) as aconn:
                    async with aconn.cursor() as cur:
                        await cur.execute("select %s::int + 1", (41,))  # p3-async
                        return (await cur.fetchone())[0]

            seen.append(asyncio.run(run_async()))
            return seen

        root = self.both(scenario)
        spans = self.client_spans(root)
        by_text = {attrs(s).get("db.query.text"): s for s in spans}
        self.assertCalledFrom(by_text["insert into p3 values (%s), (%s)"], "p3-insert")
        self.assertEqual(attrs(by_text["insert into p3 values (%s), (%s)"])["db.response.returned_rows"], 2)
        failed = by_text["select broken syntax here"]
        self.assertEqual(failed["status"], "error")
        self.assertEqual(attrs(failed)["error.type"], "psycopg.errors.SyntaxError")
        self.assertCalledFrom(by_text["select %s::int + ?"], "p3-async")

    def test_asyncpg_with_pool_transaction_and_cancellation(self):
        import asyncpg

        async def run():
            seen = []
            pool = await asyncpg.create_pool(_pg.url, min_size=1, max_size=2)
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.execute("create temporary table ap (id int, v text)")
                    await conn.executemany("insert into ap values ($1, $2)", [(1, "s1"), (2, "s2")])
                rows = await conn.fetch("select id, v from ap where v <> 'none' order by id")  # ap-fetch
                seen.append([tuple(r) for r in rows])
                seen.append(await conn.fetchval("select count(*) from ap"))
                seen.append(tuple(await conn.fetchrow("select 1, 'a'")))
                try:
                    await conn.fetch("select * from nope_ap")  # ap-fail
                except asyncpg.UndefinedTableError as exc:
                    seen.append(type(exc).__name__)
                task = asyncio.ensure_future(conn.fetchval("select pg_sleep(5)"))  # ap-cancel
                await asyncio.sleep(0.2)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    seen.append("cancelled")
            seen.append(await pool.fetchval("select 7"))
            await pool.close()
            return seen

        root = self.both(lambda: asyncio.run(run()))
        spans = self.client_spans(root)
        by_text = {attrs(s).get("db.query.text"): s for s in spans}
        fetch = by_text["select id, v from ap where v <> ? order by id"]
        self.assertEqual(attrs(fetch)["db.response.returned_rows"], 2)
        self.assertCalledFrom(fetch, "ap-fetch")
        self.assertIn("BEGIN;", by_text)
        self.assertIn("COMMIT;", by_text)
        self.assertEqual(by_text["BEGIN;"]["name"], "BEGIN")
        self.assertEqual(attrs(by_text["select * from nope_ap"])["error.type"], "asyncpg.exceptions.UndefinedTableError")
        self.assertCalledFrom(by_text["select * from nope_ap"], "ap-fail")
        self.assertEqual(attrs(by_text["select pg_sleep(?)"])["error.type"], "cancelled")
        self.assertIn("select ?", by_text)
        self.assertNotIn("s1", repr([attrs(s) for s in spans]))

    def test_sqlalchemy_one_span_per_statement(self):
        import sqlalchemy
        from sqlalchemy import text

        def scenario():
            seen = []
            for url in (_pg.url.replace("postgresql://", "postgresql+psycopg2://"), "sqlite://"):
                engine = sqlalchemy.create_engine(url)
                with engine.begin() as conn:
                    conn.execute(text("create temporary table sa (id int)"))
                    conn.execute(text("insert into sa values (:v)"), [{"v": 1}, {"v": 2}])
                    result = conn.execute(text("select id from sa where id > :m order by id"), {"m": 0})  # sa-select
                    seen.append([tuple(r) for r in result])
                seen.append(outcome(lambda: engine.connect().execute(text("select * from nope_sa"))))
                engine.dispose()
            return seen

        root = self.both(scenario)
        spans = self.client_spans(root)
        selects = [s for s in spans if attrs(s).get("db.query.text", "").startswith("select id from sa")]
        self.assertEqual(len(selects), 2, "one span per statement on each engine, not two")
        self.assertEqual(sorted(attrs(s)["db.system.name"] for s in selects), ["postgresql", "sqlite"])
        for span in selects:
            self.assertCalledFrom(span, "sa-select")
        failed = [s for s in spans if attrs(s).get("db.query.text") == "select * from nope_sa"]
        self.assertEqual(len(failed), 2)
        self.assertTrue(all(s["status"] == "error" for s in failed))


@unittest.skipIf(_redis_missing, _redis_missing or "")
class RedisClient(ClientTestCase):
    def test_redis_sync_pipeline_and_asyncio(self):
        import redis
        import redis.asyncio

        def scenario():
            seen = []
            r = redis.Redis(port=_redis.port, db=3)
            seen.append(r.set("k", "secret-value"))  # rd-set
            seen.append(r.get("k"))
            seen.append(outcome(r.lpush, "k", "x"))  # rd-fail
            with r.pipeline() as pipe:
                pipe.incr("n").incr("n")
                seen.append(pipe.execute())  # rd-pipe
            r.delete("k", "n")
            r.close()

            async def run_async():
                ar = redis.asyncio.Redis(port=_redis.port)
                await ar.set("ak", "1")
                value = await ar.get("ak")  # rd-async
                await ar.delete("ak")
                await ar.close()
                return value

            seen.append(asyncio.run(run_async()))
            return seen

        root = self.both(scenario)
        spans = self.client_spans(root)
        names = [s["name"] for s in spans]
        self.assertEqual(names[:3], ["SET", "GET", "LPUSH"])
        first = spans[0]
        self.assertEqual(attrs(first)["db.system.name"], "redis")
        self.assertEqual(attrs(first)["db.query.text"], "SET ? ?")
        self.assertEqual(attrs(first)["db.namespace"], "3")
        self.assertEqual(attrs(first)["server.port"], _redis.port)
        self.assertCalledFrom(first, "rd-set")
        self.assertEqual(attrs(spans[2])["error.type"], "redis.exceptions.ResponseError")
        self.assertEqual(attrs(spans[2])["code.function.name"], "outcome")
        pipe = next(s for s in spans if s["name"] == "MULTI")
        self.assertEqual(attrs(pipe)["db.query.text"], "INCRBY INCRBY")
        self.assertCalledFrom(pipe, "rd-pipe")
        aget = [s for s in spans if s["name"] == "GET"][-1]
        self.assertCalledFrom(aget, "rd-async")
        self.assertNotIn("secret", repr(spans))


if __name__ == "__main__":
    unittest.main()
