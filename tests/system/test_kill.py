"""Processes killed with SIGKILL: the recording web process (nothing recorded is lost) and the
acquisition process (the supervisor restarts it, the web says "plate reconnecting").

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

import json
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from dashboard import durable
from dashboard.db import database, get_db
from dashboard.models import ClinicSession, Trial
from rig.acquire.ipc import FakeLiveSource
from tests.dashboard_support import HELLO
from tests.durable_support import RATE, Feeder, check_trial_file, config, ensure_session

KILL_CYCLES = 50           # at least 50 random kill points
SEED = int(os.environ.get("STEPPLATE_KILL_SEED", "20251122"))


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


@pytest.mark.soak
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


@pytest.mark.soak
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
