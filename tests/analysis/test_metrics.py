"""Metric behaviour: independent implementations, theory on synthetic signals, properties, bad input."""
import importlib
import importlib.util
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import signal
from scipy.integrate import trapezoid

from rig.analysis import metrics
from rig.analysis.metrics import MetricsInputError


def walk(seed, n=3000, s=1e-4):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(0, s, n)), np.cumsum(rng.normal(0, s, n))


def fgn(n, hurst, rng):
    """Fractional Gaussian noise by circulant embedding (Davies & Harte)."""
    k = np.arange(n + 1)
    g = 0.5 * (np.abs(k + 1) ** (2 * hurst) - 2 * np.abs(k) ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))
    c = np.concatenate([g, g[-2:0:-1]])
    lam = np.fft.fft(c).real
    assert np.all(lam >= -1e-9)
    m = c.size
    w = np.fft.fft(np.sqrt(np.maximum(lam, 0) / m) * (rng.normal(size=m) + 1j * rng.normal(size=m)))
    return w.real[:n]


def nolds_measures():
    """nolds' measures module. nolds 0.6.3 fails to import on Python 3.11 (its datasets use
    importlib.resources.files on a module), so fall back to loading measures.py directly."""
    try:
        import nolds
        return nolds
    except TypeError:
        spec = importlib.util.find_spec("nolds")
        path = os.path.join(list(spec.submodule_search_locations)[0], "measures.py")
        s = importlib.util.spec_from_file_location("_nolds_measures", path)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        return mod


# --- independent implementations ---------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_sample_entropy_equals_antropy(seed):
    antropy = pytest.importorskip("antropy")
    rng = np.random.default_rng(seed)
    for x in (np.cumsum(rng.normal(size=2000)), rng.normal(size=1500)):
        assert metrics.sample_entropy(x) == pytest.approx(antropy.sample_entropy(x, order=2), rel=1e-12)


def test_sample_entropy_equals_nolds():
    nolds = nolds_measures()
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.normal(size=1200))
    r = 0.2 * x.std()
    assert metrics.sample_entropy(x, 2, r) == pytest.approx(nolds.sampen(x, emb_dim=2, tolerance=r), rel=1e-12)


def test_spectral_agrees_with_direct_scipy():
    x, _ = walk(1, 4000)
    fs = 100.0
    f, p = signal.welch(x, fs=fs, window="hann", nperseg=2000, noverlap=1000, nfft=2000)
    m = metrics.spectral(x, fs, axis="ml")
    m0 = trapezoid(p, f)
    assert m["total_power_ml_mm2"] == pytest.approx(m0 * 1e6, rel=1e-12)
    assert m["mean_power_frequency_ml_hz"] == pytest.approx(trapezoid(f * p, f) / m0, rel=1e-12)
    assert m["mode_frequency_ml_hz"] == f[1:][np.argmax(p[1:])]
    bands = m["power_below_0_5hz_ml_mm2"] + m["power_0_5_to_2hz_ml_mm2"] + m["power_above_2hz_ml_mm2"]
    assert bands == pytest.approx(m["total_power_ml_mm2"], rel=1e-12)
    assert 0 < m["f50_ml_hz"] < m["f95_ml_hz"] < fs / 2


def test_sine_spectrum_peaks_at_its_frequency():
    fs, t = 100.0, np.arange(6000) / 100.0
    x = 1e-3 * np.sin(2 * np.pi * 0.8 * t)
    m = metrics.spectral(x, fs)
    assert m["mode_frequency_hz"] == pytest.approx(0.8, abs=0.034)
    assert m["f50_hz"] == pytest.approx(0.8, abs=0.05)


# --- theory -----------------------------------------------------------------------------

def test_dfa_exponents():
    rng = np.random.default_rng(0)
    assert metrics.dfa(rng.normal(size=8000)) == pytest.approx(0.5, abs=0.07)
    assert metrics.dfa(np.cumsum(rng.normal(size=8000))) == pytest.approx(1.5, abs=0.08)
    for h in (0.3, 0.7, 0.9):
        assert metrics.dfa(fgn(8192, h, rng)) == pytest.approx(h, abs=0.08)


