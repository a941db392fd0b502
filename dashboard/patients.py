"""Patients: list, create, edit, notes, and the history page (timeline, trends with the MDC
band and "real change" labels, and the patient-reported outcomes on the same timeline with
their change against the MCID)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import FloatField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from dashboard import measures, palette, pros, protocols, trials, units
from dashboard.auth import clinic_gate, role_required
from dashboard.db import get_db, get_or_404
from dashboard.models import ClinicSession, Note, Patient, Trial
from dashboard.settings import get_setting

bp = Blueprint("patients", __name__, url_prefix="/patients")
bp.before_request(clinic_gate)


class PatientForm(FlaskForm):
    code = StringField("Pseudonymous ID", validators=[
        DataRequired(), Length(max=40),
        Regexp(r"^[A-Za-z0-9._-]+$", message="letters, digits, '.', '_' and '-' only (no names)")])
    body_mass_kg = FloatField("Body mass (kg)", validators=[DataRequired(), NumberRange(min=10, max=400)])
    dominant_leg = SelectField("Dominant leg", choices=[("right", "Right"), ("left", "Left"), ("unknown", "Unknown")])
    involved_side = SelectField("Involved side (injured or weaker)",
                                choices=[("none", "None / not known"), ("left", "Left"), ("right", "Right")],
                                default="none")
    birth_year = IntegerField("Year of birth (optional: for the reference values)",
                              validators=[Optional(), NumberRange(min=1900, message="a year between 1900 and this year")])
    notes = TextAreaField("Notes", validators=[Length(max=5000)])

    def validate_birth_year(self, field):
        """Not in the future, by today's date (a long-running server crosses New Year)."""
        if field.data is not None and field.data > date.today().year:
            raise ValidationError("a year between 1900 and this year")


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired(), Length(max=5000)])


class NewSessionForm(FlaskForm):
    protocol = SelectField("Protocol")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.protocol.choices = [(p.name, p.title) for p in protocols.available()]


@bp.route("/")
def index():
    db = get_db()
    q = request.args.get("q", "").strip()
    last = (select(ClinicSession.patient_id, func.max(ClinicSession.started_at).label("last"),
                   func.count(ClinicSession.id).label("n")).group_by(ClinicSession.patient_id).subquery())
    stmt = select(Patient, last.c.last, last.c.n).outerjoin(last, last.c.patient_id == Patient.id)
    if q:
        stmt = stmt.where(Patient.code.ilike(f"%{q}%"))
    rows = db.execute(stmt.order_by(Patient.code)).all()
    return render_template("patients/index.html", rows=rows, q=q)


@bp.route("/new", methods=["GET", "POST"])
def create():
    db = get_db()
    form = PatientForm()
    if form.validate_on_submit():
        code = form.code.data.strip()
        if db.scalar(select(Patient).where(Patient.code == code)) is not None:
            form.code.errors.append("this ID is already used")
        else:
            p = Patient(code=code, body_mass_kg=form.body_mass_kg.data, dominant_leg=form.dominant_leg.data,
                        involved_side=form.involved_side.data, birth_year=form.birth_year.data,
                        notes=form.notes.data or "")
            db.add(p)
            db.commit()
            flash(f"Patient {p.code} created.", "success")
            return redirect(url_for("patients.detail", patient_id=p.id))
    return render_template("patients/form.html", form=form, patient=None)


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
def edit(patient_id: int):
    db = get_db()
    p = get_or_404(Patient, patient_id)
    form = PatientForm(obj=p)
    if form.validate_on_submit():
        code = form.code.data.strip()
        other = db.scalar(select(Patient).where(Patient.code == code, Patient.id != p.id))
        if other is not None:
            form.code.errors.append("this ID is already used")
        else:
            form.populate_obj(p)
            p.code = code
            db.commit()
            flash("Saved.", "success")
            return redirect(url_for("patients.detail", patient_id=p.id))
    return render_template("patients/form.html", form=form, patient=p)


