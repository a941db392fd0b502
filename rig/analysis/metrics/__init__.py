"""COP sway metrics: ``compute_all`` for the full set, and one function per family.

Units: inputs in SI (COP in metres, time in seconds, rate in Hz); every output key names
its unit (``mean_velocity_mm_s``, ``ellipse95_area_mm2``, ``f50_ml_hz``; no suffix =
dimensionless). Axes: ml = medio-lateral (right +), ap = antero-posterior (forward +).
The costly kernels are compiled (``rig.signal.core``; NumPy reference with RIG_PURE_PYTHON=1).
See docs/metrics.md for every formula, convention and reference.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rig.signal import core
from rig.analysis.metrics._checks import MetricsInputError
from rig.analysis.metrics.entropy import coarse_grain, multiscale_entropy, sample_entropy
from rig.analysis.metrics.positional import (DURATIONS, ELLIPSES, dynamic, ellipse, ellipse_scale,
                                    positional, sway_density)
from rig.analysis.metrics.preprocess import Prepared, prepare
from rig.analysis.metrics.spectral import mean_power_frequency_2d, spectral, welch_psd, welch_psd_pair
from rig.analysis.metrics.stochastic import dfa, diffusion

__all__ = [
    "MetricsInputError", "compute_all", "prepare", "Prepared",
    "positional", "ellipse", "ellipse_scale", "dynamic", "sway_density",
    "spectral", "welch_psd", "mean_power_frequency_2d",
    "diffusion", "dfa", "sample_entropy", "multiscale_entropy", "coarse_grain",
    "ELLIPSES", "DURATIONS",
]

SCHEMA = "stepplate-metrics/1"
#: Threads for the per-axis complexity measures (1 = sequential; see docs/metrics.md, Speed).
THREADS = 1


def _optional(out: dict, notes: list, label: str, fn, keys=()):
    """Run a measure that may be undefined on this window: on MetricsInputError, its keys
    become None and the reason goes into notes (never a silent NaN)."""
    try:
        res = fn()
    except MetricsInputError as exc:
        notes.append(f"{label}: {exc}")
        for k in keys:
            out[k] = None
        return None
    return res


def _complexity(item) -> tuple[dict, list]:
    """DFA, sample entropy and multiscale entropy of one axis (keys suffixed _ml/_ap)."""
    ax, v = item
    m: dict = {}
    notes: list = []
    r = _optional(m, notes, f"DFA {ax}", lambda: dfa(v), (f"dfa_alpha_{ax}",))
    if r is not None:
        m[f"dfa_alpha_{ax}"] = r
    mse = _optional(m, notes, f"multiscale entropy {ax}", lambda: multiscale_entropy(v),
                    (f"sample_entropy_{ax}", f"multiscale_entropy_{ax}",
                     f"multiscale_entropy_scales_{ax}", f"complexity_index_{ax}"))
    if mse:
        m[f"sample_entropy_{ax}"] = mse["sampen"][0]
        m[f"multiscale_entropy_{ax}"] = mse["sampen"]
        m[f"multiscale_entropy_scales_{ax}"] = mse["scales"]
        m[f"complexity_index_{ax}"] = mse["complexity_index"]
    return m, notes


def compute_all(t_s_or_fs, ml_m, ap_m, fz_n=None, *, lowpass_hz: float | None = None,
                resample_hz: float | None = None, window_s: tuple | None = None,
                ellipse: str = "chi2", duration: str = "span",
                sway_density_radius_m: float = 0.0025) -> dict:
    """The full COP metric set of one trial.

    Parameters
    ----------
    t_s_or_fs : array (s, strictly increasing) or float (Hz) — time column or sampling rate.
    ml_m, ap_m : COP in metres (medio-lateral, antero-posterior), same length.
    fz_n : optional vertical force in N (checked, windowed, reported as mean_fz_n).
    lowpass_hz : None (raw) or a cut-off for a 4th-order zero-phase Butterworth low-pass.
    resample_hz : None or a uniform rate to interpolate onto.
    window_s : None or (start, end) seconds from the first sample (either may be None).
    ellipse : "chi2" | "prieto" | "prediction" — convention of ``ellipse95_*``, of
        length-over-area and of fractal_dimension_ce (all three areas are always reported).
    duration : "span" ((N−1)/fs, default) or "samples" (N/fs) for the mean velocities.

    Returns
    -------
    dict with "schema", "inputs" (rate, n samples, duration, implementation, conventions),
    "preprocessing" (the steps applied, in order; [] = raw), "metrics" (flat, unit-named
    keys; MSE as lists) and "notes" (why any metric is None). Raises MetricsInputError
    (a ValueError) on empty, constant, non-finite, mismatched or too-short input.
    """
    if ellipse not in ELLIPSES:
        raise MetricsInputError(f"unknown ellipse convention {ellipse!r}; use one of {', '.join(ELLIPSES)}")
    if duration not in DURATIONS:
        raise MetricsInputError(f"unknown duration convention {duration!r}; use one of {', '.join(DURATIONS)}")
    p = prepare(t_s_or_fs, ml_m, ap_m, fz_n, lowpass_hz=lowpass_hz, resample_hz=resample_hz,
                window_s=window_s)
    from rig.analysis.metrics._checks import as_pair
    x, y = as_pair(p.ml_m, p.ap_m)
    fs, n = p.fs, x.size
    notes = list(p.notes)
    summ = core.sway_summary(x, y)
    m: dict = {}
    m.update(positional(x, y, summary=summ))
    m.update(ellipse_fn(x, y, ellipse, summary=summ))
    for conv in ELLIPSES:
        m[f"ellipse95_area_{conv}_mm2"] = math.pi * ellipse_scale(conv, n) * math.sqrt(
            max(summ["sxx"] * summ["syy"] - summ["sxy"] ** 2, 0.0)) / (n - 1) * 1e6
    m.update(dynamic(x, y, fs, ellipse_convention=ellipse, duration=duration, summary=summ))
    sd = _optional(m, notes, "sway density", lambda: sway_density(x, y, fs, radius_m=sway_density_radius_m),
                   ("sway_density_mean_peak_s", "sway_density_mean_distance_mm", "sway_density_mean_time_s"))
    if sd:
        m.update(sd)
    psds = welch_psd_pair(x, y, fs)
    for ax, v, psd in (("ml", x, psds[0]), ("ap", y, psds[1])):
        m.update(spectral(v, fs, axis=ax, psd=psd))
    m["mean_power_frequency_hz"] = mean_power_frequency_2d(x, y, fs, psds=psds)
    sda_keys = [f"{q}_{ax}{u}" for ax in ("ml", "ap", "planar") for q, u in (
        ("diffusion_short", "_mm2_s"), ("diffusion_long", "_mm2_s"), ("scaling_short", ""),
        ("scaling_long", ""), ("critical_time", "_s"), ("critical_msd", "_mm2"))]
    sda = _optional(m, notes, "stabilogram diffusion", lambda: diffusion(x, y, fs), sda_keys)
    if sda:
        notes.extend(sda.pop("_notes", []))
        m.update(sda)
    # the per-axis complexity work may run in two threads (the compiled kernels release
    # the GIL); off by default: on the shared 2-core machine it measured both faster and
    # slower, and no idle machine was available to decide (docs/metrics.md, Speed)
    if THREADS > 1:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            per_axis = list(pool.map(_complexity, (("ml", x), ("ap", y))))
    else:
        per_axis = [_complexity(("ml", x)), _complexity(("ap", y))]
    for ax_m, ax_notes in per_axis:
        m.update(ax_m)
        notes.extend(ax_notes)
    if p.fz_n is not None:
        m["mean_fz_n"] = float(np.mean(p.fz_n))
    for k, v in m.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise MetricsInputError(f"{k}: not finite ({v}) — the input is degenerate")
    return {
        "schema": SCHEMA,
        "inputs": {
            "rate_hz": fs,
            "n_samples": n,
            "duration_s": n / fs,
            "start_s": p.t0_s,
            "implementation": core.implementation(),
            "ellipse_convention": ellipse,
            "ellipse_conventions": dict(ELLIPSES),
            "velocity_duration": duration,
            "sample_entropy": {"m": 2, "r": "0.2*SD (ddof 0)", "distance": "chebyshev", "signal": "COP position"},
        },
        "preprocessing": p.steps,
        "metrics": m,
        "notes": notes,
    }


ellipse_fn = ellipse
