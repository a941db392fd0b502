"""Positional and dynamic (time-domain) sway measures.

Inputs are COP coordinates in metres (ml = medio-lateral, right positive; ap =
antero-posterior, forward positive) sampled at `fs` Hz; outputs are dicts whose keys name
their unit (mm, mm², mm/s, Hz). The O(N) sums come from one call to the compiled fused
kernel ``rig.signal.core.sway_summary``.

References: Prieto TE et al. (1996) IEEE Trans Biomed Eng 43:956-966 ("Prieto");
Quijoux F et al. (2021) Physiol Rep 9:e15067 ("Quijoux"); Schubert P, Kirchner M (2014)
Gait Posture 40:309-315 (ellipse conventions); Riley MA et al. (1995) (phase plane);
Baratto L et al. (2002) Motor Control 6:246-270 (sway density).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import signal, stats

from rig.signal import core
from rig.analysis.metrics._checks import MetricsInputError, as_pair, as_rate

MM = 1000.0
#: Ellipse conventions: name -> description (see :func:`ellipse_scale`).
ELLIPSES = {
    "chi2": "confidence ellipse, chi-square: area = pi * 5.991 * sqrt(det(cov))",
    "prieto": "confidence ellipse, Prieto 1996: area = 2 pi F_0.95(2, n-2) * sqrt(det(cov))",
    "prediction": "95 % prediction ellipse: area = pi F_0.95(2, n-2) 2(n-1)(n+1)/(n(n-2)) * sqrt(det(cov))",
}
#: chi-square(2) 95 % quantile as the convention is usually written (5.9915 exactly).
CHI2_95 = 5.991
#: Durations for mean velocity: "span" = (N-1)/fs (the time the path covers),
#: "samples" = N/fs (Santos & Duarte 2016).
DURATIONS = ("span", "samples")


def ellipse_scale(convention: str, n: int) -> float:
    """k² such that the 95 % ellipse has semi-axes sqrt(k² λ_i) (λ_i: eigenvalues of the
    ddof-1 covariance) and area π k² sqrt(det cov).

    chi2:        k² = 5.991 (χ²₀.₉₅ with 2 degrees of freedom)
    prieto:      k² = 2 F₀.₉₅(2, n−2)                               (Prieto 1996, AREA-CE)
    prediction:  k² = F₀.₉₅(2, n−2) · 2(n−1)(n+1) / (n(n−2))        (Schubert & Kirchner 2014)
    """
    if convention == "chi2":
        return CHI2_95
    if n < 3:
        raise MetricsInputError("the F-based ellipses need at least 3 samples")
    f = float(stats.f.ppf(0.95, 2, n - 2))
    if convention == "prieto":
        return 2.0 * f
    if convention == "prediction":
        return f * 2.0 * (n - 1) * (n + 1) / (n * (n - 2))
    raise MetricsInputError(f"unknown ellipse convention {convention!r}; use one of {', '.join(ELLIPSES)}")


def _duration(n: int, fs: float, duration: str) -> float:
    if duration == "span":
        return (n - 1) / fs
    if duration == "samples":
        return n / fs
    raise MetricsInputError(f"unknown duration convention {duration!r}; use one of {', '.join(DURATIONS)}")


def _cov(s: dict, n: int) -> np.ndarray:
    return np.array([[s["sxx"], s["sxy"]], [s["sxy"], s["syy"]]]) / (n - 1)


def ellipse(ml_m, ap_m, convention: str = "chi2", *, summary: dict | None = None) -> dict:
    """95 % ellipse of the COP: area, semi-axes and orientation (for drawing).

    cov = ddof-1 covariance of (ml, ap); λ₁ ≥ λ₂ its eigenvalues; semi-axes a = sqrt(k² λ₁),
    b = sqrt(k² λ₂); area = π a b = π k² sqrt(det cov), with k² from :func:`ellipse_scale`.
    ``ellipse95_angle_deg``: the major axis measured counter-clockwise from +ML (drawing
    convention, in (−90°, 90°]). ``principal_sway_direction_deg``: the same axis measured from
    +AP towards +ML, in (−90°, 90°] (0 = pure AP sway). Refs: Prieto 1996; Quijoux 2021.
    """
    x, y = as_pair(ml_m, ap_m)
    n = x.size
    s = summary if summary is not None else core.sway_summary(x, y)
    cov = _cov(s, n)
    k2 = ellipse_scale(convention, n)
    lam, vec = np.linalg.eigh(cov)
    l2, l1 = max(lam[0], 0.0), max(lam[1], 0.0)
    vx, vy = vec[0, 1], vec[1, 1]
    ang = math.degrees(math.atan2(vy, vx))
    if ang <= -90:
        ang += 180
    elif ang > 90:
        ang -= 180
    psd = math.degrees(math.atan2(vx, vy))
    if psd <= -90:
        psd += 180
    elif psd > 90:
        psd -= 180
    det = max(cov[0, 0] * cov[1, 1] - cov[0, 1] ** 2, 0.0)
    return {
        "ellipse95_area_mm2": math.pi * k2 * math.sqrt(det) * MM * MM,
        "ellipse95_semi_major_mm": math.sqrt(k2 * l1) * MM,
        "ellipse95_semi_minor_mm": math.sqrt(k2 * l2) * MM,
        "ellipse95_angle_deg": ang,
        "principal_sway_direction_deg": psd,
    }


def positional(ml_m, ap_m, *, summary: dict | None = None) -> dict:
    """Positional measures (Prieto 1996; Quijoux 2021). With x̃ = x − x̄, d_i = |p_i − p̄|:

    mean_{ml,ap}_mm          x̄
    mean_distance_mm         MDIST = (1/N) Σ d_i;   per axis (1/N) Σ |x̃_i|
    rms_mm                   RDIST = sqrt((1/N) Σ d_i²);   per axis sqrt((1/N) Σ x̃_i²)
    sd_{ml,ap}_mm            sqrt(Σ x̃²/(N−1))  (ddof 1)
    sd_distance_mm           sqrt(RDIST² − MDIST²)  (SD of d, ddof 0, Prieto)
    range_{ml,ap}_mm         max x − min x
    max_distance_mm          max d_i;   per axis max |x̃_i|
    """
    x, y = as_pair(ml_m, ap_m)
    n = x.size
    s = summary if summary is not None else core.sway_summary(x, y)
    mdist = s["sum_dist"] / n
    rdist = math.sqrt(s["sum_dist2"] / n)
    return {
        "mean_ml_mm": s["mean_x"] * MM,
        "mean_ap_mm": s["mean_y"] * MM,
        "mean_distance_mm": mdist * MM,
        "mean_distance_ml_mm": s["sum_abs_x"] / n * MM,
        "mean_distance_ap_mm": s["sum_abs_y"] / n * MM,
        "rms_mm": rdist * MM,
        "rms_ml_mm": math.sqrt(s["sxx"] / n) * MM,
        "rms_ap_mm": math.sqrt(s["syy"] / n) * MM,
        "sd_ml_mm": math.sqrt(s["sxx"] / (n - 1)) * MM,
        "sd_ap_mm": math.sqrt(s["syy"] / (n - 1)) * MM,
        "sd_distance_mm": math.sqrt(max(rdist * rdist - mdist * mdist, 0.0)) * MM,
        "range_ml_mm": (s["max_x"] - s["min_x"]) * MM,
        "range_ap_mm": (s["max_y"] - s["min_y"]) * MM,
        "max_distance_mm": s["max_dist"] * MM,
        "max_distance_ml_mm": s["max_abs_x"] * MM,
        "max_distance_ap_mm": s["max_abs_y"] * MM,
    }


def dynamic(ml_m, ap_m, fs, *, ellipse_convention: str = "chi2", duration: str = "span",
            summary: dict | None = None) -> dict:
    """Dynamic (path-based) measures. T = (N−1)/fs ("span", default) or N/fs ("samples").

    path_length_mm           Σ |p_{i+1} − p_i|;  per axis Σ |x_{i+1} − x_i|
    mean_velocity_mm_s       path / T (total and per axis)               (Prieto MVELO)
    sway_area_per_second_mm2_s  (1/(2T)) Σ |x̃_i ỹ_{i+1} − x̃_{i+1} ỹ_i|  (Prieto AREA-SW)
    phase_plane_{ml,ap}_mm   sqrt(σ_x² + σ_v²), v = fs·Δx, both ddof 1   (Riley 1995)
    length_over_area_1_mm    path / ellipse95 area (chosen convention)   (Quijoux LFS)
    fractal_dimension_cc     log N / log(N d / path), d = 2(MDIST + 1.645 SD_dist)  (Prieto FD-CC)
    fractal_dimension_ce     the same with d = sqrt(2a · 2b), a, b the ellipse semi-axes (FD-CE)
    mean_frequency_hz        MVELO / (2π MDIST);  per axis MVELO_x / (4√2 MDIST_x)  (Prieto)
    """
    x, y = as_pair(ml_m, ap_m)
    fs = as_rate(fs)
    n = x.size
    s = summary if summary is not None else core.sway_summary(x, y)
    T = _duration(n, fs, duration)
    ell = ellipse(x, y, ellipse_convention, summary=s)
    mdist = s["sum_dist"] / n
    rdist = math.sqrt(s["sum_dist2"] / n)
    sd_dist = math.sqrt(max(rdist * rdist - mdist * mdist, 0.0))
    path = s["path"]
    out = {
        "path_length_mm": path * MM,
        "path_length_ml_mm": s["path_x"] * MM,
        "path_length_ap_mm": s["path_y"] * MM,
        "mean_velocity_mm_s": path / T * MM,
        "mean_velocity_ml_mm_s": s["path_x"] / T * MM,
        "mean_velocity_ap_mm_s": s["path_y"] / T * MM,
        "sway_area_per_second_mm2_s": s["sum_triangle"] / (2 * T) * MM * MM,
        "length_over_area_1_mm": path * MM / ell["ellipse95_area_mm2"],
        "mean_frequency_hz": (path / T) / (2 * math.pi * mdist),
        "mean_frequency_ml_hz": (s["path_x"] / T) / (4 * math.sqrt(2) * (s["sum_abs_x"] / n)),
        "mean_frequency_ap_hz": (s["path_y"] / T) / (4 * math.sqrt(2) * (s["sum_abs_y"] / n)),
    }
    if n >= 3:
        for ax, sq, sv in (("ml", "sxx", "svx"), ("ap", "syy", "svy")):
            var_v = s[sv] / (n - 2) * fs * fs
            out[f"phase_plane_{ax}_mm"] = math.sqrt(s[sq] / (n - 1) + var_v) * MM
    d_cc = 2 * (mdist + 1.645 * sd_dist)
    d_ce = 2 * math.sqrt(ell["ellipse95_semi_major_mm"] * ell["ellipse95_semi_minor_mm"]) / MM
    for key, d in (("fractal_dimension_cc", d_cc), ("fractal_dimension_ce", d_ce)):
        ratio = n * d / path
        if ratio <= 1:
            raise MetricsInputError(f"{key}: undefined (N·d/path = {ratio:.3g} <= 1)")
        out[key] = math.log(n) / math.log(ratio)
    return out


#: Sway density defaults (Baratto 2002; Jacono 2004): circle radius and smoothing cut-off.
SWAY_DENSITY_RADIUS_M = 0.0025
SWAY_DENSITY_SMOOTH_HZ = 2.5


@functools.lru_cache(maxsize=16)
def _smoothing_design(fs: float) -> np.ndarray:
    return signal.butter(4, SWAY_DENSITY_SMOOTH_HZ, fs=fs, output="sos")


def _smoothing_filter(fs: float) -> np.ndarray:
    """The sway-density smoothing low-pass, designed once per rate (a copy each call)."""
    return _smoothing_design(fs).copy()


def sway_density(ml_m, ap_m, fs, *, radius_m: float = SWAY_DENSITY_RADIUS_M) -> dict:
    """Sway density curve and its peaks (Baratto et al. 2002).

    SD(t_i) = (number of consecutive samples before and after i that stay within radius R of
    p_i) / fs, smoothed by a 4th-order zero-phase Butterworth low-pass at 2.5 Hz; peaks by
    scipy.signal.find_peaks. mean_peak_s = mean SD at the peaks; mean_distance_mm = mean
    distance between the COP positions of successive peaks; mean_time_s = mean interval
    between successive peaks. Needs at least 2 peaks. The counting is the compiled O(N·run)
    kernel ``rig.signal.core.sway_density_counts`` (O(N²) only for a COP that never leaves R).
    """
    x, y = as_pair(ml_m, ap_m)
    fs = as_rate(fs)
    if not radius_m > 0:
        raise MetricsInputError(f"sway density radius must be positive, got {radius_m}")
    counts = core.sway_density_counts(x, y, radius_m)
    sd = counts / fs
    if fs > 2 * SWAY_DENSITY_SMOOTH_HZ * 1.25 and sd.size > 27:
        sos = _smoothing_filter(fs)
        sd = signal.sosfiltfilt(sos, sd)
    peaks, _ = signal.find_peaks(sd)
    if peaks.size < 2:
        raise MetricsInputError(f"sway density: {peaks.size} peak(s) found, need at least 2 "
                                "(window too short or radius too large)")
    return {
        "sway_density_radius_mm": radius_m * MM,
        "sway_density_mean_peak_s": float(sd[peaks].mean()),
        "sway_density_mean_distance_mm": float(np.hypot(np.diff(x[peaks]), np.diff(y[peaks])).mean() * MM),
        "sway_density_mean_time_s": float(np.diff(peaks).mean() / fs),
        "sway_density_n_peaks": int(peaks.size),
    }
