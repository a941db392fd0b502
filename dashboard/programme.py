"""Exercise programmes in the clinic: assign a block, follow adherence, print the patient's
sheet, share it read-only by link/QR code, train on the plate with live biofeedback, and the
block's outcome (retest vs baseline with MDC labels). The logic lives in rig.programme
(pure Python); this module stores and shows it. Documentation: docs/programme.md.

Clinic routes (login required, ``/programme``):
  GET  /programme/                         active programmes; clinic time zone (admin can change it)
  GET  /programme/patient/<pid>            a patient's programmes; POST .../assign: new block
  GET  /programme/<id>                     adherence by week, this week's prescription, logs,
                                           share links, outcome; POST .../log, .../log/<lid>/delete,
                                           .../links, .../links/<lid>/revoke, .../end, .../tests
  GET  /programme/<id>/sheet               printable / phone sheet (QR only right after a link is made)
  GET  /programme/<id>/train               training mode (live COP, target zone, guided sets)
  POST /programme/<id>/sets                store a set (JSON samples) → its measures (JSON)
  GET  /programme/<id>/outcome.json        programme_outcome as JSON
  GET  /programme/exercises                the library; GET/POST /programme/exercises/<eid>/edit

Read-only patient link (no login, ``/p/<token>``, GET only): the sheet of one programme with
the patient's pseudonymous ID and nothing else. The token is ``secrets.token_urlsafe(32)``;
only its SHA-256 is stored; revoked or expired → 410, unknown → 404.
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
import tomllib
from datetime import date, datetime, timedelta, timezone

import numpy as np
from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import select

from dashboard.auth import admin_required, clinic_gate, public
from dashboard.db import get_db, get_or_404
from dashboard.models import ClinicSession, Patient, Trial
from dashboard.programme_models import LOG_SOURCES, ClinicExercise, Programme, ProgrammeLog, ShareLink, TrainingSet
from rig.plate import G
from rig.programme import (Block, Logged, Target, adherence, hip_block, load_library, local_date, local_noon_utc,
                           prescription, session_minutes, set_measures)
from rig.programme.biofeedback import DEFAULT_TARGETS
from rig.programme.library import LibraryError
from rig.programme.library import from_dict as exercise_from_dict
from rig.programme.schedule import ScheduleError, zone

bp = Blueprint("programme", __name__, url_prefix="/programme")
bp.before_request(clinic_gate)
share_bp = Blueprint("programme_share", __name__, url_prefix="/p")

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
MAX_SET_SAMPLES = 100_000
SET_COLUMNS = ("t_s", "fz_n", "cop_ml_mm", "cop_ap_mm")


def init_app(app) -> None:
    """Register both blueprints (called once from create_app's clinic part)."""
    app.config.setdefault("CLINIC_TIMEZONE", "UTC")
    app.config.setdefault("PROGRAMME_SHARE_BASE_URL", None)   # e.g. https://clinic.example/ ; None: this server
    app.register_blueprint(bp)
    app.register_blueprint(share_bp)


# --- helpers ---------------------------------------------------------------------------------

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
    the baseline per side, with the MDC95 and the "real change" label (rig.change).

    Needs an app context. The latest programme of the patient unless ``programme_id``.
    ``status``: "no programme" | "no baseline" | "awaiting retest" | "complete"."""
    from rig.change import compare_sessions
    from rig.symmetry import DIRECTIONS

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
        published_sem = mdc / (1.96 * math.sqrt(2)) if mdc else None
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

    from dashboard import units
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
    colours = {"real: better": "#2ca02c", "real: worse": "#d62728"}
    for r in rows[:38]:
        k = r["key"]
        conv = lambda v: units.fmt(k, v, bm) if v is not None else "–"  # noqa: E731
        ch = units.to_display(k, r["change"], bm) if r["change"] is not None else None
        mdc = units.to_display(k, r["mdc95"], bm) if r["mdc95"] is not None else None
        cells = [f"{r['protocol']}: {units.label(k)}"[:52], r["side"], conv(r["before"]), conv(r["after"]),
                 "–" if ch is None else f"{ch:+.3g}", "–" if mdc is None else f"±{abs(mdc):.3g}", r["label"]]
        for x, c in zip(cols, cells):
            ax.text(x, y, c, fontsize=7.5, va="top", color=colours.get(r["label"], "#000") if x == cols[-1] else "#000")
        y -= 0.021
    return fig


# --- clinic pages -------------------------------------------------------------------------

@bp.route("/", methods=["GET"])
def index():
    db = get_db()
    rows = db.scalars(select(Programme).where(Programme.status == "active").order_by(Programme.start_date.desc())).all()
    items = [(p, programme_adherence(p)) for p in rows]
    return render_template("programme/index.html", items=items, tz=clinic_timezone(),
                           is_admin=current_user.is_admin)


@bp.post("/timezone")
def set_timezone():
    admin_required()
    from dashboard.settings import set_setting
    name = (request.form.get("timezone") or "").strip()
    try:
        zone(name)
    except ScheduleError as exc:
        flash(str(exc), "error")
    else:
        set_setting("clinic_timezone", name)
        flash(f"Clinic time zone: {name}.", "success")
    return redirect(url_for("programme.index"))


@bp.get("/patient/<int:patient_id>")
def patient_programmes(patient_id: int):
    db = get_db()
    pt = get_or_404(Patient, patient_id)
    progs = db.scalars(select(Programme).where(Programme.patient_id == pt.id).order_by(Programme.start_date.desc())).all()
    today = local_date(now_utc(), clinic_timezone())
    return render_template("programme/patient.html", patient=pt, programmes=progs, today=today,
                           tz=clinic_timezone(), library=library())


@bp.post("/patient/<int:patient_id>/assign")
def assign(patient_id: int):
    db = get_db()
    pt = get_or_404(Patient, patient_id)
    f = request.form
    tz = clinic_timezone()
    try:
        start = date.fromisoformat(f.get("start_date") or local_date(now_utc(), tz).isoformat())
        weeks = int(f.get("weeks", 6))
        spw = int(f.get("sessions_per_week", 3))
        lib = library()
        main = [e for e in f.getlist("main")] or None
        act = [e for e in f.getlist("activation")] or None
        for e in (main or []) + (act or []):
            if e not in lib:
                raise ScheduleError(f"unknown exercise {e!r}")
        kw = {}
        if main:
            kw["main"] = tuple(main)
        if act:
            kw["activation"] = tuple(act)
        block = hip_block(start, tz, lib, weeks=weeks, sessions_per_week=spw, **kw)
    except (ValueError, ScheduleError) as exc:
        flash(f"Cannot assign: {exc}", "error")
        return redirect(url_for("programme.patient_programmes", patient_id=pt.id))
    used = {it.exercise_id for it in block.items}
    title = (f.get("title") or "").strip()[:120] or f"Hip strengthening, {weeks} weeks"
    p = Programme(patient_id=pt.id, clinician_id=current_user.id, title=title, start_date=start, timezone=tz,
                  plan={"block": block.to_dict(), "exercises": {e: lib[e].to_dict() for e in sorted(used)}})
    db.add(p)
    db.commit()
    flash("Programme assigned.", "success")
    return redirect(url_for("programme.detail", programme_id=p.id))


@bp.get("/<int:programme_id>")
def detail(programme_id: int):
    p = get_or_404(Programme, programme_id)
    block, ex = plan_of(p)
    adh = programme_adherence(p)
    cur = adh["current_week"] or (1 if not adh["finished"] else block.weeks)
    pw = adh["weeks"][cur - 1]["progression_week"]
    return render_template("programme/detail.html", p=p, block=block, adh=adh, week=cur,
                           this_week=prescription(block, ex, pw), minutes=session_minutes(block, ex, pw),
                           plate_exercises=[e for e in ex.values() if e.plate],
                           outcome=programme_outcome(p.patient_id, p.id),
                           today=local_date(now_utc(), p.timezone), utc=utc)


@bp.post("/<int:programme_id>/log")
def log_session(programme_id: int):
    p = get_or_404(Programme, programme_id)
    source = request.form.get("source", "home")
    if source not in LOG_SOURCES:
        abort(400)
    try:
        day = date.fromisoformat(request.form.get("date", ""))
    except ValueError:
        abort(400)
    if day > local_date(now_utc(), p.timezone):
        flash("A session cannot be ticked in the future.", "error")
    else:
        db = get_db()
        db.add(ProgrammeLog(programme_id=p.id, performed_at=local_noon_utc(day, p.timezone), source=source,
                            clinician_id=current_user.id, note=(request.form.get("note") or "")[:500]))
        db.commit()
        flash(f"Session on {day.isoformat()} ticked ({source}).", "success")
    return redirect(url_for("programme.detail", programme_id=p.id) + "#adherence")


@bp.post("/<int:programme_id>/log/<int:log_id>/delete")
def delete_log(programme_id: int, log_id: int):
    p = get_or_404(Programme, programme_id)
    db = get_db()
    lg = get_or_404(ProgrammeLog, log_id)
    if lg.programme_id != p.id:
        abort(404)
    db.delete(lg)
    db.commit()
    return redirect(url_for("programme.detail", programme_id=p.id) + "#adherence")


@bp.post("/<int:programme_id>/end")
def end(programme_id: int):
    p = get_or_404(Programme, programme_id)
    p.status = "ended"
    p.ended_at = now_utc()
    for link in p.links:                       # ending a block closes its patient links too
        link.revoked_at = link.revoked_at or now_utc()
    get_db().commit()
    flash("Programme ended; its patient links are revoked.", "success")
    return redirect(url_for("programme.detail", programme_id=p.id))


@bp.post("/<int:programme_id>/tests")
def choose_tests(programme_id: int):
    p = get_or_404(Programme, programme_id)
    db = get_db()
    for field in ("baseline_session_id", "retest_session_id"):
        raw = request.form.get(field, "")
        if raw == "":
            setattr(p, field, None)
            continue
        s = db.get(ClinicSession, int(raw)) if raw.isdigit() else None
        if s is None or s.patient_id != p.patient_id:
            abort(400)
        setattr(p, field, s.id)
    db.commit()
    return redirect(url_for("programme.detail", programme_id=p.id) + "#outcome")


@bp.post("/<int:programme_id>/links")
def create_link(programme_id: int):
    p = get_or_404(Programme, programme_id)
    if p.status != "active":
        abort(409)
    try:
        days = int(request.form.get("expires_in_days", "0") or 0)
    except ValueError:
        abort(400)
    token = secrets.token_urlsafe(32)
    link = ShareLink(programme_id=p.id, token_sha256=token_hash(token),
                     expires_at=(now_utc() + timedelta(days=days)) if days > 0 else None)
    db = get_db()
    db.add(link)
    db.commit()
    base = current_app.config.get("PROGRAMME_SHARE_BASE_URL") or request.url_root
    url = base.rstrip("/") + url_for("programme_share.view", token=token)
    # the token is shown once, here, and never stored: print the sheet now
    resp = Response(render_template("programme/sheet.html", s=sheet(p), p=p, share_url=url, qr=qr_svg(url),
                                    link=link, clinic=True))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/<int:programme_id>/links/<int:link_id>/revoke")
def revoke_link(programme_id: int, link_id: int):
    p = get_or_404(Programme, programme_id)
    db = get_db()
    link = get_or_404(ShareLink, link_id)
    if link.programme_id != p.id:
        abort(404)
    link.revoked_at = link.revoked_at or now_utc()
    db.commit()
    flash("Link revoked.", "success")
    return redirect(url_for("programme.detail", programme_id=p.id) + "#links")


@bp.get("/<int:programme_id>/sheet")
def sheet_page(programme_id: int):
    p = get_or_404(Programme, programme_id)
    return render_template("programme/sheet.html", s=sheet(p), p=p, share_url=None, qr=None, clinic=True)


@bp.get("/<int:programme_id>/outcome.json")
def outcome_json(programme_id: int):
    p = get_or_404(Programme, programme_id)
    return jsonify(programme_outcome(p.patient_id, p.id))


@bp.get("/<int:programme_id>/train")
def train(programme_id: int):
    p = get_or_404(Programme, programme_id)
    block, ex = plan_of(p)
    plate = [e for e in ex.values() if e.plate]
    eid = request.args.get("exercise") or (plate[0].id if plate else None)
    e = ex.get(eid) if eid else None
    if e is None or not e.plate:
        abort(404)
    side = request.args.get("side", "left")
    if side not in ("left", "right", "both"):
        abort(400)
    adh = programme_adherence(p)
    cur = adh["current_week"] or 1
    level = next((r for r in prescription(block, ex, adh["weeks"][cur - 1]["progression_week"]) if r["exercise"].id == e.id),
                 None)
    lv = level["level"] if level else e.levels[0]
    duration = lv.hold_s or min(120.0, (lv.reps or 10) * lv.rep_s)
    target = DEFAULT_TARGETS[e.plate]
    sets = [s for s in p.training_sets if s.exercise_id == e.id][-10:]
    return render_template("programme/train.html", p=p, e=e, level=lv, side=side, duration_s=duration,
                           target=target.to_dict(), plate_exercises=plate, sets=sets)


@bp.post("/<int:programme_id>/sets")
def store_set(programme_id: int):
    p = get_or_404(Programme, programme_id)
    _block, ex = plan_of(p)
    body = request.get_json(silent=True) or {}
    e = ex.get(body.get("exercise_id"))
    if e is None or not e.plate:
        return jsonify({"error": "exercise not in this programme or not a plate exercise"}), 400
    side = body.get("side", "both")
    if side not in ("left", "right", "both"):
        return jsonify({"error": "side must be left, right or both"}), 400
    try:
        target = Target.from_dict(body.get("target") or DEFAULT_TARGETS[e.plate].to_dict())
        cols = list(body.get("columns") or SET_COLUMNS)
        ix = [cols.index(c) for c in SET_COLUMNS]
        rows = body.get("samples") or []
        if not 2 <= len(rows) <= MAX_SET_SAMPLES:
            raise ValueError(f"a set needs 2 to {MAX_SET_SAMPLES} samples")
        arr = np.array([[np.nan if r[i] is None else float(r[i]) for i in ix] for r in rows], dtype=float)
        if not np.all(np.isfinite(arr[:, 0])):
            raise ValueError("every sample needs a time")
        m = set_measures(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], target, plate_kind=e.plate,
                         body_weight_n=p.patient.body_mass_kg * G)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return jsonify({"error": str(exc)}), 400
    m = _json_safe(m)
    started = now_utc() - timedelta(seconds=float(arr[-1, 0] - arr[0, 0]))
    ts = TrainingSet(programme_id=p.id, exercise_id=e.id, side=side, started_at=started,
                     duration_s=m["set_duration_s"], time_in_target_pct=m["time_in_target_pct"], measures=m,
                     clinician_id=current_user.id)
    db = get_db()
    db.add(ts)
    db.commit()
    return jsonify({"set_id": ts.id, "measures": m}), 201


def _json_safe(x):
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# --- exercise library ----------------------------------------------------------------------------

@bp.get("/exercises")
def exercises():
    clinic_ids = set(get_db().scalars(select(ClinicExercise.exercise_id)).all())
    return render_template("programme/exercises.html", library=library(), clinic_ids=clinic_ids)


def _toml_of(d: dict) -> str:
    import tomli_w
    return tomli_w.dumps({k: v for k, v in d.items() if v not in (None, [], "")})


@bp.route("/exercises/<eid>/edit", methods=["GET", "POST"])
def edit_exercise(eid: str):
    lib = library()
    if request.method == "POST":
        text = request.form.get("toml", "")
        try:
            data = tomllib.loads(text)
            e = exercise_from_dict(data, "form")
        except (tomllib.TOMLDecodeError, LibraryError) as exc:
            return render_template("programme/exercise_edit.html", eid=eid, text=text, error=str(exc)), 400
        if eid != "new" and e.id != eid:
            return render_template("programme/exercise_edit.html", eid=eid, text=text,
                                   error="the id cannot change (make a new exercise instead)"), 400
        db = get_db()
        row = db.get(ClinicExercise, e.id)
        if row is None:
            db.add(ClinicExercise(exercise_id=e.id, data=e.to_dict(), clinician_id=current_user.id))
        else:
            row.data = e.to_dict()
            row.updated_at = now_utc()
            row.clinician_id = current_user.id
        db.commit()
        flash(f"Exercise {e.name} saved.", "success")
        return redirect(url_for("programme.exercises"))
    if eid == "new":
        text = _toml_of({"id": "my_exercise", "name": "", "purpose": "", "how_to": ["..."], "common_faults": [],
                         "plate": "", "routine": ["main"],
                         "level": [{"name": "Level 1", "sets": 2, "reps": 10, "per_side": True, "rest_s": 30.0}]})
    elif eid in lib:
        text = _toml_of(lib[eid].to_dict())
    else:
        abort(404)
    return render_template("programme/exercise_edit.html", eid=eid, text=text, error=None)


# --- read-only patient link ----------------------------------------------------------------------

def _link_for(token: str) -> ShareLink:
    if not TOKEN_RE.match(token or ""):
        abort(404)
    link = get_db().scalar(select(ShareLink).where(ShareLink.token_sha256 == token_hash(token)))
    if link is None:
        abort(404)
    now = now_utc()
    if link.revoked_at is not None or (link.expires_at is not None and utc(link.expires_at) <= now):
        abort(410)
    return link


@share_bp.get("/<token>")
@public                      # reachable without a login: the token is the credential (docs/programme.md)
def view(token: str):
    link = _link_for(token)
    link.last_used_at = now_utc()
    get_db().commit()
    p = link.programme
    resp = Response(render_template("programme/share.html", s=sheet(p)))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp
