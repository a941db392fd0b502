"""The storage and API tests again, against a real PostgreSQL server; and two rigs sharing it.

Needs ``STEPPLATE_TEST_PG_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:54329/stepplate_test``;
``.ci/start-postgres.sh`` starts a throw-away server and prints it). Without it every test
here is skipped with that reason, so ``make test`` on a laptop still works; CI sets it.

The dashboard tests (trials, patients, auth, export) and the durability tests are collected
here a second time under ``test_pg_*`` names; this module's ``app`` and ``db_url`` fixtures
override the SQLite ones, and each test starts from an empty schema.
"""
from __future__ import annotations

import inspect
import os
import time

import numpy as np
import pytest

from dashboard.db import database, get_db
from tests import (test_dashboard_auth, test_dashboard_export, test_dashboard_patients,
                   test_dashboard_trials, test_durability)
from tests.dashboard_support import (PASSWORD, admin, circle_samples, client, live, login,  # noqa: F401
                                     make_app, patient, runner, session_id)
from tests.test_durability import rig  # noqa: F401

PG_URL = os.environ.get("STEPPLATE_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL, reason="STEPPLATE_TEST_PG_URL not set: no PostgreSQL server "
                                "to test against (.ci/start-postgres.sh starts one; CI sets it)")


def _reset_schema() -> None:
    from sqlalchemy import create_engine
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture
def db_url():
    _reset_schema()
    return PG_URL


@pytest.fixture
def app(tmp_path, live, db_url):  # noqa: F811 - replaces the SQLite app of dashboard_support
    a = make_app(tmp_path, live, DATABASE_URL=db_url)
    assert database(a).engine.dialect.name == "postgresql"
    yield a
    database(a).engine.dispose()


# --- the SQLite suites, collected again on PostgreSQL --------------------------------------------
_SQLITE_ONLY = ("make_app(", "sqlite", "PRAGMA", "os.fork", "kill")
for _mod in (test_dashboard_trials, test_dashboard_patients, test_dashboard_auth, test_dashboard_export,
             test_durability):
    _short = _mod.__name__.rsplit(".", 1)[-1].replace("test_dashboard_", "").replace("test_", "")
    for _name, _fn in list(vars(_mod).items()):
        _is_fixture = hasattr(_fn, "_pytestfixturefunction") or type(_fn).__name__ == "FixtureFunctionDefinition"
        if _is_fixture and _name not in globals():        # the module's own fixtures come along
            globals()[_name] = _fn
            continue
        if not (_name.startswith("test_") and inspect.isfunction(_fn)) or _fn.__module__ != _mod.__name__:
            continue
        if any(s in inspect.getsource(_fn) for s in _SQLITE_ONLY):
            continue
        globals()[f"test_pg_{_short}_{_name[5:]}"] = _fn
del _mod, _name, _fn, _short


# --- PostgreSQL-specific ------------------------------------------------------------------------

def test_pg_migrations_produce_exactly_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect as sa_inspect, text
    from dashboard.db import downgrade, make_engine, upgrade
    from dashboard.models import Base
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            head = conn.execute(text("select version_num from alembic_version")).scalar()
            assert head >= "0002"
            status = {c["name"]: c for c in sa_inspect(conn).get_columns("trials")}["status"]
            assert status["type"].length == 16            # "interrupted" fits on PostgreSQL too
        downgrade(engine, "base")
        with engine.connect() as conn:
            assert set(sa_inspect(conn).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()


def _rig_process(url: str, tmp: str, rig_name: str, codes: list[str], n_trials: int, barrier_path: str) -> None:
    """One rig: its own app, data folder and rig id, on the shared database."""
    from dashboard import create_app
    from dashboard.models import ClinicSession, Patient
    from dashboard.trials import store_trial
    from rig.acquire.ipc import FakeLiveSource
    from tests.dashboard_support import HELLO
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "LIVE_SOURCE": FakeLiveSource(HELLO),
                      "RIG_ID": rig_name, "DATABASE_URL": url, "STEPPLATE_DATA_DIR": f"{tmp}/{rig_name}",
                      "INSTANCE_PATH": f"{tmp}/{rig_name}-instance"})
    while not os.path.exists(barrier_path):               # start writing together
        time.sleep(0.005)
    with app.app_context():
        db = get_db()
        own = Patient(code=f"{rig_name}-only", body_mass_kg=60.0, dominant_leg="left")
        db.add(own)
        db.commit()
        patients = [db.query(Patient).filter_by(code=c).one() for c in codes] + [own]
        for i in range(n_trials):
            p = patients[i % len(patients)]
            s = ClinicSession(patient_id=p.id, protocol="single_leg_stance", notes=rig_name)
            db.add(s)
            db.commit()
            store_trial(s, "left" if i % 2 else "right", circle_samples(n=161), meta={"rig": rig_name})
    database(app).engine.dispose()


def test_pg_two_rigs_write_concurrently_and_the_dashboard_shows_all_patients(app, client, tmp_path):
    """Two processes (two rigs, two engines) insert sessions and trials for shared patients at
    the same time; the dashboard of either sees every patient and every trial."""
    from dashboard.models import ClinicSession, Patient, Trial
    with app.app_context():
        db = get_db()
        db.add_all([Patient(code=c, body_mass_kg=70.0, dominant_leg="right") for c in ("SHARED-1", "SHARED-2")])
        db.commit()
    url = app.config["DATABASE_URL"]
    barrier = tmp_path / "go"
    n = 8
    pids = []
    for name in ("rig-a", "rig-b"):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _rig_process(url, str(tmp_path), name, ["SHARED-1", "SHARED-2"], n, str(barrier))
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    time.sleep(0.5)
    barrier.touch()
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    with app.app_context():
        db = get_db()
        codes = {p.code for p in db.query(Patient).all()}
        assert codes == {"SHARED-1", "SHARED-2", "rig-a-only", "rig-b-only"}
        assert db.query(Trial).count() == 2 * n
        by_rig = {}
        for s in db.query(ClinicSession).all():
            by_rig.setdefault(s.notes, 0)
            by_rig[s.notes] += len(s.trials)
        assert by_rig == {"rig-a": n, "rig-b": n}
        shared = db.query(Patient).filter_by(code="SHARED-1").one()
        assert {s.notes for s in shared.sessions} == {"rig-a", "rig-b"}
    page = client.get("/patients/").get_data(as_text=True)
    for c in codes:
        assert c in page
    r = client.get(f"/patients/{shared.id}")
    assert r.status_code == 200
