"""Patient-reported outcomes (PROs) of a clinic session: pain on two 0–10 numeric rating
scales and the Lower Extremity Functional Scale (LEFS).

The scales are data (``SCALES``, ``LEFS_ITEMS``, ``LEFS_OPTIONS``), so the tablet form, the
API's validation, the exports and the PDF all read the same item texts, ranges and MCIDs.

- ``pain_week_nrs``: the worst pain in the past week, 0 (no pain) to 10 (worst imaginable),
  whole numbers; ``pain_test_nrs``: the pain during today's test, the same scale. Higher is
  worse. MCID 2 points (Farrar et al. 2001, Pain 94:149-158).
- LEFS (Binkley et al. 1999, Phys Ther 79:371-383): 20 activities, each 0 ("Extreme
  difficulty or unable to perform activity") to 4 ("No difficulty"); the total (0–80) is
  always computed from the 20 answers, never entered. Higher is better. MCID 9 points
  (Binkley 1999). A LEFS with an unanswered item has no valid total, so a partial one is
  refused, naming each missing item; a session may have pain only or LEFS only.

A change from the first session is labelled by ``rig.analysis.change.label_change`` against
the MCID, so it reads exactly as a plate measure's change against its MDC ("real
improvement", "real decline", "within noise"): "real" when |change| reaches the MCID (the
published MCID is the smallest change that matters, so reaching it counts; an MDC must be
exceeded).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dashboard import units
from dashboard.db import get_db
from dashboard.models import ClinicSession, Clinician, PatientReport, utcnow
from rig.analysis.change import INSUFFICIENT, label_change

FARRAR_2001 = ("Farrar JT et al. 2001, Clinical importance of changes in chronic pain intensity "
               "measured on an 11-point numerical pain rating scale. Pain 94:149-158")
BINKLEY_1999 = ("Binkley JM et al. 1999, The Lower Extremity Functional Scale (LEFS): scale development, "
                "measurement properties, and clinical application. Phys Ther 79:371-383")


@dataclass(frozen=True)
class Scale:
    """One reported score: its range, what it asks, its MCID and which way is better."""
    key: str
    question: str
    lo: int
    hi: int
    mcid: float
    #: +1: a higher score is worse (pain); -1: a higher score is better (LEFS)
    direction: int
    source: str
    anchors: tuple[str, str]

    @property
    def name(self) -> str:
        return units.name(self.key)


SCALES: dict[str, Scale] = {
    "pain_week_nrs": Scale("pain_week_nrs", "Worst pain in the past week", 0, 10, 2.0, +1, FARRAR_2001,
                           ("no pain", "worst pain imaginable")),
    "pain_test_nrs": Scale("pain_test_nrs", "Pain during today's test", 0, 10, 2.0, +1, FARRAR_2001,
                           ("no pain", "worst pain imaginable")),
    "lefs_total": Scale("lefs_total", "Lower Extremity Functional Scale, total of the 20 items", 0, 80, 9.0, -1,
                        BINKLEY_1999, ("extreme difficulty with every activity", "no difficulty")),
}
NRS_KEYS = ("pain_week_nrs", "pain_test_nrs")
KEYS = (*NRS_KEYS, "lefs_total")

LEFS_INSTRUCTION = "Today, do you or would you have any difficulty at all with:"
#: Binkley et al. 1999, in the published order (item n is LEFS_ITEMS[n - 1]).
LEFS_ITEMS = (
    "Any of your usual work, housework or school activities",
    "Your usual hobbies, recreational or sporting activities",
    "Getting into or out of the bath",
    "Walking between rooms",
    "Putting on your shoes or socks",
    "Squatting",
    "Lifting an object, like a bag of groceries from the floor",
    "Performing light activities around your home",
    "Performing heavy activities around your home",
    "Getting into or out of a car",
    "Walking 2 blocks",
    "Walking a mile",
    "Going up or down 10 stairs (about 1 flight of stairs)",
    "Standing for 1 hour",
    "Sitting for 1 hour",
    "Running on even ground",
    "Running on uneven ground",
    "Making sharp turns while running fast",
    "Hopping",
    "Rolling over in bed",
)
LEFS_OPTIONS = (
    (0, "Extreme difficulty or unable to perform activity"),
    (1, "Quite a bit of difficulty"),
    (2, "Moderate difficulty"),
    (3, "A little bit of difficulty"),
    (4, "No difficulty"),
)
N_LEFS = len(LEFS_ITEMS)
LEFS_MAX = 4
CSV_COLUMNS = ("session_id", "session_date", "pain_week_nrs", "pain_test_nrs", "lefs_total",
               *(f"lefs_item_{i}" for i in range(1, N_LEFS + 1)))


class ProError(ValueError):
    """Refused input: ``errors`` maps each field (``pain_week_nrs``, ``lefs_item_7``, or
    ``entry`` for the whole) to a message naming it; str() is every message. ``hints``: the
    same in the words shown beside the item on the form, where the field is already in view
    ("not answered", "11 is outside 0–10")."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        self.hints = {k: _hint(k, v) for k, v in self.errors.items()}
        super().__init__("; ".join(self.errors.values()))