def test_diffusion_random_walk_and_white_noise():
    rng = np.random.default_rng(1)
    fs, s = 100.0, 1e-4
    x, y = np.cumsum(rng.normal(0, s, 12000)), np.cumsum(rng.normal(0, s, 12000))
    d = metrics.diffusion(x, y, fs)
    # <Δx²> = s² k = s² fs Δt  ->  D = s² fs / 2
    assert d["diffusion_short_ml_mm2_s"] == pytest.approx(s * s * fs / 2 * 1e6, rel=0.1)
    assert d["scaling_short_ml"] == pytest.approx(0.5, abs=0.05)
    assert d["scaling_long_ml"] == pytest.approx(0.5, abs=0.15)
    w = metrics.diffusion(rng.normal(0, s, 6000), rng.normal(0, s, 6000), fs)
    assert abs(w["scaling_long_ml"]) < 0.05 and abs(w["diffusion_long_ml_mm2_s"]) < 1e-3
    # fractional Brownian motion: long-term scaling H
    fb = np.cumsum(fgn(12000, 0.8, rng))
    fb2 = np.cumsum(fgn(12000, 0.8, rng))
    assert metrics.diffusion(fb, fb2, fs)["scaling_long_ml"] == pytest.approx(0.8, abs=0.12)


def test_sample_entropy_orders_signals():
    rng = np.random.default_rng(2)
    t = np.arange(3000)
    sine = np.sin(0.05 * t)
    assert metrics.sample_entropy(sine) < metrics.sample_entropy(sine + 0.3 * rng.normal(size=3000)) \
        < metrics.sample_entropy(rng.normal(size=3000))
    mse = metrics.multiscale_entropy(rng.normal(size=4000))
    assert mse["scales"][0] == 1 and mse["sampen"][-1] < mse["sampen"][0]  # white noise loses entropy


def test_ellipse_conventions_and_axes():
    x, y = walk(3)
    n = x.size
    areas = {c: metrics.ellipse(x, y, c)["ellipse95_area_mm2"] for c in metrics.ELLIPSES}
    cov = np.cov(np.vstack([x, y]), ddof=1)
    assert areas["chi2"] == pytest.approx(math.pi * 5.991 * math.sqrt(np.linalg.det(cov)) * 1e6, rel=1e-9)
    assert areas["chi2"] < areas["prieto"] < areas["prediction"]
    e = metrics.ellipse(x, y, "chi2")
    assert math.pi * e["ellipse95_semi_major_mm"] * e["ellipse95_semi_minor_mm"] == pytest.approx(areas["chi2"])
    # pure AP sway: principal direction 0°, drawing angle 90°
    rng = np.random.default_rng(0)
    ap = np.cumsum(rng.normal(size=n))
    e = metrics.ellipse(0.01 * rng.normal(size=n), ap, "chi2")
    assert abs(e["principal_sway_direction_deg"]) < 1 and abs(abs(e["ellipse95_angle_deg"]) - 90) < 1


# --- properties ---------------------------------------------------------------------------

INVARIANT = ["ellipse95_area_mm2", "path_length_mm", "mean_velocity_mm_s", "rms_mm", "sd_ml_mm",
             "sway_area_per_second_mm2_s", "total_power_ml_mm2", "f50_ap_hz"]


def base(x, y, fs=50.0):
    out = {}
    out.update(metrics.positional(x, y))
    out.update(metrics.ellipse(x, y))
    out.update(metrics.dynamic(x, y, fs))
    out.update(metrics.spectral(x, fs, axis="ml"))
    out.update(metrics.spectral(y, fs, axis="ap"))
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), dx=st.floats(-0.2, 0.2), dy=st.floats(-0.2, 0.2))
def test_translation_invariance(seed, dx, dy):
    x, y = walk(seed, 400)
    a, b = base(x, y), base(x + dx, y + dy)
    for k in INVARIANT:
        assert b[k] == pytest.approx(a[k], rel=1e-6, abs=1e-9), k
    assert b["mean_ml_mm"] == pytest.approx(a["mean_ml_mm"] + dx * 1000, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), theta=st.floats(-math.pi, math.pi))
