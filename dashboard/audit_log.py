"""The audit log page (admins only): who viewed, exported or deleted which patient's data.

The entries are written by dashboard.audit; this page only reads and filters them.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from dashboard.auth import role_required
from dashboard.db import get_db
from dashboard.models import AUDIT_ACTIONS, AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.route("/")
@role_required("admin")
def index():
    db = get_db()
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    patient = request.args.get("patient", "").strip()
    who = request.args.get("user", "").strip()
    action = request.args.get("action", "").strip()
    if patient:
        if not patient.isdigit() or len(patient) > 12:
            return render_template("settings/audit.html", events=[], error="patient must be a number",
                                   actions=AUDIT_ACTIONS, q=request.args), 400
        stmt = stmt.where(AuditEvent.patient_id == int(patient))
    if who:
        stmt = stmt.where(AuditEvent.username == who[:80])
    if action:
        if action not in AUDIT_ACTIONS:
            return render_template("settings/audit.html", events=[], error=f"unknown action {action[:20]!r}",
                                   actions=AUDIT_ACTIONS, q=request.args), 400
        stmt = stmt.where(AuditEvent.action == action)
    events = db.scalars(stmt.limit(500)).all()
    return render_template("settings/audit.html", events=events, error=None, actions=AUDIT_ACTIONS, q=request.args)
