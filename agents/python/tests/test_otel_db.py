"""Apps whose database and Redis calls OpenTelemetry already traces: the agent makes no second span.

The real OpenTelemetry packages cannot be installed here: `otel_standin/` is a small package named
`opentelemetry` written for these tests (see otel_standin/README.md). Its driver instrumentors
only say whether they are instrumented; its SQLAlchemyInstrumentor makes a client span per
statement from the engine events, as the real one does. Real servers: sqlite3 in memory,
PostgreSQL and redis-server started here (skipped where not installed).

Each scenario runs with the instrumentation active (no client span from the agent, same results),
then without it (the agent's spans come back), so the first part could not pass by accident.
"""

import asyncio
import os
import sqlite3
import sys
import unittest

import helpers
from helpers import AgentTestCase
from servers import Postgres, Redis

STANDIN = os.path.join(helpers.TESTS_DIR, "otel_standin")
if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)

import routelens  # noqa: E402
from routelens import _clients, _otel  # noqa: E402

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


class OtelOwnsDb(AgentTestCase):
    def setUp(self):
        super().setUp()
        import opentelemetry.trace  # noqa: F401  (the app imports OpenTelemetry)

        _otel.mark_loaded()
        _clients._owned.clear()

    def tearDown(self):
        _clients._owned.clear()
        super().tearDown()

    def agent_client_spans(self, root):
        self.flush()
        return [s for s in self.collector.spans() if s["traceId"] == root.trace_id and s["kind"] == "client"]

    def owned_then_not(self, instrumentor, scenario):
        """scenario() in a request with instrumentor active, then in one without it: (results,
        agent client spans) of both."""
        instrumentor.instrument()
        _clients._owned.clear()
        try:
            with routelens.span("request") as owned_root:
                owned = scenario()
        finally:
            instrumentor.uninstrument()
            _clients._owned.clear()
        with routelens.span("request") as root:
            ours = scenario()
        self.assertEqual(owned, ours, "the same results with OpenTelemetry's instrumentation and with the agent's")
        return self.agent_client_spans(owned_root), self.agent_client_spans(root)

    def test_sqlite3(self):
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        def scenario():
            conn = sqlite3.connect(":memory:")
            conn.execute("create table t (v int)")
            conn.executemany("insert into t values (?)", [(1,), (2,)])
            conn.commit()
            rows = conn.execute("select v from t order by v").fetchall()
            conn.close()
            return rows

        owned, ours = self.owned_then_not(SQLite3Instrumentor(), scenario)
        self.assertEqual(owned, [], "no agent span while OpenTelemetry traces sqlite3")
        self.assertEqual(sorted(s["name"] for s in ours), ["COMMIT", "CREATE t", "INSERT t", "SELECT t"])

    @unittest.skipIf(_pg_missing, _pg_missing or "")
    def test_psycopg2_psycopg_and_asyncpg(self):
        import asyncpg
        import psycopg
        import psycopg2
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
        from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor

        def with_psycopg2():
            conn = psycopg2.connect(_pg.dsn)
            cur = conn.cursor()
            cur.execute("select 1 + %s", (1,))
            row = cur.fetchone()
            conn.rollback()
            conn.close()
            return row

        def with_psycopg():
            with psycopg.connect(_pg.dsn) as conn:
                row = conn.execute("select 2 + %s", (1,)).fetchone()
                conn.commit()
            return row

        def with_asyncpg():
            async def run():
                conn = await asyncpg.connect(_pg.url)
                try:
                    return await conn.fetchval("select 3 + $1::int", 1)
                finally:
                    await conn.close()

            return asyncio.run(run())

        for instrumentor, scenario, names in (
                (Psycopg2Instrumentor(), with_psycopg2, ["ROLLBACK", "SELECT"]),
                (PsycopgInstrumentor(), with_psycopg, ["COMMIT", "SELECT"]),
                (AsyncPGInstrumentor(), with_asyncpg, ["SELECT"])):
            owned, ours = self.owned_then_not(instrumentor, scenario)
            self.assertEqual(owned, [], type(instrumentor).__name__)
            self.assertEqual(sorted({s["name"] for s in ours}), names, type(instrumentor).__name__)

    @unittest.skipIf(_redis_missing, _redis_missing or "")
    def test_redis(self):
        import redis
        import redis.asyncio
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        def scenario():
            r = redis.Redis(port=_redis.port, db=4)
            r.set("ok", "1")
            with r.pipeline() as pipe:
                values = pipe.incr("on").incr("on").execute()
            got = r.get("ok")
            r.delete("ok", "on")
            r.close()

            async def run():
                ar = redis.asyncio.Redis(port=_redis.port, db=4)
                await ar.set("ak", "2")
                value = await ar.get("ak")
                await ar.delete("ak")
                await ar.aclose() if hasattr(ar, "aclose") else await ar.close()
                return value

            return got, values, asyncio.run(run())

        owned, ours = self.owned_then_not(RedisInstrumentor(), scenario)
        self.assertEqual(owned, [])
        self.assertIn("MULTI", [s["name"] for s in ours])
        self.assertEqual([s["name"] for s in ours].count("GET"), 2)

    def test_sqlalchemy_statements_are_opentelemetry_spans_only(self):
        """With SQLAlchemyInstrumentor, each statement is OpenTelemetry's span: not the agent's
        SQLAlchemy span, and not the agent's span of the driver under it either."""
        import sqlalchemy
        from opentelemetry import trace
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.trace import FINISHED
        from sqlalchemy import text

        urls = ["sqlite://"]
        if _pg is not None:
            urls.append(_pg.url.replace("postgresql://", "postgresql+psycopg2://"))

        def scenario():
            seen = []
            for url in urls:
                engine = sqlalchemy.create_engine(url)
                with engine.begin() as conn:
                    conn.execute(text("create temporary table sa_otel (id int)"))
                    conn.execute(text("insert into sa_otel values (:v)"), [{"v": 1}, {"v": 2}])
                    seen.append([tuple(r) for r in conn.execute(text("select id from sa_otel order by id"))])
                engine.dispose()
            return seen

        del FINISHED[:]
        owned, ours = self.owned_then_not(SQLAlchemyInstrumentor(), scenario)
        otel_selects = [s for s in FINISHED if s.kind is trace.SpanKind.CLIENT
                        and s.attributes.get("db.statement", "").startswith("select id from sa_otel")]
        self.assertEqual(len(otel_selects), len(urls), "the stand-in traced each engine's statement")
        # What SQLAlchemy runs on the DB-API connection itself, outside its engine events (the
        # dialect's first-connect PRAGMA, the pool's ROLLBACK on return), OpenTelemetry's
        # SQLAlchemy instrumentation does not see either: those stay the agent's driver spans.
        # (psycopg2's executemany goes through the dialect's own do_executemany, hooked as well.)
        app_statements = [s for s in owned if "sa_otel" in s["attributes"].get("db.query.text", "")]
        self.assertEqual(app_statements, [], "no agent span, SQLAlchemy's or the driver's")
        selects = [s for s in ours if s["name"] == "SELECT sa_otel"]
        self.assertEqual(len(selects), len(urls), "without OpenTelemetry, one agent span per statement")

    def test_sqlalchemy_on_a_driver_opentelemetry_traces(self):
        """Only the driver instrumented (SQLite3Instrumentor): a statement through an engine is the
        driver instrumentation's span, so the agent's SQLAlchemy hook makes none either."""
        import sqlalchemy
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
        from sqlalchemy import text

        def scenario():
            engine = sqlalchemy.create_engine("sqlite://")
            with engine.connect() as conn:
                value = conn.execute(text("select 41 + 1")).scalar()
            engine.dispose()
            return value

        owned, ours = self.owned_then_not(SQLite3Instrumentor(), scenario)
        self.assertEqual(owned, [])
        self.assertEqual([s["name"] for s in ours if s["name"] == "SELECT"], ["SELECT"])


if __name__ == "__main__":
    unittest.main()
