"""The databases the storage tests run against: a per-test SQLite file always, and PostgreSQL
when ``STEPPLATE_TEST_PG_URL`` names a server (``.ci/start-postgres.sh`` starts a throw-away
one; CI sets it). Each pytest-xdist worker gets its own PostgreSQL database, created on first
use beside the one the URL names, so two workers never reset each other's schema."""
from __future__ import annotations

import os

PG_URL = os.environ.get("STEPPLATE_TEST_PG_URL", "")
NO_PG = ("STEPPLATE_TEST_PG_URL not set: no PostgreSQL server to test against "
         "(.ci/start-postgres.sh starts one; CI sets it)")
_created: set[str] = set()


def worker_url(worker: str) -> str:
    """PG_URL with its database renamed for this worker (``stepplate_test_gw0``), created if missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    base = make_url(PG_URL)
    name = f"{base.database}_{worker}"
    url = base.set(database=name)
    if name not in _created:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            exists = conn.execute(text("select 1 from pg_database where datname = :n"), {"n": name}).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        _created.add(name)
    return url.render_as_string(hide_password=False)


def reset_schema(url: str) -> None:
    """An empty ``public`` schema: every PostgreSQL test starts from nothing."""
    from sqlalchemy import create_engine
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
