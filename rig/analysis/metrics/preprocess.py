"""Time base, analysis window, resampling and low-pass filtering before the metrics.

Every step applied is recorded (``Prepared.steps``) because the metrics depend on it: on
real plates the mean velocity of raw COP is several times that of 10 Hz low-passed COP,
while the ellipse area barely changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from rig.analysis.metrics._checks import MIN_SAMPLES, MetricsInputError, as_rate, as_vector

#: Relative deviation of a sampling interval from the median above which the time base is
#: treated as irregular (and resampled onto a uniform grid at the median rate).
JITTER_TOLERANCE = 0.05
#: Low-pass filter: Butterworth of this order, applied forward and backward (zero phase).
LOWPASS_ORDER = 4


@dataclass
class Prepared:
    """COP ready for analysis: uniform rate `fs`, metres, plus what was done to get there."""

    fs: float
    ml_m: np.ndarray
    ap_m: np.ndarray
    fz_n: np.ndarray | None
    t0_s: float
    steps: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def prepare(t_s_or_fs, ml_m, ap_m, fz_n=None, *, lowpass_hz=None, resample_hz=None,
            window_s=None) -> Prepared:
    """Check the inputs and apply window → (resample) → low-pass → (resample).

    `t_s_or_fs`: a time column in seconds (strictly increasing) or a scalar sampling rate.
    `window_s`: (start, end) in seconds from the first sample; either may be None.
    `resample_hz`: linear interpolation onto a uniform grid at this rate (after the low-pass
    when the original time base is uniform, so the filter also serves as anti-alias filter).
    An irregular time base (a gap or jitter beyond 5 %) is interpolated onto a uniform grid
    at its median rate, and the step is recorded. `lowpass_hz`: 4th-order zero-phase
    Butterworth (scipy.signal.sosfiltfilt).
    """
    ml = as_vector(ml_m, "cop_ml")
    ap = as_vector(ap_m, "cop_ap")
    if ml.size != ap.size:
        raise MetricsInputError(f"cop_ml and cop_ap differ in length ({ml.size} vs {ap.size})")
    fz = None
    if fz_n is not None:
        fz = as_vector(fz_n, "fz")
        if fz.size != ml.size:
            raise MetricsInputError(f"fz and cop differ in length ({fz.size} vs {ml.size})")
    n = ml.size
    steps: list[dict] = []
    notes: list[str] = []
    if np.ndim(t_s_or_fs) == 0:
        fs = as_rate(t_s_or_fs)
        t = np.arange(n) / fs
        irregular = False
    else:
        t = as_vector(t_s_or_fs, "t_s")
        if t.size != n:
            raise MetricsInputError(f"t_s and cop differ in length ({t.size} vs {n})")
        if not np.all(np.isfinite(t)):
            raise MetricsInputError("t_s: non-finite time value(s)")
        dt = np.diff(t)
        if dt.size == 0:
            raise MetricsInputError(f"too short ({n} samples, need at least {MIN_SAMPLES})")
        bad = np.flatnonzero(dt <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise MetricsInputError(f"t_s: time is not strictly increasing (index {i}: "
                                    f"{t[i - 1]!r} then {t[i]!r}; {bad.size} such step(s))")
        med = float(np.median(dt))
        fs = 1.0 / med
        irregular = bool(np.max(np.abs(dt - med)) > JITTER_TOLERANCE * med)
    t0_all = float(t[0])

    if window_s is not None:
        start, end = window_s
        rel = t - t0_all
        lo = -np.inf if start is None else float(start)
        hi = np.inf if end is None else float(end)
        if hi <= lo:
            raise MetricsInputError(f"window: end ({end}) must be after start ({start})")
        keep = (rel >= lo - 1e-9) & (rel <= hi + 1e-9)
        if keep.sum() < MIN_SAMPLES:
            raise MetricsInputError(f"window {start}:{end} s holds {int(keep.sum())} samples of a "
                                    f"{rel[-1]:.3f} s recording; need at least {MIN_SAMPLES}")
        t, ml, ap = t[keep], ml[keep], ap[keep]
        fz = fz[keep] if fz is not None else None
        steps.append({"step": "window", "start_s": float(rel[keep][0]), "end_s": float(rel[keep][-1])})

    if ml.size < MIN_SAMPLES:
        raise MetricsInputError(f"too short ({ml.size} samples, need at least {MIN_SAMPLES})")
    for name, v in (("cop_ml", ml), ("cop_ap", ap), ("fz", fz)):
        if v is not None and not np.all(np.isfinite(v)):
            bad = ~np.isfinite(v)
            i = int(np.argmax(bad))
            raise MetricsInputError(
                f"{name}: {int(bad.sum())} non-finite sample(s) (first at t = {t[i] - t0_all:.3f} s); "
                "an unloaded plate gives NaN COP: choose a window where the plate is loaded")

    def regrid(rate, why):
        nonlocal t, ml, ap, fz
        k = int(np.floor((t[-1] - t[0]) * rate + 1e-9)) + 1
        if k < MIN_SAMPLES:
            raise MetricsInputError(f"resampling at {rate:g} Hz leaves {k} samples")
        grid = t[0] + np.arange(k) / rate
        ml, ap = np.interp(grid, t, ml), np.interp(grid, t, ap)
        fz = np.interp(grid, t, fz) if fz is not None else None
        t = grid
        steps.append({"step": "resample", "rate_hz": float(rate), "method": "linear interpolation",
                      "reason": why})

    if irregular:
        regrid(fs, "irregular time base (gap or jitter > 5 %)")
        notes.append(f"time base irregular: interpolated onto a uniform {fs:g} Hz grid")

    if lowpass_hz is not None:
        fc = as_rate(lowpass_hz)
        if fc >= fs / 2:
            raise MetricsInputError(f"low-pass cut-off {fc:g} Hz must be below Nyquist ({fs / 2:g} Hz)")
        sos = signal.butter(LOWPASS_ORDER, fc, fs=fs, output="sos")
        padlen = 3 * (2 * len(sos) + 1)
        if ml.size <= padlen:
            raise MetricsInputError(f"too short to filter ({ml.size} samples, need more than {padlen})")
        ml, ap = signal.sosfiltfilt(sos, ml), signal.sosfiltfilt(sos, ap)
        steps.append({"step": "lowpass", "cutoff_hz": fc, "filter": f"butterworth order {LOWPASS_ORDER}",
                      "zero_phase": True, "applied_at_hz": fs})

    if resample_hz is not None:
        rate = as_rate(resample_hz)
        if rate < fs and lowpass_hz is None:
            notes.append("downsampled without a low-pass: add one below the new Nyquist to avoid aliasing")
        elif lowpass_hz is not None and float(lowpass_hz) >= rate / 2:
            notes.append(f"low-pass {float(lowpass_hz):g} Hz is above the new Nyquist ({rate / 2:g} Hz)")
        regrid(rate, "requested")
        fs = rate

    return Prepared(fs=fs, ml_m=ml, ap_m=ap, fz_n=fz, t0_s=float(t[0]), steps=steps, notes=notes)
