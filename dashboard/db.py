"""Database per app: one SQLAlchemy engine per Flask app, one ORM session per app context.

Configuration (app.config, usually from the instance folder's config.py):

``DATABASE_URL``
    SQLAlchemy URL. Default: SQLite file ``stepplate.db`` in the instance folder, in WAL
    mode (readers never block the writer; survives a power cut with at most the last
    transaction lost). ``postgresql+psycopg://user@host/stepplate`` works too.
``DATABASE_AUTO_MIGRATE``
    Default True: ``alembic upgrade head`` when the app starts, so a new install or an
    update needs no manual step. Set False to run ``flask --app dashboard db-upgrade`` yourself.
``STEPPLATE_DATA_DIR``
    Folder for recordings (the trials' raw samples). Default: the instance folder.

No module globals: the engine lives in ``app.extensions["stepplate_db"]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, abort, current_app, g
from flask.cli import with_appcontext
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from dashboard.models import Base, Clinician

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@dataclass
class Database:
    engine: Engine
    sessionmaker: sessionmaker
    url: str


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")     # WAL + FULL: every commit survives a power cut (docs/reliability.md)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def alembic_config(url: str):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations on ``engine`` (same engine: works for in-memory SQLite too)."""
    from alembic import command
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def init_app(app: Flask) -> None:
    # `rig serve` and `rig demo` always pass DATABASE_URL and STEPPLATE_DATA_DIR from the rig
    # config (rig.config.Config.storage, the rule `rig backup` follows too); a bare create_app
    # (tests, `flask run` while developing) keeps everything in its instance folder.
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'stepplate.db'}")
    app.config.setdefault("DATABASE_AUTO_MIGRATE", True)
    app.config.setdefault("STEPPLATE_DATA_DIR", str(instance))
    url = app.config["DATABASE_URL"]
    engine = make_engine(url)
    app.extensions["stepplate_db"] = Database(engine, sessionmaker(engine, expire_on_commit=False), url)
    if app.config["DATABASE_AUTO_MIGRATE"]:
        upgrade(engine)
    app.teardown_appcontext(_close_session)
    app.cli.add_command(db_upgrade_command)
    app.cli.add_command(create_admin_command)


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["stepplate_db"]


def get_db() -> Session:
    """The ORM session of the current app context (opened on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    return g.db_session


def get_or_404(model, ident, *, description: str | None = None):
    """The ``model`` row with primary key ``ident`` from :func:`get_db`, else abort with 404."""
    row = get_db().get(model, ident)
    if row is None:
        abort(404, description=description)
    return row


def _close_session(_exc=None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def user_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Clinician)) or 0


def create_clinician(db: Session, username: str, password: str, is_admin: bool = False) -> Clinician:
    username = username.strip()
    if not username:
        raise ValueError("username must not be empty")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    if db.scalar(select(Clinician).where(Clinician.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = Clinician(username=username, is_admin=is_admin)
    user.set_password(password)
    db.add(user)
    db.commit()
    return user


@click.command("db-upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade_command(revision: str) -> None:
    """Apply the database migrations (Alembic) up to REVISION (default: head)."""
    upgrade(database().engine, revision)
    click.echo(f"database at {revision}")


@click.command("create-admin")
@click.option("--username", prompt=True)
@click.password_option()
@with_appcontext
def create_admin_command(username: str, password: str) -> None:
    """Create an administrator account (the first run has no default password)."""
    try:
        create_clinician(get_db(), username, password, is_admin=True)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created admin {username}")


__all__ = ["Base", "Database", "init_app", "get_db", "get_or_404", "database", "upgrade", "make_engine",
           "create_clinician", "user_count"]
