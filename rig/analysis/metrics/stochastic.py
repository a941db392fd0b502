"""Stochastic measures: stabilogram-diffusion analysis (SDA) and detrended fluctuation analysis.

References: Collins JJ, De Luca CJ (1993) Exp Brain Res 95:308-318 (SDA);
Peng C-K et al. (1994) Phys Rev E 49:1685 (DFA).
"""
from __future__ import annotations

import math

import numpy as np

from rig.signal import core
from rig.analysis.metrics._checks import MetricsInputError, as_pair, as_rate, as_series

MM = 1000.0
#: SDA regions (s): short-term lags up to SHORT_S, long-term lags from LONG_S[0] to LONG_S[1].
SDA_SHORT_S = 1.0
SDA_LONG_S = (2.0, 10.0)


def _lags(fs, n):
    short = max(2, int(round(SDA_SHORT_S * fs)))
    lo = int(round(SDA_LONG_S[0] * fs))
    hi = int(round(SDA_LONG_S[1] * fs))
    if hi >= n // 2:
        raise MetricsInputError(
            f"stabilogram diffusion needs lags up to {SDA_LONG_S[1]:g} s in at most half the "
            f"window: the window is {n / fs:.3g} s, need at least {2 * SDA_LONG_S[1]:g} s")
    s = np.arange(1, short + 1)
    l = np.unique(np.linspace(lo, hi, 100).round().astype(np.intp))
    return s, l


def _line(x, y):
    """Least-squares line y ≈ a + b x, as (a, b): closed form on centred data (what
    np.polyfit(x, y, 1) solves, without its SVD overhead)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mx, my = x.mean(), y.mean()
    cx = x - mx
    b = float(cx @ (y - my) / (cx @ cx))
    return float(my - b * mx), b


def diffusion(ml_m, ap_m, fs) -> dict:
    """Stabilogram-diffusion analysis (Collins & De Luca 1993), per axis and planar.

    <Δx²>(Δt) = mean_i (x_{i+k} − x_i)², Δt = k/fs (compiled kernel, sampled lags); planar
    <Δr²> = <Δx²> + <Δy²>. Short-term region Δt ≤ 1 s, long-term 2 … 10 s.
    diffusion_{short,long}_*_mm2_s  D = slope/2 of <Δ²> vs Δt (linear fit), as in CdL 1993
    scaling_{short,long}_*          H = slope/2 of log <Δ²> vs log Δt
    critical_time_*_s, critical_msd_*_mm2  intersection of the two linear fits
    (null when the fits are parallel or cross outside the lags, see `notes`).
    """
    x, y = as_pair(ml_m, ap_m)
    fs = as_rate(fs)
    s, l = _lags(fs, x.size)
    lags = np.concatenate([s, l])
    mx = core.mean_square_displacement(x, lags)
    my = core.mean_square_displacement(y, lags)
    out: dict = {}
    notes = []
    ns = s.size
    for ax, msd in (("ml", mx), ("ap", my), ("planar", mx + my)):
        dt = lags / fs
        if np.any(msd <= 0):
            raise MetricsInputError(f"stabilogram diffusion ({ax}): zero displacement at some lag")
        a_s, b_s = _line(dt[:ns], msd[:ns])
        a_l, b_l = _line(dt[ns:], msd[ns:])
        out[f"diffusion_short_{ax}_mm2_s"] = b_s / 2 * MM * MM
        out[f"diffusion_long_{ax}_mm2_s"] = b_l / 2 * MM * MM
        out[f"scaling_short_{ax}"] = _line(np.log(dt[:ns]), np.log(msd[:ns]))[1] / 2
        out[f"scaling_long_{ax}"] = _line(np.log(dt[ns:]), np.log(msd[ns:]))[1] / 2
        tc = (a_l - a_s) / (b_s - b_l) if b_s != b_l else math.nan
        if math.isfinite(tc) and 0 < tc <= dt[-1]:
            out[f"critical_time_{ax}_s"] = tc
            out[f"critical_msd_{ax}_mm2"] = (a_s + b_s * tc) * MM * MM
        else:
            out[f"critical_time_{ax}_s"] = None
            out[f"critical_msd_{ax}_mm2"] = None
            notes.append(f"critical point ({ax}): the short- and long-term fits do not cross "
                         f"within 0 … {dt[-1]:g} s")
    if notes:
        out["_notes"] = notes
    return out


def dfa(x, *, min_box: int = 10, max_box: int | None = None, n_boxes: int = 20) -> float:
    """DFA exponent α (Peng 1994): profile Y = cumsum(x − x̄); for box sizes n (log-spaced
    from `min_box` to N/4) split Y into non-overlapping boxes, remove each box's least-squares
    line, F(n) = RMS of the residuals; α = slope of log F(n) vs log n.
    White noise α ≈ 0.5, fractional Gaussian noise α ≈ H, random walk α ≈ 1.5."""
    a = as_series(x, "dfa input", min_samples=4 * min_box)
    n = a.size
    top = max_box or n // 4
    if top <= min_box:
        raise MetricsInputError(f"DFA: series of {n} samples too short for boxes {min_box} … {top}")
    sizes = np.unique(np.geomspace(min_box, top, n_boxes).astype(int))
    prof = np.cumsum(a - a.mean())
    F = core.dfa_fluctuations(prof, sizes)  # compiled, NumPy twin in rig.signal.reference
    if np.any(F <= 0):
        raise MetricsInputError("DFA: zero fluctuation (constant or perfectly linear series)")
    return _line(np.log(sizes), np.log(F))[1]
