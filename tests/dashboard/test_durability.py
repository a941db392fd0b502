"""Nothing lost: the live recording path without kills (fsync every second of sample time,
a vanished acquisition keeps the samples as "interrupted"), the start-up recovery, and the
status migration. The kill -9 test of the same path is tests/system/test_kill.py."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dashboard import durable
from dashboard.db import database, get_db
from dashboard.models import ClinicSession, Trial
from rig.acquire.ipc import FakeLiveSource
from tests.dashboard_support import HELLO
from tests.durable_support import BATCH, RATE, Feeder, batch, check_trial_file, gen, config, ensure_session


@pytest.fixture
def rig(tmp_path, db_url):
    """An app (real factory) with a logged-in client and one session."""
    from dashboard import create_app
    from tests.dashboard_support import PASSWORD, login
    live = FakeLiveSource(HELLO)
    app = create_app(config(tmp_path, live, DATABASE_URL=db_url))
    sid = ensure_session(app)
    with app.app_context():
        from dashboard.db import create_clinician
        create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
    client = app.test_client()
    assert login(client).status_code == 302
    yield app, live, client, sid
    database(app).engine.dispose()


def test_samples_are_fsynced_at_least_every_second_of_sample_time(rig):
    app, live, _client, sid = rig
    syncs = []
    feeder = Feeder(live, pace=20.0)
    feeder.start()
    try:
        with app.app_context():
            t = durable.record_trial(app, get_db().get(ClinicSession, sid), "left", 6.0,
                                     on_sync=lambda w: syncs.append((w.synced_rows, w.t_last)))
    finally:
        feeder.stop.set()
        feeder.join()
    assert t.status == "ok" and t.n_samples == 6 * RATE + 1
    rows = [r for r, _ in syncs]
    assert rows == sorted(rows) and rows[-1] == t.n_samples
    synced_t = [tt for _, tt in syncs if tt is not None]
    assert len(synced_t) >= 6 and max(np.diff(synced_t)) <= 1.0 + 1e-9   # <= 1 s between fsyncs


def test_acquisition_gone_mid_trial_keeps_the_samples_as_interrupted(rig):
    app, live, client, sid = rig
    feeder = Feeder(live, pace=10.0, stop_after_k=2 * RATE)        # 2 s, then the plate falls silent
    feeder.start()
    with app.app_context():
        t = durable.record_trial(app, get_db().get(ClinicSession, sid), "left", 10.0, stall_s=0.5)
    feeder.join()
    assert t.status == "interrupted" and "no samples" in t.quality["interrupted"]["reason"]
    assert t.n_samples == 2 * RATE and t.recording_sha256
    assert t.quality["warnings"][0].startswith("recording interrupted")
    r = client.get(f"/api/trials/{t.id}/samples?max_points=100000")            # stays viewable
    assert r.status_code == 200 and len(r.get_json()["samples"]) == 2 * RATE
    assert client.get(f"/trials/{t.id}").status_code == 200
    assert client.get(f"/trials/{t.id}/export.csv?kind=raw").status_code == 200
    s = client.get(f"/sessions/{sid}")
    assert s.status_code == 200


def test_disconnect_during_a_trial_through_the_api_is_503_with_the_trial(rig):
    app, live, client, sid = rig

    def feed():
        time.sleep(0.2)
        for k in range(0, RATE, BATCH):                   # 1 s of samples, then the socket drops
            live.publish(batch(k))
            time.sleep(0.01)
        live.publish({"type": "disconnected"})
    th = threading.Thread(target=feed, daemon=True)
    th.start()
    r = client.post(f"/api/sessions/{sid}/trials/record", json={"side": "right", "seconds": 5})
    th.join()
    d = r.get_json()
    assert r.status_code == 503 and "reconnecting" in d["error"]
    assert d["status"] == "interrupted" and d["n_samples"] == RATE
    assert live.subscriber_count == 0


def test_recovery_marks_only_this_rigs_trials(tmp_path, db_url):
    from dashboard import create_app
    live = FakeLiveSource(HELLO)
    app = create_app(config(tmp_path, live, DATABASE_URL=db_url))
    sid = ensure_session(app)
    data = tmp_path / "data"
    with app.app_context():
        db = get_db()
        s = db.get(ClinicSession, sid)

        def row(rel, rig_name):
            t = Trial(session_id=s.id, protocol=s.protocol, side="left", status="recording", body_mass_kg=70.0,
                      recording_path=rel, recording_sha256="", recording_bytes=0, quality={"rig": rig_name})
            db.add(t)
            db.commit()
            return t.id
        mine_partial = row("recordings/2025/01/a.csv", "rig-a")
        mine_nofile = row("recordings/2025/01/b.csv", "rig-a")
        other = row("recordings/2025/01/c.csv", "rig-b")
        w = durable.PartialWriter(data / "recordings/2025/01/a.csv", {"trial": mine_partial})
        s_, c_ = gen(np.arange(0, 40))
        w.write(s_.tolist(), c_.tolist())
        w.sync()
        w._f.write(b"0.5,1")                                 # a torn last line, as after a crash
        w._f.close()
    database(app).engine.dispose()
    app2 = create_app(config(tmp_path, live, DATABASE_URL=db_url))   # start-up recovery
    with app2.app_context():
        db = get_db()
        a, b, c = (db.get(Trial, i) for i in (mine_partial, mine_nofile, other))
        assert (a.status, a.n_samples) == ("interrupted", 40)
        check_trial_file(data, a)
        assert (b.status, b.n_samples) == ("interrupted", 0)
        check_trial_file(data, b)
        assert c.status == "recording"                        # another rig's: still recording there
    assert durable.recover(app2) == []                        # idempotent
    database(app2).engine.dispose()


@pytest.mark.parametrize("partial_bytes", [b"", b"# stepplate-recording: 1\n# plate: sim"],
                         ids=["empty", "torn-header"])
def test_recovery_of_a_recording_killed_before_its_header_was_durable(tmp_path, db_url, partial_bytes):
    """Killed after the row and the .partial were created but before the header reached the
    disk: start-up recovery keeps the trial as interrupted with no samples, and the web
    process still starts (it used to fail on the unreadable file)."""
    from dashboard import create_app
    live = FakeLiveSource(HELLO)
    app = create_app(config(tmp_path, live, DATABASE_URL=db_url))
    sid = ensure_session(app)
    data = tmp_path / "data"
    rel = "recordings/2025/02/d.csv"
    with app.app_context():
        db = get_db()
        s = db.get(ClinicSession, sid)
        t = Trial(session_id=s.id, protocol=s.protocol, side="left", status="recording", body_mass_kg=70.0,
                  recording_path=rel, recording_sha256="", recording_bytes=0, quality={"rig": durable.rig_id(app)})
        db.add(t)
        db.commit()
        tid = t.id
    (data / rel).parent.mkdir(parents=True, exist_ok=True)
    (data / (rel + durable.PARTIAL)).write_bytes(partial_bytes)
    database(app).engine.dispose()
    app2 = create_app(config(tmp_path, live, DATABASE_URL=db_url))   # start-up recovery
    with app2.app_context():
        trial = get_db().get(Trial, tid)
        assert (trial.status, trial.n_samples) == ("interrupted", 0)
        check_trial_file(data, trial)                         # readable, checksum matches
    database(app2).engine.dispose()


def test_migration_0002_widens_status_and_downgrades(tmp_path):
    from sqlalchemy import text
    from dashboard.db import downgrade, make_engine, upgrade
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("insert into patients (code, body_mass_kg, dominant_leg, notes, created_at) "
                          "values ('P', 70, 'left', '', '2025-01-01')"))
        conn.execute(text("insert into sessions (patient_id, protocol, started_at, notes) "
                          "values (1, 'single_leg_stance', '2025-01-01', '')"))
        conn.execute(text("insert into trials (session_id, protocol, side, status, started_at, duration_s, "
                          "sample_rate_hz, n_samples, body_mass_kg, recording_path, recording_sha256, "
                          "recording_bytes, quality) values (1, 'x', 'left', 'interrupted', '2025-01-01', "
                          "0, 0, 0, 70, 'r', '', 0, '{}')"))
    downgrade(engine, "0001")
    with engine.connect() as conn:
        assert conn.execute(text("select status from trials")).scalar() == "redo"
    engine.dispose()
