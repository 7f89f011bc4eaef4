"""The PostgreSQL pool skips its liveness round trip for connections returned moments ago."""

from __future__ import annotations

import time

import pytest

from database import make_database
from tests.helpers import require_service

URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pool(monkeypatch):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    database = make_database(URL, max_connections=1)
    checks = []
    original = database._adapter.is_connection_closed

    def counted(conn):
        checks.append(conn)
        return original(conn)

    monkeypatch.setattr(database._adapter, "is_connection_closed", counted)
    database.checks = checks
    yield database
    database.close_all()


def test_a_connection_returned_moments_ago_is_reused_without_a_round_trip(pool):
    pool.connect()
    first = pool.connection()
    pool.close()
    pool.connect()
    assert pool.connection() is first
    assert pool.checks == []
    pool.close()


def test_a_connection_idle_for_longer_is_checked(pool):
    pool.IDLE_CHECK_SECONDS = 0.0
    pool.connect()
    pool.close()
    pool.connect()
    assert len(pool.checks) == 1
    pool.close()


def test_a_connection_closed_behind_the_pool_is_replaced(pool):
    pool.connect()
    first = pool.connection()
    pool.close()
    first.close()  # e.g. the server went away and the driver noticed
    pool.connect()
    assert pool.connection() is not first
    assert pool.execute_sql("SELECT 1").fetchone() == (1,)
    pool.close()


def test_a_connection_the_server_hung_up_on_is_replaced_without_a_round_trip(pool):
    import psycopg2

    pool.connect()
    first = pool.connection()
    pid = first.get_backend_pid()
    pool.close()
    admin = psycopg2.connect(URL)
    admin.autocommit = True
    admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()
    time.sleep(0.2)  # the server's goodbye reaches the pooled socket
    pool.connect()
    assert pool.connection() is not first
    assert pool.checks == []
    assert pool.execute_sql("SELECT 1").fetchone() == (1,)
    pool.close()


def test_the_private_pool_methods_the_adapter_overrides_are_still_there():
    """database.PooledPostgres relies on three private methods of peewee's pool: this fails
    first when an upgrade of peewee renames or reshapes them."""
    import inspect

    from playhouse.pool import PooledDatabase

    for name, parameters in (("_close", ["self", "conn", "close_conn"]), ("_close_raw", ["self", "conn"]),
                             ("_is_closed", ["self", "conn"])):
        method = getattr(PooledDatabase, name)
        assert list(inspect.signature(method).parameters) == parameters, name
    assert make_database(URL).conn_key is id  # set per instance by PooledDatabase.__init__


def test_a_password_with_reserved_characters_reaches_the_server_decoded():
    from database import make_database

    database = make_database("postgresql://svc:p%40ss%3Aw%2Frd@db:5433/hint")
    assert database.connect_params["password"] == "p@ss:w/rd" and database.connect_params["user"] == "svc"
