"""``rig calibrate`` and ``rig check``: the guided calibration and the one-minute verification.

Both run on a *session*: a sampler (where counts come from) and, for the simulator, an
operator that moves the mass when asked. ``open_session`` picks it: a factory a caller put in
``ctx.obj["calibration_session"]`` (tests, the dashboard); the running acquisition service
when its socket answers (it owns the pins: the raw counts of its batches feed the flow); the
simulator when the GPIO backend is ``sim``; else the HX711 driver on the configured pins.
``ctx.obj["calibration_operator"]`` (anything with ``place``/``clear``, e.g. a SimOperator)
moves the mass when the session has no operator of its own.

After saving, a running acquisition service is told to load the new calibration
(``reload_calibration``; it also notices the file within a second by itself).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click
import numpy as np

from calibration import fileformat
from calibration.sampler import Session
from rig.cli.context import load_config


STOP_SERVICE_HINT = ("or stop the acquisition service (`sudo systemctl stop stepplate-acquire`) and run "
                     "this again: it then reads the pins itself")


#: How long to wait for the acquisition service's next message before giving up, s.
SERVICE_TIMEOUT_S = 10.0


def service_session(config, path, timeout_s: float | None = None) -> Session:
    """Counts from the running acquisition service: the raw counts of its batches
    (docs/live-stream.md), read with a ChunkSampler. ``sync`` sends a ``ping`` and drops
    everything that arrives before its reply, i.e. everything measured before the mass moved."""
    import itertools

    from calibration.flow import StepError
    from calibration.sampler import ChunkSampler
    from rig.acquire.ipc import Client

    timeout_s = SERVICE_TIMEOUT_S if timeout_s is None else timeout_s
    client = Client(path, reconnect=False)
    messages = client.messages(timeout=timeout_s)
    hello = next(messages, None)
    if hello is None or hello.get("type") != "hello":
        client.close()
        raise click.ClickException(f"the acquisition service on {path} did not answer; {STOP_SERVICE_HINT}")
    ids = itertools.count(1)

    def next_chunk():
        for msg in messages:
            if msg.get("type") == "batch" and msg.get("counts"):
                return [row[0] for row in msg["samples"]], msg["counts"]
        raise StepError(f"the acquisition service sent no samples for {timeout_s:g} s (it starts once the "
                        f"plate has been empty and still for a second); {STOP_SERVICE_HINT}")

    sampler = ChunkSampler(next_chunk, float(hello.get("rate_hz") or config.hx711.rate_sps))

    def sync():
        n = next(ids)
        client.command("ping", id=n)
        for msg in messages:
            if msg.get("type") == "reply" and msg.get("id") == n:
                sampler.discard()
                return
        raise StepError(f"the acquisition service stopped answering; {STOP_SERVICE_HINT}")

    return Session(sampler, close=client.close, sync=sync,
                   description=f"the running acquisition service ({hello.get('backend')}, {path})")


def open_session(ctx: click.Context, config) -> Session:
    obj = ctx.find_root().obj or {}
    factory = obj.get("calibration_session")
    session = factory(config) if factory is not None else _default_session(config)
    hands = obj.get("calibration_operator")
    if hands is not None and session.place is None:
        session.place, session.clear = hands.place, hands.clear
    return session


def _default_session(config) -> Session:
    from rig.acquire.ipc import server_running
    if server_running(config.socket_path):
        return service_session(config, config.socket_path)
    if config.gpio.backend == "sim":
        from calibration.simsession import sim_session
        return sim_session(config)
    from calibration.sampler import FrameSampler
    from rig.hw.gpio.select import open_backend
    from rig.hw.hx711 import HX711Array
    from rig.sim.rig import make_sim_backend
    backend, _reason = open_backend(None, config, sim_factory=lambda: make_sim_backend(config))
    arr = HX711Array(backend, rate_sps=config.hx711.rate_sps, gain=config.hx711.gain,
                     max_clock_high_us=config.hx711.max_clock_high_us)
    return Session(FrameSampler(arr.read_frame, config.hx711.rate_sps), close=arr.close,
                   description=f"HX711 on {backend.name}")


def _operator_ready(yes: bool, what: str = "Press Enter when ready") -> None:
    if not yes:
        click.prompt(f"  {what}", default="", show_default=False, prompt_suffix=" > ")


def _previous_model(path: Path, config):
    """The calibration in force (None if none or unusable), saying when it is past
    ``calibration.max_age_days``."""
    from calibration.loader import age_warning, force_model_from_dict
    try:
        cal = fileformat.load(path)
        model = force_model_from_dict(cal, config)
    except (FileNotFoundError, fileformat.CalibrationFileError):
        return None
    stale = age_warning(cal, config)
    if stale:
        click.echo(f"The {stale.split(':')[0]}: this run replaces it.")
    return model


def _do_step(flow, step, session: Session, yes: bool):
    from calibration.flow import StepError
    while True:
        if session.place is not None:
            if step.needs_mass:
                session.place(flow.mass_kg, step.x_m, step.y_m)
            elif session.clear is not None:
                session.clear()
        _operator_ready(yes)
        try:
            if session.sync is not None:
                session.sync()
            return flow.run_step(step)
        except StepError as exc:
            click.echo(f"  ✗ {exc}")
            if yes or not click.confirm("  Try this step again?", default=True):
                raise


@click.command()
@click.option("--mass-kg", type=click.FloatRange(0.5, 200), default=None,
              help="The known mass you will place, in kg (asked for when omitted).")
@click.option("--grid", type=click.Choice(["3", "5", "none"]), default="3", show_default=True,
              help="Grid of marked positions after the corners and centre (template in hardware/).")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Calibration file (default: <data_dir>/calibration.json).")
@click.option("--measure-s", type=click.FloatRange(0.5, 30), default=3.0, show_default=True,
              help="Averaging time at each position, seconds.")
@click.option("--yes", is_flag=True, help="Do not wait for Enter at each step (simulator, scripted runs); "
              "a failed step or a failed result then stops without saving.")
@click.pass_context
def calibrate(ctx, mass_kg, grid, output, measure_s, yes):
    """Guided calibration: tare, gains (mass over each cell and the centre), optional grid fit.

    Nothing is written until every step is done and the result is shown; the previous
    calibration is kept as calibration.prev.json and in calibration-history/.
    """
    from calibration.flow import CalibrationFlow, StepError, report_lines
    config = load_config(ctx)
    path = Path(output) if output else fileformat.default_path(config)
    if mass_kg is None:
        mass_kg = click.prompt("Known mass you will use (kg)", type=click.FloatRange(0.5, 200))
    session = open_session(ctx, config)
    if session.description:
        click.echo(f"Reading {session.description}.")
    flow = CalibrationFlow(config, session.sampler, mass_kg=mass_kg, grid=grid, measure_s=measure_s,
                           previous=_previous_model(path, config))
    n_place = sum(s.needs_mass for s in flow.steps)
    click.echo(f"Calibrating {config.plate.name} with {mass_kg:g} kg, {n_place} positions "
               f"(about {len(flow.steps) * 15 // 60 + 1} min). Lay the template on the plate, axes on the centre lines.")
    try:
        for i, step in enumerate(flow.steps, 1):
            click.echo(f"[{i}/{len(flow.steps)}] {step.instruction}")
            res = _do_step(flow, step, session, yes)
            click.echo(f"  ✓ {res.message}")
        cal = flow.finish()
    except (StepError, click.Abort, KeyboardInterrupt, EOFError) as exc:
        click.echo(f"\nCalibration stopped{': ' + str(exc) if str(exc) else ''}. Nothing was written; "
                   f"{'the previous calibration stays in force' if path.exists() else 'no calibration is in force'}.",
                   err=True)
        ctx.exit(1)
    finally:
        if session.close:
            session.close()
    for line in report_lines(cal):
        click.echo(line)
    if not cal["result"]["passed"]:
        if yes or not click.confirm("The calibration FAILED its limits. Save it anyway?", default=False):
            click.echo("Not saved; " + ("the previous calibration stays in force." if path.exists()
                                        else "no calibration is in force."), err=True)
            ctx.exit(1)
    had_previous = path.exists()
    fileformat.save(cal, path)
    click.echo(f"Saved {path}" + (f" (previous kept as {path.parent / fileformat.PREV_FILENAME})" if had_previous else ""))
    if path == fileformat.default_path(config):
        _tell_service(config)


def _tell_service(config, timeout_s: float = 5.0) -> None:
    """Ask a running acquisition service to use the calibration just saved."""
    from rig.acquire.ipc import Client, server_running
    if not server_running(config.socket_path):
        return
    client = Client(config.socket_path, reconnect=False)
    reply = None
    try:
        for msg in client.messages(timeout=timeout_s):
            if msg.get("type") == "hello":
                client.command("reload_calibration", id="reload")
            elif msg.get("type") == "reply" and msg.get("id") == "reload":
                reply = msg
                break
    except OSError:
        pass
    finally:
        client.close()
    if reply is not None and reply.get("ok"):
        click.echo(f"The running acquisition service now uses {reply.get('calibration')}.")
    else:
        click.echo("warning: the running acquisition service did not confirm the new calibration "
                   f"({(reply or {}).get('error', 'no reply')}); it picks the file up by itself within a few "
                   "seconds, or restart it (`sudo systemctl restart stepplate-acquire`)", err=True)


#: `rig check` passes when within these (or the calibration's own worst-case limits if looser).
CHECK_FZ_PCT = 1.0
CHECK_COP_MM = 3.0


def spot_position(label: str, config, grid: str = "3") -> tuple[float, float]:
    from calibration.flow import gain_positions
    from calibration.grid import grid_positions
    geo = config.geometry()
    spots = {lab.upper(): (x, y) for lab, x, y in gain_positions(geo)}
    if grid != "none":
        spots.update({lab.upper(): (x, y) for lab, x, y in grid_positions(int(grid))})
    try:
        x, y = spots[label.upper()]
    except KeyError:
        raise click.BadParameter(f"unknown spot {label!r}; known: {', '.join(sorted(spots))}",
                                 param_hint="--at") from None
    return x / 1000, y / 1000


@click.command()
@click.option("--mass-kg", type=click.FloatRange(0.5, 200), default=None, help="The known mass, kg.")
@click.option("--at", "spot", default="C", show_default=True,
              help="Marked spot: C (centre), FL/FR/BL/BR (cells) or a grid label such as B2.")
@click.option("--grid", type=click.Choice(["3", "5", "none"]), default="3", show_default=True,
              help="Which template the grid label refers to.")
@click.option("--calibration", "cal_path", type=click.Path(dir_okay=False), default=None,
              help="Calibration file (default: <data_dir>/calibration.json).")
@click.option("--measure-s", type=click.FloatRange(0.5, 30), default=5.0, show_default=True)
@click.option("--yes", is_flag=True, help="Do not wait for Enter.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def check(ctx, mass_kg, spot, grid, cal_path, measure_s, yes, as_json):
    """One-minute verification: one known mass at one marked spot against the calibration."""
    from calibration.loader import age_warning, check_plate, force_model_from_dict
    from calibration.flow import StepError, nominal_model
    from calibration.model import LinearFit
    from calibration.sampler import NotStable, measure, settle
    from rig.signal.plate import G
    config = load_config(ctx)
    path = Path(cal_path) if cal_path else fileformat.default_path(config)
    try:
        cal = fileformat.load(path)
        check_plate(cal, config)
    except (FileNotFoundError, fileformat.CalibrationFileError) as exc:
        raise click.ClickException(str(exc)) from None
    model = force_model_from_dict(cal, config)
    x_true, y_true = spot_position(spot, config, grid)
    if mass_kg is None:
        mass_kg = click.prompt("Known mass you will use (kg)", type=click.FloatRange(0.5, 200))
    warn_age = age_warning(cal, config)
    session = open_session(ctx, config)
    g_nom = nominal_model(config).n_per_count
    try:
        say = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
        say("[1/2] Clear the plate completely and do not touch it.")
        if session.clear:
            session.clear()
        _operator_ready(yes)
        if session.sync is not None:
            session.sync()
        settle(session.sampler, g_nom, tol_n=0.5)
        zero = measure(session.sampler, 3.0).mean_counts
        fz0 = mass_kg * G
        say(f"[2/2] Put the {mass_kg:g} kg mass on mark {spot.upper()} "
                   f"({x_true * 1000:+.0f}, {y_true * 1000:+.0f} mm), centred, and let go.")
        if session.place:
            session.place(mass_kg, x_true, y_true)
        _operator_ready(yes)
        if session.sync is not None:
            session.sync()
        settle(session.sampler, g_nom, tol_n=max(0.3, 0.002 * fz0))
        m = measure(session.sampler, measure_s)
    except (NotStable, StepError) as exc:
        raise click.ClickException(f"{exc}; check not completed") from None
    finally:
        if session.close:
            session.close()
    fit = LinearFit(model.matrix, model.correction)
    fz, x, y = (float(v[0]) for v in fit.predict(((m.mean_counts - zero) * model.n_per_count)[None, :]))
    fz_err_pct = (fz - fz0) / fz0 * 100
    cop_err_mm = float(np.hypot(x - x_true, y - y_true) * 1000)
    lim_fz = max(CHECK_FZ_PCT, cal["limits"]["fz_max_pct"])
    lim_cop = max(CHECK_COP_MM, cal["limits"]["cop_max_mm"])
    passed = abs(fz_err_pct) <= lim_fz and cop_err_mm <= lim_cop
    zero_drift_n = (zero - model.offsets_counts) * model.n_per_count
    result = {"checked_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "calibration_utc": cal["created_utc"], "spot": spot.upper(), "mass_kg": mass_kg,
              "x_mm": x_true * 1000, "y_mm": y_true * 1000, "fz_n": fz, "fz_expected_n": fz0,
              "fz_err_pct": fz_err_pct, "fz_err_n": fz - fz0, "cop_x_mm": x * 1000, "cop_y_mm": y * 1000,
              "cop_err_mm": cop_err_mm, "limit_fz_pct": lim_fz, "limit_cop_mm": lim_cop,
              "zero_drift_n": [float(v) for v in zero_drift_n], "passed": passed,
              "warnings": [w for w in [warn_age] if w]}
    try:
        log = path.parent / "calibration-checks.jsonl"
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")
    except OSError:
        pass
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"Fz {fz:.1f} N for {fz0:.1f} N: error {fz_err_pct:+.2f} % ({fz - fz0:+.2f} N), limit ±{lim_fz} %")
        click.echo(f"COP ({x * 1000:+.1f}, {y * 1000:+.1f}) mm for ({x_true * 1000:+.1f}, {y_true * 1000:+.1f}): "
                   f"error {cop_err_mm:.2f} mm, limit {lim_cop} mm")
        click.echo("Zero drift since calibration: " + ", ".join(f"{v:+.2f} N" for v in zero_drift_n))
        for w in result["warnings"]:
            click.echo(f"warning: {w}")
        click.echo("CHECK PASSED" if passed else "CHECK FAILED: recalibrate (`rig calibrate`)")
    if not passed:
        ctx.exit(1)
