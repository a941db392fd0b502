"""Single-leg squat test (the "squat on one leg in front of a mirror" screen), measured.

For the plate a single-leg squat is a lateral step-down without the heel tap: the stance
foot stays put while the centre of mass (COM) goes down and up. The per-repetition measures
are rig.analysis.stepdown's (:func:`rig.analysis.stepdown.repetition_measures`), with the same keys and
conventions, per repetition and as ``mean_`` per trial:

- ``descent_s`` (start → lowest point) and ``return_s`` (lowest point → back up: the ascent);
- ``ml_medial_mm``: the largest COP excursion toward the body's midline from where the
  repetition started (dynamic knee valgus carries the COP medially); ``ml_lateral_mm``,
  ``ml_excursion_mm`` (ML range);
- ``cop_velocity_lowering_mm_s``; ``fz_smoothness_rms_bw_s`` (RMS dFz/dt over body weight,
  1/s: larger = jerkier); ``repetition_count``.

Only the *segmentation* differs, because a trial is analysed after it ends: the live
step-down detector (rig.analysis.events) integrates (Fz − BW)/m causally and its velocity drifts with
any error in BW, which matters little for a quick step-down with a heel tap but loses slow
squats separated by short pauses. Here each movement is cut out between two still moments
(Fz within ``move_frac`` of BW), where the COM velocity is known to be zero; the velocity is
integrated over that window and its linear drift removed so that it is zero at both ends
(a constant BW error gives exactly a linear drift). "Still" is judged against the median Fz
of the loaded samples, so a body weight a few per cent off does not hide the still moments. The repetition starts and ends where
the COM velocity crosses ∓``v_edge_m_s`` (0.01 m/s, as rig.analysis.events does for step-downs); the
lowest point is the lowest COM position. ``touch_down_count`` counts repetitions in which
the 0.1-s mean Fz fell below (1 − ``touch_frac``)·BW: the free foot took weight (a fault; the
repetition is kept, with Fz bridged across the touch for the COM integration).

The two sides' means of the COMPARED measures go through rig.analysis.symmetry.symmetry_table (LSI, SI, worse side).
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import cumulative_trapezoid

from rig.signal.plate import G
from rig.analysis.smoothing import moving_mean
from rig.analysis.stepdown import repetition_measures

#: Trial-level keys compared left vs right.
COMPARED = ("mean_ml_medial_mm", "mean_ml_excursion_mm", "mean_ml_lateral_mm", "mean_cop_velocity_lowering_mm_s",
            "mean_descent_s", "mean_return_s", "mean_fz_smoothness_rms_bw_s", "repetition_count")
MEANS = ("descent_s", "return_s", "ml_excursion_mm", "ml_medial_mm", "ml_lateral_mm",
         "cop_velocity_lowering_mm_s", "fz_smoothness_rms_bw_s", "depth_m")


def _runs(mask):
    """(start, stop) index pairs of True runs."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


def _cross(t, v, i, level):
    """Time where v crosses ``level`` between samples i and i+1 (linear)."""
    a, b = v[i], v[i + 1]
    if b == a:
        return float(t[i])
    return float(t[i] + (level - a) / (b - a) * (t[i + 1] - t[i]))


