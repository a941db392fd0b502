"""What the programme pages show, outside the routes: time-zone helpers, adherence, the
patient's sheet, and the block's outcome (retest vs baseline with MDC labels) with its figure.
The PDF report (dashboard.reports) uses the outcome too. The logic itself is rig.programme's.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import select

from dashboard import protocols
from dashboard.db import get_db
from dashboard.models import ClinicSession
from dashboard.programme_models import ClinicExercise, Programme
from rig.programme import (Block, Logged, adherence, load_library, local_date, prescription, session_minutes)
from rig.programme.library import from_dict as exercise_from_dict

def utc(dt: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes for timezone=True columns)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def now_utc() -> datetime:
    return current_app.config.get("PROGRAMME_NOW", None) or datetime.now(timezone.utc)


def clinic_timezone() -> str:
    from dashboard.settings import get_setting
    return get_setting("clinic_timezone", None) or current_app.config["CLINIC_TIMEZONE"]


def library() -> dict:
    rows = get_db().scalars(select(ClinicExercise).order_by(ClinicExercise.exercise_id)).all()
    return load_library(clinic=[r.data for r in rows])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def plan_of(p: Programme) -> tuple[Block, dict]:
    block = Block.from_dict(p.plan["block"])
    exercises = {eid: exercise_from_dict(d, f"programme {p.id}") for eid, d in p.plan["exercises"].items()}
    return block, exercises


def logged_sessions(p: Programme) -> list[Logged]:
    """Home/clinic ticks and training sets on the plate (logged automatically)."""
    out = [Logged(utc(lg.performed_at), lg.source) for lg in p.logs]
    out += [Logged(utc(ts.started_at), "plate") for ts in p.training_sets]
    return out


def programme_adherence(p: Programme, now: datetime | None = None) -> dict:
    block, _ex = plan_of(p)
    return adherence(block, logged_sessions(p), now or now_utc())


def sheet(p: Programme, now: datetime | None = None) -> dict:
    """What the patient's sheet shows: pseudonymous ID, weeks with dates, each week's
    prescription, the activation routine, and how to do each exercise. Nothing else."""
    block, ex = plan_of(p)
    adh = adherence(block, logged_sessions(p), now or now_utc())
    weeks = []
    for w in adh["weeks"]:
        pw = w["progression_week"]
        weeks.append({"week": w["week"], "first_day": w["first_day"], "last_day": w["last_day"],
                      "current": w["status"] == "in progress",
                      "main": [{"id": r["exercise"].id, "name": r["exercise"].name, "level": r["level"].name,
                                "dosage": r["dosage"]} for r in prescription(block, ex, pw, "main")],
                      "minutes": round(session_minutes(block, ex, pw))})
    activation = [{"id": r["exercise"].id, "name": r["exercise"].name, "dosage": r["dosage"]}
                  for r in prescription(block, ex, 1, "activation")]
    used = []
    for it in block.items:
        if it.exercise_id not in [u.id for u in used]:
            used.append(ex[it.exercise_id])
    return {"code": p.patient.code, "title": p.title, "sessions_per_week": block.sessions_per_week,
            "weeks": weeks, "activation": activation, "exercises": used,
            "activation_minutes": round(session_minutes(block, ex, 1, "activation"), 1)}


def qr_svg(url: str) -> str:
    import segno
    return segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff")


# --- outcome ------------------------------------------------------------------------------------

def _session_values(sessions) -> dict:
    """{(protocol, side, key): [trial values]} over accepted trials."""
    out: dict = {}
    for s in sessions:
        for t in s.trials:
            if t.status != "ok":
                continue
            for r in t.results:
                out.setdefault((s.protocol, t.side, r.key), []).append(float(r.value))
    return out


def _test_days(p: Programme, tz: str):
    """(baseline sessions, retest sessions): the clinician's choice, else the last test day on
    or before the block's first day and the last test day from the block's last week on."""
    db = get_db()
    sessions = db.scalars(select(ClinicSession).where(ClinicSession.patient_id == p.patient_id)
                          .order_by(ClinicSession.started_at)).all()
    sessions = [s for s in sessions if any(t.status == "ok" for t in s.trials)]
    block = Block.from_dict(p.plan["block"])
    by_day: dict = {}
    for s in sessions:
        by_day.setdefault(local_date(utc(s.started_at), tz), []).append(s)

    def day_of(session_id):
        s = db.get(ClinicSession, session_id) if session_id else None
        return local_date(utc(s.started_at), tz) if s is not None and s.patient_id == p.patient_id else None

    base_day = day_of(p.baseline_session_id) or max((d for d in by_day if d <= block.start), default=None)
    last_week = block.week_range(block.weeks)[0]
    re_day = day_of(p.retest_session_id) or max((d for d in by_day if d >= last_week), default=None)
    return (by_day.get(base_day, []), base_day), (by_day.get(re_day, []), re_day)


def programme_outcome(patient_id: int, programme_id: int | None = None) -> dict:
    """The block's outcome for the report: adherence, and every measure of the retest against
    the baseline per side, with the MDC95 and the "real change" label (rig.analysis.change).

    Needs an app context. The latest programme of the patient unless ``programme_id``.
    ``status``: "no programme" | "no baseline" | "awaiting retest" | "complete"."""
    from rig.analysis.change import compare_sessions, sem_from_mdc
    from rig.analysis.symmetry import DIRECTIONS

    from dashboard import measures
    from dashboard.settings import get_setting
    db = get_db()
    q = select(Programme).where(Programme.patient_id == patient_id)
    if programme_id is not None:
        q = q.where(Programme.id == programme_id)
    p = db.scalar(q.order_by(Programme.start_date.desc(), Programme.id.desc()).limit(1))
    if p is None:
        return {"status": "no programme", "patient_id": patient_id, "rows": []}
    adh = programme_adherence(p)
    (base, base_day), (retest, re_day) = _test_days(p, p.timezone)
    out = {"status": "complete", "patient_id": patient_id, "patient_code": p.patient.code,
           "body_mass_kg": p.patient.body_mass_kg,
           "programme": {"id": p.id, "title": p.title, "start_date": p.start_date.isoformat(),
                         "weeks": p.plan["block"]["weeks"], "sessions_per_week": p.plan["block"]["sessions_per_week"],
                         "adherence_pct": adh["adherence_pct"], "block_pct": adh["block_pct"],
                         "done_to_date": adh["done_to_date"], "prescribed_total": adh["prescribed_total"],
                         "missed_weeks": adh["missed_weeks"]},
           "baseline": {"date": base_day.isoformat() if base_day else None, "session_ids": [s.id for s in base]},
           "retest": {"date": re_day.isoformat() if re_day else None, "session_ids": [s.id for s in retest]},
           "rows": []}
    if not base:
        out["status"] = "no baseline"
        return out
    if not retest or re_day == base_day:
        out["status"] = "awaiting retest"
        return out
    before, after = _session_values(base), _session_values(retest)
    overrides = get_setting("mdc_overrides", {}) or {}
    rows = []
    for (proto, side, key) in sorted(set(before) & set(after)):
        mdc, lower_better = measures.mdc_for(key, overrides)
        published_sem = sem_from_mdc(mdc) if mdc else None
        direction = DIRECTIONS.get(key)
        hiw = (1 if lower_better else -1) if direction is None else direction
        c = compare_sessions(before[(proto, side, key)], after[(proto, side, key)], measure=key,
                             higher_is_worse=hiw, published_sem=published_sem)
        rows.append({"protocol": proto, "side": side, "key": key, "headline": key in measures.HEADLINE, **c})
    order = {k: i for i, k in enumerate(measures.HEADLINE)}
    rows.sort(key=lambda r: (r["protocol"], order.get(r["key"], 99), r["key"], r["side"]))
    out["rows"] = rows
    return out


def outcome_figure(outcome: dict):
    """One A4 page (matplotlib Figure, object API) for the PDF report: the block and its
    adherence, then per measure and side: baseline, retest, change, MDC95 and the label.
    dashboard/reports.py can add it with ``_page(pdf, outcome_figure(programme_outcome(pid)))``."""
    from matplotlib.figure import Figure

    from dashboard import measures, units
    fig = Figure(figsize=(8.27, 11.69))
    ax = fig.add_axes([0.06, 0.04, 0.88, 0.92])
    ax.axis("off")
    y = 0.98
    ax.text(0, y, "Exercise programme: outcome", fontsize=14, weight="bold", va="top")
    y -= 0.04
    if outcome["status"] == "no programme":
        ax.text(0, y, "No programme assigned.", fontsize=10, va="top")
        return fig
    pr = outcome["programme"]
    adh = "–" if pr["adherence_pct"] is None else f"{pr['adherence_pct']:.0f} %"
    lines = [f"{pr['title']} — from {pr['start_date']}, {pr['weeks']} weeks × {pr['sessions_per_week']} sessions",
             f"Adherence: {adh} of prescribed sessions to date ({pr['done_to_date']} of {pr['prescribed_total']} in the block)"
             + (f"; missed weeks: {', '.join(map(str, pr['missed_weeks']))}" if pr["missed_weeks"] else ""),
             f"Baseline: {outcome['baseline']['date'] or '–'}    Retest: {outcome['retest']['date'] or '–'}"]
    for line in lines:
        ax.text(0, y, line, fontsize=9.5, va="top")
        y -= 0.025
    if outcome["status"] != "complete":
        ax.text(0, y - 0.01, f"Outcome: {outcome['status']}.", fontsize=10, va="top", weight="bold")
        return fig
    y -= 0.015
    ax.text(0, y, "Change = retest − baseline; MDC95 = minimal detectable change; 'real' only beyond it.",
            fontsize=8, color="#444", va="top")
    y -= 0.03
    cols = [0.0, 0.33, 0.42, 0.53, 0.64, 0.75, 0.85]
    for x, h in zip(cols, ("Measure", "Side", "Baseline", "Retest", "Change", "MDC95", "Label")):
        ax.text(x, y, h, fontsize=8.5, weight="bold", va="top")
    y -= 0.022
    rows = [r for r in outcome["rows"] if r["headline"] or r["label"].startswith("real")] or outcome["rows"]
    bm = outcome["body_mass_kg"]
    from dashboard.palette import LABEL_COLOURS as colours
    for r in rows[:38]:
        k = r["key"]
        conv = lambda v: units.fmt(k, v, bm) if v is not None else "–"  # noqa: E731
        ch = units.to_display(k, r["change"], bm) if r["change"] is not None else None
        mdc = units.to_display(k, r["mdc95"], bm) if r["mdc95"] is not None else None
        cells = [f"{protocols.title_for(r['protocol'])}: {units.label(k)}"[:52], r["side"], conv(r["before"]), conv(r["after"]),
                 "–" if ch is None else f"{ch:+.3g}", "–" if mdc is None else f"±{abs(mdc):.3g}", r["label"]]
        for x, c in zip(cols, cells):
            ax.text(x, y, c, fontsize=7.5, va="top", color=colours.get(r["label"], "#000") if x == cols[-1] else "#000")
        y -= 0.021
    return fig


