"""Login, logout and the first-run "create the admin account" page.

There is no default password: while no clinician exists every page of the clinic
blueprints redirects to /auth/setup, which creates the first (admin) account and is
refused once any account exists. ``flask --app dashboard create-admin`` does the same
from a shell. Passwords are stored as salted scrypt hashes (``models.PASSWORD_HASH_METHOD``).

Security (docs/security.md):

* **Deny by default**: ``clinic.init_app`` installs ``require_login`` for *every* endpoint;
  only ``PUBLIC_ENDPOINTS`` and views marked ``@public`` are reachable without a login
  (tests/dashboard/test_security.py walks the URL map to prove it).
* **Roles**: ``admin`` and ``clinician``; ``@role_required("admin")`` guards admin views.
* **Throttling**: failed logins are counted per username *and* per client address in the
  database (``LoginThrottle``); ``LOGIN_MAX_FAILURES`` (5) failures for a username, or
  ``LOGIN_MAX_FAILURES_IP`` (20) from one address, lock it for ``LOGIN_LOCK_SECONDS`` (15 min),
  doubling with each further lock (at most ``LOGIN_LOCK_MAX_SECONDS``, 24 h). A locked login
  answers 429 without checking the password. Logins, failures and locks are audited.
"""
from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from dashboard import audit
from dashboard.db import create_clinician, get_db, user_count
from dashboard.models import Clinician, LoginThrottle

#: Endpoints reachable without a login (documented in docs/security.md): the login and
#: first-run pages (setup refuses once an account exists), static files, and the plate's
#: status and live stream (forces and COP of whoever stands on the plate, no patient identity).
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "auth.setup", "live.status", "live.stream"})
#: Public only when LIVE_REQUIRES_LOGIN is false.
LIVE_ENDPOINTS = frozenset({"live.index", "live.tare"})

THROTTLE_DEFAULTS = {"LOGIN_MAX_FAILURES": 5, "LOGIN_MAX_FAILURES_IP": 20, "LOGIN_LOCK_SECONDS": 900,
                     "LOGIN_LOCK_MAX_SECONDS": 86400}
_DUMMY_HASH = None

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


def public(view):
    """Mark a view as reachable without a login (add it to docs/security.md's allow-list too)."""
    view._stepplate_public = True
    return view


def is_public(endpoint: str | None) -> bool:
    if endpoint is None:       # no route matched: 404/405 carry nothing
        return True
    if endpoint in PUBLIC_ENDPOINTS:
        return True
    if endpoint in LIVE_ENDPOINTS and not current_app.config.get("LIVE_REQUIRES_LOGIN", True):
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "_stepplate_public", False))


def require_login():
    """App-wide before_request: every endpoint not on the allow-list needs a login."""
    if is_public(request.endpoint):
        return None
    return clinic_gate()


def admin_required():
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(403)


def role_required(*roles: str):
    """View decorator: 403 unless the logged-in clinician has one of ``roles``."""
    def deco(view):
        @functools.wraps(view)
        def wrapped(*a, **kw):
            if not current_user.is_authenticated:
                return clinic_gate()
            if current_user.role not in roles:
                abort(403, description=f"this needs the {' or '.join(roles)} role")
            return view(*a, **kw)
        wrapped._stepplate_roles = roles
        return wrapped
    return deco


# --- login throttling ------------------------------------------------------------------------

def _cfg(key: str) -> int:
    return int(current_app.config.get(key, THROTTLE_DEFAULTS[key]))


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:   # SQLite hands back naive UTC
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


def _throttle_keys(username: str) -> list[tuple[str, int]]:
    return [(f"user:{username.strip().lower()[:150]}", _cfg("LOGIN_MAX_FAILURES")),
            (f"ip:{client_address()}", _cfg("LOGIN_MAX_FAILURES_IP"))]


def locked_seconds(db, username: str, now: datetime | None = None) -> int:
    """Seconds until this username and address may try again (0: not locked)."""
    now = now or datetime.now(timezone.utc)
    left = 0.0
    for key, _limit in _throttle_keys(username):
        row = db.get(LoginThrottle, key)
        until = _aware(row.locked_until) if row is not None else None
        if until is not None and until > now:
            left = max(left, (until - now).total_seconds())
    return int(left + 0.999)


def register_failure(db, username: str, now: datetime | None = None) -> int:
    """Count a failed login; returns the lock in seconds it caused (0: none)."""
    now = now or datetime.now(timezone.utc)
    window = timedelta(seconds=_cfg("LOGIN_LOCK_SECONDS"))
    locked = 0
    for key, limit in _throttle_keys(username):
        row = db.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, lockouts=0)
            db.add(row)
        elif _aware(row.updated_at) < now - window:       # old failures expire with the window
            row.failures = 0
            if _aware(row.updated_at) < now - timedelta(days=1):
                row.lockouts = 0
        row.failures = (row.failures or 0) + 1
        row.updated_at = now
        if row.failures >= limit:
            seconds = min(_cfg("LOGIN_LOCK_SECONDS") * 2 ** (row.lockouts or 0), _cfg("LOGIN_LOCK_MAX_SECONDS"))
            row.locked_until = now + timedelta(seconds=seconds)
            row.lockouts = (row.lockouts or 0) + 1
            row.failures = 0
            locked = max(locked, int(seconds))
    db.commit()
    return locked


def register_success(db, username: str) -> None:
    row = db.get(LoginThrottle, _throttle_keys(username)[0][0])
    if row is not None:
        db.delete(row)
        db.commit()


def _check_password_constant_time(user: Clinician | None, password: str) -> bool:
    """Unknown usernames cost one scrypt too, so timing does not reveal which names exist."""
    global _DUMMY_HASH
    if user is None:
        if _DUMMY_HASH is None:
            from werkzeug.security import generate_password_hash
            from dashboard.models import PASSWORD_HASH_METHOD
            _DUMMY_HASH = generate_password_hash("not a password", method=PASSWORD_HASH_METHOD)
        from werkzeug.security import check_password_hash
        check_password_hash(_DUMMY_HASH, password)
        return False
    return user.check_password(password)


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
    status = 401 if request.method == "POST" else 200
    if form.validate_on_submit():
        name = form.username.data.strip()
        wait = locked_seconds(db, name)
        if wait:
            flash(f"Too many failed logins: try again in {max(1, (wait + 59) // 60)} minute(s), "
                  "or ask an administrator.", "error")
            audit.record("login_failed", username=name, target="locked")
            return render_template("auth/login.html", form=form), 429
        user = db.scalar(select(Clinician).where(Clinician.username == name))
        if not _check_password_constant_time(user, form.password.data) or not user.is_active:
            lock = register_failure(db, name)
            audit.record("login_failed", username=name)
            if lock:
                audit.record("lockout", username=name, target=f"{lock} s")
                flash(f"Too many failed logins: locked for {max(1, lock // 60)} minute(s).", "error")
                return render_template("auth/login.html", form=form), 429
            flash("Wrong username or password.", "error")
        else:
            register_success(db, name)
            if user.password_needs_rehash:      # e.g. an old pbkdf2 hash: upgrade to the pinned KDF
                user.set_password(form.password.data)
                db.commit()
            login_user(user, remember=form.remember.data)
            audit.record("login", clinician=user)
            return redirect(_safe_next(request.args.get("next")) or url_for("patients.index"))
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    audit.record("logout")
    logout_user()
    flash("Logged out.", "info")
    return redirect(url_for("auth.login"))