def squat_repetitions(t_s, fz_n, body_weight_n, *, move_frac=0.015, merge_s=0.6, pad_s=0.25,
                      min_depth_m=0.03, v_edge_m_s=0.01, touch_frac=0.12) -> list[dict]:
    """Repetitions of a squat trial: dicts with start/lowest/return times, depth, touch-down."""
    t = np.asarray(t_s, float)
    fz = np.asarray(fz_n, float)
    bw = float(body_weight_n)
    if len(t) < 10:
        return []
    dt = float(np.median(np.diff(t)))
    fs = moving_mean(np.nan_to_num(fz, nan=0.0), max(1, int(round(0.1 / dt))), "nearest")
    loaded = fz > 0.5 * bw
    if not loaded.any():
        return []
    ref = float(np.median(fz[loaded]))       # still level as the plate reads it (BW ± calibration error)
    moving = (np.abs(fs - ref) > move_frac * ref) & loaded
    runs = _runs(moving)
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and t[a] - t[merged[-1][1] - 1] < merge_s and loaded[merged[-1][1]:a].all():
            merged[-1][1] = b
        else:
            merged.append([a, b])
    mass = bw / G
    out = []
    pad = int(round(pad_s / dt))
    for a, b in merged:
        i0, i1 = max(0, a - pad), min(len(t), b + pad)
        # stay on the plate: shrink to the loaded stretch around the movement
        while i0 < a and not loaded[i0:a].all():
            i0 += 1
        while i1 > b and not loaded[b:i1].all():
            i1 -= 1
        tt, ff = t[i0:i1], fz[i0:i1]
        if len(tt) < 5 or tt[-1] - tt[0] < 0.5:
            continue
        below = moving_mean(ff, max(1, int(round(0.1 / dt))), "nearest") < (1 - touch_frac) * ref
        if below.any():
            # the free foot took weight: the plate missed that share, so bridge Fz across it
            near = np.convolve(below, np.ones(2 * max(1, int(round(0.05 / dt))) + 1), mode="same") > 0
            ff = ff.copy()
            ff[near] = np.interp(tt[near], tt[~near], ff[~near]) if (~near).sum() >= 2 else ref
        acc = (ff - bw) / mass
        v = cumulative_trapezoid(acc, tt, initial=0.0)
        v -= v[-1] * (tt - tt[0]) / (tt[-1] - tt[0])            # zero velocity at both still ends
        z = cumulative_trapezoid(v, tt, initial=0.0)
        il = int(np.argmin(z))
        depth = -float(z[il])
        if depth < min_depth_m or il == 0 or il == len(z) - 1:
            continue
        down = np.nonzero(v[:il] > -v_edge_m_s)[0]               # last still-enough sample before the descent
        k0 = int(down[down < il - 1][-1]) if np.any(down < il - 1) else 0
        up = np.nonzero(v[il + 1:] < v_edge_m_s)[0] + il + 1
        peak = il + int(np.argmax(v[il:]))
        after = up[up > peak]
        k1 = int(after[0]) if len(after) else len(tt) - 1
        t_start = _cross(tt, v, k0, -v_edge_m_s) if k0 + 1 < len(tt) else float(tt[k0])
        t_end = _cross(tt, v, k1 - 1, v_edge_m_s) if k1 > 0 else float(tt[k1])
        out.append({"start_t_s": t_start, "lowest_t_s": float(tt[il]), "return_t_s": t_end, "depth_m": depth,
                    "touch_down": bool(below.any())})
    return out


def squat_measures(t_s, fz_n, cop_ml_mm, cop_ap_mm, stance_side, *, body_weight_n=None, **seg) -> dict:
    """Per-repetition and mean measures of one single-leg squat trial on ``stance_side``.

    ``body_weight_n``: when None, the median Fz of the loaded samples (the squats go as far
    above body weight as below it, so the median is body weight)."""
    if stance_side not in ("left", "right"):
        raise ValueError("stance_side must be 'left' or 'right'")
    t = np.asarray(t_s, float)
    fz = np.asarray(fz_n, float)
    bw = body_weight_n
    if bw is None:
        on = fz[np.isfinite(fz) & (fz > 0.5 * np.nanmax(fz))]
        bw = float(np.median(on))
    reps = squat_repetitions(t, fz, bw, **seg)
    per = []
    for r in reps:
        m = repetition_measures(t, fz, cop_ml_mm, cop_ap_mm, bw, (r["start_t_s"], r["lowest_t_s"], r["return_t_s"]),
                                stance_side)
        m["depth_m"] = r["depth_m"]
        m["touch_down"] = r["touch_down"]
        per.append(m)
    out = {"stance_side": stance_side, "body_weight_n": float(bw), "repetition_count": len(per),
           "touch_down_count": sum(p["touch_down"] for p in per), "repetitions": per}
    for key in MEANS:
        vals = [p[key] for p in per if p.get(key) is not None]
        out[f"mean_{key}"] = float(np.mean(vals)) if vals else None
    return out


__all__ = ["COMPARED", "squat_measures", "squat_repetitions"]
