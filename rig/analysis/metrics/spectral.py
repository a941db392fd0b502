"""Frequency-domain sway measures from the Welch PSD (scipy.signal.welch).

Default Welch settings follow Santos & Duarte (2016): Hann window, nperseg = N/2,
noverlap = N/4, nfft = nperseg, per-segment mean removal; integrals are trapezoidal
over 0 … fs/2 (no band limit). References: Prieto 1996 (spectral moments μ_k = ∫ f^k P df,
centroid, dispersion, F50/F95); Quijoux 2021 (band energies, frequency quotient);
Santos DA, Duarte M (2016) PeerJ 4:e2648 (mean power frequency convention).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import signal
from scipy.integrate import cumulative_trapezoid, trapezoid

from rig.analysis.metrics._checks import MetricsInputError, as_rate, as_series

MM = 1000.0
#: Band edges in Hz for the band energies: low < 0.5, mid 0.5-2, high > 2.
BANDS_HZ = (0.5, 2.0)


def welch_psd(x_m, fs, *, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(f Hz, P m²/Hz) by Welch: Hann, nperseg N/2 (default), noverlap nperseg/2, nfft nperseg."""
    x = as_series(x_m, "cop")
    fs = as_rate(fs)
    n = x.size
    seg = int(nperseg) if nperseg else n // 2
    if seg < 8 or seg > n:
        raise MetricsInputError(f"Welch segment of {seg} samples does not fit {n} samples")
    return signal.welch(x, fs=fs, window="hann", nperseg=seg, noverlap=seg // 2, nfft=seg,
                        detrend="constant")


def welch_psd_pair(x_m, y_m, fs, *, nperseg: int | None = None) -> list:
    """[(f, P_x), (f, P_y)]: :func:`welch_psd` of both axes in one SciPy call (same numbers)."""
    x = as_series(x_m, "cop")
    y = as_series(y_m, "cop")
    fs = as_rate(fs)
    n = x.size
    seg = int(nperseg) if nperseg else n // 2
    if seg < 8 or seg > n or y.size != n:
        return [welch_psd(x, fs, nperseg=nperseg), welch_psd(y, fs, nperseg=nperseg)]
    f, p = signal.welch(np.vstack([x, y]), fs=fs, window="hann", nperseg=seg, noverlap=seg // 2,
                        nfft=seg, detrend="constant", axis=-1)
    return [(f, p[0]), (f, p[1])]


def _band(f, cum, lo, hi):
    return float(np.interp(hi, f, cum) - np.interp(lo, f, cum))


def spectral(x_m, fs, *, nperseg: int | None = None, axis: str = "", psd=None) -> dict:
    """Spectral measures of one COP axis (keys suffixed with `axis`, e.g. ``f50_ml_hz``).

    μ_k = ∫ f^k P(f) df (trapezoid), C(f) = cumulative ∫ P.
    total_power_mm2          μ₀
    mean_power_frequency_hz  μ₁/μ₀ (MPF)
    centroid_frequency_hz    sqrt(μ₂/μ₀)                          (Prieto CFREQ)
    frequency_dispersion     sqrt(1 − μ₁²/(μ₀ μ₂)), 0 … 1         (Prieto FREQD)
    f50_hz, f95_hz           f where C(f) = 0.5 μ₀, 0.95 μ₀ (linear interpolation)
    mode_frequency_hz        argmax P over f > 0
    power_{low,mid,high}_mm2 ∫ P over < 0.5, 0.5–2, > 2 Hz (edges by interpolating C)
    frequency_quotient       power above 2 Hz / power below 2 Hz
    `psd`: an (f, P) pair from :func:`welch_psd` to reuse instead of recomputing.
    """
    f, p = psd if psd is not None else welch_psd(x_m, fs, nperseg=nperseg)
    sfx = f"_{axis}" if axis else ""
    m0 = trapezoid(p, f)
    if not m0 > 0:
        raise MetricsInputError(f"cop{sfx}: zero spectral power")
    m1 = trapezoid(f * p, f)
    m2 = trapezoid(f * f * p, f)
    cum = cumulative_trapezoid(p, f, initial=0.0)
    f50, f95 = np.interp([0.5 * cum[-1], 0.95 * cum[-1]], cum, f)
    lo, hi = BANDS_HZ
    top = f[-1]
    low = _band(f, cum, 0.0, lo)
    mid = _band(f, cum, lo, min(hi, top))
    high = _band(f, cum, min(hi, top), top)
    mm2 = MM * MM
    return {
        f"total_power{sfx}_mm2": m0 * mm2,
        f"mean_power_frequency{sfx}_hz": m1 / m0,
        f"centroid_frequency{sfx}_hz": math.sqrt(m2 / m0),
        f"frequency_dispersion{sfx}": math.sqrt(max(1.0 - m1 * m1 / (m0 * m2), 0.0)),
        f"f50{sfx}_hz": float(f50),
        f"f95{sfx}_hz": float(f95),
        f"mode_frequency{sfx}_hz": float(f[1:][np.argmax(p[1:])]),
        f"power_below_0_5hz{sfx}_mm2": low * mm2,
        f"power_0_5_to_2hz{sfx}_mm2": mid * mm2,
        f"power_above_2hz{sfx}_mm2": high * mm2,
        f"frequency_quotient{sfx}": high / (low + mid) if low + mid > 0 else math.inf,
    }


def mean_power_frequency_2d(ml_m, ap_m, fs, *, nperseg: int | None = None, psds=None) -> float:
    """Planar mean frequency, Hz: the MPFs of ML and AP averaged with weights Σ_k P(f_k)
    (the plain sum of each PSD), the convention behind Santos & Duarte's COPmfreq.
    `psds`: the two (f, P) pairs to reuse."""
    out = []
    for j, x in enumerate((ml_m, ap_m)):
        f, p = psds[j] if psds is not None else welch_psd(x, fs, nperseg=nperseg)
        m0 = trapezoid(p, f)
        if not m0 > 0:
            raise MetricsInputError("zero spectral power")
        out.append((trapezoid(f * p, f) / m0, float(p.sum())))
    (f1, w1), (f2, w2) = out
    return (f1 * w1 + f2 * w2) / (w1 + w2)