@bp.route("/<int:patient_id>/notes", methods=["POST"])
def add_note(patient_id: int):
    db = get_db()
    p = get_or_404(Patient, patient_id)
    form = NoteForm()
    if form.validate_on_submit():
        db.add(Note(patient_id=p.id, clinician_id=current_user.id, text=form.text.data))
        db.commit()
        flash("Note added.", "success")
    else:
        flash("A note cannot be empty.", "error")
    return redirect(url_for("patients.detail", patient_id=p.id) + "#notes")


@bp.route("/<int:patient_id>/sessions", methods=["POST"])
def new_session(patient_id: int):
    db = get_db()
    p = get_or_404(Patient, patient_id)
    form = NewSessionForm()
    if not form.validate_on_submit():
        abort(400)
    s = ClinicSession(patient_id=p.id, clinician_id=current_user.id, protocol=form.protocol.data,
                      involved_side=p.involved_side if p.involved_side in ("left", "right") else None)
    db.add(s)
    db.commit()
    return redirect(url_for("trials.run", session_id=s.id))


# --- history ---------------------------------------------------------------------------

def _session_summaries(patient: Patient) -> list[tuple]:
    """(session, summary) in time order: ``rig.analysis.protocols.session.summarise_session`` over each
    session's accepted ("ok"), analysed trials, as the session page's left/right comparison.
    Trials of both legs at once (side "both", e.g. quiet stance) are summarised as their own
    side: summarise_session knows left/right only, so they go through it as "left"."""
    from rig.analysis.protocols.session import summarise_session
    db = get_db()
    sessions = db.scalars(select(ClinicSession).where(ClinicSession.patient_id == patient.id)
                          .order_by(ClinicSession.started_at, ClinicSession.id)).all()
    out = []
    for s in sessions:
        analysed = [t.quality["analysis"] for t in s.trials
                    if t.status == "ok" and measures.analysis_summary(t.quality)["ok"]]
        lr = [a for a in analysed if a.get("side") in ("left", "right")]
        both = [dict(a, side="left") for a in analysed if a.get("side") not in ("left", "right")]
        out.append((s, {"lr": summarise_session(lr), "both": summarise_session(both)}))
    return out


def history(patient: Patient) -> dict:
    """Sessions timeline + per (protocol, side, measure) series with "real change" labels.

    Each session's point is the mean of its scored trials per side
    (``rig.analysis.protocols.session.summarise_session``). The first session of a series is its
    baseline; every later session is compared with it by ``compare_sessions`` — the label is
    the protocol code's ("real improvement" / "real decline" / "within noise", direction-aware),
    with the MDC95 from the two sessions' trials or, when larger, from the clinic's MDC for the
    measure (settings, rig.analysis.change, defaults; passed on as a published SEM = MDC / (1.96·√2)).
    The band on the trend is baseline ± that clinic MDC.
    """
    from rig.analysis.change import sem_from_mdc
    from rig.analysis.protocols.session import compare_sessions
    overrides = get_setting("mdc_overrides", {}) or {}
    # (group, key) -> side -> [(session, summary kind, value)]
    series: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    summaries = _session_summaries(patient)
    for s, sums in summaries:
        for kind, summary in sums.items():
            for group, g in summary["protocols"].items():
                for side, sd in g["sides"].items():
                    shown = "both" if kind == "both" else side
                    for key, st in sd["measures"].items():
                        if st["mean"] is not None:
                            series[(group, key)][shown].append((s, sums[kind], st["mean"]))
    trends = []
    mdcs = {key: measures.mdc_for(key, overrides) for _, key in series}
    published = {key: sem_from_mdc(mdc) for key, (mdc, _) in mdcs.items() if mdc is not None}
    compared: dict[tuple[int, int], dict] = {}       # one comparison per (baseline, session) pair

    def compare(base_summary, summary):
        k = (id(base_summary), id(summary))
        if k not in compared:
            compared[k] = compare_sessions(base_summary, summary, published_sem=published)
        return compared[k]

    for (group, key), by_side in series.items():
        mdc, lower_better = mdcs[key]
        sides = {}
        for side, pts in sorted(by_side.items()):
            base_session, base_summary, base = pts[0]
            cmp_side = "left" if side == "both" else side
            labelled = [{"t": base_session.started_at, "session_id": base_session.id, "value": base,
                         "label": "baseline", "delta": None, "mdc95": None}]
            for sess, summary, v in pts[1:]:
                c = compare(base_summary, summary).get(group, {}).get(key, {}).get(cmp_side)
                labelled.append({"t": sess.started_at, "session_id": sess.id, "value": v,
                                 "label": c["label"] if c else "insufficient data",
                                 "delta": c["change"] if c else v - base, "mdc95": c["mdc95"] if c else None})
            sides[side] = {"baseline": base, "points": labelled}
        head = protocols.headline_for(group) or measures.HEADLINE     # the protocol's own result card
        trends.append({"protocol": group, "key": key, "mdc": mdc, "lower_is_better": lower_better,
                       "sides": sides, "headline": key in head, "order": head.index(key) if key in head else 99})
    trends.sort(key=lambda tr: (tr["protocol"], tr["order"], tr["key"]))
    return {"trends": trends}


def trend_svg(trend: dict, body_mass_kg: float, width: int = 520, height: int = 170, t_range=None,
              band: str = "MDC") -> str:
    """A small server-side SVG: one line per side, baseline ± MDC band, labelled points.
    ``t_range`` (first, last datetime): the time axis, so every chart of a page shares the
    patient's timeline (plate trends and reported outcomes line up); default: the trend's own
    points. ``band``: what the band is (MDC for plate measures, MCID for reported scores)."""
    key = trend["key"]
    conv = lambda v: units.to_display(key, v, body_mass_kg)  # noqa: E731
    unit = units.unit(key)
    unit_sep = " " if unit else ""
    # each point converted once: (timestamp, display value, point)
    per_side = {side: [(p["t"].timestamp(), conv(p["value"]), p) for p in s["points"]]
                for side, s in trend["sides"].items()}
    vals = [v for pts in per_side.values() for _, v, _ in pts if v is not None]
    if not vals:
        return ""
    bands = []
    for side, s in trend["sides"].items():
        if trend["mdc"] is not None:
            lo, hi = conv(s["baseline"] - trend["mdc"]), conv(s["baseline"] + trend["mdc"])
            if lo is not None and hi is not None:
                bands.append((side, min(lo, hi), max(lo, hi)))
                vals += [lo, hi]
    ts = [t for pts in per_side.values() for t, _, _ in pts]
    if t_range is not None:
        ts += [t_range[0].timestamp(), t_range[1].timestamp()]
    t0, t1 = min(ts), max(ts)
    v0, v1 = min(vals), max(vals)
    if t1 == t0:
        t1 = t0 + 1
    if v1 == v0:
        v1 = v0 + 1
    pad_l, pad_r, pad_t, pad_b = 44, 8, 8, 20
    W, H = width - pad_l - pad_r, height - pad_t - pad_b
    sx, sy = W / (t1 - t0), H / (v1 - v0)
    out = [f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{units.label(key)} over time">']
    for side, lo, hi in bands:
        c = palette.side(side)
        y_hi, y_lo = pad_t + (v1 - hi) * sy, pad_t + (v1 - lo) * sy
        out.append(f'<rect x="{pad_l}" y="{y_hi:.1f}" width="{W}" height="{max(y_lo - y_hi, 1):.1f}" '
                   f'fill="{c}" fill-opacity="0.10"><title>{side}: baseline ± {band}</title></rect>')
    for v in (v0, v1):
        out.append(f'<text x="{pad_l - 4}" y="{pad_t + (v1 - v) * sy + 4:.1f}" text-anchor="end" class="ax">{v:.3g}</text>')
    out.append(f'<text x="{pad_l}" y="{height - 4}" class="ax">{datetime.fromtimestamp(t0, timezone.utc):%Y-%m-%d}</text>')
    out.append(f'<text x="{width - pad_r}" y="{height - 4}" text-anchor="end" class="ax">'
               f'{datetime.fromtimestamp(t1, timezone.utc):%Y-%m-%d}</text>')
    for side, pts in per_side.items():
        c = palette.side(side)
        coords = [(pad_l + (t - t0) * sx, pad_t + (v1 - v) * sy, v, p) for t, v, p in pts if v is not None]
        if len(coords) > 1:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords) + '"/>')
        for x, y, v, p in coords:
            fill = palette.LABEL_COLOURS.get(p["label"], "#fff")
            shown = f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{fill}" stroke="{c}">'
                       f'<title>{side} {p["t"]:%Y-%m-%d}: {shown}{unit_sep}{unit} — {p["label"]}</title></circle>')
    out.append("</svg>")
    return "".join(out)


@bp.route("/<int:patient_id>")
def detail(patient_id: int):
    db = get_db()
    p = get_or_404(Patient, patient_id)
    sessions = db.execute(
        select(ClinicSession, func.count(Trial.id))
        .outerjoin(Trial, Trial.session_id == ClinicSession.id)
        .where(ClinicSession.patient_id == p.id)
        .group_by(ClinicSession.id).order_by(ClinicSession.started_at.desc())).all()
    from dashboard.summary import patient_summary, short_word
    hist = history(p)
    # one time axis for every chart: the patient's first to last session
    span = (sessions[-1][0].started_at, sessions[0][0].started_at) if sessions else None
    for tr in hist["trends"]:
        tr["svg"] = trend_svg(tr, p.body_mass_kg, t_range=span)
        # each side's latest point and what its chip says (a count: before → after)
        tr["last"] = {side: dict(s["points"][-1], word=short_word(
            tr["key"], {"n": len(s["points"]), "baseline": s["baseline"], "latest": s["points"][-1]["value"],
                        "label": s["points"][-1]["label"]}, p.body_mass_kg))
            for side, s in tr["sides"].items()}
    pro_trends = pros.history(p.id)
    for tr in pro_trends:
        tr["svg"] = trend_svg(tr, p.body_mass_kg, t_range=span, band="MCID")
    notes = db.scalars(select(Note).where(Note.patient_id == p.id).order_by(Note.created_at.desc())).all()
    return render_template("patients/detail.html", patient=p, sessions=sessions, trends=hist["trends"],
                           pro_trends=pro_trends, pro_scales=pros.SCALES,
                           glance=patient_summary(p, hist),
                           notes=notes, note_form=NoteForm(), session_form=NewSessionForm(),
                           protocols=protocols.available())


@bp.route("/<int:patient_id>/history.json")
def history_json(patient_id: int):
    p = get_or_404(Patient, patient_id)
    hist = history(p)
    reports = pros.patient_reports(p.id)
    # the reported outcomes: one trend per scale, labelled against its MCID, and the entries
    hist["pros"] = {"trends": pros.history(p.id, reports), "entries": [pros.as_dict(r) for r in reports]}
    for tr in hist["trends"] + hist["pros"]["trends"]:
        for s in tr["sides"].values():
            for pt in s["points"]:
                pt["t"] = pt["t"].isoformat()
    return jsonify({"patient": {"id": p.id, "code": p.code, "body_mass_kg": p.body_mass_kg,
                                "dominant_leg": p.dominant_leg}, **hist})


# --- the patient's own data: export everything, delete everything (docs/security.md) -----

class DeleteForm(FlaskForm):
    confirm = StringField("Patient ID", validators=[DataRequired(message="type the patient's ID to confirm"),
                                                    Length(max=40)])


def _inside(data_dir, rel: str):
    """The recording's absolute path, only if it lies inside the data folder (else None)."""
    from pathlib import Path
    base = Path(data_dir).resolve()
    try:
        path = (base / rel).resolve()
    except (OSError, ValueError):
        return None
    return path if path.is_relative_to(base) and path != base else None


