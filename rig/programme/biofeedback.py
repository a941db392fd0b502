"""Training sets on the plate with live biofeedback: the target, and what a set scores.

A :class:`Target` is a circle of ``radius_mm`` on the plate (COP coordinates, mm; x = ML,
right positive; y = AP, forward positive). Its centre is fixed (``kind="circle"``) or moves
along a path (``kind="path"``: centre + amplitude · sin(2π t / period), for weight shifts).
With ``relative=True`` the centre is taken relative to the mean COP over the first
``anchor_s`` seconds of loaded samples of the set (where the patient stands when the set
starts), so the same target works on either foot.

Set measures (keys carry units):
- ``time_in_target_s`` / ``time_in_target_pct``: time the COP was inside the circle, over
  the set's duration. Each sample stands for the interval to the next one (the last for the
  median interval); an interval longer than 3 median intervals (a gap in the stream) counts
  as one median interval, in neither numerator nor denominator beyond that. A sample with
  nobody on the plate (Fz below ``min_fz_n`` or no COP) counts as outside.
- ``longest_in_target_s``: the longest continuous stretch inside.
- ``tracking_error_rms_mm``: RMS distance from the target centre (loaded samples).
- ``error_speed_mm_s``: mean speed of the COP relative to the target centre (path length of
  COP − centre over time; for a fixed target: the mean COP velocity). Lower = steadier.
- for repetition exercises: ``repetition_count`` and per repetition its time in target;
  ``good_repetition_count`` counts repetitions at or above ``good_rep_pct`` in target.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

TARGET_KINDS = ("circle", "path")


@dataclass(frozen=True)
class Target:
    kind: str = "circle"
    radius_mm: float = 20.0
    centre_ml_mm: float = 0.0
    centre_ap_mm: float = 0.0
    relative: bool = True
    anchor_s: float = 1.0
    amplitude_ml_mm: float = 0.0
    amplitude_ap_mm: float = 0.0
    period_s: float = 8.0

    def __post_init__(self):
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"target kind must be one of {TARGET_KINDS}")
        if not 1.0 <= self.radius_mm <= 300.0:
            raise ValueError("radius_mm must be in [1, 300]")
        if not 0.1 <= self.anchor_s <= 10.0:
            raise ValueError("anchor_s must be in [0.1, 10]")
        if self.kind == "path" and not 1.0 <= self.period_s <= 120.0:
            raise ValueError("period_s must be in [1, 120]")
        for k in ("centre_ml_mm", "centre_ap_mm", "amplitude_ml_mm", "amplitude_ap_mm"):
            if not abs(getattr(self, k)) <= 300.0:
                raise ValueError(f"{k} must be within ±300 mm")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Target":
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown target key {sorted(extra)[0]!r}")
        kw = {}
        for k, v in d.items():
            if k in ("kind",):
                kw[k] = str(v)
            elif k == "relative":
                kw[k] = bool(v)
            else:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError(f"target {k} must be a number")
                kw[k] = float(v)
        return cls(**kw)

    def centres(self, t_rel_s, origin=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
        """Target centre (ML, AP) in mm at times since the set start."""
        t = np.asarray(t_rel_s, float)
        cx = origin[0] + self.centre_ml_mm + np.zeros_like(t)
        cy = origin[1] + self.centre_ap_mm + np.zeros_like(t)
        if self.kind == "path":
            s = np.sin(2 * np.pi * t / self.period_s)
            cx = cx + self.amplitude_ml_mm * s
            cy = cy + self.amplitude_ap_mm * s
        return cx, cy


#: Default targets per plate kind of exercise (the clinician can change the radius).
DEFAULT_TARGETS = {
    "balance": Target("circle", radius_mm=15.0),
    "reps": Target("circle", radius_mm=25.0),
    "shift": Target("path", radius_mm=25.0, amplitude_ml_mm=80.0, period_s=8.0),
}


def _arrays(t_s, ml, ap, fz, min_fz_n):
    t = np.asarray(t_s, float)
    x = np.asarray(ml, float)
    y = np.asarray(ap, float)
    if not (len(t) == len(x) == len(y)):
        raise ValueError("t_s, cop_ml_mm and cop_ap_mm must have the same length")
    if len(t) < 2:
        raise ValueError("a set needs at least 2 samples")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t_s must increase")
    loaded = np.isfinite(x) & np.isfinite(y)
    if fz is not None:
        f = np.asarray(fz, float)
        loaded &= np.isfinite(f) & (f >= min_fz_n)
    return t, x, y, loaded


def _weights(t) -> np.ndarray:
    dt = np.diff(t)
    med = float(np.median(dt))
    w = np.append(dt, med)
    return np.where(w > 3 * med, med, w)


def origin_of(target: Target, t, x, y, loaded) -> tuple[float, float]:
    if not target.relative:
        return 0.0, 0.0
    m = loaded & (t - t[0] <= target.anchor_s)
    if not m.any():
        m = loaded
    if not m.any():
        return 0.0, 0.0
    return float(np.mean(x[m])), float(np.mean(y[m]))


def _inside(target, t, x, y, loaded, origin):
    cx, cy = target.centres(t - t[0], origin)
    with np.errstate(invalid="ignore"):
        d = np.hypot(x - cx, y - cy)
    return loaded & (d <= target.radius_mm), d, cx, cy


def time_in_target(t_s, cop_ml_mm, cop_ap_mm, target: Target, fz_n=None, *, min_fz_n: float = 20.0,
                   origin: tuple[float, float] | None = None) -> dict:
    t, x, y, loaded = _arrays(t_s, cop_ml_mm, cop_ap_mm, fz_n, min_fz_n)
    org = origin if origin is not None else origin_of(target, t, x, y, loaded)
    inside, _d, _cx, _cy = _inside(target, t, x, y, loaded, org)
    w = _weights(t)
    total = float(w.sum())
    tin = float(w[inside].sum())
    longest = run = 0.0
    for wi, ins in zip(w, inside):
        run = run + wi if ins else 0.0
        longest = max(longest, float(run))
    return {"set_duration_s": total, "time_in_target_s": tin, "time_in_target_pct": 100.0 * tin / total,
            "longest_in_target_s": longest, "target_origin_mm": [org[0], org[1]]}


def steadiness(t_s, cop_ml_mm, cop_ap_mm, target: Target, fz_n=None, *, min_fz_n: float = 20.0,
               origin: tuple[float, float] | None = None) -> dict:
    t, x, y, loaded = _arrays(t_s, cop_ml_mm, cop_ap_mm, fz_n, min_fz_n)
    org = origin if origin is not None else origin_of(target, t, x, y, loaded)
    _ins, d, cx, cy = _inside(target, t, x, y, loaded, org)
    out = {"tracking_error_rms_mm": None, "error_speed_mm_s": None}
    if loaded.sum() >= 2:
        out["tracking_error_rms_mm"] = float(np.sqrt(np.mean(d[loaded] ** 2)))
        ex, ey = x - cx, y - cy
        both = loaded[1:] & loaded[:-1]                # only steps between two loaded samples
        dt = np.diff(t)[both]
        if dt.sum() > 0:
            out["error_speed_mm_s"] = float(np.hypot(np.diff(ex)[both], np.diff(ey)[both]).sum() / dt.sum())
    return out


def repetition_quality(t_s, cop_ml_mm, cop_ap_mm, target: Target, reps, fz_n=None, *, good_rep_pct: float = 80.0,
                       min_fz_n: float = 20.0, origin: tuple[float, float] | None = None) -> dict:
    """Per repetition (t_start, t_end): time in target; counts of good repetitions."""
    t, x, y, loaded = _arrays(t_s, cop_ml_mm, cop_ap_mm, fz_n, min_fz_n)
    org = origin if origin is not None else origin_of(target, t, x, y, loaded)
    inside, _d, _cx, _cy = _inside(target, t, x, y, loaded, org)
    w = _weights(t)
    per = []
    for r in reps:
        t0, t1 = float(r[0]), float(r[-1])
        m = (t >= t0) & (t <= t1)
        tot = float(w[m].sum())
        pct = 100.0 * float(w[m & inside].sum()) / tot if tot > 0 else 0.0
        per.append({"start_t_s": t0, "end_t_s": t1, "time_in_target_pct": pct, "good": pct >= good_rep_pct})
    return {"repetition_count": len(per), "good_repetition_count": sum(p["good"] for p in per),
            "repetition_in_target_pct": float(np.mean([p["time_in_target_pct"] for p in per])) if per else None,
            "repetitions": per}


def set_measures(t_s, fz_n, cop_ml_mm, cop_ap_mm, target: Target, *, plate_kind: str = "balance",
                 body_weight_n: float | None = None, min_fz_n: float = 20.0) -> dict:
    """Everything a training set records. Repetition exercises ("reps") find their
    repetitions with the step-down detector (vertical movement of the centre of mass,
    rig.analysis.events), the same one the step-down and single-leg squat tests use."""
    t, x, y, loaded = _arrays(t_s, cop_ml_mm, cop_ap_mm, fz_n, min_fz_n)
    org = origin_of(target, t, x, y, loaded)
    out = {"target": target.to_dict(), "plate_kind": plate_kind}
    out.update(time_in_target(t, x, y, target, fz_n, min_fz_n=min_fz_n, origin=org))
    out.update(steadiness(t, x, y, target, fz_n, min_fz_n=min_fz_n, origin=org))
    if plate_kind == "reps" and fz_n is not None:
        from rig.analysis.events import detect
        from rig.analysis.stepdown import repetitions
        ev = detect(t, np.asarray(fz_n, float), x, y, mode="lateral_step_down", body_weight_n=body_weight_n)
        reps = repetitions(ev)
        out.update(repetition_quality(t, x, y, target, [(a, c) for a, _b, c in reps], fz_n,
                                      min_fz_n=min_fz_n, origin=org))
    return out
