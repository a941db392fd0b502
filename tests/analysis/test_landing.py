"""Landing measures against known truth and hand-computed definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rig.analysis.events import detect, first
from rig.analysis.landing import landing_metrics, tts_bw_band
from tests.synthetic import trials as S


def test_definitions_on_a_hand_made_signal():
    fs = 1000.0
    t = np.arange(0, 12, 1 / fs)
    bw = 700.0
    f = np.zeros_like(t)
    c = t >= 1.0
    x = t[c] - 1.0
    f[c] = bw + 1400 * np.exp(-((x - 0.05) / 0.02) ** 2) + 100 * np.exp(-x / 0.3) * np.sin(2 * np.pi * 3 * x)
    m = landing_metrics(t, f, bw, 1.0, tts_window_s=10.0)
    assert m["sample_rate_hz"] == 1000.0
    k = np.argmax(f)
    assert m["peak_force_n"] == f[k] and m["time_to_peak_s"] == pytest.approx(t[k] - 1.0)
    assert m["peak_force_bw"] == pytest.approx(f[k] / bw)
    assert m["loading_rate_bw_s"] == pytest.approx((f[k] - f[1000]) / bw / (t[k] - 1.0))
    sel = (t >= 1.0) & (t <= 1.1)
    assert m["impulse_100ms_n_s"] == pytest.approx(np.trapezoid(f[sel], t[sel]), rel=1e-6)
    sel = (t >= 1.0) & (t <= 4.0)
    assert m["vsi_bw"] == pytest.approx(math.sqrt(np.mean((bw - f[sel]) ** 2)) / bw)
    assert "shear" in m["dpsi_note"]
    assert m["tts_window_s"] == 10.0 and not m["tts_window_truncated"]
    # BW ± 5 % for 1 s: the oscillation 100·e^(−x/0.3) falls below 35 N at x = 0.3·ln(100/35)
    assert m["tts_bw5_s"] == pytest.approx(0.3 * math.log(100 / 35), abs=0.09)


def test_tts_bw_band_needs_a_full_second():
    t = np.arange(0, 3, 0.01)
    f = np.where(t < 1.0, 800.0, 700.0)
    f[(t > 1.5) & (t < 1.52)] = 760.0                 # one excursion resets the clock
    assert tts_bw_band(t, f, 700.0) == pytest.approx(1.52, abs=0.011)
    assert tts_bw_band(t[t < 2.0], f[t < 2.0], 700.0) is None


@pytest.mark.parametrize("seed", range(3))
def test_landing_measures_vs_truth_at_80hz(seed):
    d = S.landing(seed, contact_t=2.0 + 0.004 * seed, peak_bw=3.0 + 0.3 * seed, hold_s=21.0)
    ev = detect(d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"], mode="step_down_landing",
                body_weight_n=d["bw_n"])
    c = first(ev, "landing_contact")
    m = landing_metrics(d["t_s"], d["fz_n"], d["bw_n"], c.t_s, cop_ml_mm=d["cop_ml_mm"], cop_ap_mm=d["cop_ap_mm"])
    # the 12.5 ms averaging under-reads the true peak, never over-reads it (noise aside)
    assert 0.6 * d["true_peak_n"] < m["peak_force_n"] < d["true_peak_n"] + 3
    assert m["impulse_100ms_n_s"] == pytest.approx(d["true_impulse_100ms_n_s"], rel=0.15)
    assert m["post_sway_window_s"] == [5.0, 20.0]
    assert m["tts_cop_seq_avg_s"] == max(m["tts_cop_ml_seq_avg_s"], m["tts_cop_ap_seq_avg_s"])
    assert 0 < m["tts_bw5_s"] < 3 and 0 < m["tts_seq_avg_s"] < 10
    assert any(k.startswith("post_sway_") and "_ml" in k for k in m)


def test_a_later_settling_landing_has_a_later_tts():
    a = S.landing(4, settle_tau_s=0.3, hold_s=12.0)
    b = S.landing(4, settle_tau_s=1.2, hold_s=12.0)
    ma = landing_metrics(a["t_s"], a["fz_n"], 700.0, 2.0, cop_ml_mm=a["cop_ml_mm"], cop_ap_mm=a["cop_ap_mm"])
    mb = landing_metrics(b["t_s"], b["fz_n"], 700.0, 2.0, cop_ml_mm=b["cop_ml_mm"], cop_ap_mm=b["cop_ap_mm"])
    assert mb["tts_bw5_s"] > ma["tts_bw5_s"]
    assert mb["vsi_bw"] > ma["vsi_bw"]


def test_post_landing_sway_is_the_sway_suite_or_nothing():
    from rig.analysis import landing
    from rig.analysis.metrics import compute_all
    rng = np.random.default_rng(3)
    t = np.arange(400) / 80
    ml, ap = rng.normal(0, 2, 400), rng.normal(0, 3, 400)
    got = landing._sway(t, ml, ap)
    want = compute_all(t, ml / 1000, ap / 1000)["metrics"]
    assert got["mean_velocity_mm_s"] == want["mean_velocity_mm_s"] and len(got) > 50
    assert landing._sway(t[:15], ml[:15], ap[:15]) == {}          # too short for its spectra: no sway
    assert landing._sway(t[:5], ml[:5], ap[:5]) == {}
    ml[:] = np.nan
    assert landing._sway(t, ml, ap) == {}
