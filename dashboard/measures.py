"""A trial's analysis for the dashboard, and "real change" over weeks.

The science is not here: a stored trial is analysed by the protocols' own analysis
(``rig.analysis.protocols.analysis.analyse_trial``: events → the protocol's scored window → its
measures with unit-named keys, and fault flags), so the dashboard shows exactly what the
protocol runs and ``rig analyze`` compute. This module adds only what is the dashboard's:
quality counts for the trial page, the order measures are shown in, the 95 % ellipse the
report draws, and the MDC labels of the history. Display units: dashboard/units.py.

A failed analysis never loses a trial: the samples are stored first, the trial keeps
``quality["analysis"] = {"ok": False, "error": "analysis failed: <reason>"}`` and the pages
show that message.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from rig.analysis.metrics.positional import ellipse
from rig.analysis.change import mdc95, published_sem
from rig.analysis.symmetry import DIRECTIONS

from rig.hw.flags import Flag
from rig.signal.plate import G, SAMPLE_COLUMNS

log = logging.getLogger(__name__)


#: Minimal detectable change (95 %) used when rig.analysis.change gives none, per key: (MDC, lower_is_better).
#: Placeholders of the order reported for single-leg stance on force plates; a clinic should
#: set its own on the settings page (MDC = 1.96·√2·SEM from its test-retest data).
DEFAULT_MDC = {
    "mean_velocity_mm_s": (3.0, True),
    "mean_velocity_ml_mm_s": (3.0, True),
    "path_length_mm": (90.0, True),
    "ellipse95_area_mm2": (200.0, True),
    "sd_ml_mm": (1.0, True),
    "rms_ml_mm": (1.0, True),
    "rms_ap_mm": (1.0, True),
}

#: Measures shown first (in this order) on trial pages, trends and reports (keys of
#: rig.analysis.protocols.analysis: sway suite for stance protocols, then landing and step-down).
HEADLINE = ("mean_velocity_mm_s", "ellipse95_area_mm2", "path_length_mm", "mean_velocity_ml_mm_s",
            "sd_ml_mm", "rms_ml_mm", "rms_ap_mm", "touch_down_count", "time_to_first_touch_down_s",
            "peak_force_bw", "tts_seq_avg_s", "loading_rate_bw_s", "repetition_count")


def columns_index(columns) -> dict[str, int]:
    return {c: i for i, c in enumerate(columns)}


#: Protocol kinds in which an empty plate is part of the test (the patient climbs onto a box).
EMPTY_PLATE_EXPECTED = ("step_down_landing",)


def quality(samples: np.ndarray, columns=SAMPLE_COLUMNS, kind: str | None = None) -> dict:
    """Flag counts and human warnings for the trial page ("quality flags")."""
    ix = columns_index(columns)
    flags = samples[:, ix["flags"]].astype(np.int64) if len(samples) else np.zeros(0, np.int64)
    n = len(flags)
    counts = {f.name.lower(): int(np.count_nonzero(flags & int(f))) for f in Flag if f}
    warnings = []
    if n == 0:
        warnings.append("no samples")
    else:
        if counts["invalid"] or counts["fault"]:
            warnings.append("a load cell stopped answering or sent bad frames during the trial")
        if counts["saturated"]:
            warnings.append("a load cell was overloaded (saturated)")
        if counts["unloaded"] / n > 0.05 and kind not in EMPTY_PLATE_EXPECTED:
            warnings.append(f"{100 * counts['unloaded'] / n:.0f}% of samples with nobody on the plate")
        if counts["gap"]:
            warnings.append(f"{counts['gap']} gaps in the sample stream")
    return {"n_samples": n, "flag_counts": counts, "warnings": warnings, "ok": not warnings}


def analyse(samples: np.ndarray, columns, protocol_id: str, side: str | None,
            body_mass_kg: float | None, meta: dict | None = None) -> tuple[dict[str, float], dict]:
    """Run the protocol's analysis on a stored trial.

    ``meta``: the recording's metadata; a lateral step-down's ``# cues_s:`` line (the run
    page's metronome, rig.analysis.protocols.analysis.cues_from_metadata) makes the analysis cue-guided.

    Returns (results, analysis): ``results`` the numeric measures to store (unit-named keys,
    finite floats); ``analysis`` what the pages show: ``{"ok": True, "scored", "faults",
    "events", "scored_window_s", "measures"}`` (the TrialResult, all measures) or
    ``{"ok": False, "error": "analysis failed: <reason>"}``. Never raises: the samples are
    already stored, and the failure is stored and shown instead.
    """
    from dashboard import protocols
    from rig.analysis.protocols.analysis import analyse_recording
    info = protocols.get(protocol_id)
    if info is None or info._proto is None:
        return {}, {"ok": False, "error": f"analysis failed: unknown protocol {protocol_id!r}"}
    proto = info._proto
    ix = columns_index(columns)
    col = lambda name: samples[:, ix[name]]
    # the patient's weight only where the protocol cannot weigh them on the plate first
    bw = body_mass_kg * G if body_mass_kg and proto.kind == "step_down_landing" else None
    try:
        if len(samples) < 2:
            raise ValueError(f"{len(samples)} samples")
        res = analyse_recording(proto, col("t_s"), col("fz_n"), col("cop_ml_mm"), col("cop_ap_mm"), col("flags"),
                                meta, side=side, body_weight_n=bw)
    except Exception as exc:  # noqa: BLE001 - stored and shown as "analysis failed: …", with the traceback logged
        log.warning("analysis of a %s trial failed", protocol_id, exc_info=True)
        reason = str(exc) or type(exc).__name__
        return {}, {"ok": False, "error": f"analysis failed: {reason}"}
    d = res.to_dict()
    results = {k: float(v) for k, v in d["measures"].items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    return results, {"ok": True, "scored": res.scored, **d}    # the TrialResult (rig.analysis.protocols.session reads it)


def evaluate(samples: np.ndarray, columns, protocol_id: str, side: str | None,
             body_mass_kg: float | None, meta: dict | None = None) -> tuple[dict, dict[str, float]]:
    """(quality, results) of a stored trial: quality() with the analysis under
    ``quality["analysis"]``; a failed analysis is also a quality warning (shown everywhere
    warnings are) and makes ``quality["ok"]`` false. ``meta``: the recording's metadata
    (its metronome cues; a ``cues_note`` about dropped cues is shown as a warning)."""
    from dashboard import protocols
    info = protocols.get(protocol_id)
    q = quality(samples, columns, kind=info.kind if info is not None else None)
    if meta and meta.get("cues_note"):
        q["warnings"].append(str(meta["cues_note"]))
    results, analysis = analyse(samples, columns, protocol_id, side, body_mass_kg, meta)
    q["analysis"] = analysis
    if not analysis["ok"]:
        q["warnings"].append(analysis["error"])
        q["ok"] = False
    return q, results


def analysis_summary(q: dict | None) -> dict:
    """What the pages and the JSON API show of a trial's analysis (no measures: those are the results)."""
    a = (q or {}).get("analysis")
    if not a:
        return {"ok": False, "error": "not analysed"}
    if not a.get("ok"):
        return {"ok": False, "error": a.get("error", "analysis failed")}
    return {"ok": True, "scored": a.get("scored"), "faults": a.get("faults", []), "events": a.get("events", []),
            "scored_window_s": a.get("scored_window_s"), "practice": bool(a.get("practice")),
            "condition": a.get("condition")}


