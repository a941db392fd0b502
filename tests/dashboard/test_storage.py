"""Database (Alembic schema == models, SQLite WAL, configurable URL), recordings, units, MDC."""
import math

import numpy as np
import pytest
from sqlalchemy import text

from dashboard import measures, recordings, units
from dashboard.db import database, downgrade, make_engine, upgrade
from dashboard.models import Base
from rig.signal.plate import G, SAMPLE_COLUMNS
from tests.dashboard_support import circle_samples


def test_migrations_produce_exactly_the_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diffs == []
        from alembic.script import ScriptDirectory
        from dashboard.db import alembic_config
        head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()   # the single head
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head
    downgrade(engine, "base")                                 # downgrade works too
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("select name from sqlite_master where type='table'"))}
        assert names == {"alembic_version"}


@pytest.mark.databases("sqlite")
def test_sqlite_in_wal_mode_at_the_configured_url(app, tmp_path):
    db = database(app)
    assert db.url == f"sqlite:///{tmp_path / 'clinic.db'}"
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "clinic.db").exists()


def test_default_database_lives_in_the_instance_folder(tmp_path):
    from flask import Flask
    from dashboard import db
    app = Flask("dashboard", instance_path=str(tmp_path / "inst"))
    db.init_app(app)
    assert database(app).url == f"sqlite:///{tmp_path / 'inst' / 'stepplate.db'}"
    assert (tmp_path / "inst" / "stepplate.db").exists()
    assert app.config["STEPPLATE_DATA_DIR"] == str(tmp_path / "inst")


def test_recording_roundtrip_and_checksum(tmp_path):
    s = circle_samples(50)
    s[3, 6:8] = np.nan
    s[3, 8] = 16
    rel, sha, size = recordings.write(tmp_path, s, SAMPLE_COLUMNS, {"patient": "P1"})
    assert (tmp_path / rel).stat().st_size == size and not rel.startswith("/")
    cols, back, meta = recordings.read(tmp_path, rel, sha)
    assert cols == SAMPLE_COLUMNS and meta["patient"] == "P1" and meta["stepplate-recording"] == "1"
    assert np.allclose(back, s, equal_nan=True, rtol=0, atol=0.005)   # rig.recording.writer: COP to 0.01 mm, forces 0.001 N
    (tmp_path / rel).write_bytes((tmp_path / rel).read_bytes().replace(b"700", b"701", 1))
    with pytest.raises(recordings.RecordingError, match="SHA-256"):
        recordings.read(tmp_path, rel, sha)
    with pytest.raises(recordings.RecordingError, match="missing"):
        recordings.read(tmp_path, "recordings/nope.csv", sha)
    with pytest.raises(ValueError):
        recordings.write(tmp_path, s[:, :5], SAMPLE_COLUMNS)


def test_units_for_the_clinic():
    assert units.to_display("mean_velocity_mm_s", 12.0) == pytest.approx(1.2)
    assert units.unit("mean_velocity_mm_s") == "cm/s"
    assert units.to_display("ellipse_area_95_mm2", 250.0) == pytest.approx(2.5)
    assert units.to_display("path_length_mm", 300.0) == pytest.approx(30.0)
    assert units.to_display("peak_fz_n", 2 * 70 * G, body_mass_kg=70) == pytest.approx(200.0)
    assert units.to_display("peak_fz_n", 700.0) is None                   # no body mass: no %BW
    assert units.label("rms_ml_mm") == "Side-to-side sway (RMS) (cm)" and units.label("range_ml_mm") == "Range ml (cm)"
    assert units.fmt("duration_s", float("nan")) == "–"


def test_landing_units_are_right_and_each_measure_is_shown_once():
    """A loading rate is per second, an impulse is times seconds; peak force in N and in BW are
    the same "% BW" on screen, so only one is shown; counts are whole numbers."""
    assert units.label("loading_rate_bw_s") == "Loading rate (%BW/s)"
    assert units.label("loading_rate_n_s") == "Loading rate (%BW/s)"
    assert units.to_display("loading_rate_n_s", 70 * G * 50, body_mass_kg=70) == pytest.approx(5000.0)
    assert units.label("impulse_100ms_bw_s") == "Impulse 100ms (%BW·s)"
    assert units.label("impulse_100ms_n_s") == "Impulse 100ms (%BW·s)"
    keys = ["peak_force_n", "peak_force_bw", "loading_rate_n_s", "loading_rate_bw_s", "impulse_100ms_n_s",
            "impulse_100ms_bw_s", "time_to_peak_s", "body_weight_n"]
    assert units.shown(keys) == ["peak_force_bw", "loading_rate_bw_s", "impulse_100ms_bw_s", "time_to_peak_s",
                                 "body_weight_n"]
    assert units.fmt("touch_down_count", 1.0) == "1" and units.fmt("repetition_count", 5) == "5"
    assert units.label("touch_down_count") == "Touch-downs" and units.label("hop_count") == "Hop count"


def test_report_ellipse_of_a_known_path():
    """Measures come from rig.analysis.protocols.analysis (tests/dashboard/test_trials.py); the report's ellipse:"""
    s = circle_samples(n=801, radius_mm=5.0, turns=2.0)
    # circle of radius r: variance r²/2 per axis -> 95 % ellipse semi-axes sqrt(5.991·r²/2)
    cx, cy, a, b, _ = measures.ellipse_95(s[:, 6], s[:, 7])
    assert a == pytest.approx(b, rel=1e-2) and a == pytest.approx(math.sqrt(5.991 * 12.5), rel=1e-2)


def test_quality_flags_and_warnings():
    flags = np.zeros(100, int)
    flags[:10] = 16            # unloaded
    flags[50] = 64 | 1         # fault + invalid
    q = measures.quality(circle_samples(100, flags=flags))
    assert q["flag_counts"]["unloaded"] == 10 and q["flag_counts"]["fault"] == 1
    assert not q["ok"] and any("stopped answering" in w for w in q["warnings"])
    assert any("nobody on the plate" in w for w in q["warnings"])
    assert measures.quality(circle_samples(100))["ok"]


def test_real_change_labels_one_rule_and_one_vocabulary():
    from rig.analysis.change import LABELS, label_change, sem_from_mdc, mdc95
    assert label_change(2.9, 3, 1) == "within noise"
    assert label_change(-3.5, 3, 1) == "real improvement"        # lower sway is better
    assert label_change(3.5, 3, 1) == "real decline"
    assert label_change(3.5, 3, -1) == "real improvement"        # a larger value is better
    assert label_change(3.5, 3, 0) == "real change"
    assert label_change(3.5, None, 1) == label_change(None, 3, 1) == "insufficient data"
    assert mdc95(sem_from_mdc(4.2)) == pytest.approx(4.2)
    from dashboard import palette
    assert set(palette.LABEL_COLOURS) <= set(LABELS)
    # one colour, one meaning: no side is drawn in a change label's colour
    assert not set(palette.SIDE_COLOURS.values()) & set(palette.LABEL_COLOURS.values())
    # no published SEM and no setting: the placeholder; a clinic's setting wins
    assert measures.mdc_for("mean_velocity_mm_s") == measures.DEFAULT_MDC["mean_velocity_mm_s"]
    assert measures.mdc_for("mean_velocity_mm_s", {"mean_velocity_mm_s": [4.5, False]}) == (4.5, False)
