"""What only PostgreSQL shows: the migrations produce exactly the models there, and two rigs
(two processes, two engines) write to one shared database at once.

Every storage and API test already runs on both databases (the ``db_url`` fixture in
tests/conftest.py: ``[sqlite]`` and ``[postgresql]``); these are the PostgreSQL-only ones. They
skip, with the reason, when ``STEPPLATE_TEST_PG_URL`` is unset; CI sets it."""
from __future__ import annotations

import os
import time

import pytest

from dashboard.db import database, get_db
from tests.dashboard_support import circle_samples

pytestmark = pytest.mark.databases("postgresql")


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
