"""The calibration file: round trip, every kind of bad file rejected naming the field,
atomic write, previous kept, and the ForceModel it gives."""
import copy
import json
import os

import numpy as np
import pytest

from calibration import fileformat as ff
from calibration.flow import CalibrationFlow, nominal_model
from calibration.loader import age_warning, force_model_from_dict, load_force_model
from tests.synthetic.plate import SyntheticPlate
from rig.config import Config, from_dict


@pytest.fixture(scope="module")
def cal():
    cfg = Config()
    plate = SyntheticPlate.imperfect(cfg.geometry(), nominal_model(cfg).n_per_count[0], seed=5, noise_counts=10)
    flow = CalibrationFlow(cfg, plate, mass_kg=20, grid="5", measure_s=1.0, tare_s=1.0)
    return flow.run(place=lambda s: plate.place(20, s.x_m, s.y_m), clear=lambda s: plate.clear())


def test_round_trip(tmp_path, cal):
    p = ff.save(cal, tmp_path / "calibration.json")
    back = ff.load(p)
    assert back == json.loads(json.dumps(cal))
    assert ff.validate(back) is back


def test_force_model_from_file_matches_the_fit(tmp_path, cal):
    cfg = from_dict({"paths": {"data_dir": str(tmp_path)}})
    ff.save(cal, ff.default_path(cfg))
    fm = load_force_model(None, cfg)
    assert fm.source == f"calibration {cal['created_utc']}"
    np.testing.assert_allclose(fm.n_per_count, cal["gains"]["n_per_count"])
    np.testing.assert_allclose(fm.offsets_counts, cal["tare"]["end_offsets_counts"])
    np.testing.assert_allclose(fm.matrix, cal["model"]["matrix"])
    assert (fm.correction is None) == (cal["model"]["correction"] is None)
    # the placements, converted by acquisition's own kernel, land on their positions
    counts = np.array([p["mean_counts"] for p in cal["placements"]])
    _, fz, x, y = fm.convert(np.round(counts))
    xs = np.array([p["x_mm"] for p in cal["placements"]])
    assert np.max(np.abs(x * 1000 - xs)) < 0.5
    np.testing.assert_allclose(fz, 20 * 9.80665, rtol=2e-3)


def test_other_plate_refused(cal):
    cfg = from_dict({"plate": {"name": "another"}})
    with pytest.raises(ff.CalibrationFileError, match=r"^plate\.name"):
        force_model_from_dict(cal, cfg)
    cfg = from_dict({"plate": {"cell_spacing_ml_mm": 500.0}})
    with pytest.raises(ff.CalibrationFileError, match=r"^plate\.cell_spacing_ml_mm"):
        force_model_from_dict(cal, cfg)


