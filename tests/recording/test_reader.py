"""Readers: StepPlate recording format and unit-named CSVs, and `rig analyze` on them."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from rig.recording import reader as io
from rig.recording.format import RAW_COLUMNS, RECORDING_COLUMNS

from rig.analysis import metrics
from rig.cli import main
from rig.signal.plate import PlateGeometry

GEOM = PlateGeometry.rectangular(0.44, 0.34)


def trial(n=3000, fs=100.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = 0.01 + np.cumsum(rng.normal(0, 1e-4, n))
    y = -0.02 + np.cumsum(rng.normal(0, 1e-4, n))
    fz = np.full(n, 700.0)
    return t, x, y, fz


def write_recording(path, raw=False):
    t, x, y, fz = trial()
    f = GEOM.distribute(fz, x, y)
    lines = ["# stepplate-recording: 1", "# plate: test-plate", "# rate_hz: 100",
             f"# geometry_cell_x_m: {','.join(map(str, GEOM.cell_x_m))}",
             f"# geometry_cell_y_m: {','.join(map(str, GEOM.cell_y_m))}", "# side: left", "# protocol: romberg"]
    cols = list(RECORDING_COLUMNS) + (list(RAW_COLUMNS) if raw else [])
    lines.append(",".join(cols))
    for i in range(t.size):
        row = [t[i], *f[i], fz[i], x[i] * 1000, y[i] * 1000, 0] + ([1, 2, 3, 4] if raw else [])
        lines.append(",".join(f"{v:.9g}" for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return t, x, y


@pytest.mark.parametrize("raw", [False, True])
def test_reads_stepplate_recording(tmp_path, raw):
    p = tmp_path / "rec.csv"
    t, x, y = write_recording(p, raw)
    rec = io.read_recording(p)
    assert rec.meta["format"] == "stepplate-recording/1" and rec.meta["side"] == "left"
    np.testing.assert_allclose(rec.ml_m, x, atol=1e-9)
    np.testing.assert_allclose(rec.ap_m, y, atol=1e-9)
    np.testing.assert_allclose(rec.t_s, t)
    assert rec.rate_hz == 100


@pytest.mark.parametrize("unit,scale", [("mm", 1000), ("cm", 100), ("m", 1)])
def test_unit_named_csv(tmp_path, unit, scale):
    t, x, y, fz = trial()
    p = tmp_path / "c.csv"
    rows = [f"t_s,cop_ml_{unit},cop_ap_{unit},fz_n"] + [f"{a:.17g},{b * scale:.17g},{c * scale:.17g},{d:.17g}" for a, b, c, d in zip(t, x, y, fz)]
    p.write_text("\n".join(rows))
    rec = io.read_recording(p)
    np.testing.assert_allclose(rec.ml_m, x, rtol=1e-12)
    np.testing.assert_allclose(rec.fz_n, fz)


def test_corner_forces_with_geometry(tmp_path):
    t, x, y, fz = trial()
    f = GEOM.distribute(fz, x, y)
    p = tmp_path / "f.csv"
    p.write_text("\n".join(["f_fl_n,f_fr_n,f_bl_n,f_br_n"] + [",".join(f"{v:.17g}" for v in r) for r in f]))
    with pytest.raises(io.RecordingError, match="geometry"):
        io.read_recording(p)
    rec = io.read_recording(p, geometry=(GEOM.cell_x_m, GEOM.cell_y_m))
    np.testing.assert_allclose(rec.ml_m, x, atol=1e-12)
    np.testing.assert_allclose(rec.ap_m, y, atol=1e-12)
    with pytest.raises(io.RecordingError, match="--fs"):
        rec.time_or_rate()
    assert rec.time_or_rate(100.0) == 100.0


@pytest.mark.parametrize("text,msg", [
    ("t_s,cop_ml_in,cop_ap_in\n0,1,2\n", "unknown unit"),
    ("t_s,x,y\n0,1,2\n", "no COP columns"),
    ("", "empty file"),
    ("t_s,cop_ml_mm,cop_ap_mm\n0,1\n", "fields"),
    ("t_s,cop_ml_mm,cop_ap_mm\n0,1,a\n", "row 2"),
    ("# stepplate-recording: 2\nt_s\n0\n", "version"),
    ("# stepplate-recording: 1\nt_s,cop_ml_mm,cop_ap_mm\n0,1,2\n", "columns must be"),
])
def test_bad_files_name_the_problem(text, msg):
    with pytest.raises(io.RecordingError, match=msg):
        io.parse_recording(text)


def test_rig_analyze_json(tmp_path):
    p = tmp_path / "rec.csv"
    write_recording(p)
    r = CliRunner().invoke(main, ["analyze", str(p), "--json", "--lowpass", "10", "--window", "2:28"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["inputs"]["protocol"] == "romberg" and out["inputs"]["format"] == "stepplate-recording/1"
    assert [s["step"] for s in out["preprocessing"]] == ["window", "lowpass"]
    assert out["metrics"]["mean_velocity_mm_s"] > 0 and "ellipse95_area_mm2" in out["metrics"]


def test_rig_analyze_errors_cleanly(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("t_s,cop_ml_mm,cop_ap_mm\n0,1,2\n0,1,2\n")
    r = CliRunner().invoke(main, ["analyze", str(p), "--json"])
    assert r.exit_code != 0 and "strictly increasing" in r.output
    r = CliRunner().invoke(main, ["analyze", str(p), "--lowpass", "5", "--no-filter"])
    assert r.exit_code != 0 and "exclude" in r.output


def test_analyze_matches_api_on_santos_duarte(validation_dir, tmp_path):
    rec = io.read_santos_duarte(validation_dir / "santos_duarte_2016_bds" / "BDS00001.txt")
    p = tmp_path / "bds.csv"
    np.savetxt(p, np.column_stack([rec.t_s, rec.ml_m * 100, rec.ap_m * 100]), delimiter=",",
               header="t_s,cop_ml_cm,cop_ap_cm", comments="", fmt="%.6f")
    r = CliRunner().invoke(main, ["analyze", str(p), "--json", "--ellipse", "prediction"])
    assert r.exit_code == 0, r.output
    api = metrics.compute_all(rec.t_s, rec.ml_m, rec.ap_m, ellipse="prediction")
    assert json.loads(r.output)["metrics"]["ellipse95_area_mm2"] == pytest.approx(api["metrics"]["ellipse95_area_mm2"], rel=1e-9)
