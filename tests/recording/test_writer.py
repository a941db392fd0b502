"""Trial recorder: the exact file format, atomic completion, durability when killed."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rig.acquire.loop import Acquisition
from rig.hw.flags import Flag
from rig.signal.plate import ForceModel
from rig.recording.format import HEADER
from rig.recording.writer import TrialRecorder, metadata_from_hello, recover
from tests import ROOT
from tests.fake_frames import GEOM, FakeReader

META = {"plate": "stepplate-1", "rate_hz": 80, "geometry_cell_x_m": [-0.22, 0.22, -0.22, 0.22],
        "geometry_cell_y_m": [0.17, 0.17, -0.17, -0.17], "calibration": "nominal",
        "started_utc": "2026-11-22T09:30:00Z"}


def rows(n, t0=10.0):
    t = t0 + np.arange(n) / 80
    s = np.zeros((n, 9))
    s[:, 0] = t
    s[:, 1:5] = [170.0, 180.0, 171.0, 179.0]
    s[:, 5] = 700.0
    s[:, 6] = 3.125
    s[:, 7] = -1.5
    s[0, 6:8] = np.nan
    s[0, 8] = Flag.UNLOADED
    c = np.tile([1500000, -800000, 330000, 2000000], (n, 1))
    return s, c


def read(path):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    meta = {}
    i = 0
    while lines[i].startswith("# "):
        k, v = lines[i][2:].split(": ", 1)
        meta[k] = v
        i += 1
    return meta, lines[i], [ln.split(",") for ln in lines[i + 1:]]


def test_format_is_exact(tmp_path):
    path = tmp_path / "trial.csv"
    rec = TrialRecorder(path, dict(META, protocol="single_leg_stance", side="left", operator="kb"))
    s, c = rows(3)
    rec.write(s, c)
    assert rec.close() == path
    assert path.exists() and not (tmp_path / "trial.csv.partial").exists()
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[:11] == [
        "# stepplate-recording: 1", "# plate: stepplate-1", "# rate_hz: 80",
        "# geometry_cell_x_m: -0.22,0.22,-0.22,0.22", "# geometry_cell_y_m: 0.17,0.17,-0.17,-0.17",
        "# started_utc: 2026-11-22T09:30:00Z", "# calibration: nominal", "# protocol: single_leg_stance",
        "# side: left", "# operator: kb",
        "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n,fz_n,cop_ml_mm,cop_ap_mm,flags,c_fl,c_fr,c_bl,c_br",
    ]
    assert HEADER == text.splitlines()[10]
    _, _, data = read(path)
    assert data[0] == ["0.0000", "170.000", "180.000", "171.000", "179.000", "700.000", "nan", "nan",
                       str(int(Flag.UNLOADED)), "1500000", "-800000", "330000", "2000000"]
    assert data[2][:1] == ["0.0250"] and data[2][6:9] == ["3.12", "-1.50", "0"]
    arr = np.genfromtxt(path, delimiter=",", comments="#", skip_header=11)
    assert arr.shape == (3, 13)


def test_bad_metadata_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        TrialRecorder(tmp_path / "a.csv", {"plate": "x"})
    with pytest.raises(ValueError, match="one line"):
        TrialRecorder(tmp_path / "b.csv", dict(META, protocol="two\nlines"))


def test_killed_mid_write_keeps_all_but_the_last_second(tmp_path):
    path = tmp_path / "killed.csv"
    code = (
        "import os, sys, numpy as np\n"
        "from rig.recording.writer import TrialRecorder\n"
        "from tests.recording.test_writer import META, rows\n"
        "rec = TrialRecorder(sys.argv[1], META)\n"
        "s, c = rows(440)\n"                   # 5.5 s at 80 Hz, written in 100 ms batches
        "for i in range(0, 440, 8):\n"
        "    rec.write(s[i:i + 8], c[i:i + 8])\n"
        "os._exit(0)\n"                          # dies without close(): no flush, no rename
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=ROOT)
    partial = tmp_path / "killed.csv.partial"
    assert partial.exists() and not path.exists()
    meta, header, data = read(partial)
    assert meta["stepplate-recording"] == "1" and header == HEADER
    t = [float(r[0]) for r in data]
    assert all(len(r) == 13 for r in data)
    assert t[-1] >= 5.5 - 1.0 - 1 / 80          # lost at most the last second
    assert len(data) < 440                      # (and it really was cut short)
    final = recover(partial)
    assert final == path and path.exists() and not partial.exists()


def test_recover_drops_a_torn_line(tmp_path):
    rec = TrialRecorder(tmp_path / "t.csv", META)
    rec.write(*rows(10))
    rec.abort()
    partial = tmp_path / "t.csv.partial"
    with open(partial, "a", encoding="utf-8") as f:
        f.write("0.1250,170.0")               # power cut in the middle of a row
    final = recover(partial)
    _, _, data = read(final)
    assert len(data) == 10 and all(len(r) == 13 for r in data)


def test_records_an_acquisition_as_a_subscriber(tmp_path):
    acq = Acquisition(FakeReader(step_on_s=1.5), ForceModel.nominal(GEOM, 50, 2.0))
    meta = metadata_from_hello(acq.hello(), started_utc="2026-11-22T09:30:00Z", protocol="quiet_stance")
    meta["geometry_cell_x_m"] = list(GEOM.cell_x_m)
    meta["geometry_cell_y_m"] = list(GEOM.cell_y_m)
    rec = TrialRecorder(tmp_path / "acq.csv", meta)
    acq.subscribe(rec.on_event)
    acq.run(max_seconds=4.0)
    rec.close()
    meta_r, _, data = read(tmp_path / "acq.csv")
    assert meta_r["calibration"] == "nominal" and meta_r["protocol"] == "quiet_stance"
    arr = np.array([[float(v) for v in r] for r in data])
    assert arr[0, 0] == 0.0 and len(arr) == rec.rows
    np.testing.assert_allclose(np.diff(arr[:, 0]), 0.0125, atol=1e-4)
    loaded = arr[arr[:, 5] > 100]
    np.testing.assert_allclose(loaded[:, 5], 700, atol=1.0)
