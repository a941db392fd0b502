"""Where a patient's quiet-stance sway stands among people of the same age (rig.analysis.norms):
for one trial (the trial page's result card), per condition for a session (the session page and
its PDF) and for the latest session of each condition (the patient page's at-a-glance card).

The age is the session's year minus the patient's year of birth; without a year of birth there
is no comparison and the card says so. Which measures get a percentile is the shipped table's
decision (the rig's measured bias, docs/reference-values.md); the others are listed with why.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from dashboard import measures, units
from dashboard.models import ClinicSession, Patient, Trial

from rig.analysis.norms import PROTOCOLS


@lru_cache(maxsize=1)
def _table() -> dict | None:
    from rig.analysis import norms
    try:
        return norms.load_table()
    except norms.NormsError:
        return None


def age_at(patient: Patient, when) -> int | None:
    """Age in whole years in ``when``'s year (the year of birth is all the clinic records)."""
    if patient.birth_year is None or when is None:
        return None
    return int(when.year) - int(patient.birth_year)


def _scored(t: Trial) -> bool:
    an = measures.analysis_summary(t.quality)
    return t.status == "ok" and an["ok"] and an.get("scored") is not False and not an.get("practice")


def scored_seconds(t: Trial) -> float | None:
    """How long the trial's scored window is (the measured bias depends on it)."""
    w = measures.analysis_summary(t.quality).get("scored_window_s")
    return float(w[1] - w[0]) if w else None


def _words(out: dict, body_mass_kg: float | None) -> dict:
    """``out`` of norms.compare with each row's value in clinic units and a one-line summary."""
    for r in out["rows"]:
        unit = units.unit(r["key"])
        r["value_text"] = f"{units.fmt(r['key'], r['value'], body_mass_kg)}{' ' + unit if unit else ''}"
    shown = [r for r in out["rows"] if r["shown"]]
    out["shown_rows"] = shown
    out["line"] = "; ".join(f"{r['title']} {r['value_text']}: {r['words']}" for r in shown)
    out["who"] = f"people aged {out['age_band']}" if out["age_band"] else ""
    # the one-line summary of the patient page and the patient PDF
    out["summary"] = (f"Among {out['who']}: {out['line']}" if out["line"] else
                      out["note"] or "No measure compared with people of the same age (the session page says why).")
    return out


def compare(measures_: dict, condition: str | None, age: int | None, body_mass_kg=None,
            scored_s: float | None = 30.0) -> dict | None:
    """norms.compare for one condition's measures (of a trial scored over ``scored_s``), with
    clinic-unit words; None when the table is missing or the condition is not an mCTSIB one."""
    from rig.analysis import norms
    table = _table()
    if table is None or not condition:
        return None
    try:
        out = norms.compare(measures_, condition, age, table, scored_s=scored_s)
    except norms.NormsError:
        return None
    return _words(out, body_mass_kg)


def for_trial(t: Trial) -> dict | None:
    """The reference comparison of one scored quiet-stance trial, or None for any other trial."""
    if t.protocol not in PROTOCOLS or not _scored(t):
        return None
    return compare(t.result_map(), t.condition, age_at(t.session.patient, t.started_at), t.body_mass_kg,
                   scored_seconds(t))


def for_session(session: ClinicSession) -> list[dict]:
    """One comparison per mCTSIB condition of the session, in the protocol's order, from the
    mean of its scored trials under that condition (the table's percentiles are over single
    trials; the mCTSIB scores one per condition)."""
    if session.protocol not in PROTOCOLS:
        return []
    from rig.analysis.norms import CONDITIONS
    by_cond: dict[str, list[Trial]] = {}
    for t in session.trials:
        if _scored(t) and t.condition:
            by_cond.setdefault(t.condition, []).append(t)
    out = []
    for cond in CONDITIONS.values():
        trials = by_cond.get(cond)
        if not trials:
            continue
        maps = [t.result_map() for t in trials]
        mean = {k: float(np.mean([m[k] for m in maps])) for k in maps[0] if all(k in m for m in maps)}
        secs = [scored_seconds(t) for t in trials]
        c = compare(mean, cond, age_at(session.patient, session.started_at), trials[-1].body_mass_kg,
                    min((x for x in secs if x is not None), default=None))
        if c is not None:
            c["k_trials"] = len(trials)
            out.append(c)
    return out


def for_glance_block(block: dict, patient: Patient) -> dict | None:
    """The comparison for an at-a-glance block of a quiet-stance condition (group
    "quiet_stance_mctsib/<condition>"), from its latest session's values."""
    group = block.get("group", "")
    protocol = group.split("/", 1)[0]
    if protocol not in PROTOCOLS or "/" not in group:
        return None
    latest = {}
    when = None
    for m in block["measures"]:
        side = m["sides"].get("both")
        if side is not None:
            latest[m["key"]] = side["latest"]
            when = side["latest_t"]
    if not latest:
        return None
    from dashboard import protocols
    info = protocols.get(protocol)
    return compare(latest, group.split("/", 1)[1], age_at(patient, when), patient.body_mass_kg,
                   float(info._proto.duration_s) if info is not None else None)
