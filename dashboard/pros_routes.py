"""Patient-reported outcomes on the web: the session page's form (enter and edit), the JSON
API of one session's entry, and a patient's entries as CSV and JSON (dashboard.pros holds
the scales, the checks and the storage).

``POST /sessions/<id>/pros``            the form (CSRF token as every form); a refused entry
                                        comes back with each error beside its item (400)
``GET|PUT /api/sessions/<id>/pros``      one session's entry as JSON; PUT replaces it as a
                                        whole (``X-CSRFToken`` as every JSON write); a refused
                                        body is a 400 ``{"error": "pain_week_nrs: 11 is outside 0–10"}``
``GET /patients/<id>/pros.csv|.json``    the patient's entries, one row per session

Every change is in the audit log (dashboard.audit records each successful POST/PUT).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, request, url_for
from flask_login import current_user

from dashboard import audit, pros
from dashboard.auth import clinic_gate
from dashboard.db import get_or_404
from dashboard.models import ClinicSession, Patient
from dashboard.trials import EmptyForm, render_session

bp = Blueprint("pros", __name__)
bp.before_request(clinic_gate)


@bp.route("/sessions/<int:session_id>/pros", methods=["POST"])
def save_form(session_id: int):
    s = get_or_404(ClinicSession, session_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        values = pros.clean(request.form)
    except pros.ProError as exc:
        return render_session(s, pro_posted=request.form, pro_error=exc), 400
    _rep, created = pros.save(s, values, current_user)
    # the form answers with a redirect, which the after-request audit hook leaves out
    audit.record("change", patient_id=s.patient_id,
                 target=f"pros.save_form session_id={s.id} {'entered' if created else 'edited'}")
    g.audit_done = True
    flash("How the patient feels: " + ("saved." if created else "changes saved."), "success")
    return redirect(url_for("trials.session_detail", session_id=s.id) + "#pros")


@bp.route("/api/sessions/<int:session_id>/pros", methods=["GET", "PUT"])
def api_session_pros(session_id: int):
    s = get_or_404(ClinicSession, session_id)
    if request.method == "GET":
        rep = pros.report_for(s)
        if rep is None:
            return jsonify({"error": f"no patient-reported outcomes for session {s.id} yet"}), 404
        return jsonify(pros.as_dict(rep))
    body = request.get_json(silent=True)
    if body is None:
        return jsonify({"error": "send the scores as a JSON object"}), 400
    try:
        values = pros.clean(body)
    except pros.ProError as exc:
        return jsonify({"error": str(exc), "errors": exc.errors}), 400
    rep, created = pros.save(s, values, current_user)
    return jsonify(pros.as_dict(rep)), (201 if created else 200)


def _attachment(data, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/patients/<int:patient_id>/pros.csv")
def patient_csv(patient_id: int):
    p = get_or_404(Patient, patient_id)
    return _attachment(pros.csv_text(pros.patient_reports(p.id)), "text/csv", f"stepplate_{p.code}_pros.csv")


@bp.route("/patients/<int:patient_id>/pros.json")
def patient_json(patient_id: int):
    import json
    p = get_or_404(Patient, patient_id)
    doc = {"patient": {"id": p.id, "code": p.code}, **pros.export_document(p.id)}
    return _attachment(json.dumps(doc, indent=2, allow_nan=False), "application/json",
                       f"stepplate_{p.code}_pros.json")


__all__ = ["bp"]
