"""Audit log: who viewed, exported, changed or deleted which patient's data, when, from where.

``init_app(app)`` (called by ``clinic.init_app``) installs an ``after_request`` hook so every
successful request to a view that touches one patient's data is recorded *without* each view
having to remember it: the patient is found from the URL's ``patient_id``, ``session_id`` or
``trial_id``. Downloads (``Content-Disposition: attachment``, reports, exports) are
``export``; other GETs are ``view``; successful POSTs are ``change``. Deletion is recorded by
the delete view itself (in the same transaction as the deletion). Logins, failed logins and
lock-outs are recorded by ``dashboard.auth``.

The admin page ``/admin/audit`` lists the log (filter by patient number, clinician, action).
Entries hold the patient's *number* only (no code, no health data), so they outlive a deletion
without keeping anything of the patient.
"""
from __future__ import annotations

import logging

from flask import Flask, g, request
from flask_login import current_user
from sqlalchemy import select

from dashboard.db import get_db
from dashboard.models import AUDIT_ACTIONS, AuditEvent, ClinicSession, Clinician, Patient, Trial

log = logging.getLogger(__name__)

#: Endpoints whose successful GET is an export (besides any attachment download).
EXPORT_ENDPOINTS = frozenset({"export.trial_csv", "export.trial_json", "export.trial_c3d",
                              "reports.patient_report", "reports.session_report", "patients.export_zip",
                              "pros.patient_csv", "pros.patient_json"})
#: Views of patient data that carry no id in the URL.
LIST_ENDPOINTS = frozenset({"patients.index"})


def _client() -> str:
    try:
        return (request.remote_addr or "unknown")[:64]
    except RuntimeError:       # outside a request (CLI)
        return "cli"


def record(action: str, *, patient_id: int | None = None, target: str = "", username: str | None = None,
           clinician: Clinician | None = None, commit: bool = True) -> AuditEvent:
    """Add one audit entry (and commit unless ``commit=False``: then it joins the caller's transaction)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who = clinician
    if who is None and current_user and getattr(current_user, "is_authenticated", False):
        who = current_user
    ev = AuditEvent(action=action, patient_id=patient_id, target=target[:200], client=_client(),
                    clinician_id=getattr(who, "id", None),
                    username=(username if username is not None else getattr(who, "username", ""))[:80])
    db = get_db()
    db.add(ev)
    if commit:
        db.commit()
    return ev


def patient_of(view_args: dict) -> int | None:
    """The patient a URL refers to, from its patient_id, session_id or trial_id (None: none or unknown)."""
    db = get_db()
    if "patient_id" in view_args:
        p = db.get(Patient, view_args["patient_id"])
        return p.id if p is not None else None
    if "session_id" in view_args:
        return db.scalar(select(ClinicSession.patient_id).where(ClinicSession.id == view_args["session_id"]))
    if "trial_id" in view_args:
        return db.scalar(select(ClinicSession.patient_id).join(Trial, Trial.session_id == ClinicSession.id)
                         .where(Trial.id == view_args["trial_id"]))
    return None


def _after(response):
    try:
        if g.get("audit_done") or not (200 <= response.status_code < 300):
            return response
        endpoint = request.endpoint or ""
        if not endpoint or not getattr(current_user, "is_authenticated", False):
            return response
        args = request.view_args or {}
        touches = any(k in args for k in ("patient_id", "session_id", "trial_id"))
        if not touches and endpoint not in LIST_ENDPOINTS:
            return response
        if request.method in ("GET", "HEAD"):
            attachment = "attachment" in response.headers.get("Content-Disposition", "")
            action = "export" if (attachment or endpoint in EXPORT_ENDPOINTS) else "view"
        elif request.method in ("POST", "PUT", "PATCH", "DELETE"):
            action = "change"
        else:
            return response
        target = endpoint + "".join(f" {k}={v}" for k, v in sorted(args.items()))
        if request.query_string:
            target += " ?" + request.query_string.decode("latin-1")[:80]
        record(action, patient_id=patient_of(args) if touches else None, target=target)
    except Exception:  # noqa: BLE001 - an audit failure is logged loudly but must not lose the clinician's page
        log.exception("audit log entry could not be written")
        try:
            get_db().rollback()
        except Exception:  # noqa: BLE001
            pass
    return response


def init_app(app: Flask) -> None:
    """Record every view of patient data (the admin's page over the log: dashboard.audit_log)."""
    app.after_request(_after)


__all__ = ["record", "patient_of", "init_app"]