def _set(d, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    last = keys[-1]
    if value is _DELETE:
        del d[last]
    elif isinstance(d, list):
        d[int(last)] = value
    else:
        d[last] = value


_DELETE = object()

BAD = [
    # (path, value, field named in the message)
    ("surprise", 1, "surprise"),                                     # unknown key, top level
    ("gains.extra", 1, "gains.extra"),                               # unknown key, nested
    ("placements.0.colour", "red", "placements[0].colour"),          # unknown key in a list item
    ("gains.n_per_count", _DELETE, "gains.n_per_count"),             # missing field
    ("tare", _DELETE, "tare"),                                       # missing section
    ("gains.n_per_count", [1e-4, 1e-4, 1e-4], "gains.n_per_count"),  # wrong shape
    ("model.matrix", [[1, 1, 1, 1], [0, 0, 0, 0]], "model.matrix"),  # wrong shape
    ("model.matrix.1", [0, 0, 0], "model.matrix[1]"),                # wrong shape, inner
    ("tare.offsets_counts.2", "12", "tare.offsets_counts[2]"),       # wrong type
    ("placements.1.n_frames", 2.5, "placements[1].n_frames"),        # wrong type
    ("gains.n_per_count.2", -1e-4, "gains.n_per_count[2]"),          # impossible: negative gain
    ("gains.n_per_count.1", 1.0, "gains.n_per_count[1]"),            # impossible: 10^4 x nominal
    ("operator_masses_kg.0", 0, "operator_masses_kg[0]"),            # impossible: zero mass
    ("tare.noise_counts.0", -3.0, "tare.noise_counts[0]"),           # impossible: negative sd
    ("model.matrix.0.3", 0.05, "model.matrix[0][3]"),                # impossible: dead cell
    ("created_utc", "2999-01-01T00:00:00Z", "created_utc"),          # impossible: the future
    ("created_utc", "yesterday", "created_utc"),                     # not a date
    ("version", 99, "version"),                                      # newer than we read
    ("format", "something-else", "format"),
    ("model.kind", "spline", "model.kind"),
    ("model.kind", "linear+poly3", "model.correction"),              # inconsistent kind/correction
    ("placements", [], "placements"),
]


@pytest.mark.parametrize("path,value,field", BAD, ids=[b[2] + ":" + str(i) for i, b in enumerate(BAD)])
def test_bad_file_rejected_naming_the_field(tmp_path, cal, path, value, field):
    bad = copy.deepcopy(cal)
    if path == "model.kind" and value == "linear+poly3":
        bad["model"]["correction"] = None
    _set(bad, path, value)
    f = tmp_path / "calibration.json"
    f.write_text(json.dumps(bad))
    with pytest.raises(ff.CalibrationFileError) as ei:
        ff.load(f)
    assert ei.value.field == field
    assert str(ei.value).startswith(field + ":")
    assert str(f) in str(ei.value)


def test_nan_and_garbage_rejected(tmp_path, cal):
    bad = copy.deepcopy(cal)
    bad["gains"]["n_per_count"][0] = float("nan")
    f = tmp_path / "c.json"
    f.write_text(json.dumps(bad))
    with pytest.raises(ff.CalibrationFileError, match=r"gains\.n_per_count\[0\]: must be finite"):
        ff.load(f)
    f.write_text("{not json")
    with pytest.raises(ff.CalibrationFileError, match="not valid JSON"):
        ff.load(f)
    with pytest.raises(FileNotFoundError, match="rig calibrate"):
        ff.load(tmp_path / "none.json")


def test_invalid_calibration_is_never_written(tmp_path, cal):
    bad = copy.deepcopy(cal)
    bad["gains"]["n_per_count"] = [0, 0, 0, 0]
    with pytest.raises(ff.CalibrationFileError):
        ff.save(bad, tmp_path / "calibration.json")
    assert not (tmp_path / "calibration.json").exists()


def test_previous_kept_and_history(tmp_path, cal):
    path = tmp_path / "calibration.json"
    first = copy.deepcopy(cal)
    first["created_utc"] = "2026-01-01T10:00:00Z"
    ff.save(first, path)
    assert not (tmp_path / ff.PREV_FILENAME).exists()
    second = copy.deepcopy(cal)
    second["created_utc"] = "2026-02-01T10:00:00Z"
    ff.save(second, path)
    assert ff.load(path)["created_utc"] == "2026-02-01T10:00:00Z"
    assert ff.load(tmp_path / ff.PREV_FILENAME)["created_utc"] == "2026-01-01T10:00:00Z"
    third = copy.deepcopy(cal)
    ff.save(third, path)
    hist = ff.history(path)
    assert [ff.load(h)["created_utc"] for h in hist] == ["2026-01-01T10:00:00Z", "2026-02-01T10:00:00Z"]
    assert ff.load(tmp_path / ff.PREV_FILENAME)["created_utc"] == "2026-02-01T10:00:00Z"


def test_crash_during_write_leaves_previous_in_force(tmp_path, cal, monkeypatch):
    path = tmp_path / "calibration.json"
    old = copy.deepcopy(cal)
    old["created_utc"] = "2026-01-01T10:00:00Z"
    ff.save(old, path)
    before = path.read_bytes()
    real_replace = os.replace

    def dying_replace(src, dst):
        if os.fspath(dst) == os.fspath(path):
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(ff.os, "replace", dying_replace)
    with pytest.raises(OSError, match="power cut"):
        ff.save(cal, path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".calibration.json.*.tmp"))


def test_age_warning(cal):
    from datetime import datetime, timedelta
    made = datetime.fromisoformat(cal["created_utc"].replace("Z", "+00:00"))
    assert age_warning(cal, Config(), now=made + timedelta(days=10)) is None
    msg = age_warning(cal, Config(), now=made + timedelta(days=120))
    assert "120 days old" in msg and "rig calibrate" in msg
