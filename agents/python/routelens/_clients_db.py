"""Database and cache calls as client spans: sqlite3, psycopg2, psycopg 3, asyncpg, SQLAlchemy, redis.

One span per statement or command. What a span covers: the driver's execute call (for
sqlite3 that includes stepping to the first row, and an implicit BEGIN the driver issues;
rows fetched or iterated afterwards are not in the span), commit() and rollback() as their
own short spans. The statement is sent with its literals replaced by `?`; parameter values
are never read.

sqlite3 and psycopg2 types are written in C and cannot be patched: their connect functions
hand out subclasses of the driver's classes (or of the factory the caller asked for) through
the driver's own factory arguments, so isinstance() holds. psycopg 3, asyncpg and redis are
Python classes, patched in place. A statement SQLAlchemy runs is SQLAlchemy's span only: it
makes its span current, and a driver hook inside another client span stands aside.

Where the app uses OpenTelemetry's instrumentation of a library (opentelemetry.instrumentation.
sqlite3, psycopg2, psycopg, asyncpg, sqlalchemy, redis), OpenTelemetry makes that library's
spans and the agent makes none for it; a statement through an SQLAlchemy engine that
OpenTelemetry traces is not traced again by the agent's hook of the driver under it.
"""

import asyncio
import os
import sys

from . import _otel, _trace
from ._clients import (Call as _Call, _call, Fold as _Fold, Form, Settings, _otel_quiet, _start_form, begin, begin_db,
                       cancelled, db_target, end, fail, operation_span, otel_stands_for, row_begin, row_begin_form,
                       row_end, row_failed)
from ._patch import patch

_current = _trace._current
_perf = _trace._perf


def _outside():
    return Settings.outside_requests


def _rows(span, count):
    if count is not None and count >= 0:
        cls = span.__class__
        if cls is _Call:
            span.value = count
        elif cls is _trace.ClientSpan:
            span.attributes["db.response.returned_rows"] = count