def _hint(field: str, message: str) -> str:
    if field.startswith("lefs_item_") and message.endswith(" is missing"):
        return "Not answered: tap 0 to 4 (or clear the whole LEFS if it was not asked)."
    text = message if field == "entry" else message.rsplit(": ", 1)[-1]
    return text[:1].upper() + text[1:] + "."


_WHOLE = re.compile(r"\s*[+-]?\d{1,6}\s*")


def _whole(value, where: str, lo: int, hi: int) -> int | None:
    """A whole number in [lo, hi] from JSON (int) or a form (digits); None when left empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where}: {str(value).lower()} is not a whole number ({lo}–{hi})")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value):
        n = int(value)
    else:
        shown = repr(value[:20]) if isinstance(value, str) else str(value)[:20]
        raise ValueError(f"{where}: {shown} is not a whole number ({lo}–{hi})")
    if not lo <= n <= hi:
        raise ValueError(f"{where}: {n} is outside {lo}–{hi}")
    return n


def item_label(i: int) -> str:
    """'item 7 (Lifting an object, like a bag of groceries from the floor)' for 1-based ``i``."""
    return f"item {i} ({LEFS_ITEMS[i - 1]})"


def _lefs_answers(data: Mapping) -> list | None:
    """The 20 raw answers from ``lefs_items`` (a list, JSON) or ``lefs_item_1`` … ``lefs_item_20``
    (a form); None when the entry has no LEFS at all."""
    if data.get("lefs_items") is not None:
        raw = data["lefs_items"]
        if not isinstance(raw, (list, tuple)):
            raise ProError({"lefs_items": f"lefs_items: must be a list of {N_LEFS} answers (0–{LEFS_MAX})"})
        if len(raw) > N_LEFS:
            raise ProError({"lefs_items": f"lefs_items: {len(raw)} answers, the LEFS has {N_LEFS} items"})
        return list(raw) + [None] * (N_LEFS - len(raw))
    keyed = [data.get(f"lefs_item_{i}") for i in range(1, N_LEFS + 1)]
    return keyed if any(v is not None for v in keyed) else None


def clean(data: Mapping) -> dict:
    """Checked values of one PRO entry from a form or a JSON body:
    ``{"pain_week_nrs", "pain_test_nrs": int | None, "lefs_items": [20 ints] | None,
    "lefs_total": int | None}``. Raises ProError naming every bad field: a score outside its
    scale ("pain_week_nrs: 11 is outside 0–10"), a non-integer, each missing item of a
    partly answered LEFS, a total sent instead of computed, or an entry with nothing in it."""
    if not isinstance(data, Mapping):
        raise ProError({"entry": "the entry must be an object of scores"})
    errors: dict[str, str] = {}
    out: dict = {}
    if data.get("lefs_total") not in (None, ""):
        errors["lefs_total"] = "lefs_total: computed from the 20 items, send lefs_items instead"
    for key in NRS_KEYS:
        sc = SCALES[key]
        try:
            out[key] = _whole(data.get(key), key, sc.lo, sc.hi)
        except ValueError as exc:
            errors[key] = str(exc)
    try:
        answers = _lefs_answers(data)
    except ProError as exc:
        errors.update(exc.errors)
        answers = None
    items: list[int | None] | None = None
    if answers is not None:
        items = []
        for i, v in enumerate(answers, start=1):
            try:
                items.append(_whole(v, f"lefs_items: {item_label(i)}", 0, LEFS_MAX))
            except ValueError as exc:
                errors[f"lefs_item_{i}"] = str(exc)
                items.append(-1)                       # answered, but wrongly: not "missing"
        if all(v is None for v in items):
            items = None                               # every item empty: no LEFS in this entry
        else:
            for i, v in enumerate(items, start=1):
                if v is None:
                    errors[f"lefs_item_{i}"] = f"lefs_items: {item_label(i)} is missing"
    if errors:
        raise ProError(errors)
    out["lefs_items"] = items
    out["lefs_total"] = sum(items) if items is not None else None
    if all(out[k] is None for k in NRS_KEYS) and items is None:
        raise ProError({"entry": "nothing entered: give a pain score or all 20 LEFS items"})
    return out


# --- storage ---------------------------------------------------------------------------------

def report_for(session: ClinicSession) -> PatientReport | None:
    return session.report


def save(session: ClinicSession, values: dict, clinician: Clinician | None) -> tuple[PatientReport, bool]:
    """Store the checked ``values`` (``clean``) as the session's PROs, replacing any earlier
    entry as a whole; returns (report, created). Committed."""
    db = get_db()
    rep = report_for(session)
    created = rep is None
    now = utcnow()
    if created:
        rep = PatientReport(session=session, recorded_at=now)      # session.report is this entry at once
        db.add(rep)
    for k in (*NRS_KEYS, "lefs_items", "lefs_total"):
        setattr(rep, k, values[k])
    rep.clinician_id = getattr(clinician, "id", None)
    rep.updated_at = now
    db.commit()
    return rep, created


def as_dict(rep: PatientReport) -> dict:
    """One entry as JSON-able data (the API's answer, the JSON export's rows)."""
    s = rep.session
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"session_id": rep.session_id, "session_date": f"{s.started_at:%Y-%m-%d}", "protocol": s.protocol,
            "pain_week_nrs": rep.pain_week_nrs, "pain_test_nrs": rep.pain_test_nrs,
            "lefs_items": list(rep.lefs_items) if rep.lefs_items is not None else None,
            "lefs_total": rep.lefs_total, "recorded_at": iso(rep.recorded_at), "updated_at": iso(rep.updated_at),
            "clinician": rep.clinician.username if rep.clinician else None}


def patient_reports(patient_id: int) -> list[PatientReport]:
    """The patient's entries in session order."""
    return list(get_db().scalars(
        select(PatientReport).join(ClinicSession, ClinicSession.id == PatientReport.session_id)
        .where(ClinicSession.patient_id == patient_id)
        .order_by(ClinicSession.started_at, ClinicSession.id)).all())


