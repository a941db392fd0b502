"""Lateral step-down: measures per repetition and averaged over a trial.

Repetitions come from rig.analysis.events (stepdown_lowering_start → stepdown_lowest →
stepdown_return). Per repetition:
- descent_s, return_s: lowering start → lowest point, lowest point → return;
- ml_excursion_mm: range of COP ML during the repetition; ml_medial_mm / ml_lateral_mm: the
  largest COP ML excursion towards the midline (medial) and away from it (lateral), from the
  COP ML at the start of the repetition (positive numbers, mm);
- cop_velocity_lowering_mm_s: COP path length / time during the lowering;
- fz_smoothness_rms_bw_s: RMS of dFz/dt divided by body weight over the repetition (1/s;
  larger = less smooth).
The trial adds repetition_count and the mean of each measure (``mean_`` prefix).
"""
from __future__ import annotations

import numpy as np


def repetitions(events) -> list[tuple[float, float, float]]:
    """(start, lowest, return) times of each complete repetition, in order."""
    reps, cur = [], None
    for e in events:
        if e.name == "stepdown_lowering_start":
            cur = [e.t_s, None]
        elif e.name == "stepdown_lowest" and cur is not None and cur[1] is None:
            cur[1] = e.t_s
        elif e.name == "stepdown_return" and cur is not None and cur[1] is not None:
            reps.append((cur[0], cur[1], e.t_s))
            cur = None
        elif e.name in ("stepdown_abandoned", "step_off"):
            cur = None
    return reps


def repetition_measures(t_s, fz_n, cop_ml_mm, cop_ap_mm, body_weight_n, rep, stance_side) -> dict:
    t = np.asarray(t_s, float)
    fz = np.asarray(fz_n, float)
    ml = np.asarray(cop_ml_mm, float)
    ap = np.asarray(cop_ap_mm, float)
    t0, tl, t1 = rep
    m = (t >= t0) & (t <= t1)
    low = (t >= t0) & (t <= tl)
    medial = 1.0 if stance_side == "left" else -1.0    # the midline is to the right of a left foot
    ml0 = float(np.interp(t0, t, ml))
    d = (ml[m] - ml0) * medial
    dfz = np.diff(fz[m]) / np.diff(t[m])
    path = np.hypot(np.diff(ml[low]), np.diff(ap[low])).sum()
    return {"start_t_s": t0, "lowest_t_s": tl, "return_t_s": t1,
            "descent_s": tl - t0, "return_s": t1 - tl,
            "ml_excursion_mm": float(np.nanmax(ml[m]) - np.nanmin(ml[m])),
            "ml_medial_mm": float(max(0.0, np.nanmax(d))), "ml_lateral_mm": float(max(0.0, -np.nanmin(d))),
            "cop_velocity_lowering_mm_s": float(path / (tl - t0)) if tl > t0 else None,
            "fz_smoothness_rms_bw_s": float(np.sqrt(np.mean(dfz ** 2)) / body_weight_n)}


def stepdown_measures(t_s, fz_n, cop_ml_mm, cop_ap_mm, body_weight_n, events, stance_side) -> dict:
    reps = repetitions(events)
    per = [repetition_measures(t_s, fz_n, cop_ml_mm, cop_ap_mm, body_weight_n, r, stance_side) for r in reps]
    out = {"repetition_count": len(per), "repetitions": per}
    for key in ("descent_s", "return_s", "ml_excursion_mm", "ml_medial_mm", "ml_lateral_mm",
                "cop_velocity_lowering_mm_s", "fz_smoothness_rms_bw_s"):
        vals = [p[key] for p in per if p[key] is not None]
        out[f"mean_{key}"] = float(np.mean(vals)) if vals else None
    return out
