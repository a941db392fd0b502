"""Step-down landing: weighed on the plate, onto the box, the landing on one leg and the hold."""
from __future__ import annotations

from rig.analysis.landing import landing_metrics
from rig.analysis.protocols.kinds.base import SPARE_S, Kind, Measure, data_quality, names

def score(p, res, ev, t, fz, ml, ap, fl, side, body_weight_n=None):
    contacts = names(ev, "landing_contact")
    bw = body_weight_n or next((e.details["body_weight_n"] for e in ev if e.name == "weight_settled"), None)
    if bw is None:
        res.faults.append("bad_quiet_phase")       # never weighed: no landing can be scored
        return
    if not contacts:
        res.faults.append("no_contact")
        return
    c = contacts[0]
    hold = p.params["hold_s"]
    res.scored_window_s = [c.t_s, c.t_s + hold]
    res.measures.update(landing_metrics(t, fz, bw, c.t_s, cop_ml_mm=ml, cop_ap_mm=ap,
                                        tts_window_s=p.params["tts_window_s"],
                                        sway_window_s=tuple(p.params["sway_window_s"]),
                                        box_height_cm=p.params["box_height_cm"]))
    res.measures["contact_confidence"] = c.confidence
    if names(ev, "step_off", c.t_s, c.t_s + hold) or t[-1] < c.t_s + hold - 0.05:
        res.faults.append("stepped_off_early")
    elif names(ev, "touch_down", c.t_s, c.t_s + hold):         # the free foot came down in the hold
        res.faults.append("balance_lost")
    if data_quality(t, fl, c.t_s, c.t_s + hold):
        res.faults.append("data_quality")


WEIGH_S = 3.0                 #: standing on the plate to be weighed
TO_BOX_S = 4.0                #: stepping off the plate and up onto the box


def record_s(p) -> float:
    """Weighed, onto the box, the landing, the ``hold_s`` hold."""
    return WEIGH_S + TO_BOX_S + float(p.params.get("hold_s", 20.0)) + SPARE_S


KIND = Kind("step_down_landing", record_s, score, (
    Measure("peak_force_bw", "lower"), Measure("loading_rate_bw_s", "lower"),
    Measure("tts_seq_avg_s", "lower"), Measure("post_sway_mean_velocity_mm_s", "lower")))
