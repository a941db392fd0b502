"""Nothing lost: durable live recording, crash recovery, and the kill test.

The kill test forks a child that is the web process's recording path (create_app with its
start-up recovery, ``dashboard.durable.record_trial`` fed by a live source publishing a
synthetic, exactly checkable sample stream at 4x real time) and SIGKILLs it at a random
instant, ``KILL_CYCLES`` times (seeded). After every kill it checks the database
(``PRAGMA integrity_check``), runs the start-up recovery, and checks every trial's recording
sample by sample. Every other cycle also simulates a power cut: each ``.partial`` is cut back
to what its last fsync made durable, plus a torn half line (a kill -9 keeps the page cache,
a power cut does not).

What the child reports (O_APPEND writes, in the kernel before the next step):
``P k``: samples up to index k were published by the source; ``W rel rows``: the recorder
wrote ``rows`` rows of ``rel``; ``S rel rows bytes``: an fsync made them durable;
``C rel``: the trial's final commit returned.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dashboard import durable, recordings
from dashboard.db import database, get_db
from dashboard.models import ClinicSession, Patient, Trial
from rig.acquire.ipc import FakeLiveSource
from tests.dashboard_support import HELLO

RATE = 80
BATCH = 8                  # 100 ms batches, as the acquisition publishes them
PACE = 4.0                 # stream time runs 4x faster than wall time
KILL_CYCLES = 50           # the issue asks for at least 50
SEED = int(os.environ.get("STEPPLATE_KILL_SEED", "20251122"))


def gen(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample k of the synthetic stream: values exactly representable in the CSV (%.6g)."""
    k = np.asarray(k, dtype=np.int64)
    f = np.stack([150 + k % 50, 160 + k % 30, 170 + k % 20, 180 + k % 10], axis=1).astype(float)
    s = np.zeros((len(k), 9))
    s[:, 0] = k / RATE
    s[:, 1:5] = f
    s[:, 5] = f.sum(axis=1)
    s[:, 6] = k % 21 - 10
    s[:, 7] = k % 13 - 6.5
    counts = np.stack([k, k + 1, k + 2, k + 3], axis=1)
    return s, counts


def batch(k0: int, n: int = BATCH) -> dict:
    s, c = gen(np.arange(k0, k0 + n))
    return {"type": "batch", "seq": k0 // n, "t_ns": int(k0 / RATE * 1e9), "samples": s.tolist(),
            "counts": c.tolist()}


def config(tmp: Path, live, **extra) -> dict:
    return {"TESTING": True, "SECRET_KEY": "t", "LIVE_SOURCE": live, "RIG_ID": "rig-a",
            "DATABASE_URL": f"sqlite:///{tmp / 'clinic.db'}", "STEPPLATE_DATA_DIR": str(tmp / "data"),
            "INSTANCE_PATH": str(tmp / "instance"), "WTF_CSRF_ENABLED": False, **extra}


def ensure_session(app) -> int:
    with app.app_context():
        db = get_db()
        s = db.query(ClinicSession).first()
        if s is None:
            p = Patient(code="P-KILL", body_mass_kg=70.0, dominant_leg="left")
            s = ClinicSession(patient=p, protocol="single_leg_stance")
            db.add_all([p, s])
            db.commit()
        return s.id


class Feeder(threading.Thread):
    """The acquisition side: publishes the synthetic stream in 100 ms batches at PACE."""

    def __init__(self, live, report=None, pace=PACE, stop_after_k=None):
        super().__init__(daemon=True)
        self.live, self.report, self.pace, self.stop_after_k = live, report, pace, stop_after_k
        self.stop = threading.Event()
        self.k = 0

    def run(self):
        period = BATCH / RATE / self.pace
        if self.stop_after_k is not None:     # a bounded stream: start once the recorder listens
            while not self.live.subscriber_count:
                time.sleep(0.001)
        nxt = time.monotonic()
        while not self.stop.is_set() and (self.stop_after_k is None or self.k < self.stop_after_k):
            self.live.publish(batch(self.k))
            self.k += BATCH
            if self.report:
                self.report(f"P {self.k - 1}")
            nxt += period
            time.sleep(max(0.0, nxt - time.monotonic()))


