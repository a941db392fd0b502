"""Session level: many trial results → one summary; two summaries → what changed for real.

Pure functions (no I/O, no Flask); the dashboard calls them.

:func:`summarise_session` groups the *scored* trials (not practice, no faults) by protocol
(and condition, e.g. ``single_leg_stance/eyes_closed``) and side. For every numeric measure
it gives, in the measure's own unit (the key carries it: ``sd_ml_mm``, ``descent_s`` …):

* ``mean``, ``sd`` (ddof 1), ``k`` (number of scored trials);
* ``typical_error`` — the SD of the patient's repeated trials in this session (the TE of one
  trial), and ``sem`` = TE/√k, the standard error of the session's mean score;
* ``lsi`` per measure (rig.analysis.symmetry.limb_symmetry on the two sides' means: ``lsi_pct``,
  ``si_pct``, ``worse_side``, ``worse_by_pct``);
* ``frontal_plane`` — the one-line summary of rig.analysis.symmetry.frontal_plane_summary (for a
  protocol run under several conditions, the first listed in CONDITION_PREFERENCE is used).

:func:`compare_sessions` compares two such summaries measure by measure and side by side:
``change`` = current − previous mean; the typical error pooled over the two sessions,
TE = sqrt((TE₁² + TE₂²)/2); SEM = TE/√min(k₁, k₂); MDC95 = 1.96·√2·SEM (rig.analysis.change). When a
published SEM is given for the measure the larger MDC95 is used. The label is "real
improvement" / "real decline" when |change| > MDC95 (direction from rig.analysis.symmetry.DIRECTIONS:
e.g. lower sway is better), "real change" for a measure without a direction, "within noise"
otherwise, and "insufficient data" when neither session has two scored trials.
"""
from __future__ import annotations

import math

from rig.analysis.change import Z95, label_change, larger_mdc95, pooled_typical_error
from rig.analysis.symmetry import DIRECTIONS, comparable, frontal_plane_summary, limb_symmetry

#: Numeric entries of TrialResult.measures that are bookkeeping, not outcome measures.
NOT_MEASURES = frozenset({"foot_lift_t_s", "body_weight_n", "sample_rate_hz", "box_height_cm",
                          "contact_confidence", "start_t_s", "lowest_t_s", "return_t_s"})
#: Which condition represents a protocol in the one-line frontal-plane summary.
CONDITION_PREFERENCE = (None, "eyes_open", "firm_eyes_open")
SIDES = ("left", "right")


def _get(r, name, default=None):
    return r.get(name, default) if isinstance(r, dict) else getattr(r, name, default)


def _is_scored(r) -> bool:
    return not _get(r, "practice", False) and not _get(r, "faults", [])


def _group(r) -> str:
    cond = _get(r, "condition")
    return _get(r, "protocol") if not cond else f"{_get(r, 'protocol')}/{cond}"


def _numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def measure_stats(values) -> dict:
    """mean, sd (ddof 1), k, typical_error (= sd) and sem (= TE/√k) of one measure's trials."""
    x = [float(v) for v in values if _numeric(v)]
    k = len(x)
    mean = sum(x) / k if k else None
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (k - 1)) if k >= 2 else None
    return {"mean": mean, "sd": sd, "k": k, "typical_error": sd,
            "sem": sd / math.sqrt(k) if sd is not None else None}


