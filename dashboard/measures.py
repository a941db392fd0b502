"""From a trial's samples to stored results, and from results over weeks to "real change".

The sway/landing science lives in ``rig.metrics`` / ``rig.landing`` / ``rig.change`` (other
rooms). This module only *calls* them when present and adds what the dashboard needs even
without them: quality counts, mean load, and the few basic COP measures the reports draw
(path length, mean velocity, 95 % ellipse). Keys carry units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rig.flags import Flag, describe
from rig.plate import SAMPLE_COLUMNS

CHI2_95_2DOF = 5.991464547107979  # 95 % quantile of chi-square with 2 degrees of freedom

#: Minimal detectable change (95 %) used when rig.change gives none, per key: (MDC, lower_is_better).
#: Placeholders of the order reported for single-leg stance on force plates; a clinic should
#: set its own on the settings page (MDC = 1.96·√2·SEM from its test-retest data).
DEFAULT_MDC = {
    "mean_velocity_mm_s": (3.0, True),
    "path_length_mm": (90.0, True),
    "ellipse_area_95_mm2": (200.0, True),
    "rms_ml_mm": (1.0, True),
    "rms_ap_mm": (1.0, True),
    "peak_fz_n": (100.0, True),
}

#: Measures shown first (in this order) on trial pages, trends and reports.
HEADLINE = ("mean_velocity_mm_s", "ellipse_area_95_mm2", "path_length_mm", "rms_ml_mm", "rms_ap_mm",
            "peak_fz_n", "mean_fz_n")


def columns_index(columns) -> dict[str, int]:
    return {c: i for i, c in enumerate(columns)}


def quality(samples: np.ndarray, columns=SAMPLE_COLUMNS) -> dict:
    """Flag counts and human warnings for the trial page ("quality flags")."""
    ix = columns_index(columns)
    flags = samples[:, ix["flags"]].astype(np.int64) if len(samples) else np.zeros(0, np.int64)
    n = len(flags)
    counts = {f.name.lower(): int(np.count_nonzero(flags & int(f))) for f in Flag if f}
    warnings = []
    if n == 0:
        warnings.append("no samples")
    else:
        if counts["invalid"] or counts["fault"]:
            warnings.append("a load cell stopped answering or sent bad frames during the trial")
        if counts["saturated"]:
            warnings.append("a load cell was overloaded (saturated)")
        if counts["unloaded"] / n > 0.05:
            warnings.append(f"{100 * counts['unloaded'] / n:.0f}% of samples with nobody on the plate")
        if counts["gap"]:
            warnings.append(f"{counts['gap']} gaps in the sample stream")
    return {"n_samples": n, "flag_counts": counts, "warnings": warnings, "ok": not warnings}


def basic_measures(samples: np.ndarray, columns=SAMPLE_COLUMNS) -> dict[str, float]:
    ix = columns_index(columns)
    t = samples[:, ix["t_s"]]
    fz = samples[:, ix["fz_n"]]
    x = samples[:, ix["cop_ml_mm"]]
    y = samples[:, ix["cop_ap_mm"]]
    out: dict[str, float] = {}
    if len(t) >= 2:
        out["duration_s"] = float(t[-1] - t[0])
    good = np.isfinite(x) & np.isfinite(y) & np.isfinite(fz)
    if good.any():
        out["mean_fz_n"] = float(np.mean(fz[good]))
        out["peak_fz_n"] = float(np.max(fz[good]))
    if np.count_nonzero(good) >= 3:
        xg, yg, tg = x[good], y[good], t[good]
        steps = np.hypot(np.diff(xg), np.diff(yg))
        out["path_length_mm"] = float(steps.sum())
        span = float(tg[-1] - tg[0])
        if span > 0:
            out["mean_velocity_mm_s"] = out["path_length_mm"] / span
        out["rms_ml_mm"] = float(np.sqrt(np.mean((xg - xg.mean()) ** 2)))
        out["rms_ap_mm"] = float(np.sqrt(np.mean((yg - yg.mean()) ** 2)))
        cov = np.cov(np.vstack([xg, yg]))
        out["ellipse_area_95_mm2"] = float(math.pi * CHI2_95_2DOF * math.sqrt(max(np.linalg.det(cov), 0.0)))
    return out


def ellipse_95(x, y) -> tuple[float, float, float, float, float]:
    """(centre_x, centre_y, semi-axis a, semi-axis b, angle rad) of the 95 % prediction ellipse."""
    good = np.isfinite(x) & np.isfinite(y)
    xg, yg = np.asarray(x)[good], np.asarray(y)[good]
    cov = np.cov(np.vstack([xg, yg]))
    vals, vecs = np.linalg.eigh(cov)
    vals = np.clip(vals, 0, None)
    a, b = np.sqrt(CHI2_95_2DOF * vals[::-1])
    angle = math.atan2(vecs[1, -1], vecs[0, -1])
    return float(xg.mean()), float(yg.mean()), float(a), float(b), angle


def compute(samples: np.ndarray, columns=SAMPLE_COLUMNS, protocol: str = "", side: str = "",
            body_mass_kg: float | None = None) -> dict[str, float]:
    """All results of one trial: the rig's metric suite when available, plus basic_measures."""
    out = basic_measures(samples, columns)
    try:
        from rig import metrics as rig_metrics  # other room; optional until it lands
    except ImportError:
        rig_metrics = None
    if rig_metrics is not None and hasattr(rig_metrics, "compute_all"):
        ix = columns_index(columns)
        try:
            extra = rig_metrics.compute_all(samples[:, ix["t_s"]], samples[:, ix["cop_ml_mm"]],
                                            samples[:, ix["cop_ap_mm"]], samples[:, ix["fz_n"]])
        except Exception:  # noqa: BLE001 - a metric failure must not lose the trial
            extra = {}
        for k, v in (extra or {}).items():
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[str(k)] = float(v)
    return {k: v for k, v in out.items() if math.isfinite(v)}


# --- change over weeks ------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeLabel:
    label: str        #: "baseline", "real improvement", "real decline", "within MDC", "no MDC"
    delta: float | None


def mdc_for(key: str, overrides: dict | None = None) -> tuple[float | None, bool]:
    """(MDC in the key's unit, lower_is_better) from settings overrides, rig.change, defaults."""
    if overrides and key in overrides:
        v = overrides[key]
        return float(v[0]), bool(v[1])
    try:
        from rig import change as rig_change
        if hasattr(rig_change, "mdc_for"):
            got = rig_change.mdc_for(key)
            if got is not None:
                return got
    except ImportError:
        pass
    return DEFAULT_MDC.get(key, (None, True))


def classify(baseline: float | None, value: float, mdc: float | None, lower_is_better: bool) -> ChangeLabel:
    if baseline is None:
        return ChangeLabel("baseline", None)
    delta = value - baseline
    if mdc is None:
        return ChangeLabel("no MDC", delta)
    if abs(delta) <= mdc:
        return ChangeLabel("within MDC", delta)
    better = delta < 0 if lower_is_better else delta > 0
    return ChangeLabel("real improvement" if better else "real decline", delta)


def flag_names(flags: int) -> list[str]:
    return describe(flags)
