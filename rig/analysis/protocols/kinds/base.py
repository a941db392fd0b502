"""What every protocol kind shares: the kind's description (:class:`Kind`) and the helpers its
scoring uses (events by name, the sway suite over a window, the data-quality check)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rig.hw.flags import Flag

#: Recorded after the task's end.
SPARE_S = 1.0


@dataclass(frozen=True)
class Measure:
    """A headline measure of a kind: its key and which way is better."""

    key: str
    better: str          #: "lower" | "higher"


@dataclass(frozen=True)
class Kind:
    """One protocol kind: how long a trial is recorded (``record_s(protocol)``), how a trial is
    scored (``score(protocol, result, events, t, fz, ml, ap, flags, side,
    body_weight_n)``, filling the TrialResult's measures and faults) and the few measures a
    clinician reads first (``headline``, 3-5)."""

    name: str
    record_s: Callable
    score: Callable
    headline: tuple[Measure, ...]


def names(ev, name, t0=-math.inf, t1=math.inf):
    """The events called ``name`` in [t0, t1]."""
    return [e for e in ev if e.name == name and t0 <= e.t_s <= t1]


def sway(t, ml_mm, ap_mm, t0, t1) -> dict:
    """The sway suite (rig.analysis.metrics) on [t0, t1], ML measures first."""
    m = (t >= t0) & (t <= t1) & np.isfinite(ml_mm) & np.isfinite(ap_mm)
    if m.sum() < 20:
        return {}
    from rig.analysis.metrics import compute_all
    res = compute_all(t[m], ml_mm[m] / 1000.0, ap_mm[m] / 1000.0)
    flat = res.get("metrics", res)
    flat = {k: v for k, v in flat.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    ml = {k: v for k, v in flat.items() if "_ml" in k}
    return {**ml, **{k: v for k, v in flat.items() if k not in ml}}


def data_quality(t, flags, t0, t1) -> bool:
    bad = int(Flag.INVALID) | int(Flag.SATURATED) | int(Flag.FAULT)
    m = (t >= t0) & (t <= t1)
    return bool(np.any(flags[m] & bad))