def summarise_session(trial_results, involved: str | None = None) -> dict:
    """Per protocol (and condition), per side: measure statistics, LSI and the frontal line.

    ``trial_results``: TrialResult objects or their dicts (TrialResult.to_dict());
    ``involved``: the patient's involved side ("left"/"right"), the LSI's numerator.
    Returns ``{"protocols": {group: {"kind", "condition", "sides": {side: {"k_trials",
    "measures": {name: stats}}}, "lsi": {name: ...}}}, "frontal_plane": str,
    "excluded_trials": n}``.
    """
    groups: dict = {}
    excluded = 0
    for r in trial_results:
        side = _get(r, "side")
        if not _is_scored(r) or side not in SIDES:
            excluded += 1
            continue
        g = groups.setdefault(_group(r), {"kind": _get(r, "kind"), "condition": _get(r, "condition"),
                                          "protocol": _get(r, "protocol"), "trials": {s: [] for s in SIDES}})
        g["trials"][side].append(_get(r, "measures", {}) or {})
    out: dict = {"protocols": {}, "excluded_trials": excluded}
    frontal_in: dict = {}
    for name in sorted(groups):
        g = groups[name]
        sides = {}
        for side in SIDES:
            trials = g["trials"][side]
            keys = sorted({k for m in trials for k, v in m.items() if _numeric(v) and k not in NOT_MEASURES})
            sides[side] = {"k_trials": len(trials),
                           "measures": {k: measure_stats([m.get(k) for m in trials]) for k in keys}}
        lsi = {}
        for k in sorted(set(sides["left"]["measures"]) & set(sides["right"]["measures"])):
            if comparable(k):            # amounts only: a position or an event time has no index
                lsi[k] = limb_symmetry(sides["left"]["measures"][k]["mean"], sides["right"]["measures"][k]["mean"],
                                       measure=k, involved=involved)
        out["protocols"][name] = {"protocol": g["protocol"], "kind": g["kind"], "condition": g["condition"],
                                  "sides": sides, "lsi": lsi}
        means = {s: {k: v["mean"] for k, v in sides[s]["measures"].items()} for s in SIDES}
        prev = frontal_in.get(g["kind"])
        rank = CONDITION_PREFERENCE.index(g["condition"]) if g["condition"] in CONDITION_PREFERENCE else 99
        if prev is None or rank < prev[0]:
            frontal_in[g["kind"]] = (rank, means)
    out["frontal_plane"] = frontal_plane_summary({k: v[1] for k, v in frontal_in.items()})
    return out


def compare_sessions(previous_summary: dict, current_summary: dict, *, published_sem: dict | None = None) -> dict:
    """Per group, measure and side: change, pooled TE, SEM, MDC95 and the label.

    ``published_sem``: optional {measure: SEM in the measure's unit}; the larger MDC95 wins.
    Returns ``{group: {measure: {side: {...}}}}`` for every group/measure/side in both."""
    published_sem = published_sem or {}
    out: dict = {}
    for g in sorted(set(previous_summary.get("protocols", {})) & set(current_summary.get("protocols", {}))):
        pa, pb = previous_summary["protocols"][g], current_summary["protocols"][g]
        res: dict = {}
        for side in SIDES:
            ma, mb = pa["sides"][side]["measures"], pb["sides"][side]["measures"]
            for k in sorted(set(ma) & set(mb)):
                a, b = ma[k], mb[k]
                res.setdefault(k, {})[side] = _compare_one(k, a, b, published_sem.get(k))
        out[g] = res
    return out


def _compare_one(measure, a, b, pub_sem) -> dict:
    change = None if a["mean"] is None or b["mean"] is None else b["mean"] - a["mean"]
    with_te = [s for s in (a, b) if s["typical_error"] is not None]
    te = pooled_typical_error([s["typical_error"] for s in with_te])
    sem = te / math.sqrt(min(s["k"] for s in with_te)) if te is not None else None
    mdc, src = larger_mdc95(sem, pub_sem)
    d = DIRECTIONS.get(measure, 0)
    return {"previous": a["mean"], "current": b["mean"], "change": change,
            "typical_error": te, "sem": sem, "mdc95": mdc, "mdc_source": src,
            "direction": {1: "lower is better", -1: "higher is better"}.get(d, "none"),
            "label": label_change(change, mdc, d)}


__all__ = ["summarise_session", "compare_sessions", "measure_stats", "NOT_MEASURES", "Z95"]
