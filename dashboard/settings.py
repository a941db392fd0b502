"""Settings page (clinic name, MDC overrides, clinician accounts) and the key/value store."""
from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from dashboard.auth import admin_required, clinic_gate, role_required
from dashboard.db import create_clinician, get_db
from dashboard.models import Calibration, Clinician, Setting

bp = Blueprint("settings", __name__, url_prefix="/settings")
bp.before_request(clinic_gate)

DEFAULTS = {"clinic_name": "StepPlate clinic", "report_footer": "", "mdc_overrides": {}}


def get_setting(key: str, default=None):
    row = get_db().get(Setting, key)
    if row is None:
        return DEFAULTS.get(key, default) if default is None else default
    return row.value


def set_setting(key: str, value) -> None:
    db = get_db()
    row = db.get(Setting, key)
    if row is None:
        db.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.commit()


def _parse_mdc(text: str) -> dict:
    """Lines ``key = mdc [lower|higher]``: e.g. ``mean_velocity_mm_s = 3.5 lower``."""
    out = {}
    for n, line in enumerate((text or "").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, rest = line.partition("=")
        parts = rest.split()
        if not sep or not parts:
            raise ValueError(f"line {n}: expected 'key = value [lower|higher]'")
        try:
            mdc = float(parts[0])
        except ValueError:
            raise ValueError(f"line {n}: {parts[0]!r} is not a number") from None
        if mdc <= 0:
            raise ValueError(f"line {n}: the MDC must be positive")
        direction = parts[1] if len(parts) > 1 else "lower"
        if direction not in ("lower", "higher"):
            raise ValueError(f"line {n}: direction must be 'lower' or 'higher' (better)")
        out[key.strip()] = [mdc, direction == "lower"]
    return out


def _format_mdc(d: dict) -> str:
    return "\n".join(f"{k} = {v[0]:g} {'lower' if v[1] else 'higher'}" for k, v in sorted(d.items()))


class SettingsForm(FlaskForm):
    clinic_name = StringField("Clinic name (on reports)", validators=[Length(max=120)])
    report_footer = StringField("Report footer", validators=[Length(max=200)])
    mdc_overrides = TextAreaField("MDC overrides (one per line: key = MDC lower|higher)")

    def validate_mdc_overrides(self, field):
        try:
            _parse_mdc(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class UserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8)])
    is_admin = BooleanField("Administrator")


@bp.route("/", methods=["GET", "POST"])
def index():
    db = get_db()
    form = SettingsForm(data={"clinic_name": get_setting("clinic_name"),
                              "report_footer": get_setting("report_footer"),
                              "mdc_overrides": _format_mdc(get_setting("mdc_overrides") or {})})
    if form.validate_on_submit():
        admin_required()
        set_setting("clinic_name", form.clinic_name.data.strip())
        set_setting("report_footer", form.report_footer.data.strip())
        set_setting("mdc_overrides", _parse_mdc(form.mdc_overrides.data))
        flash("Settings saved.", "success")
        return redirect(url_for("settings.index"))
    users = db.scalars(select(Clinician).order_by(Clinician.username)).all()
    cals = db.scalars(select(Calibration).order_by(Calibration.created_at.desc()).limit(20)).all()
    return render_template("settings/index.html", form=form, user_form=UserForm(), users=users,
                           calibrations=cals, is_admin=current_user.is_admin,
                           mdc_json=json.dumps(get_setting("mdc_overrides") or {}))


@bp.route("/users", methods=["POST"])
@role_required("admin")
def add_user():
    form = UserForm()
    if form.validate_on_submit():
        try:
            create_clinician(get_db(), form.username.data, form.password.data, is_admin=form.is_admin.data)
            flash(f"Account {form.username.data} created.", "success")
        except ValueError as exc:
            flash(str(exc), "error")
    else:
        flash("; ".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("settings.index"))


@bp.route("/users/<int:user_id>/toggle", methods=["POST"])
@role_required("admin")
def toggle_user(user_id: int):
    db = get_db()
    user = db.get(Clinician, user_id)
    if user is None or user.id == current_user.id:
        flash("You cannot deactivate your own account.", "error")
    else:
        user.active = not user.active
        db.commit()
        flash(f"{user.username} {'activated' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("settings.index"))