def ellipse_95(x, y) -> tuple[float, float, float, float, float]:
    """(centre_x, centre_y, semi-axis a, semi-axis b, angle rad) of the 95 % ellipse the report
    draws, in the unit of ``x, y``: the metrics suite's ellipse (rig.analysis.metrics, χ²
    convention), which takes metres and gives millimetres, so unit/1000 in gives unit out."""
    good = np.isfinite(x) & np.isfinite(y)
    xg, yg = np.asarray(x)[good], np.asarray(y)[good]
    e = ellipse(xg / 1000.0, yg / 1000.0, "chi2")
    return (float(xg.mean()), float(yg.mean()), e["ellipse95_semi_major_mm"], e["ellipse95_semi_minor_mm"],
            math.radians(e["ellipse95_angle_deg"]))


# --- change over weeks ------------------------------------------------------------------

def mdc_for(key: str, overrides: dict | None = None) -> tuple[float | None, bool]:
    """(MDC95 in the key's unit, lower_is_better): the clinic's setting, else the MDC95 of a
    published SEM (rig.analysis.change.PUBLISHED), else the placeholder DEFAULT_MDC."""
    if overrides and key in overrides:
        v = overrides[key]
        return float(v[0]), bool(v[1])
    lower_better = DIRECTIONS.get(key, 1) >= 0
    sem = published_sem(key)
    if sem is not None:
        return mdc95(sem), lower_better
    return DEFAULT_MDC.get(key, (None, True))
