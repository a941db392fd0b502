"""Left/right comparison: a limb symmetry index for every measure, and a one-line
frontal-plane summary.

Formulas (docs/protocols.md):
- lsi_pct = 100 · x_involved / x_uninvolved (the usual LSI); with no involved side declared,
  100 · x_left / x_right.
- si_pct = 100 · (x_left − x_right) / ((x_left + x_right) / 2) (Robinson et al. 1987's symmetry
  index: 0 = symmetric, sign says which side is larger).
- worse_side: from the measure's direction (DIRECTIONS: +1 larger is worse, −1 larger is
  better, 0 or missing: no "worse", only the difference), and worse_by_pct =
  100 · |x_worse − x_better| / |x_better|; a side is called worse only from WORSE_MIN_PCT
  (10 %: the 90 % limb symmetry criterion common in return-to-sport testing) on, below that
  the sides count as alike.
- Positions, angles and event times (a mean COP of −9.5 mm under the left foot and +9.6 mm
  under the right, a foot-lift time) are not amounts of anything: they get no index
  (:func:`comparable`), where an LSI of −99 % would be nonsense.
"""
from __future__ import annotations

import math
import numbers

#: +1: a larger value is worse (more sway, harder landing, later stabilisation);
#: −1: a larger value is better; 0: no direction (e.g. movement times).
DIRECTIONS = {
    "mean_velocity_ml_mm_s": 1, "mean_velocity_mm_s": 1, "sd_ml_mm": 1, "sd_ap_mm": 1,
    "range_ml_mm": 1, "ellipse95_area_mm2": 1, "rms_ml_mm": 1, "tts_cop_ml_seq_avg_s": 1,
    "time_to_first_touch_down_s": -1, "touch_down_count": 1,
    "mean_ml_excursion_mm": 1, "mean_ml_medial_mm": 1, "mean_ml_lateral_mm": 1,
    "mean_cop_velocity_lowering_mm_s": 1, "mean_fz_smoothness_rms_bw_s": 1,
    "mean_descent_s": 0, "mean_return_s": 0, "repetition_count": -1,
    "peak_force_bw": 1, "loading_rate_bw_s": 1, "impulse_100ms_bw_s": 1, "vsi_bw": 1,
    "tts_seq_avg_s": 1, "tts_bw5_s": 1, "tts_cop_seq_avg_s": 1, "time_to_peak_s": -1,
    "post_sway_sd_ml_mm": 1, "post_sway_mean_velocity_mm_s": 1, "post_sway_mean_velocity_ml_mm_s": 1,
}

#: Below this difference (% of the better side) neither side is called worse.
WORSE_MIN_PCT = 10.0
#: Key endings of measures that are positions, directions or times of events: no index.
NOT_AMOUNTS = ("mean_ml_mm", "mean_ap_mm", "_deg", "_t_s")


def comparable(measure: str) -> bool:
    """Whether a left/right index means anything for ``measure`` (an amount, not a position)."""
    return not measure.endswith(NOT_AMOUNTS)


#: Measures that describe frontal-plane (medio-lateral) control, in the order the summary uses.
FRONTAL = [("single_leg_stance", "mean_velocity_ml_mm_s", "stance ML sway velocity"),
           ("single_leg_stance", "sd_ml_mm", "stance ML sway SD"),
           ("lateral_step_down", "mean_ml_excursion_mm", "step-down ML excursion"),
           ("lateral_step_down", "mean_ml_medial_mm", "step-down medial COP shift"),
           ("step_down_landing", "tts_cop_ml_seq_avg_s", "landing ML stabilisation time")]


def limb_symmetry(left, right, *, measure=None, involved=None, higher_is_worse=None) -> dict:
    """LSI, SI and the worse side for one measure (None where a value is missing or zero)."""
    out = {"left": left, "right": right, "lsi_pct": None, "si_pct": None,
           "worse_side": None, "worse_by_pct": None}
    if left is None or right is None or not all(map(math.isfinite, (left, right))):
        return out
    inv, uninv = (left, right) if involved in (None, "left") else (right, left)
    if uninv != 0:
        out["lsi_pct"] = 100.0 * inv / uninv
    if left + right != 0:
        out["si_pct"] = 100.0 * (left - right) / ((left + right) / 2)
    d = higher_is_worse if higher_is_worse is not None else DIRECTIONS.get(measure, 0)
    if d and left != right:
        worse = "left" if (left > right) == (d > 0) else "right"
        better_v = right if worse == "left" else left
        worse_v = left if worse == "left" else right
        if better_v != 0:
            out["worse_by_pct"] = 100.0 * abs(worse_v - better_v) / abs(better_v)
        if out["worse_by_pct"] is None or out["worse_by_pct"] >= WORSE_MIN_PCT:
            out["worse_side"] = worse
    return out


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def symmetry_table(left: dict, right: dict, involved=None, measures=None) -> dict:
    """limb_symmetry for every numeric measure present on both sides: those of ``measures``
    in that order, or all of them sorted by name. NumPy numbers count as numbers."""
    keys = sorted(set(left) & set(right)) if measures is None else [k for k in measures if k in left and k in right]
    out = {}
    for k in keys:
        a, b = left[k], right[k]
        if _number(a) and _number(b) and comparable(k):
            out[k] = limb_symmetry(float(a), float(b), measure=k, involved=involved)
    return out


def frontal_plane_summary(by_protocol: dict) -> str:
    """One line for the clinician. ``by_protocol[kind] = {"left": {...}, "right": {...}}``."""
    parts, votes = [], {"left": 0, "right": 0}
    for kind, key, label in FRONTAL:
        sides = by_protocol.get(kind)
        if not sides or key not in sides.get("left", {}) or key not in sides.get("right", {}):
            continue
        s = limb_symmetry(sides["left"][key], sides["right"][key], measure=key, higher_is_worse=1)
        if s["worse_side"] is None or s["worse_by_pct"] is None:
            continue
        votes[s["worse_side"]] += 1
        parts.append(f"{label} {s['worse_side'][0].upper()} +{s['worse_by_pct']:.0f}%")
    if not parts:
        return "Frontal-plane control: not enough left/right data."
    n = sum(votes.values())
    if votes["left"] == votes["right"]:
        head = f"Frontal-plane control: no consistent worse side ({votes['left']} of {n} measures each)"
    else:
        side = max(votes, key=votes.get)
        head = f"Frontal-plane control: {side.upper()} worse on {votes[side]} of {n} measures"
    return head + " — " + "; ".join(parts) + "."