def csv_text(reports: list[PatientReport]) -> str:
    """``CSV_COLUMNS``, one row per session; an empty cell where nothing was entered."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    blank = lambda v: "" if v is None else v  # noqa: E731
    for rep in reports:
        items = list(rep.lefs_items) if rep.lefs_items is not None else [None] * N_LEFS
        w.writerow([rep.session_id, f"{rep.session.started_at:%Y-%m-%d}", blank(rep.pain_week_nrs),
                    blank(rep.pain_test_nrs), blank(rep.lefs_total), *map(blank, items)])
    return buf.getvalue()


def scales_document() -> dict:
    """The scales as data, for exports and the API: range, question, MCID, direction, source."""
    return {"scales": {k: {"name": sc.name, "question": sc.question, "min": sc.lo, "max": sc.hi,
                           "mcid": sc.mcid, "higher_is_worse": sc.direction > 0, "source": sc.source,
                           "anchors": list(sc.anchors)} for k, sc in SCALES.items()},
            "lefs_instruction": LEFS_INSTRUCTION, "lefs_items": list(LEFS_ITEMS),
            "lefs_options": [{"value": v, "text": t} for v, t in LEFS_OPTIONS]}


def export_document(patient_id: int) -> dict:
    return {"format": "stepplate-pros/1", **scales_document(),
            "entries": [as_dict(r) for r in patient_reports(patient_id)]}


# --- history: change since the first session against the MCID -----------------------------------

def history(patient_id: int, reports: list[PatientReport] | None = None) -> list[dict]:
    """One trend per scale with entries, in the shape of ``patients.history``'s trends (so
    ``patients.trend_svg`` draws it): ``{"key", "name", "mdc" (= the MCID, for the band),
    "mcid", "mcid_source", "direction", "sides": {"patient": {"baseline", "points"}},
    "first", "latest", "change", "label", "words"}``. The first session with a value is the
    baseline; every later point carries ``label_change(value - baseline, MCID, direction,
    at_least=True)``."""
    reports = patient_reports(patient_id) if reports is None else reports
    out = []
    for key, sc in SCALES.items():
        pts = [(r.session.started_at, r.session_id, getattr(r, key)) for r in reports if getattr(r, key) is not None]
        if not pts:
            continue
        t0, sid0, base = pts[0]
        points = [{"t": t0, "session_id": sid0, "value": float(base), "label": "baseline", "delta": None,
                   "mdc95": None}]
        for t, sid, v in pts[1:]:
            points.append({"t": t, "session_id": sid, "value": float(v), "delta": float(v - base),
                           "label": label_change(v - base, sc.mcid, sc.direction, at_least=True), "mdc95": None})
        last = points[-1]
        tr = {"key": key, "name": sc.name, "question": sc.question, "lo": sc.lo, "hi": sc.hi, "mdc": sc.mcid,
              "mcid": sc.mcid, "mcid_source": sc.source, "direction": sc.direction,
              "lower_is_better": sc.direction > 0, "sides": {"patient": {"baseline": float(base), "points": points}},
              "first": float(base), "latest": last["value"], "change": last["delta"],
              "n": len(points), "label": last["label"] if len(points) > 1 else INSUFFICIENT}
        tr["words"] = change_words(tr)
        out.append(tr)
    return out


def change_words(trend: dict) -> str:
    """'38 → 60 points, real improvement (MCID 9)': the change since the first session in
    the plate trends' wording, "vs MCID" where a plate measure says MDC."""
    fmt = lambda v: f"{v:g}"  # noqa: E731
    if trend["n"] < 2:
        return f"{fmt(trend['first'])} points (first entry)"
    return (f"{fmt(trend['first'])} → {fmt(trend['latest'])} points, {trend['label']} "
            f"(MCID {fmt(trend['mcid'])})")


