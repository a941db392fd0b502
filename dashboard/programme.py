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

import math
import re
import secrets
from datetime import date, timedelta

import numpy as np
from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import select

from dashboard.auth import admin_required, clinic_gate, public
from dashboard.db import get_db, get_or_404
from dashboard.models import ClinicSession, Patient
from dashboard.programme_models import LOG_SOURCES, ClinicExercise, Programme, ProgrammeLog, ShareLink, TrainingSet
from dashboard.programme_views import (clinic_timezone, library, now_utc, plan_of, programme_adherence,
                                      programme_outcome, qr_svg, sheet, token_hash, utc)
from rig import strict_toml
from rig.signal.plate import G
from rig.programme import (Target, hip_block, local_date, local_noon_utc, prescription, session_minutes, set_measures)
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
            data = strict_toml.loads(text, LibraryError, "form")
            e = exercise_from_dict(data, "form")
        except LibraryError as exc:
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
