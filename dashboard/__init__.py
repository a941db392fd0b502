"""The StepPlate dashboard: a Flask application factory (Flask tutorial style).

``create_app(test_config=None)`` builds the app: defaults, then the instance folder's
``config.py`` (or ``test_config``), then the blueprints. Live data comes from a *live source*
(rig.acquire.ipc: ``subscribe(callback) -> unsubscribe``, ``status()``, ``command(name)``) kept in
``app.extensions["stepplate_live"]``, never a module global:

* production (``rig serve``): an ``IpcLiveSource`` subscribed to the acquisition process's
  Unix socket (``RIG_SOCKET``, default from the rig config);
* tests and tools: pass ``test_config={"LIVE_SOURCE": source}`` (a FakeLiveSource, or an
  InProcessLiveSource around an Acquisition on the simulator).

The web process never imports a GPIO library: everything hardware-side reaches it as JSON
messages through the live source.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask


def _secret_key(instance: Path) -> str:
    """A per-install random key kept in the instance folder (created on first start)."""
    path = instance / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key)
        return key


def _default_live_source(app: Flask):
    from rig.acquire.ipc import IpcLiveSource
    path = app.config.get("RIG_SOCKET")
    if not path:
        from rig.config import load
        path = str(load(app.config.get("RIG_CONFIG")).socket_path)
    return IpcLiveSource(path).start()


def create_app(test_config: dict | None = None, *, settings: dict | None = None) -> Flask:
    """The dashboard app. ``test_config`` replaces the instance config (tests);
    ``settings`` are applied on top of the instance config: ``rig serve`` passes the socket,
    the rig config's database and data folder, and the instance folder (``INSTANCE_PATH``,
    ``<data folder>/instance`` unless ``$STEPPLATE_INSTANCE`` says otherwise;
    ``rig.cli.web.web_settings``)."""
    instance_path = ((test_config or {}).get("INSTANCE_PATH") or os.environ.get("STEPPLATE_INSTANCE")
                     or (settings or {}).get("INSTANCE_PATH"))
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        LIVE_SSE_INTERVAL_S=0.033,    # at most ~30 messages/s to the browser (docs/live-stream.md)
        LIVE_SSE_MAX_VIEWERS=None,    # None: dashboard.live.MAX_VIEWERS open streams (each holds a thread)
        LIVE_SSE_KEEPALIVE_S=15.0,
        LIVE_SSE_MAX_SECONDS=None,    # end a stream after this long (tests); None: until the client leaves
        RIG_SOCKET=None,              # acquisition socket; None: from the rig config
        RIG_CONFIG=None,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    if settings:
        app.config.from_mapping(settings)
    if app.config["LIVE_SSE_MAX_VIEWERS"] is None:
        from dashboard.live import MAX_VIEWERS
        app.config["LIVE_SSE_MAX_VIEWERS"] = MAX_VIEWERS
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)

    live = app.config.get("LIVE_SOURCE") or _default_live_source(app)
    app.extensions["stepplate_live"] = live

    from dashboard import live as live_bp
    app.register_blueprint(live_bp.bp)
    if app.config.get("CLINIC", True):       # database, login, CSRF and the clinic pages
        from dashboard import clinic
        clinic.init_app(app)
        from dashboard import calibration_page  # the calibration flow from the dashboard (login + CSRF)
        app.register_blueprint(calibration_page.bp)
        from dashboard import programme  # exercise blocks, sheets, patient links
        programme.init_app(app)
    return app


# the programme's tables (dashboard/programme_models.py, migration 0004_programme) join Base.metadata
# whenever the package is imported, so Alembic and the schema test see the whole schema.
from dashboard import programme_models as _programme_models  # noqa: E402,F401