def session_line(rep: PatientReport | None) -> str:
    """'worst pain this week 4/10 · pain during the test 2/10 · LEFS 52/80' (the PDF's line)."""
    if rep is None:
        return "not recorded"
    words = {"pain_week_nrs": "worst pain in the past week", "pain_test_nrs": "pain during the test",
             "lefs_total": "LEFS"}
    parts = [f"{words[k]} {getattr(rep, k)}/{SCALES[k].hi}" for k in KEYS if getattr(rep, k) is not None]
    return " · ".join(parts) or "not recorded"


def form_values(rep: PatientReport | None, posted: Mapping | None = None) -> dict:
    """What the session page's form shows checked: the posted answers after a refused save,
    else the stored entry (edit = the same form, pre-filled), else nothing."""
    if posted is not None:
        vals = {k: (posted.get(k) or "") for k in NRS_KEYS}
        vals.update({f"lefs_item_{i}": posted.get(f"lefs_item_{i}") or "" for i in range(1, N_LEFS + 1)})
        return vals
    vals = {k: "" for k in NRS_KEYS}
    vals.update({f"lefs_item_{i}": "" for i in range(1, N_LEFS + 1)})
    if rep is not None:
        for k in NRS_KEYS:
            v = getattr(rep, k)
            vals[k] = "" if v is None else str(v)
        for i, v in enumerate(rep.lefs_items or (), start=1):
            vals[f"lefs_item_{i}"] = "" if v is None else str(v)
    return vals


def when(dt: datetime | None) -> str:
    return f"{dt:%Y-%m-%d %H:%M}" if dt else ""


__all__ = ["SCALES", "KEYS", "NRS_KEYS", "LEFS_ITEMS", "LEFS_OPTIONS", "CSV_COLUMNS", "ProError", "clean", "save",
           "report_for", "as_dict", "patient_reports", "csv_text", "history", "change_words", "session_line",
           "export_document", "scales_document", "form_values"]