def _run(span, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except BaseException as exc:
        fail(span, exc)
        raise
    finally:
        end(span)


async def _run_async(span, call, *args, **kwargs):
    try:
        return await call(*args, **kwargs)
    except asyncio.CancelledError:
        cancelled(span)
        raise
    except BaseException as exc:
        fail(span, exc)
        raise
    finally:
        end(span)


def _operation(static, operation):
    if _current.get() is None and not _outside():
        return None
    if _otel.loaded and otel_stands_for(getattr(static, "otel", ())):
        return None
    name, attributes = operation_span(static, operation)
    return begin(name, attributes)


# -- sqlite3 ---------------------------------------------------------------------------

def _sqlite_plain_execute(cursor, static, sql, parameters):
    """execute() of the plain traced cursor (_SqliteCursor): its C method, without super().

    Called only by the mixins' execute(), so the calling line is looked for above both."""
    begun = row_begin(static, sql)
    if begun is not None:
        t0 = _perf()
        try:
            result = _sqlite_execute(cursor, sql, parameters)
        except BaseException as exc:
            row_failed(begun, t0, exc, 3)
            raise
        count = cursor.rowcount
        # -1 for a SELECT: sqlite3 does not know its rows before they are read.
        row_end(begun, t0, count if count >= 0 else None, 3)
        return result
    span = begin_db(static, sql, 4)
    if span is None:
        return _sqlite_execute(cursor, sql, parameters)
    try:
        result = _sqlite_execute(cursor, sql, parameters)
        _rows(span, cursor.rowcount)
        return result
    except BaseException as exc:
        fail(span, exc)
        raise
    finally:
        end(span)


class _SqliteCursorMixin:
    def execute(self, sql, parameters=(), /):
        if self.__class__ is _SqliteCursor:
            # The common case, the plain cursor.
            return _sqlite_plain_execute(self, self.connection._routelens_static, sql, parameters)
        span = begin_db(self.connection._routelens_static, sql, 3)
        if span is None:
            return super().execute(sql, parameters)
        try:
            result = super().execute(sql, parameters)
            _rows(span, self.rowcount)
            return result
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            end(span)

    def executemany(self, sql, seq_of_parameters, /):
        span = begin_db(self.connection._routelens_static, sql, 3)
        if span is None:
            return super().executemany(sql, seq_of_parameters)
        try:
            result = super().executemany(sql, seq_of_parameters)
            _rows(span, self.rowcount)
            return result
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            end(span)

    def executescript(self, sql_script, /):
        span = begin_db(self.connection._routelens_static, sql_script, 3)
        if span is None:
            return super().executescript(sql_script)
        return _run(span, super().executescript, sql_script)


class _SqliteConnectionMixin:
    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        try:
            path = os.fsdecode(database)
        except Exception:
            path = str(database)
        self._routelens_static = db_target("sqlite", path, otel=_OTEL_SQLITE)

    def cursor(self, factory=None):
        import sqlite3

        base = sqlite3.Cursor if factory is None else factory
        return super().cursor(_traced_class(base, _SqliteCursorMixin, sqlite3.Cursor))

    # The C implementations of these make a plain cursor (not through cursor()): these make
    # the traced subclass of it.
    def execute(self, sql, parameters=(), /):
        return _sqlite_plain_execute(_sqlite_cursor(self, _SqliteCursor), self._routelens_static, sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return _sqlite_cursor(self, _SqliteCursor).executemany(sql, seq_of_parameters)

    def executescript(self, sql_script, /):
        return _sqlite_cursor(self, _SqliteCursor).executescript(sql_script)

    def commit(self):
        span = _operation(self._routelens_static, "COMMIT")
        if span is None:
            return super().commit()
        return _run(span, super().commit)

    def rollback(self):
        span = _operation(self._routelens_static, "ROLLBACK")
        if span is None:
            return super().rollback()
        return _run(span, super().rollback)

    def __exit__(self, exc_type, exc, tb):
        # `with conn:` commits or rolls back in C, without calling the methods above.
        span = _operation(self._routelens_static, "COMMIT" if exc_type is None else "ROLLBACK")
        if span is None:
            return super().__exit__(exc_type, exc, tb)
        return _run(span, super().__exit__, exc_type, exc, tb)


_classes = {}


def _traced_class(base, mixin, root):
    """A subclass of base with mixin's hooks (base itself when it is not a subclass of root)."""
    key = (base, mixin)
    try:
        return _classes[key]
    except KeyError:
        pass
    except TypeError:
        return base
    if not isinstance(base, type) or not issubclass(base, root) or issubclass(base, mixin):
        return base
    traced = type(base.__name__, (mixin, base), {"__module__": base.__module__, "__qualname__": base.__qualname__,
                                                 "__routelens_traced__": True})
    if len(_classes) < 256:
        _classes[key] = traced
    return traced


# Set when sqlite3 is imported (instrument_sqlite3): the C cursor() and the traced Cursor.
_sqlite_cursor = None
_sqlite_execute = None
_SqliteCursor = None


def _make_sqlite_connect(original):
    def connect(database, *args, **kwargs):
        import sqlite3

        # connect(database, timeout, detect_types, isolation_level, check_same_thread, factory, ...)
        if len(args) > 4:
            args = list(args)
            args[4] = _traced_class(args[4], _SqliteConnectionMixin, sqlite3.Connection)
        else:
            kwargs["factory"] = _traced_class(kwargs.get("factory") or sqlite3.Connection,
                                              _SqliteConnectionMixin, sqlite3.Connection)
        return original(database, *args, **kwargs)

    return connect


def instrument_sqlite3(module=None):
    global _sqlite_cursor, _sqlite_execute, _SqliteCursor
    import sqlite3
    import sqlite3.dbapi2

    _sqlite_cursor = sqlite3.Connection.cursor
    _sqlite_execute = sqlite3.Cursor.execute
    _SqliteCursor = _traced_class(sqlite3.Cursor, _SqliteCursorMixin, sqlite3.Cursor)

    patch(sqlite3.dbapi2, "connect", _make_sqlite_connect)
    if sqlite3.connect is not sqlite3.dbapi2.connect:
        patch(sqlite3, "connect", lambda original: sqlite3.dbapi2.connect)


# -- psycopg2 ----------------------------------------------------------------------------

_OTEL_SQLITE = ("sqlite3",)
_OTEL_PSYCOPG2 = ("psycopg2",)
_OTEL_PSYCOPG = ("psycopg",)
_OTEL_ASYNCPG = ("asyncpg",)
_OTEL_SQLALCHEMY = ("sqlalchemy",)
_OTEL_REDIS = ("redis",)


def _pg_static(info, system="postgresql", otel=_OTEL_PSYCOPG2):
    try:
        host = info.host
        port = int(info.port) if info.port else None
        return db_target(system, info.dbname, host, port, otel)
    except Exception:
        return db_target(system, otel=otel)


class _Psycopg2CursorMixin:
    def execute(self, query, vars=None):
        begun = row_begin(self.connection._routelens_static, query)
        if begun is not None:
            t0 = _perf()
            try:
                result = super().execute(query, vars)
            except BaseException as exc:
                row_failed(begun, t0, exc, 2)
                raise
            count = self.rowcount
            row_end(begun, t0, count if count >= 0 else None, 2)
            return result
        span = begin_db(self.connection._routelens_static, query, 3)
        if span is None:
            return super().execute(query, vars)
        try:
            result = super().execute(query, vars)
            _rows(span, self.rowcount)
            return result
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            end(span)

    def executemany(self, query, vars_list):
        span = begin_db(self.connection._routelens_static, query, 3)
        if span is None:
            return super().executemany(query, vars_list)
        try:
            result = super().executemany(query, vars_list)
            _rows(span, self.rowcount)
            return result
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            end(span)


class _Psycopg2ConnectionMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._routelens_static = _pg_static(self.info)

    def cursor(self, *args, **kwargs):
        import psycopg2.extensions

        if len(args) >= 2:
            args = list(args)
            args[1] = _traced_class(args[1] or self.cursor_factory or psycopg2.extensions.cursor,
                                    _Psycopg2CursorMixin, psycopg2.extensions.cursor)
        else:
            kwargs["cursor_factory"] = _traced_class(
                kwargs.get("cursor_factory") or self.cursor_factory or psycopg2.extensions.cursor,
                _Psycopg2CursorMixin, psycopg2.extensions.cursor)
        return super().cursor(*args, **kwargs)

    def commit(self):
        span = _operation(self._routelens_static, "COMMIT")
        if span is None:
            return super().commit()
        return _run(span, super().commit)

    def rollback(self):
        span = _operation(self._routelens_static, "ROLLBACK")
        if span is None:
            return super().rollback()
        return _run(span, super().rollback)


def _make_psycopg2_connect(original):
    def connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
        import psycopg2.extensions

        factory = _traced_class(connection_factory or psycopg2.extensions.connection,
                                _Psycopg2ConnectionMixin, psycopg2.extensions.connection)
        return original(dsn, connection_factory=factory, cursor_factory=cursor_factory, **kwargs)

    return connect


def instrument_psycopg2(module=None):
    if module is None:
        import psycopg2 as module
    patch(module, "connect", _make_psycopg2_connect)


# -- psycopg (3) ---------------------------------------------------------------------------

def _psycopg_static(conn):
    # Connections have __slots__ of their own but their subclasses (and psycopg's) keep a
    # __dict__; where there is none, the values are read again (a few attribute reads).
    try:
        return conn._routelens_static
    except AttributeError:
        pass
    static = _pg_static(conn.info, otel=_OTEL_PSYCOPG)
    try:
        conn._routelens_static = static
    except (AttributeError, TypeError):
        pass
    return static


def _make_psycopg_execute(original):
    def execute(self, query, *args, **kwargs):
        if _current.get() is None and not _outside():
            return original(self, query, *args, **kwargs)
        span = begin_db(_psycopg_static(self._conn), query)
        if span is None:
            return original(self, query, *args, **kwargs)
        try:
            result = original(self, query, *args, **kwargs)
            _rows(span, self.rowcount)
            return result
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            end(span)

    return execute


def _make_psycopg_execute_async(original):
    async def execute(self, query, *args, **kwargs):
        if _current.get() is None and not _outside():
            return await original(self, query, *args, **kwargs)
        span = begin_db(_psycopg_static(self._conn), query)
        if span is None:
            return await original(self, query, *args, **kwargs)
        try:
            result = await original(self, query, *args, **kwargs)
            _rows(span, self.rowcount)
            return result
        except asyncio.CancelledError:
            cancelled(span)
            raise
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            end(span)

    return execute


def _make_psycopg_operation(operation):
    def make(original):
        def method(self, *args, **kwargs):
            span = _operation(_psycopg_static(self), operation)
            if span is None:
                return original(self, *args, **kwargs)
            return _run(span, original, self, *args, **kwargs)

        return method

    return make


def _make_psycopg_operation_async(operation):
    def make(original):
        async def method(self, *args, **kwargs):
            span = _operation(_psycopg_static(self), operation)
            if span is None:
                return await original(self, *args, **kwargs)
            return await _run_async(span, original, self, *args, **kwargs)

        return method

    return make


def instrument_psycopg(module=None):
    if module is None:
        import psycopg as module
    for cls in (module.Cursor, module.ServerCursor):
        patch(cls, "execute", _make_psycopg_execute)
        patch(cls, "executemany", _make_psycopg_execute)
    for cls in (module.AsyncCursor, module.AsyncServerCursor):
        patch(cls, "execute", _make_psycopg_execute_async)
        patch(cls, "executemany", _make_psycopg_execute_async)
    for operation in ("commit", "rollback"):
        patch(module.Connection, operation, _make_psycopg_operation(operation.upper()))
        patch(module.AsyncConnection, operation, _make_psycopg_operation_async(operation.upper()))


# -- asyncpg -------------------------------------------------------------------------------

def _asyncpg_static(conn):
    try:
        addr = conn._addr
        params = conn._params
        if isinstance(addr, tuple):
            return db_target("postgresql", params.database, addr[0], addr[1], _OTEL_ASYNCPG)
        return db_target("postgresql", params.database, str(addr), None, _OTEL_ASYNCPG)
    except Exception:
        return db_target("postgresql", otel=_OTEL_ASYNCPG)


def _make_asyncpg_call(rows):
    def make(original):
        async def method(self, query, *args, **kwargs):
            if _current.get() is None and not _outside():
                return await original(self, query, *args, **kwargs)
            span = begin_db(_asyncpg_static(self), query)
            if span is None:
                return await original(self, query, *args, **kwargs)
            try:
                result = await original(self, query, *args, **kwargs)
                if rows == "list":
                    _rows(span, len(result))
                elif rows == "one":
                    _rows(span, 0 if result is None else 1)
                return result
            except asyncio.CancelledError:
                cancelled(span)
                raise
            except BaseException as exc:
                fail(span, exc)
                raise
            finally:
                end(span)

        return method

    return make


def instrument_asyncpg(module=None):
    if module is None:
        import asyncpg.connection as module
    cls = module.Connection
    patch(cls, "execute", _make_asyncpg_call(None))
    patch(cls, "executemany", _make_asyncpg_call(None))
    patch(cls, "fetch", _make_asyncpg_call("list"))
    patch(cls, "fetchrow", _make_asyncpg_call("one"))
    patch(cls, "fetchval", _make_asyncpg_call(None))


# -- SQLAlchemy ------------------------------------------------------------------------------

_SA_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mariadb",
               "mssql": "microsoft.sql_server", "oracle": "oracle.db"}


# The OpenTelemetry instrumentations of the driver under a dialect (dialect.driver): where one is
# active, it traces each statement an engine runs on that driver.
_SA_DRIVER_OTEL = {"pysqlite": "sqlite3", "psycopg2": "psycopg2", "psycopg": "psycopg", "psycopg_async": "psycopg",
                   "asyncpg": "asyncpg"}


def _sa_otel(dialect):
    driver = _SA_DRIVER_OTEL.get(getattr(dialect, "driver", None))
    return _OTEL_SQLALCHEMY if driver is None else ("sqlalchemy", driver)


def _sa_static(dialect, context):
    try:
        engine = context.root_connection.engine
        static = getattr(engine, "_routelens_static", None)
        if static is None:
            url = engine.url
            static = db_target(_SA_SYSTEMS.get(dialect.name, dialect.name), url.database, url.host, url.port,
                               _sa_otel(dialect))
            engine._routelens_static = static
        return static
    except Exception:
        return db_target(_SA_SYSTEMS.get(getattr(dialect, "name", ""), "other_sql"), otel=_sa_otel(dialect))


def _make_sa_execute(original):
    def do_execute(self, cursor, statement, *args, **kwargs):
        if _current.get() is None and not _outside():
            return original(self, cursor, statement, *args, **kwargs)
        context = kwargs.get("context") or (args[-1] if args else None)
        static = _sa_static(self, context)
        if _otel.loaded and otel_stands_for(static.otel):
            # OpenTelemetry's instrumentation of SQLAlchemy (or of the driver under it) makes
            # this statement's span: the agent's driver hook under it stands aside too.
            token = _otel_quiet.set(True)
            try:
                return original(self, cursor, statement, *args, **kwargs)
            finally:
                _otel_quiet.reset(token)
        span = begin_db(static, statement)
        if span is None:
            return original(self, cursor, statement, *args, **kwargs)
        # Current while the driver runs, so that a hooked driver does not make a second span.
        token = _current.set(span) if span.__class__ is not _Fold else None
        try:
            result = original(self, cursor, statement, *args, **kwargs)
            try:
                _rows(span, cursor.rowcount)
            except Exception:
                pass
            return result
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            if token is not None:
                _current.reset(token)
            end(span)

    return do_execute


_SA_EXECUTES = ("do_execute", "do_executemany", "do_execute_no_params")


def instrument_sqlalchemy(module=None):
    if module is None:
        import sqlalchemy.engine.default as module
    for name in _SA_EXECUTES:
        patch(module.DefaultDialect, name, _make_sa_execute)


def instrument_sqlalchemy_dialect(module):
    """Dialects that run statements through an execute method of their own (psycopg2's
    executemany with execute_values, mysqlclient's, pyodbc's, cx_Oracle's): the same hook on it,
    so such a statement is one span, SQLAlchemy's, not the driver's pages."""
    default = sys.modules.get("sqlalchemy.engine.default")
    if default is None:
        return
    for value in list(vars(module).values()):
        if isinstance(value, type) and issubclass(value, default.DefaultDialect) and value.__module__ == module.__name__:
            for name in _SA_EXECUTES:
                if name in value.__dict__:
                    patch(value, name, _make_sa_execute)


# -- redis -------------------------------------------------------------------------------------

def _redis_static(client):
    return _redis_pool_state(client.connection_pool)[0]


def _redis_pool_state(pool):
    """(static, shapes) kept on a connection pool: the (db.system.name, db.namespace,
    server.address, server.port) of its connections, and per command and argument count its
    Form."""
    # Kept as an attribute, read as one: reading an instance's __dict__ turns its attributes
    # into a dict, and every attribute access on the object slower (see _patch.add_default).
    try:
        return pool._routelens_redis
    except AttributeError:
        pass
    try:
        kwargs = pool.connection_kwargs
        host = kwargs.get("host") or kwargs.get("path")
        static = ("redis", str(kwargs.get("db", 0)), host, kwargs.get("port") if kwargs.get("host") else None)
    except Exception:
        static = ("redis", None, None, None)
    state = (static, {})
    try:
        pool._routelens_redis = state
    except (AttributeError, TypeError):
        pass
    return state


def _redis_shape(static, shapes, command, count):
    """The Form of a command with count arguments (its own included)."""
    name = command.decode("latin-1") if isinstance(command, bytes) else str(command)
    name = name.upper()
    system, namespace, address, port = static
    # Arguments are values (keys and data alike): only their count is kept.
    attributes = {"db.system.name": system, "db.operation.name": name,
                  "db.query.text": " ".join([name] + ["?"] * (count - 1))}
    if namespace:
        attributes["db.namespace"] = namespace
    if address:
        attributes["server.address"] = address
        if port:
            attributes["server.port"] = port
    form = Form(name, attributes)
    if len(shapes) < 256:
        shapes[(command, count)] = form
    return form


def _redis_form(client, args):
    """The Form of the command args on client, or None."""
    try:
        static, shapes = _redis_pool_state(client.connection_pool)
        command = args[0] if args else "?"
        count = len(args)
        try:
            return shapes[(command, count)]
        except KeyError:
            return _redis_shape(static, shapes, command, count)
    except Exception:
        return None


def _redis_begin(client, args, form=None):
    """begin() for a Redis command; form: its Form when the hook has looked it up already."""
    parent = _current.get()
    if parent is None and not Settings.outside_requests:
        return None
    if _otel.loaded and otel_stands_for(_OTEL_REDIS):
        return None
    if form is None:
        form = _redis_form(client, args)
    if form is None:
        return None
    if parent is None:
        return _start_form(None, form, None)
    # The walk starts at execute_command's caller (_call, _redis_begin, execute_command).
    return _call(parent, form, None, 3)


def _make_redis_execute_command(original):
    def execute_command(self, *args, **options):
        parent = _current.get()
        form = begun = None
        if parent is not None:  # outside any request the command is not looked at
            form = _redis_form(self, args)
            begun = row_begin_form(parent, form)
        if begun is not None:
            t0 = _perf()
            try:
                result = original(self, *args, **options)
            except BaseException as exc:
                row_failed(begun, t0, exc, 2)
                raise
            row_end(begun, t0, None, 2)
            return result
        span = _redis_begin(self, args, form)
        if span is None:
            return original(self, *args, **options)
        try:
            return original(self, *args, **options)
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            end(span)

    return execute_command


def _make_redis_execute_command_async(original):
    async def execute_command(self, *args, **options):
        span = _redis_begin(self, args)
        if span is None:
            return await original(self, *args, **options)
        return await _run_async(span, original, self, *args, **options)

    return execute_command


def _pipeline_begin(pipe):
    if _current.get() is None and not _outside():
        return None
    if _otel.loaded and otel_stands_for(_OTEL_REDIS):
        return None
    try:
        static = _redis_static(pipe)
        commands = [str(c[0][0].decode("latin-1") if isinstance(c[0][0], bytes) else c[0][0]).upper()
                    for c in pipe.command_stack]
        name = "MULTI" if pipe.transaction else "PIPELINE"
        attributes = {"db.system.name": "redis", "db.operation.name": name,
                      "db.query.text": " ".join(commands[:50]) + (" ..." if len(commands) > 50 else ""),
                      "db.operation.batch.size": len(commands)}
        if static[1]:
            attributes["db.namespace"] = static[1]
        if static[2]:
            attributes["server.address"] = static[2]
            if static[3]:
                attributes["server.port"] = static[3]
    except Exception:
        return None
    return begin(name, attributes)


def _make_pipeline_execute(original):
    def execute(self, *args, **kwargs):
        span = _pipeline_begin(self)
        if span is None:
            return original(self, *args, **kwargs)
        return _run(span, original, self, *args, **kwargs)

    return execute


def _make_pipeline_execute_async(original):
    async def execute(self, *args, **kwargs):
        span = _pipeline_begin(self)
        if span is None:
            return await original(self, *args, **kwargs)
        return await _run_async(span, original, self, *args, **kwargs)

    return execute


def instrument_redis(module=None):
    if module is None:
        import redis.client as module
    patch(module.Redis, "execute_command", _make_redis_execute_command)
    patch(module.Pipeline, "execute", _make_pipeline_execute)


def instrument_redis_asyncio(module=None):
    if module is None:
        import redis.asyncio.client as module
    patch(module.Redis, "execute_command", _make_redis_execute_command_async)
    patch(module.Pipeline, "execute", _make_pipeline_execute_async)


HOOKS = {
    "sqlite3": instrument_sqlite3,
    "psycopg2": instrument_psycopg2,
    "psycopg": instrument_psycopg,
    "asyncpg.connection": instrument_asyncpg,
    "sqlalchemy.engine.default": instrument_sqlalchemy,
    "sqlalchemy.dialects.postgresql.psycopg2": instrument_sqlalchemy_dialect,
    "sqlalchemy.dialects.mysql.mysqldb": instrument_sqlalchemy_dialect,
    "sqlalchemy.dialects.mssql.pyodbc": instrument_sqlalchemy_dialect,
    "sqlalchemy.dialects.oracle.cx_oracle": instrument_sqlalchemy_dialect,
    "redis.client": instrument_redis,
    "redis.asyncio.client": instrument_redis_asyncio,
}
