"""`rig serve` and `rig backup` read one config and agree on where the data is.

`rig serve` is run through the real command (click) with waitress replaced by a catcher, so
the app under test is exactly the one the command would serve.
"""
from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rig.cli import main
from tests.dashboard_support import PASSWORD, login, sls_samples


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("STEPPLATE_DATABASE_URL", "STEPPLATE_INSTANCE", "RIG_CONFIG"):
        monkeypatch.delenv(var, raising=False)


def _write_config(tmp_path: Path, database_url: str = "") -> Path:
    cfg = tmp_path / "rig.toml"
    lines = ["[paths]", f'data_dir = "{tmp_path / "data"}"', "[acquisition]", f'socket = "{tmp_path / "a.sock"}"']
    if database_url:
        lines += ["[web]", f'database_url = "{database_url}"']
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def _serve_app(cfg: Path, monkeypatch):
    """The Flask app `rig --config CFG serve` would hand to waitress."""
    import waitress
    caught = {}

    def fake_serve(app, **kw):
        caught["app"], caught["kw"] = app, kw
    monkeypatch.setattr(waitress, "serve", fake_serve)
    r = CliRunner().invoke(main, ["--config", str(cfg), "serve", "--port", "5999"])
    assert r.exit_code == 0, r.output
    app = caught["app"]
    return app, r.output


def _close(app):
    app.extensions["stepplate_live"].close()


def test_serve_and_backup_resolve_the_same_database_and_data_folder(tmp_path, monkeypatch, clean_env):
    from dashboard.db import create_clinician, database, get_db
    cfg = _write_config(tmp_path)
    app, out = _serve_app(cfg, monkeypatch)
    try:
        data = tmp_path / "data"
        assert app.config["DATABASE_URL"] == f"sqlite:///{data / 'stepplate.db'}"
        assert database(app).url == app.config["DATABASE_URL"]
        assert Path(app.config["STEPPLATE_DATA_DIR"]) == data
        assert Path(app.instance_path) == data / "instance"          # secret key lives with the data
        assert (data / "instance" / "secret_key").exists()
        assert app.config["RIG_CONFIG"] == str(cfg) and app.config["RIG_SOCKET"] == str(tmp_path / "a.sock")
        assert f"data folder {data}" in out
        # record a trial through the dashboard, as a clinician would
        app.config.update(WTF_CSRF_ENABLED=False)
        with app.app_context():
            create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
        c = app.test_client()
        assert login(c).status_code == 302
        r = c.post("/patients/new", data={"code": "P-9", "body_mass_kg": "70", "dominant_leg": "left"})
        pid = int(r.headers["Location"].rstrip("/").split("/")[-1])
        r = c.post(f"/patients/{pid}/sessions", data={"protocol": "single_leg_stance"})
        sid = int(r.headers["Location"].split("/")[-2])
        s = sls_samples()
        body = {"side": "left", "columns": ["t_s", "f_fl_n", "f_fr_n", "f_bl_n", "f_br_n", "fz_n",
                                            "cop_ml_mm", "cop_ap_mm", "flags"],
                "samples": [[None if not np.isfinite(v) else float(v) for v in row] for row in s]}
        r = c.post(f"/api/sessions/{sid}/trials", json=body)
        assert r.status_code == 201, r.get_json()
        rec = r.get_json().get("recording_path") or _recording_path(app)
        assert (data / rec).exists()                                  # under [paths] data_dir
        assert (data / "stepplate.db").exists()
    finally:
        _close(app)
    # rig backup with the same config finds that database and that recording
    archive = tmp_path / "bk.tar.gz"
    r = CliRunner().invoke(main, ["--config", str(cfg), "backup", "-o", str(archive)])
    assert r.exit_code == 0, r.output
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest["database"]["kind"] == "sqlite"
        assert manifest["trials"] == 1 and manifest["trials_missing_recording"] == []
        assert f"data/{rec}" in manifest["files"]
        tar.extract("db/stepplate.db", tmp_path / "x", filter="data")
    con = sqlite3.connect(tmp_path / "x" / "db" / "stepplate.db")
    assert con.execute("select username from clinicians").fetchall() == [("admin",)]
    con.close()


def _recording_path(app) -> str:
    from dashboard.db import get_db
    from dashboard.models import Trial
    with app.app_context():
        return get_db().query(Trial).one().recording_path


def test_a_configured_database_url_is_used_by_serve_and_backup(tmp_path, monkeypatch, clean_env):
    from rig.backup import resolve_target
    from rig.config import load
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'clinic.db'}"
    (tmp_path / "elsewhere").mkdir()
    cfg = _write_config(tmp_path, url)
    app, _ = _serve_app(cfg, monkeypatch)
    try:
        target = resolve_target(load(cfg))
        assert app.config["DATABASE_URL"] == target.database_url == url
        assert Path(app.config["STEPPLATE_DATA_DIR"]) == target.data_dir == tmp_path / "data"
        assert (tmp_path / "elsewhere" / "clinic.db").exists()     # migrated there, not in the data folder
        assert not (tmp_path / "data" / "stepplate.db").exists()
    finally:
        _close(app)
    archive = tmp_path / "bk.tar.gz"
    r = CliRunner().invoke(main, ["--config", str(cfg), "backup", "-o", str(archive)])
    assert r.exit_code == 0, r.output                                # finds the configured database


def test_demo_settings_use_their_own_data_folder(tmp_path, clean_env):
    from rig.cli.web import web_settings
    from rig.config import load
    cfg = _write_config(tmp_path)
    s = web_settings(load(cfg), tmp_path / "demo.sock", data_dir=str(tmp_path / "demo"))
    assert s["DATABASE_URL"] == f"sqlite:///{tmp_path / 'demo' / 'stepplate.db'}"
    assert s["STEPPLATE_DATA_DIR"] == str(tmp_path / "demo")
    assert s["INSTANCE_PATH"] == str(tmp_path / "demo" / "instance")
