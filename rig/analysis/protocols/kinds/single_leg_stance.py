"""Single-leg stance: still, the lift, the hold on one leg; touch-downs and hops end it."""
from __future__ import annotations

from rig.analysis.protocols.kinds.base import SPARE_S, Kind, Measure, data_quality, names, sway

def score(p, res, ev, t, fz, ml, ap, fl, side, body_weight_n=None):
    lifts = names(ev, "foot_lift")
    if not lifts:
        res.faults.append("no_foot_lift")
        return
    lift = lifts[0]
    if not names(ev, "weight_settled", t1=lift.t_s):
        res.faults.append("bad_quiet_phase")
    if side is not None and lift.details.get("stance_side") != side:
        res.faults.append("wrong_side")
    t0 = lift.t_s + p.params["scored_window_start_s"]
    t1 = lift.t_s + p.duration_s
    res.scored_window_s = [t0, t1]
    touches = names(ev, "touch_down", lift.t_s, t1) + names(ev, "hop", lift.t_s, t1)
    touches.sort(key=lambda e: e.t_s)
    offs = names(ev, "step_off", lift.t_s, t1)
    m = res.measures
    m["stance_side"] = lift.details.get("stance_side")
    m["foot_lift_t_s"] = lift.t_s
    m["touch_down_count"] = len(touches)
    first_td = touches[0].t_s if touches else None
    m["time_to_first_touch_down_s"] = (first_td - lift.t_s) if first_td is not None else p.duration_s
    m["touch_down_censored"] = first_td is None
    if touches:
        res.faults.append("balance_lost")
    if offs:
        res.faults.append("stepped_off_early")
    if t[-1] < t1 - 0.05 and not offs:
        res.faults.append("stepped_off_early")
    end = min(t1, first_td if first_td is not None else t1)
    m["sway_window_s"] = [t0, end]
    if end - t0 >= 5.0:
        m.update(sway(t, ml, ap, t0, end))
    if data_quality(t, fl, t0, t1):
        res.faults.append("data_quality")


def record_s(p) -> float:
    """Still for ``settle_s``, the lift (within ``lift_within_s``), the ``duration_s`` hold."""
    return float(p.params.get("settle_s", 2.0)) + float(p.params.get("lift_within_s", 5.0)) + float(p.duration_s) + SPARE_S


KIND = Kind("single_leg_stance", record_s, score, (
    Measure("mean_velocity_mm_s", "lower"), Measure("mean_velocity_ml_mm_s", "lower"),
    Measure("ellipse95_area_mm2", "lower"), Measure("touch_down_count", "lower"),
    Measure("time_to_first_touch_down_s", "higher")))