def _child(tmp: Path, report_path: Path, seed: int) -> None:
    """The recording web process (forked): start-up recovery, then record trials until killed."""
    fd = os.open(report_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def report(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    from dashboard import create_app
    live = FakeLiveSource(HELLO)
    app = create_app(config(tmp, live))
    sid = ensure_session(app)
    Feeder(live, report).start()
    rng = random.Random(seed)
    with app.app_context():
        while True:
            s = get_db().get(ClinicSession, sid)
            seconds = rng.uniform(0.5, 3.0)
            report(f"T {seconds!r}")
            t = durable.record_trial(
                app, s, rng.choice(["left", "right"]), seconds,
                on_write=lambda w: report(f"W {w.final.name} {w.rows} {round(w.t_last * RATE)}"),
                on_sync=lambda w: report(f"S {w.final.name} {w.synced_rows} {w.synced_bytes}"))
            report(f"C {Path(t.recording_path).name} {t.status}")


def run_child(tmp: Path, report_path: Path, seed: int, kill_after_s: float) -> None:
    pid = os.fork()
    if pid == 0:                                       # child: never returns into pytest
        code = 0
        try:
            _child(tmp, report_path, seed)
        except BaseException:                          # pragma: no cover - shown in the report
            import traceback
            with open(report_path, "a") as f:
                f.write("X " + traceback.format_exc().replace("\n", " | ") + "\n")
            code = 1
        os._exit(code)
    time.sleep(kill_after_s)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
        f"child ended by itself: {report_path.read_text()[-2000:]}"


def parse_report(path: Path) -> dict:
    out = {"published": -1, "written": {}, "synced": {}, "committed": {}, "first_k": {}, "seconds": {}}
    seconds = None
    for line in path.read_text().splitlines():
        p = line.split(" ")
        if p[0] == "P":
            out["published"] = int(p[1])
        elif p[0] == "T":
            seconds = float(p[1])
        elif p[0] == "W":
            rows, k_last = int(p[2]), int(p[3])
            out["written"][p[1]] = rows
            out["first_k"][p[1]] = k_last - rows + 1
            out["seconds"][p[1]] = seconds
        elif p[0] == "S":
            out["synced"][p[1]] = (int(p[2]), int(p[3]))
        elif p[0] == "C":
            out["committed"][p[1]] = p[2]
        elif p[0] == "X":
            raise AssertionError(f"child failed: {line}")
    return out


def power_cut(data: Path, rep: dict) -> int:
    """Cut every .partial back to its last fsync + a torn half line; returns how many."""
    n = 0
    for partial in data.glob("recordings/**/*.partial"):
        name = partial.name[: -len(".partial")]
        synced = rep["synced"].get(name, (0, None))[1]
        if synced is None:        # never reported a sync: keep the header the constructor synced
            continue
        with open(partial, "r+b") as f:
            f.truncate(synced)
            f.seek(synced)
            f.write(b"12.5,150,16")          # half a row, no newline
        n += 1
    return n


def check_trial_file(data: Path, t: Trial) -> np.ndarray:
    """The recording matches its row (size, SHA-256, count) and every row is the stream's."""
    blob = (data / t.recording_path).read_bytes()
    assert len(blob) == t.recording_bytes and hashlib.sha256(blob).hexdigest() == t.recording_sha256
    columns, arr, meta = recordings.decode(blob)
    assert len(arr) == t.n_samples
    if len(arr):
        ix = {c: i for i, c in enumerate(columns)}
        k = arr[:, ix[recordings.RAW_COLUMNS[0]]].astype(np.int64)
        assert np.array_equal(k, np.arange(k[0], k[0] + len(k))), "gap or duplicate in a recording"
        s, c = gen(k)
        assert np.allclose(arr[:, :9], s, atol=1e-9, equal_nan=True)
        assert np.array_equal(arr[:, 9:13].astype(np.int64), c)
    return arr


def test_kill_minus_nine_at_random_points(tmp_path):
    """>= 50 SIGKILLs (plus simulated power cuts) of the recording process: integrity, every
    completed trial intact, the in-flight one recovered as interrupted, <= 1 s of samples lost."""
    rng = random.Random(SEED)
    data = tmp_path / "data"
    figures = {"cycles": 0, "interrupted": 0, "completed": 0, "power_cuts": 0,
               "max_unsynced_s": 0.0, "max_lost_s": 0.0, "integrity": set()}
    committed_all: dict[str, str] = {}
    t_start = time.monotonic()
    for cycle in range(KILL_CYCLES):
        report = tmp_path / f"report-{cycle}.txt"
        run_child(tmp_path, report, seed=rng.randrange(1 << 30), kill_after_s=rng.uniform(0.1, 1.1))
        rep = parse_report(report)
        if cycle % 2 == 1:
            figures["power_cuts"] += power_cut(data, rep)
        db_file = tmp_path / "clinic.db"
        if db_file.exists():                           # 1. the database is never corrupted
            con = sqlite3.connect(db_file)
            try:
                figures["integrity"].add(con.execute("PRAGMA integrity_check").fetchone()[0])
                assert con.execute("PRAGMA foreign_key_check").fetchall() == []
            finally:
                con.close()
        assert figures["integrity"] <= {"ok"}, figures["integrity"]
        # 2. start-up recovery (what the next `rig serve` does), here in the test process
        from dashboard import create_app
        app = create_app(config(tmp_path, FakeLiveSource(HELLO)))
        try:
            with app.app_context():
                trials = {Path(t.recording_path).name: t for t in get_db().query(Trial).all()}
                assert not list(data.glob("recordings/**/*.partial"))
                assert all(t.status in ("ok", "interrupted") for t in trials.values())
                arrays = {name: check_trial_file(data, t) for name, t in trials.items()}
                committed_all.update(rep["committed"])
                for name, status in committed_all.items():    # 3. every completed trial intact
                    assert trials[name].status == status
                for name, rows in rep["written"].items():
                    t, arr = trials[name], arrays[name]
                    synced_rows = rep["synced"].get(name, (0, 0))[0]
                    assert len(arr) >= synced_rows, "an fsynced sample was lost"
                    assert (rows - synced_rows) / RATE <= 1.0 + 1e-9
                    figures["max_unsynced_s"] = max(figures["max_unsynced_s"], (rows - synced_rows) / RATE)
                    if name in rep["committed"]:
                        assert t.status == "ok" and len(arr) == rows
                        continue
                    if t.status == "ok":                  # killed after the commit, before "C"
                        assert len(arr) == rows
                        continue
                    # 4. the in-flight trial: interrupted, viewable, at most 1 s of samples lost.
                    # Lost = what the source had published for this trial minus what is on disk.
                    assert t.status == "interrupted" and "interrupted" in t.quality
                    figures["interrupted"] += 1
                    first = rep["first_k"][name]
                    should_have = min(rep["published"], first + int(rep["seconds"][name] * RATE + 1e-9))
                    last_on_disk = int(arr[-1, 9]) if len(arr) else first - 1
                    lost = (should_have - last_on_disk) / RATE
                    figures["max_lost_s"] = max(figures["max_lost_s"], lost)
                    assert lost <= 1.0 + 1e-9, (name, lost, rep["published"], last_on_disk)
            figures["completed"] = sum(1 for s in committed_all.values() if s == "ok")
        finally:
            database(app).engine.dispose()
        figures["cycles"] += 1
    elapsed = time.monotonic() - t_start
    figures["integrity"] = sorted(figures["integrity"])
    print("kill-test figures:", json.dumps(figures), f"elapsed {elapsed:.1f} s")
    (Path(os.environ.get("STEPPLATE_ARTIFACTS", tmp_path)) / "kill-test.json").write_text(
        json.dumps(dict(figures, elapsed_s=round(elapsed, 1), seed=SEED)))
    assert figures["cycles"] >= 50
    assert figures["interrupted"] >= 10, figures       # the kills really landed mid-trial
    assert figures["completed"] >= 10, figures
    assert figures["power_cuts"] >= 5, figures


# --- the recording path without kills ------------------------------------------------------------

@pytest.fixture
def db_url(tmp_path):
    """SQLite here; tests/test_postgres.py overrides it to rerun these tests on PostgreSQL."""
    return f"sqlite:///{tmp_path / 'clinic.db'}"


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


# --- the acquisition process is supervised; the web side says "plate reconnecting" ------------

def _status_until(client, pred, timeout_s=30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    st = {}
    while time.monotonic() < deadline:
        st = client.get("/api/status").get_json()
        if pred(st):
            return st
        time.sleep(0.05)
    raise AssertionError(f"status never matched: {st}")


def test_acquisition_killed_is_restarted_and_the_web_reports_reconnecting(tmp_path):
    import subprocess
    import sys
    from dashboard import create_app
    from rig.acquire.supervise import Supervisor
    sock = tmp_path / "acquire.sock"
    cmd = [sys.executable, "-m", "rig", "acquire", "--backend", "sim", "--socket", str(sock)]
    sup = Supervisor(cmd, restart_s=0.2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).start()
    app = None
    try:
        app = create_app(config(tmp_path, None, RIG_SOCKET=str(sock)))   # the real IpcLiveSource
        client = app.test_client()
        _status_until(client, lambda s: s["connected"] and s["last_batch_age_s"] is not None)
        for cycle in range(3):
            old = sup.pid
            os.kill(old, signal.SIGKILL)
            st = _status_until(client, lambda s: not s["connected"], 10)
            assert st["state"] == "reconnecting" and "plate reconnecting" in st["messages"][0]
            st = _status_until(client, lambda s: s["connected"] and sup.pid != old
                               and s["last_batch_age_s"] is not None and s["last_batch_age_s"] < 0.5)
            assert st["state"] == "connected" and sup.restarts == cycle + 1
        assert sup.exits == [-signal.SIGKILL] * 3 and sup.poll() is None
    finally:
        sup.terminate()
        sup.wait(10)
        if app is not None:
            app.extensions["stepplate_live"].close()
            database(app).engine.dispose()


def test_supervisor_gives_up_on_a_crash_loop_and_leaves_a_clean_exit_alone(tmp_path):
    import sys
    from rig.acquire.supervise import Supervisor
    bad = Supervisor([sys.executable, "-c", "raise SystemExit(3)"], restart_s=0.01, burst=4).start()
    bad._thread.join(20)
    assert bad.poll() == 3 and bad.exits == [3, 3, 3, 3] and bad.restarts == 3
    ok = Supervisor([sys.executable, "-c", "pass"]).start()
    ok._thread.join(20)
    assert ok.poll() == 0 and ok.restarts == 0