def test_rotation_keeps_planar_measures(seed, theta):
    x, y = walk(seed, 400)
    c, s = math.cos(theta), math.sin(theta)
    xr, yr = c * x - s * y, s * x + c * y
    a, b = base(x, y), base(xr, yr)
    for k in ("ellipse95_area_mm2", "path_length_mm", "rms_mm", "mean_distance_mm", "max_distance_mm",
              "sway_area_per_second_mm2_s", "ellipse95_semi_major_mm"):
        assert b[k] == pytest.approx(a[k], rel=1e-6), k
    d = (b["ellipse95_angle_deg"] - a["ellipse95_angle_deg"] - math.degrees(theta)) % 180
    assert min(d, 180 - d) < 1e-4 or a["ellipse95_semi_major_mm"] / a["ellipse95_semi_minor_mm"] < 1.001


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.floats(0.1, 10))
def test_scaling(seed, k):
    x, y = walk(seed, 400)
    a, b = base(x, y), base(k * x, k * y)
    assert b["ellipse95_area_mm2"] == pytest.approx(k * k * a["ellipse95_area_mm2"], rel=1e-9)
    assert b["path_length_mm"] == pytest.approx(k * a["path_length_mm"], rel=1e-9)
    assert b["total_power_ml_mm2"] == pytest.approx(k * k * a["total_power_ml_mm2"], rel=1e-9)
    assert b["f50_ml_hz"] == pytest.approx(a["f50_ml_hz"], rel=1e-9)
    assert metrics.sample_entropy(k * x) == pytest.approx(metrics.sample_entropy(x), rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 9), where=st.integers(0, 399), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_nan_and_short_rejected(n, where, bad):
    x, y = walk(0, 400)
    with pytest.raises(MetricsInputError, match="too short|empty"):
        metrics.compute_all(100.0, x[:n], y[:n])
    x = x.copy()
    x[where] = bad
    with pytest.raises(MetricsInputError, match="non-finite"):
        metrics.compute_all(100.0, x, y)


# --- bad input ------------------------------------------------------------------------------

def test_bad_input_errors_name_the_problem():
    x, y = walk(0, 500)
    t = np.arange(500) / 100
    cases = [
        (lambda: metrics.compute_all(100.0, np.zeros(500), y), "constant"),
        (lambda: metrics.compute_all(100.0, [], []), "empty"),
        (lambda: metrics.compute_all(100.0, x, y[:-1]), "differ in length"),
        (lambda: metrics.compute_all(t[::-1], x, y), "not strictly increasing"),
        (lambda: metrics.compute_all(np.r_[t[:10], t[9], t[11:]], x, y), "not strictly increasing"),
        (lambda: metrics.compute_all(t[:-1], x, y), "differ in length"),
        (lambda: metrics.compute_all(0.0, x, y), "sampling rate"),
        (lambda: metrics.compute_all(100.0, x, y, lowpass_hz=60), "Nyquist"),
        (lambda: metrics.compute_all(100.0, x, y, ellipse="circle"), "unknown ellipse"),
        (lambda: metrics.compute_all(100.0, x, y, window_s=(3, 2)), "window"),
        (lambda: metrics.compute_all(100.0, x, y, window_s=(100, None)), "window"),
    ]
    for fn, msg in cases:
        with pytest.raises(MetricsInputError, match=msg):
            fn()


def test_short_window_gives_none_with_a_note_never_nan():
    x, y = walk(4, 1000)  # 10 s: too short for 10 s diffusion lags
    out = metrics.compute_all(100.0, x, y)
    assert out["metrics"]["diffusion_long_ml_mm2_s"] is None
    assert any("stabilogram diffusion" in n for n in out["notes"])
    for k, v in out["metrics"].items():
        assert v is None or not (isinstance(v, float) and math.isnan(v)), k


def test_output_records_inputs_and_preprocessing():
    x, y = walk(5, 6000)
    t = np.arange(6000) / 100
    out = metrics.compute_all(t, x, y, lowpass_hz=10, resample_hz=50, window_s=(5, 55), ellipse="prieto")
    assert [s["step"] for s in out["preprocessing"]] == ["window", "lowpass", "resample"]
    inp = out["inputs"]
    assert inp["rate_hz"] == 50 and inp["ellipse_convention"] == "prieto"
    assert inp["implementation"] in ("compiled", "reference")
    assert inp["n_samples"] == 2501
    assert all(k.endswith(("_mm", "_mm2", "_mm_s", "_mm2_s", "_hz", "_s", "_deg", "_1_mm", "_n"))
               or k.startswith(("frequency_dispersion", "frequency_quotient", "fractal_", "scaling_",
                                "dfa_", "sample_entropy", "multiscale_", "complexity_", "sway_density_n"))
               for k in out["metrics"])
