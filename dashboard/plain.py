"""One plain-language line per trial, in the clinic's words and units, under its result card:
what was done and the one number that matters most for that test. Empty when the trial was
not scored (the card says why) or a measure it needs is missing."""
from __future__ import annotations

from dashboard import protocols


#: What one repetition of a repetition test is called.
REPETITIONS = {"lateral_step_down": "step-downs", "single_leg_squat": "squats"}


def _cm(mm: float) -> str:
    return f"{mm / 10:.1f}"


def line(protocol_id: str, side: str | None, results: dict, analysis: dict) -> str:
    """The sentence for one stored trial (``results``: its unit-named measures)."""
    if not analysis.get("ok") or not analysis.get("scored"):
        return ""
    info = protocols.get(protocol_id)
    kind = info.kind if info is not None else None
    leg = f"the {side} leg" if side in ("left", "right") else "both legs"
    r = results
    try:
        if kind == "single_leg_stance":
            return (f"Held {info.duration_s:g} s on {leg} without touching down; "
                    f"sway {_cm(r['mean_velocity_mm_s'])} cm/s ({_cm(r['mean_velocity_ml_mm_s'])} cm/s side to side).")
        if kind == "quiet_stance":
            return (f"Stood still for {info.duration_s:g} s; sway {_cm(r['mean_velocity_mm_s'])} cm/s, "
                    f"area {r['ellipse95_area_mm2'] / 100:.1f} cm².")
        if kind in REPETITIONS:
            return (f"{int(r['repetition_count'])} {REPETITIONS[kind]} on {leg}; the knee-in COP shift was "
                    f"{_cm(r['mean_ml_medial_mm'])} cm on average.")
        if kind == "step_down_landing":
            return (f"Landed on {leg} at {r['peak_force_bw']:.1f} times body weight and was steady "
                    f"{r['tts_seq_avg_s']:.1f} s after touching the plate.")
    except KeyError:
        return ""
    return ""
