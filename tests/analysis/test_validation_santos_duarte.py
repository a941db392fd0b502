"""Santos & Duarte (2016) public balance data set: reproduce the published COParea, COPvelo
and COPmfreq (BDSinfoCOP.txt) to 4 significant digits with the published conventions:
95 % prediction ellipse, path / (N/fs), Welch Hann N/2, N/4 overlap, weights Σ P."""
import numpy as np
import pytest

from rig.analysis import metrics
from rig.recording.reader import read_santos_duarte

TRIALS = ["BDS00001", "BDS00004", "BDS00007", "BDS00010", "BDS00160", "BDS00163"]
PUBLISHED = {  # from the README table: COParea cm², COPvelo cm/s, COPmfreq Hz
    "BDS00001": (0.9447, 0.6202, 0.2566), "BDS00004": (0.4703, 0.6042, 0.3219),
    "BDS00007": (3.9496, 2.0050, 0.3977), "BDS00010": (6.4551, 2.0674, 0.3305),
    "BDS00160": (13.6861, 2.8329, 0.4585), "BDS00163": (57.4678, 8.0353, 0.4043),
}


def sig4(a, b):
    return abs(a - b) <= 0.5e-3 * abs(b)  # same 4 significant digits, up to rounding


@pytest.fixture
def bds(validation_dir):
    d = validation_dir / "santos_duarte_2016_bds"
    if not (d / "BDSinfoCOP.txt").exists():
        pytest.skip(f"Santos & Duarte files not found in {d}")
    info = {}
    with open(d / "BDSinfoCOP.txt") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        for line in fh:
            c = line.rstrip("\n").split("\t")
            info[c[0]] = dict(zip(head, c))
    return d, info


@pytest.mark.parametrize("trial", TRIALS)
def test_reproduces_published_area_velocity_mfreq(bds, trial):
    d, info = bds
    rec = read_santos_duarte(d / f"{trial}.txt")
    out = metrics.compute_all(rec.t_s, rec.ml_m, rec.ap_m, rec.fz_n, ellipse="prediction", duration="samples")
    m = out["metrics"]
    assert out["preprocessing"] == []
    area_cm2 = m["ellipse95_area_mm2"] / 100
    velo_cm_s = m["mean_velocity_mm_s"] / 10
    mfreq = m["mean_power_frequency_hz"]
    pa, pv, pf = PUBLISHED[trial]
    assert sig4(area_cm2, pa) and sig4(velo_cm_s, pv) and sig4(mfreq, pf), (area_cm2, velo_cm_s, mfreq)
    # and to full precision against the data set's own file
    row = info[trial]
    np.testing.assert_allclose(area_cm2, float(row["COParea"]), rtol=1e-6)
    np.testing.assert_allclose(velo_cm_s, float(row["COPvelo"]), rtol=1e-6)
    np.testing.assert_allclose(mfreq, float(row["COPmfreq"]), rtol=1e-6)


def test_lowpass_changes_velocity_not_area(bds):
    d, _ = bds
    rec = read_santos_duarte(d / "BDS00001.txt")
    raw = metrics.compute_all(rec.t_s, rec.ml_m, rec.ap_m)
    lp = metrics.compute_all(rec.t_s, rec.ml_m, rec.ap_m, lowpass_hz=10)
    assert lp["preprocessing"][0]["step"] == "lowpass"
    assert lp["metrics"]["mean_velocity_mm_s"] < raw["metrics"]["mean_velocity_mm_s"]
    np.testing.assert_allclose(lp["metrics"]["ellipse95_area_mm2"], raw["metrics"]["ellipse95_area_mm2"], rtol=0.02)
