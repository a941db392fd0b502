"""Settings page (clinic name, MDC overrides, clinician accounts) and the key/value store."""
from __future__ import annotations

import json
import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
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
        if not math.isfinite(mdc) or mdc <= 0:
            raise ValueError(f"line {n}: the MDC must be a positive number")
        direction = parts[1] if len(parts) > 1 else "lower"
        if direction not in ("lower", "higher"):
            raise ValueError(f"line {n}: direction must be 'lower' or 'higher' (better)")
        out[key.strip()] = [mdc, direction == "lower"]
    return out


def _format_mdc(d: dict) -> str:
    return "\n".join(f"{k} = {v[0]:g} {'lower' if v[1] else 'higher'}" for k, v in sorted(d.items()))


def mdc_rows(overrides: dict) -> list[dict]:
    """The MDC table of the settings page: every headline measure of the protocol kinds that
    has an MDC (counts have none), in clinic units — the MDC in use and where it comes from
    (the clinic's setting, a published SEM, the placeholder) and the clinic's own value."""
    from dashboard import measures, units
    from rig.analysis.change import published_sem
    from rig.analysis.protocols.kinds import KINDS
    keys = []
    for kind in KINDS.values():
        keys += [m.key for m in kind.headline if m.key not in keys and not units.is_count(m.key)
                 and units.to_display(m.key, 1.0) is not None]
    rows = []
    for k in keys:
        mdc, lower = measures.mdc_for(k, overrides)
        source = ("clinic setting" if k in overrides else "published SEM" if published_sem(k) is not None
                  else "placeholder" if mdc is not None else "from the trials only")
        own = overrides.get(k)
        rows.append({"key": k, "label": units.label(k), "unit": units.unit(k),
                     "in_use": units.to_display(k, mdc) if mdc is not None else None, "source": source,
                     "clinic": units.to_display(k, own[0]) if own else None, "lower_better": lower})
    return rows


def _mdc_from_table(form, overrides: dict) -> dict:
    """The table's ``mdc__<key>`` (clinic units; empty: no clinic value) and ``better__<key>``
    (lower|higher) fields over ``overrides``; ValueError naming the measure otherwise."""
    from dashboard import units
    out = dict(overrides)
    for row in mdc_rows({}):
        k = row["key"]
        if f"mdc__{k}" not in form:
            continue
        text = form.get(f"mdc__{k}", "").strip().replace(",", ".")
        better = form.get(f"better__{k}", "lower")
        if better not in ("lower", "higher"):
            raise ValueError(f"{row['label']}: better must be lower or higher")
        if not text:
            out.pop(k, None)
            continue
        try:
            v = float(text)
        except ValueError:
            raise ValueError(f"{row['label']}: {text!r} is not a number") from None
        if not v > 0 or v != v or v == float("inf"):
            raise ValueError(f"{row['label']}: the MDC must be a positive number")
        out[k] = [units.from_display(k, v), better == "lower"]
    return out


class SettingsForm(FlaskForm):
    clinic_name = StringField("Clinic name (on reports)", validators=[Length(max=120)])
    report_footer = StringField("Report footer", validators=[Length(max=200)])
    mdc_overrides = TextAreaField("Other measures (one per line: key = MDC in the key's unit, lower|higher)")

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
    table_error = None
    if form.validate_on_submit():
        admin_required()
        try:                       # the table (clinic units) wins over a text line for the same measure
            overrides = _mdc_from_table(request.form, _parse_mdc(form.mdc_overrides.data))
        except ValueError as exc:
            table_error = str(exc)
        else:
            set_setting("clinic_name", form.clinic_name.data.strip())
            set_setting("report_footer", form.report_footer.data.strip())
            set_setting("mdc_overrides", overrides)
            flash("Settings saved.", "success")
            return redirect(url_for("settings.index"))
    users = db.scalars(select(Clinician).order_by(Clinician.username)).all()
    cals = db.scalars(select(Calibration).order_by(Calibration.created_at.desc()).limit(20)).all()
    overrides = get_setting("mdc_overrides") or {}
    listed = {r["key"] for r in mdc_rows({})}
    if not form.is_submitted():          # the text box holds only what the table does not list
        form.mdc_overrides.data = _format_mdc({k: v for k, v in overrides.items() if k not in listed})
    return render_template("settings/index.html", form=form, user_form=UserForm(), users=users,
                           calibrations=cals, is_admin=current_user.is_admin,
                           mdc_table=mdc_rows(overrides), table_error=table_error,
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
