"""rig backup / rig restore: an online snapshot while trials are recorded, verified restore."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tarfile
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard.db import database, get_db
from dashboard.models import ClinicSession, Trial
from rig.backup import BackupError, Target, create_backup, prune, restore_backup, verify_archive
from rig.cli import main
from rig.acquire.ipc import FakeLiveSource
from tests import ROOT
from tests.dashboard_support import HELLO
from tests.durable_support import Feeder, check_trial_file, config, ensure_session


def _recording_app(tmp: Path, live):
    from dashboard import create_app
    return create_app(config(tmp, live))


def _record_in_background(app, live, stop: threading.Event, done: list):
    from dashboard import durable
    feeder = Feeder(live, pace=20.0)
    feeder.start()
    sid = ensure_session(app)
    try:
        with app.app_context():
            while not stop.is_set():
                t = durable.record_trial(app, get_db().get(ClinicSession, sid), "left", 1.0)
                done.append(t.id)
    finally:
        feeder.stop.set()


def test_online_backup_while_recording_then_restore(tmp_path):
    live = FakeLiveSource(HELLO)
    app = _recording_app(tmp_path, live)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "calibration.json").write_text('{"plate": "stepplate-1"}')
    stop, done = threading.Event(), []
    th = threading.Thread(target=_record_in_background, args=(app, live, stop, done), daemon=True)
    th.start()
    target = Target(f"sqlite:///{tmp_path / 'clinic.db'}", tmp_path / "data")
    archives = []
    try:
        while len(done) < 2:
            time.sleep(0.05)
        for i in range(3):                               # three snapshots, the writer never stops
            archives.append(tmp_path / "backups" / f"b{i}.tar.gz")
            m = create_backup(target, archives[-1])
            assert m["trials_missing_recording"] == [] and m["trials"] >= 2
            time.sleep(0.2)
    finally:
        stop.set()
        th.join(30)
        database(app).engine.dispose()
    assert len(done) >= 4
    m = verify_archive(archives[-1])
    assert "data/calibration.json" in m["files"] and m["database"]["kind"] == "sqlite"
    # restore into a fresh place, then the real app (with its start-up recovery) reads every trial
    new = tmp_path / "restored"
    new_target = Target(f"sqlite:///{new / 'db' / 'clinic.db'}", new / "data")
    restore_backup(archives[-1], new_target)
    con = sqlite3.connect(new / "db" / "clinic.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_rows = con.execute("select count(*) from trials").fetchone()[0]
    con.close()
    assert n_rows == m["trials"]
    from dashboard import create_app
    app2 = create_app(dict(config(new, FakeLiveSource(HELLO)), DATABASE_URL=f"sqlite:///{new / 'db' / 'clinic.db'}"))
    with app2.app_context():
        trials = get_db().query(Trial).all()
        assert len(trials) == n_rows
        assert all(t.status in ("ok", "interrupted") for t in trials)    # an in-flight one recovered
        for t in trials:
            check_trial_file(new / "data", t)
        assert sum(t.status == "ok" for t in trials) >= 2
    database(app2).engine.dispose()
    assert (new / "data" / "calibration.json").read_text() == '{"plate": "stepplate-1"}'


def _small_setup(tmp_path):
    data = tmp_path / "data"
    (data / "recordings").mkdir(parents=True)
    (data / "recordings" / "a.csv").write_text("t_s\n0\n")
    (data / "calibration.json").write_text("{}")
    con = sqlite3.connect(tmp_path / "x.db")
    con.execute("create table trials (recording_path text, recording_sha256 text, status text)")
    con.commit()
    con.close()
    return Target(f"sqlite:///{tmp_path / 'x.db'}", data)


def test_restore_refuses_to_overwrite_without_force_and_keeps_the_old_data(tmp_path):
    target = _small_setup(tmp_path)
    arch = tmp_path / "b.tar.gz"
    create_backup(target, arch)
    (target.data_dir / "calibration.json").write_text('{"changed": true}')
    with pytest.raises(BackupError, match="refusing to overwrite"):
        restore_backup(arch, target)
    assert (target.data_dir / "calibration.json").read_text() == '{"changed": true}'
    r = restore_backup(arch, target, force=True)
    assert (target.data_dir / "calibration.json").read_text() == "{}"
    kept = [Path(k) for k in r["kept"]]
    assert any((k / "calibration.json").exists() and (k / "calibration.json").read_text() == '{"changed": true}'
               for k in kept if k.is_dir())


def test_a_damaged_archive_is_refused_before_anything_is_touched(tmp_path):
    target = _small_setup(tmp_path)
    arch = tmp_path / "b.tar.gz"
    create_backup(target, arch)
    # rebuild the archive with one recording changed but the old manifest
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(arch) as src, tarfile.open(bad, "w:gz") as dst:
        for m in src.getmembers():
            blob = src.extractfile(m).read()
            if m.name == "data/recordings/a.csv":
                blob = blob.replace(b"0", b"1")
            m.size = len(blob)
            import io
            dst.addfile(m, io.BytesIO(blob))
    shutil.rmtree(target.data_dir)
    os.unlink(tmp_path / "x.db")
    with pytest.raises(BackupError, match="SHA-256"):
        restore_backup(bad, target)
    assert not target.data_dir.exists() and not (tmp_path / "x.db").exists()
    assert not list(tmp_path.glob(".restore-*"))
    # a path outside the target is refused too
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as dst:
        import io
        blob = b"x"
        info = tarfile.TarInfo("data/../../escape")
        info.size = 1
        dst.addfile(info, io.BytesIO(blob))
        man = json.dumps({"format": "stepplate-backup/1", "database": {"kind": "sqlite"},
                          "files": {"data/../../escape": {"sha256": __import__("hashlib").sha256(blob).hexdigest(),
                                                           "bytes": 1}}}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(man)
        dst.addfile(info, io.BytesIO(man))
    with pytest.raises(BackupError, match="unsafe"):
        verify_archive(evil)


def test_cli_backup_keep_and_restore(tmp_path):
    target = _small_setup(tmp_path)
    runner = CliRunner()
    url = target.database_url
    for _ in range(3):
        r = runner.invoke(main, ["backup", "--database", url, "--data-dir", str(target.data_dir),
                                 "--dest", str(tmp_path / "bk"), "--keep", "2"])
        assert r.exit_code == 0, r.output
        time.sleep(1.05)                                   # archive names carry the second
    archives = sorted((tmp_path / "bk").glob("stepplate-backup-*.tar.gz"))
    assert len(archives) == 2 and "removed old backup" in r.output
    r = runner.invoke(main, ["restore", str(archives[-1]), "--verify-only"])
    assert r.exit_code == 0 and "archive OK" in r.output
    r = runner.invoke(main, ["restore", str(archives[-1]), "--database", url, "--data-dir", str(target.data_dir)])
    assert r.exit_code == 1 and "refusing to overwrite" in r.output
    r = runner.invoke(main, ["restore", str(archives[-1]), "--database", url, "--data-dir", str(target.data_dir),
                             "--force"])
    assert r.exit_code == 0 and "previous data kept" in r.output
    assert (target.data_dir / "recordings" / "a.csv").read_text() == "t_s\n0\n"
    assert prune(tmp_path / "bk", 1) == [archives[0]]


@pytest.mark.databases("postgresql")
def test_postgres_backup_and_restore_with_pg_dump(tmp_path, db_url):
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump not installed (apt-get install postgresql-client)")
    from sqlalchemy import create_engine, text
    url = db_url
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("create table trials (recording_path text, recording_sha256 text, status text)"))
        c.execute(text("insert into trials values ('recordings/a.csv', 'x', 'recording')"))
    data = tmp_path / "data"
    data.mkdir()
    arch = tmp_path / "pg.tar.gz"
    m = create_backup(Target(url, data), arch)
    assert m["database"]["kind"] == "postgresql" and m["trials"] == 1
    with engine.begin() as c:
        c.execute(text("delete from trials"))
    restore_backup(arch, Target(url, tmp_path / "data2"))
    with engine.connect() as c:
        assert c.execute(text("select count(*) from trials")).scalar() == 1
    engine.dispose()


def test_nightly_timer_units(tmp_path):
    import configparser
    import subprocess
    units = ROOT / "hardware" / "systemd" / "backup"

    def read(name):
        p = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
        p.optionxform = str
        p.read_string((units / name).read_text())
        return p
    svc, timer = read("stepplate-backup.service"), read("stepplate-backup.timer")
    args = svc["Service"]["ExecStart"].split()
    assert args[:2] == ["/opt/stepplate/venv/bin/rig", "backup"] and "--keep" in args
    assert svc["Service"]["Type"] == "oneshot" and svc["Service"]["User"] == "stepplate"
    dest = args[args.index("--dest") + 1]
    assert dest in svc["Service"]["ReadWritePaths"].split()
    assert timer["Timer"]["OnCalendar"] == "*-*-* 02:30:00" and timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "stepplate-backup.service"
    # the command line the unit runs is one `rig backup` accepts
    r = CliRunner().invoke(main, ["backup", *args[2:], "--help"])
    assert r.exit_code == 0
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    fake = tmp_path / "rig"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    for name in ("stepplate-backup.service", "stepplate-backup.timer"):
        (tmp_path / name).write_text((units / name).read_text().replace("/opt/stepplate/venv/bin/rig", str(fake)))
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "stepplate-backup.service"),
                        str(tmp_path / "stepplate-backup.timer")], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr


def test_a_recording_finished_during_the_backup_is_taken_from_its_final_name(tmp_path, monkeypatch):
    """The folder is listed while a trial records; the trial finishes (rename) before the backup
    reads its .partial: the backup archives the finished file instead of failing."""
    import tarfile as _tarfile

    from rig import backup as bk
    data = tmp_path / "data"
    rec = data / "recordings" / "2026" / "11"
    rec.mkdir(parents=True)
    partial = rec / "trial-1.csv.partial"
    partial.write_bytes(b"t_s\n0.0\n")
    (data / "calibration.json").write_text("{}")
    real_files = bk._data_files

    def listing_then_rename(data_dir, exclude):
        listed = list(real_files(data_dir, exclude))
        assert partial in listed
        partial.write_bytes(b"t_s\n0.0\n0.0125\n")
        partial.rename(rec / "trial-1.csv")        # the recorder finishes its trial now
        return iter(listed)

    monkeypatch.setattr(bk, "_data_files", listing_then_rename)
    target = bk.Target(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=data)
    import sqlite3
    sqlite3.connect(tmp_path / "db.sqlite").close()
    monkeypatch.setattr(bk, "_trial_recordings", lambda *a: [])
    manifest = bk.create_backup(target, tmp_path / "out" / "b.tar.gz")
    assert "data/recordings/2026/11/trial-1.csv" in manifest["files"]
    assert not any(k.endswith(".partial") for k in manifest["files"])
    with _tarfile.open(tmp_path / "out" / "b.tar.gz") as tar:
        member = tar.extractfile("data/recordings/2026/11/trial-1.csv").read()
    assert member == b"t_s\n0.0\n0.0125\n"
    assert bk.verify_archive(tmp_path / "out" / "b.tar.gz")["files"] == manifest["files"]
