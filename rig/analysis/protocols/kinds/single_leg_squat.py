"""Single-leg squat: on the stance leg, repetitions at the cadence; its events are a single-leg
stance's (foot lift, touch-down), its repetitions are segmented after the trial (rig.analysis.squat)."""
from __future__ import annotations

import numpy as np

from rig.analysis.protocols.kinds.base import SPARE_S, Kind, Measure, data_quality, names
from rig.analysis.squat import squat_measures

def score(p, res, ev, t, fz, ml, ap, fl, side, body_weight_n=None):
    """Single-leg squat: rig.analysis.squat's drift-corrected repetitions and measures (same keys as
    the step-down's), with touch-downs of the free foot from the stance events."""
    ws = names(ev, "weight_settled")
    lifts = names(ev, "foot_lift")
    t0 = lifts[0].t_s if lifts else (ws[0].t_s if ws else float(t[0]))
    bw = ws[0].details["body_weight_n"] if ws else float(np.nanmedian(fz[t >= t0]))
    stance = side if side in ("left", "right") else (
        lifts[0].details.get("stance_side") if lifts else ("left" if np.nanmedian(ml) < 0 else "right"))
    seg = t >= t0
    res.measures.update(squat_measures(t[seg], fz[seg], ml[seg], ap[seg], stance, body_weight_n=bw))
    res.measures["body_weight_n"] = bw
    res.scored_window_s = [t0, float(t[-1])]
    if not ws:
        res.faults.append("bad_quiet_phase")
    if names(ev, "touch_down", t0) or names(ev, "hop", t0):
        res.faults.append("balance_lost")
    if data_quality(t, fl, t0, float(t[-1])):
        res.faults.append("data_quality")


def record_s(p) -> float:
    """Still on the stance leg ``settle_s``, then the repetitions (two beats each)."""
    reps = int(p.params.get("repetitions", 5))
    return float(p.params.get("settle_s", 2.0)) + reps * 2 * 60.0 / float(p.params.get("cadence_bpm", 40.0)) + 2 * SPARE_S


KIND = Kind("single_leg_squat", record_s, score, (
    Measure("mean_ml_medial_mm", "lower"), Measure("mean_cop_velocity_lowering_mm_s", "lower"),
    Measure("mean_fz_smoothness_rms_bw_s", "lower"), Measure("repetition_count", "higher")))