def patient_document(p: Patient) -> dict:
    """Everything the database holds about one patient, as plain JSON-able data (each
    session's patient-reported outcomes as ``patient_reported``; the scales under ``pro_scales``)."""
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "format": "stepplate-patient-export/1",
        "exported_at": datetime.now(timezone.utc).isoformat(),
        "patient": {"id": p.id, "code": p.code, "body_mass_kg": p.body_mass_kg, "dominant_leg": p.dominant_leg,
                    "involved_side": p.involved_side, "birth_year": p.birth_year,
                    "notes": p.notes, "created_at": iso(p.created_at)},
        "pro_scales": pros.scales_document(),
        "notes": [{"created_at": iso(n.created_at), "clinician": n.clinician.username if n.clinician else None,
                   "text": n.text} for n in p.note_entries],
        "sessions": [{
            "id": s.id, "protocol": s.protocol, "started_at": iso(s.started_at), "notes": s.notes,
            "clinician": s.clinician.username if s.clinician else None,
            "patient_reported": pros.as_dict(s.report) if s.report is not None else None,
            "trials": [{"id": t.id, "protocol": t.protocol, "side": t.side, "status": t.status,
                        "started_at": iso(t.started_at), "duration_s": t.duration_s,
                        "sample_rate_hz": t.sample_rate_hz, "n_samples": t.n_samples,
                        "body_mass_kg": t.body_mass_kg, "quality": t.quality, "results": t.result_map(),
                        "recording": f"recordings/trial{t.id}.csv", "recording_sha256": t.recording_sha256}
                       for t in s.trials]} for s in p.sessions],
    }


@bp.route("/<int:patient_id>/export.zip")
def export_zip(patient_id: int):
    """All data of one patient (a subject-access request): patient.json, every recording, and
    pros.csv (the patient-reported outcomes, one row per session)."""
    import io
    import json
    import zipfile

    from flask import Response
    p = get_or_404(Patient, patient_id)
    doc = patient_document(p)
    data_dir = trials.data_dir()
    buf = io.BytesIO()
    missing = []
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for s in p.sessions:
            for t in s.trials:
                path = _inside(data_dir, t.recording_path)
                try:
                    blob = path.read_bytes() if path is not None else None
                except OSError:
                    blob = None
                if blob is None:
                    missing.append(t.id)
                    continue
                # archive names from numbers only: nothing from the database reaches the file system
                zf.writestr(f"recordings/trial{t.id}.csv", blob)
        doc["missing_recordings"] = missing
        zf.writestr("patient.json", json.dumps(doc, indent=2, allow_nan=False, default=str))
        zf.writestr("pros.csv", pros.csv_text(pros.patient_reports(p.id)))
    # patient codes are [A-Za-z0-9._-] (form validator); the file name is built from the number anyway
    return Response(buf.getvalue(), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="stepplate_patient{p.id}.zip"'})


@bp.route("/<int:patient_id>/delete", methods=["GET", "POST"])
@role_required("admin")
def delete(patient_id: int):
    """Admin only: delete the patient, their sessions, trials, results, notes and recording files."""
    import logging

    from dashboard import audit
    db = get_db()
    p = get_or_404(Patient, patient_id)
    form = DeleteForm()
    if form.validate_on_submit():
        if form.confirm.data.strip() != p.code:
            form.confirm.errors.append("the ID does not match: nothing was deleted")
        else:
            data_dir = trials.data_dir()
            files = []
            for s in p.sessions:
                for t in s.trials:
                    path = _inside(data_dir, t.recording_path)
                    if path is not None:
                        files += [path, path.with_name(path.name + ".partial"), path.with_suffix(".tmp")]
            code, pid = p.code, p.id
            if db.get_bind().dialect.name == "sqlite":     # overwrite freed pages: no copy left in the file
                db.connection().exec_driver_sql("PRAGMA secure_delete=ON")
            db.delete(p)
            audit.record("delete", patient_id=pid, target=f"patients.delete patient_id={pid}", commit=False)
            db.commit()                                    # rows first: a crash now leaves only orphan files
            if db.get_bind().dialect.name == "sqlite":
                db.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                db.commit()
            left = []
            for f in files:
                try:
                    f.unlink(missing_ok=True)
                except OSError:
                    left.append(str(f))
            if left:
                logging.getLogger(__name__).error("patient %s deleted but files remain: %s", pid, left)
                flash(f"Patient {code} deleted, but {len(left)} file(s) could not be removed: {', '.join(left)}",
                      "error")
            else:
                flash(f"Patient {code} and all their data deleted.", "success")
            from flask import g
            g.audit_done = True
            return redirect(url_for("patients.index"))
    n_sessions = len(p.sessions)
    n_trials = sum(len(s.trials) for s in p.sessions)
    return render_template("patients/delete.html", patient=p, form=form, n_sessions=n_sessions,
                           n_trials=n_trials), (400 if request.method == "POST" else 200)
