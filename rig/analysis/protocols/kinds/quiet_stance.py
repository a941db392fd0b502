"""Quiet stance (the mCTSIB conditions): the weight settles, then ``duration_s`` still on both feet."""
from __future__ import annotations

from rig.analysis.protocols.kinds.base import SPARE_S, Kind, Measure, data_quality, names, sway

def score(p, res, ev, t, fz, ml, ap, fl, side, body_weight_n=None):
    ws = names(ev, "weight_settled")
    if not ws:
        res.faults.append("bad_quiet_phase")
        return
    t0 = ws[0].t_s + p.params["settle_s"]
    t1 = t0 + p.duration_s
    res.scored_window_s = [t0, t1]
    if names(ev, "step_off", t1=t1) or t[-1] < t1 - 0.05:
        res.faults.append("stepped_off_early")
    res.measures.update(sway(t, ml, ap, t0, min(t1, t[-1])))
    if data_quality(t, fl, t0, t1):
        res.faults.append("data_quality")


def record_s(p) -> float:
    """The weight settles (about a second), ``settle_s`` more, then the trial."""
    return 1.0 + float(p.params.get("settle_s", 2.0)) + float(p.duration_s) + SPARE_S


KIND = Kind("quiet_stance", record_s, score, (
    Measure("mean_velocity_mm_s", "lower"), Measure("ellipse95_area_mm2", "lower"),
    Measure("rms_ml_mm", "lower"), Measure("rms_ap_mm", "lower")))
