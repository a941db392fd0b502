"""Wires the clinic part of the dashboard into an app: database, login, CSRF, blueprints.

``create_app`` calls ``clinic.init_app(app)`` once (the one line added to the factory).
Everything is per app (``app.extensions``); nothing here is a module global.
"""
from __future__ import annotations

from flask import Flask
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect


def init_app(app: Flask) -> None:
    # Session cookie hardening (HttpOnly + SameSite=Lax). Secure is left to the
    # deployment: the clinic's rig usually serves plain HTTP on the local network.
    for key, value in (("SESSION_COOKIE_HTTPONLY", True), ("SESSION_COOKIE_SAMESITE", "Lax"),
                       ("REMEMBER_COOKIE_HTTPONLY", True), ("REMEMBER_COOKIE_SAMESITE", "Lax")):
        if app.config.get(key) is None:  # Flask's default for SameSite is None: set it unless configured
            app.config[key] = value
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a tablet left open all day keeps working
    # security (docs/security.md): Secure cookies when served over HTTPS (rig serve sets it with
    # web.https; set it yourself behind a TLS reverse proxy); requests larger than this are 413.
    app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config.get("REMEMBER_COOKIE_SECURE")
                                                or app.config.get("SESSION_COOKIE_SECURE"))
    if app.config.get("MAX_CONTENT_LENGTH") is None:   # Flask's default is None: no limit
        app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024

    from dashboard import db
    db.init_app(app)
    from dashboard import durable  # finishes trials interrupted by a crash (docs/reliability.md)
    durable.init_app(app)

    CSRFProtect(app)

    login = LoginManager()
    login.login_view = "auth.login"
    login.login_message_category = "info"
    login.init_app(app)

    @login.user_loader
    def _load_user(user_id: str):
        from dashboard.models import Clinician
        return db.get_db().get(Clinician, int(user_id))

    from dashboard import auth, export, patients, pros_routes, reports, settings, trials
    app.register_blueprint(auth.bp)
    app.register_blueprint(patients.bp)
    app.register_blueprint(trials.bp)
    app.register_blueprint(pros_routes.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(export.bp)
    app.register_blueprint(settings.bp)

    # The live page and tare need a logged-in clinician too (LIVE_REQUIRES_LOGIN). /api/status
    # and the SSE stream stay open: the status bar is shown on the login page, and neither
    # carries patient data (forces and COP of whoever stands on the plate, no identity).
    app.config.setdefault("LIVE_REQUIRES_LOGIN", True)
    # Deny by default: every endpoint, including ones added later, needs a login
    # unless it is on dashboard.auth.PUBLIC_ENDPOINTS or marked @public (tests/dashboard/test_security.py).
    from dashboard import audit, audit_log, openapi
    from dashboard.auth import require_login
    app.before_request(require_login)
    audit.init_app(app)          # who viewed/exported/deleted which patient's data
    app.register_blueprint(audit_log.bp)   # the admin's page over that log
    openapi.init_app(app)        # /api/openapi.json, request validation, JSON errors under /api/

    from dashboard import palette, protocols, units

    @app.context_processor
    def _helpers():
        return {"unit_label": units.label, "unit_fmt": units.fmt, "unit_of": units.unit,
                "protocol_title": protocols.title_for, "side_colour": palette.side}
