"""Login, logout and the first-run "create the admin account" page.

There is no default password: while no clinician exists every page of the clinic
blueprints redirects to /auth/setup, which creates the first (admin) account and is
refused once any account exists. ``flask --app dashboard create-admin`` does the same
from a shell. Passwords are stored as salted hashes (werkzeug scrypt/pbkdf2).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from dashboard.db import create_clinician, get_db, user_count
from dashboard.models import Clinician

bp = Blueprint("auth", __name__, url_prefix="/auth")


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in on this tablet")


class SetupForm(FlaskForm):
    username = StringField("Admin username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, message="at least 8 characters")])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", message="passwords differ")])


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative redirects after login (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def clinic_gate():
    """before_request of every clinic blueprint: first-run setup, then login."""
    if user_count(get_db()) == 0:
        return redirect(url_for("auth.setup"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def admin_required():
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(403)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    db = get_db()
    if user_count(db) > 0:
        flash("The admin account already exists; please log in.", "info")
        return redirect(url_for("auth.login"))
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = create_clinician(db, form.username.data, form.password.data, is_admin=True)
        except ValueError as exc:
            form.username.errors.append(str(exc))
        else:
            login_user(user)
            flash("Admin account created.", "success")
            return redirect(url_for("patients.index"))
    return render_template("auth/setup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    db = get_db()
    if user_count(db) == 0:
        return redirect(url_for("auth.setup"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.scalar(select(Clinician).where(Clinician.username == form.username.data.strip()))
        if user is None or not user.check_password(form.password.data) or not user.is_active:
            flash("Wrong username or password.", "error")
        else:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("patients.index"))
    return render_template("auth/login.html", form=form), (401 if request.method == "POST" else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash("Logged out.", "info")
    return redirect(url_for("auth.login"))
