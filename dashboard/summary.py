"""A patient's results at a glance: per test (protocol and condition), the headline measures
of the latest session left and right, its limb symmetry index referenced to the involved
side, and each side's change since the first session against the MDC, in the one vocabulary
of rig.analysis.change ("real improvement", "real decline", "within noise").

The patient report's first page, the referral letter and the patient page's summary card all
read this, so they say the same thing in the same words.
"""
from __future__ import annotations

from sqlalchemy import select

from dashboard import protocols, reference, units
from dashboard.db import get_db
from dashboard.models import ClinicSession, Patient

#: How many headline measures a test's summary shows.
MEASURES_PER_TEST = 3


def patient_summary(patient: Patient, hist: dict) -> list[dict]:
    """One block per test the patient has scored results for, in protocol order:
    ``{"group", "title", "first", "last" (dates), "n_sessions", "measures": [{"key", "label", "name",
    "unit", "columns": {"left", "right": a side's entry or None}, "sides": {side: {"latest", "baseline", "change", "mdc95", "label", "word", "n", "points"}},
    "lsi_pct", "worse_side"}], "reference": dashboard.reference's comparison or None}``; values in the key's stored unit (``units.fmt`` shows them).
    ``hist``: ``patients.history(patient)`` (the trends with their "real change" labels)."""
    from dashboard.trials import left_right
    blocks: dict[str, dict] = {}
    for tr in hist["trends"]:
        if not tr["headline"]:
            continue
        b = blocks.setdefault(tr["protocol"], {"group": tr["protocol"], "title": protocols.title_for(tr["protocol"]),
                                               "measures": [], "dates": set()})
        sides = {}
        for side, s in tr["sides"].items():
            pts = s["points"]
            last = pts[-1]
            b["dates"].update(p["t"] for p in pts)
            sides[side] = {"latest": last["value"], "baseline": s["baseline"], "n": len(pts),
                           "change": last["delta"], "mdc95": last["mdc95"] if last["mdc95"] is not None else tr["mdc"],
                           "label": last["label"] if len(pts) > 1 else "baseline only",
                           "latest_t": last["t"], "latest_session_id": last["session_id"],
                           "points": [(p["t"], p["value"]) for p in pts]}
            sides[side]["word"] = short_word(tr["key"], sides[side], patient.body_mass_kg)
        b["measures"].append({"key": tr["key"], "label": units.label(tr["key"]), "name": units.name(tr["key"]),
                              "unit": units.unit(tr["key"]),
                              "columns": _columns(sides),
                              "order": tr.get("order", 99), "sides": sides, "lsi_pct": None, "worse_side": None})
    out = []
    for group, b in sorted(blocks.items()):
        b["measures"] = sorted(b["measures"], key=lambda m: m["order"])[:MEASURES_PER_TEST]
        dates = sorted(b.pop("dates"))
        b.update(first=dates[0], last=dates[-1], n_sessions=len(dates))
        latest = _latest_session(patient, b)
        if latest is not None:
            lr = {(r["group"], r["key"]): r for r in left_right(latest)}
            for m in b["measures"]:
                row = lr.get((group, m["key"]))
                if row is not None:
                    m["lsi_pct"], m["worse_side"] = row["lsi_pct"], row["worse_side"]
        b["reference"] = reference.for_glance_block(b, patient)
        out.append(b)
    return out


def _columns(sides: dict) -> dict:
    """What a card's Left and Right columns show: each side's entry; a test on both legs at
    once (quiet stance) fills the first column and leaves the second empty."""
    if "both" in sides and "left" not in sides:
        return {"left": sides["both"], "right": None}
    return {"left": sides.get("left"), "right": sides.get("right")}


def _latest_session(patient: Patient, block: dict) -> ClinicSession | None:
    ids = {s["latest_session_id"] for m in block["measures"] for s in m["sides"].values()}
    if not ids:
        return None
    return get_db().scalar(select(ClinicSession).where(ClinicSession.id.in_(ids), ClinicSession.patient_id == patient.id)
                           .order_by(ClinicSession.started_at.desc()).limit(1))


def short_word(key: str, side: dict, body_mass_kg: float | None) -> str:
    """What a card's change column says: the label, "first session", or for a count its
    before → after (a count has no MDC)."""
    if side["n"] < 2:
        return "first session"
    if units.is_count(key):
        return f"{units.fmt(key, side['baseline'], body_mass_kg)} → {units.fmt(key, side['latest'], body_mass_kg)}"
    return side["label"]


def change_words(key: str, side: dict, body_mass_kg: float | None) -> str:
    """"3.1 → 2.2 cm/s, real improvement (MDC 0.6)" for one side of one measure."""
    fmt = lambda v: units.fmt(key, v, body_mass_kg)  # noqa: E731
    unit = units.unit(key)
    unit = f" {unit}" if unit else ""
    if side["n"] < 2:
        return f"{fmt(side['latest'])}{unit} (first session)"
    if units.is_count(key):                      # a count has no MDC: before and after is the news
        return short_word(key, side, body_mass_kg)
    mdc_txt = f" (MDC {fmt(abs(side['mdc95']))})" if side["mdc95"] is not None else ""
    return f"{fmt(side['baseline'])} → {fmt(side['latest'])}{unit}, {side['label']}{mdc_txt}"


def sentences(block: dict, patient: Patient) -> list[str]:
    """Plain sentences for one test: per headline measure, each side's change since the first
    session and the symmetry of the latest session (involved side named)."""
    bm = patient.body_mass_kg
    involved = patient.involved_side if patient.involved_side in ("left", "right") else None
    lines = []
    for m in block["measures"]:
        parts = []
        for side in ("left", "right", "both"):
            if side in m["sides"]:
                tag = " (involved)" if side == involved else ""
                who = "" if side == "both" else f"{side}{tag}: "
                parts.append(who + change_words(m["key"], m["sides"][side], bm))
        text = f"{m['name']} — " + "; ".join(parts)
        if m["lsi_pct"] is not None:
            ref = f"involved {involved} ÷ uninvolved" if involved else "left ÷ right"
            text += f". Symmetry {m['lsi_pct']:.0f} % ({ref})"
        lines.append(text + ".")
    return lines
