"""Lateral step-down: on the stance leg, one repetition per metronome cue (cue-guided when the
recording has its cues, blind otherwise)."""
from __future__ import annotations

import numpy as np

from rig.analysis.protocols import timing
from rig.analysis.protocols.kinds.base import Kind, Measure, data_quality, names
from rig.analysis.stepdown import stepdown_measures

def score(p, res, ev, t, fz, ml, ap, fl, side, body_weight_n=None):
    ws = names(ev, "weight_settled")
    if not ws:
        res.faults.append("bad_quiet_phase")
        return
    bw = ws[0].details["body_weight_n"]
    stance = side
    if stance not in ("left", "right"):
        med = float(np.nanmedian(ml[t >= ws[0].t_s]))
        stance = "left" if med < 0 else "right"
    m = stepdown_measures(t, fz, ml, ap, bw, ev, stance)
    res.measures.update(m)
    res.measures["not_performed_count"] = len(names(ev, "stepdown_not_performed"))
    res.measures["uncued_movement_count"] = len(names(ev, "stepdown_uncued_movement"))
    res.measures["cue_guided"] = any(e.details.get("via") == "cue" for e in names(ev, "stepdown_lowest")) \
        or res.measures["not_performed_count"] > 0
    res.measures["body_weight_n"] = bw
    res.scored_window_s = [ws[0].t_s, float(t[-1])]
    if m["repetition_count"] < p.params["repetitions"]:
        res.faults.append("incomplete_repetitions")
    if names(ev, "hop"):
        res.faults.append("balance_lost")
    if names(ev, "step_off") and m["repetition_count"] < p.params["repetitions"]:
        res.faults.append("stepped_off_early")
    if data_quality(t, fl, ws[0].t_s, t[-1]):
        res.faults.append("data_quality")


def record_s(p) -> float:
    """The metronome's count-in, the repetitions' cue windows and a margin (timing.metronome_plan)."""
    return timing.metronome_plan(p)["seconds"]


KIND = Kind("lateral_step_down", record_s, score, (
    Measure("repetition_count", "higher"), Measure("mean_ml_medial_mm", "lower"),
    Measure("mean_cop_velocity_lowering_mm_s", "lower"), Measure("mean_fz_smoothness_rms_bw_s", "lower")))
