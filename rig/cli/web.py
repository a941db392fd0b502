"""Web-side commands: ``rig serve`` (the dashboard, subscribed to the acquisition socket)
and ``rig demo`` (the acquisition process on the simulated plate, supervised, plus the
dashboard). Nothing here imports a GPIO library.
"""
from __future__ import annotations

import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from rig.cli.context import load_config
from rig.constants import SOCKET_NAME


def web_settings(config, socket_path, config_path=None, data_dir=None) -> dict:
    """The dashboard settings `rig serve` and `rig demo` give ``create_app``, from the rig config.

    Database and data folder come from ``rig.config.Config.storage``, the rule `rig backup`
    and `rig restore` use, so all of them agree on where the data is: ``[web] database_url``
    (empty: SQLite ``stepplate.db`` in the data folder) and ``[paths] data_dir`` (recordings
    under ``recordings/``). The instance folder (secret key, optional Flask ``config.py``) is
    ``<data folder>/instance``; ``$STEPPLATE_INSTANCE`` overrides it. ``data_dir`` replaces the
    configured data folder (`rig demo` uses a temporary one).
    """
    url, data = config.storage(data_dir=data_dir)
    settings = {"RIG_SOCKET": str(socket_path), "DATABASE_URL": url,
                "STEPPLATE_DATA_DIR": str(data), "INSTANCE_PATH": str(data / "instance")}
    if config_path:
        settings["RIG_CONFIG"] = str(config_path)
    return settings


def make_web_app(config, socket_path, config_path=None, data_dir=None):
    """The dashboard app exactly as `rig serve` runs it (tests build it through this too)."""
    from dashboard import create_app
    settings = web_settings(config, socket_path, config_path, data_dir)
    Path(settings["STEPPLATE_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    return create_app(settings=settings)


def _serve_web(config, socket_path, host, port, threads=None, config_path=None, data_dir=None,
               with_history: bool = False) -> None:
    from waitress import serve as waitress_serve

    from dashboard.live import waitress_threads  # each live viewer holds a thread: viewers + 16 for pages
    app = make_web_app(config, socket_path, config_path, data_dir)
    if with_history:
        from dashboard.demo_history import DEMO_CODE, WEEKS, seed_history
        t = time.monotonic()
        seed_history(app, config=config)
        click.echo(f"demo patient {DEMO_CODE}: {WEEKS} weeks of simulated sessions and a programme "
                   f"({time.monotonic() - t:.0f} s)")
    threads = threads or waitress_threads(app)
    if config.web.https:  # TLS with cheroot, Secure cookies (dashboard/tls.py, docs/security.md)
        from dashboard import tls
        return tls.serve_app(app, config, host, port, threads)
    waitress_serve(app, host=host, port=port, threads=threads, ident="stepplate", channel_timeout=30)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", type=int, default=None, help="Port (default: [web] port).")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False), default=None,
              help="The acquisition socket to subscribe to (default: from the config).")
@click.pass_context
def serve(ctx, host, port, socket_path):
    """Run the web process (waitress) subscribed to the acquisition socket."""
    config = load_config(ctx)
    host = host or config.web.host
    port = port or config.web.port
    sock = socket_path or config.socket_path
    url, data = config.storage()
    click.echo(f"StepPlate dashboard on {'https' if config.web.https else 'http'}://{'127.0.0.1' if host == '0.0.0.0' else host}:{port} "
               f"(acquisition socket {sock}; data folder {data}; "
               f"database {_safe_url(url)})", err=True)
    _serve_web(config, sock, host, port, config_path=_config_path(ctx))


def _config_path(ctx):
    return ctx.obj.get("config_path") if ctx.obj else None


def _safe_url(url: str) -> str:
    """The database URL without its password, for start-up messages."""
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only a message
        return url.split("://", 1)[0] + "://…"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--with-history", is_flag=True,
              help="Add a simulated demo patient with six weekly sessions and a programme (trends, real change, PDF).")
@click.pass_context
def demo(ctx, host, port, with_history):
    """Run the whole product on a simulated plate: acquisition process + dashboard. Ctrl-C stops."""
    from rig.acquire.ipc import server_running
    config = load_config(ctx)
    tmp = Path(tempfile.mkdtemp(prefix="stepplate-demo-"))
    sock = tmp / SOCKET_NAME
    data = tmp / "data"                # self-contained: never the configured clinic database
    cmd = [sys.executable, "-m", "rig"]
    if ctx.obj and ctx.obj.get("config_path"):
        cmd += ["--config", ctx.obj["config_path"]]
    cmd += ["acquire", "--backend", "sim", "--socket", str(sock)]   # the one entry point: applies the calibration

    def _term(signum, frame):      # systemd/kill: clean up like Ctrl-C
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _term)
    from rig.acquire.supervise import Supervisor  # restarts the acquisition after a crash
    child = Supervisor(cmd).start()
    try:
        deadline = time.monotonic() + 30
        while not server_running(sock):
            if child.poll() is not None:
                raise click.ClickException(f"the acquisition process exited with code {child.returncode}")
            if time.monotonic() > deadline:
                raise click.ClickException("the acquisition process did not start within 30 s")
            time.sleep(0.1)
        click.echo(f"StepPlate demo (simulated plate): open http://{host}:{port}  — Ctrl-C to stop\n"
                   f"demo data (database, recordings) in the temporary folder {data}, deleted when the demo stops")
        _serve_web(config, sock, host, port, config_path=_config_path(ctx), data_dir=str(data),
                   with_history=with_history)
    except KeyboardInterrupt:
        pass
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        try:
            if sock.exists():
                sock.unlink()
        except OSError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)
