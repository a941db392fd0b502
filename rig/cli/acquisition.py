"""Acquisition-side commands: ``rig stream``, ``rig doctor``, ``rig acquire``.

Nothing here imports a GPIO library or Flask at module level: ``rig acquire`` must stay free
of the web, ``rig serve`` free of GPIO. Each command imports what it drives.
"""
from __future__ import annotations

import json
import math
import sys

import click

from rig.cli.context import load_config
from rig.hw.gpio.select import PlateNotConnected, pi_model
from rig.recording.format import format_sample
from rig.signal.plate import SAMPLE_COLUMNS

BACKENDS = click.Choice(["auto", "lgpio", "rpigpio", "sim"])
FAULT_KINDS = ("unplugged", "stuck_low", "saturate")


def _parse_faults(faults) -> list[tuple[int, str]]:
    from rig.constants import CORNERS
    out = []
    for f in faults:
        corner, _, kind = f.partition(":")
        if corner not in CORNERS or kind not in FAULT_KINDS:
            raise click.BadParameter(f"{f!r}: want CORNER:KIND, CORNER in {', '.join(CORNERS)}, "
                                     f"KIND in {', '.join(FAULT_KINDS)}", param_hint="--sim-fault")
        out.append((CORNERS.index(corner), kind))
    return out


def _inject(gpio, faults) -> None:
    chips = getattr(gpio, "chips", None)
    if faults and not chips:
        raise click.ClickException("--sim-fault needs the simulated backend (--backend sim)")
    for i, kind in faults:
        setattr(chips[i].faults, kind, True)


def _build(config, backend, realtime, faults=(), **kw):
    from rig.acquire.service import build_acquisition
    try:
        acq, gpio, reason = build_acquisition(config, backend=backend, realtime=realtime,
                                               **kw)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:   # BackendError is a RuntimeError
        raise click.ClickException(str(exc) if isinstance(exc, PlateNotConnected)       # says it all
                                   else f"cannot open the GPIO backend: {exc}") from None
    _inject(gpio, faults)
    return acq, gpio, reason


# --- rig stream ---------------------------------------------------------------------------

def _json_row(r) -> str:
    vals = [None if (isinstance(v, float) and math.isnan(v)) else v for v in r]
    d = dict(zip(SAMPLE_COLUMNS, vals))
    d["t_s"] = round(float(d["t_s"]), 4)
    for k in ("f_fl_n", "f_fr_n", "f_bl_n", "f_br_n", "fz_n"):
        d[k] = round(float(d[k]), 3)
    for k in ("cop_ml_mm", "cop_ap_mm"):
        d[k] = None if d[k] is None else round(float(d[k]), 2)
    d["flags"] = int(d["flags"])
    return json.dumps(d, allow_nan=False)


class _Printer:
    """Prints rows until ``seconds`` of samples have gone out."""

    def __init__(self, seconds: float, fmt: str, out):
        self.seconds = seconds
        self.fmt = fmt
        self.out = out
        self.t_first = None
        self.n = 0
        self.done = False
        self.last_messages: list[str] = []
        if fmt == "csv":
            out.write(",".join(SAMPLE_COLUMNS) + "\n")

    def rows(self, rows) -> None:
        fmt = format_sample if self.fmt == "csv" else _json_row
        for r in rows:
            if self.done:
                return
            t = float(r[0])
            if self.t_first is None:
                self.t_first = t
            if t - self.t_first >= self.seconds - 1e-9:
                self.done = True
                return
            self.out.write(fmt([float(v) if v is not None else float("nan") for v in r]) + "\n")
            self.n += 1
        self.out.flush()

    def health(self, h: dict) -> None:
        msgs = h.get("messages") or []
        if msgs != self.last_messages:
            for m in msgs:
                click.echo(f"rig stream: {m}", err=True)
        self.last_messages = msgs


@click.command()
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="How many seconds of samples to print.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--backend", type=BACKENDS, default=None,
              help="Read the pins directly with this backend (default: the running acquisition "
                   "service if there is one, else the configured backend).")
@click.option("--realtime/--fast", default=True, show_default=True,
              help="Simulator only: pace like the hardware, or run in fast virtual time.")
@click.option("--sim-fault", "faults", multiple=True, metavar="CORNER:KIND",
              help="Simulator only: inject a fault, e.g. br:unplugged.")
@click.pass_context
def stream(ctx, seconds, fmt, backend, realtime, faults):
    """Print calibrated samples (t_s, corner forces, Fz, COP, flags) at the plate's rate.

    CSV has a header line; jsonl is one object per sample. COP is nan/null when nobody
    stands on the plate. The first second is spent taring (keep the plate empty).
    """
    from rig.acquire.ipc import Client, server_running
    config = load_config(ctx)
    faults = _parse_faults(faults)
    out = sys.stdout
    sock = config.socket_path
    if backend is None and not faults and server_running(sock):
        printer = _Printer(seconds, fmt, out)
        client = Client(sock, reconnect=False)
        try:
            for msg in client.messages(timeout=10):
                if msg["type"] == "batch":
                    printer.rows(msg["samples"])
                elif msg["type"] == "health":
                    printer.health(msg)
                if printer.done:
                    break
        finally:
            client.close()
        if not printer.done:
            raise click.ClickException("the acquisition service stopped sending samples")
        return
    acq, gpio, _reason = _build(config, backend, realtime, faults)
    printer = _Printer(seconds, fmt, out)
    acq.subscribe(lambda ev: printer.rows(ev.samples) if ev.type == "batch" else printer.health(ev.data))
    try:
        acq.run(until=lambda: printer.done)
    finally:
        gpio.close()


# --- rig doctor ---------------------------------------------------------------------------

def _calibration_report(config) -> tuple[dict, list[str], list[str]]:
    problems, warnings = [], []
    try:
        from calibration.loader import age_warning, load_force_model
        from calibration.fileformat import default_path, load
    except ImportError:  # pragma: no cover
        return {"state": "unknown"}, problems, ["calibration package not installed"]
    path = default_path(config)
    try:
        cal = load(path)
        load_force_model(path, config)
    except FileNotFoundError:
        warnings.append(f"no calibration at {path}: forces use the datasheet model (±10 % or worse) — "
                        "run `rig calibrate` with a known mass")
        return {"state": "none", "path": str(path)}, problems, warnings
    except ValueError as exc:
        problems.append(f"calibration {path} is not usable: {exc} — run `rig calibrate` again")
        return {"state": "invalid", "path": str(path), "error": str(exc)}, problems, warnings
    w = age_warning(cal, config)
    if w:
        warnings.append(w)
    return {"state": "ok", "path": str(path), "created_utc": cal.get("created_utc")}, problems, warnings


@click.command()
@click.option("--seconds", type=click.FloatRange(0.5, 30), default=1.5, show_default=True,
              help="How long to read the chips.")
@click.option("--backend", type=BACKENDS, default=None, help="GPIO backend (default: from the config).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.option("--sim-fault", "faults", multiple=True, metavar="CORNER:KIND",
              help="Simulator only: inject a fault, e.g. br:unplugged (to see what doctor says).")
@click.option("--chips", default=None, metavar="CORNERS",
              help="Bring-up: read only these boards, e.g. fl or fl,fr (the others may be unwired).")
@click.pass_context
def doctor(ctx, seconds, backend, as_json, faults, chips):
    """Check the rig: GPIO backend, compiled core, each HX711, calibration. Exit 1 on a problem."""
    from rig.hw.gpio.subset import parse_chips
    from rig.signal import core
    config = load_config(ctx)
    faults = _parse_faults(faults)
    try:
        subset = parse_chips(chips) if chips is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--chips") from None
    problems: list[str] = []
    warnings: list[str] = []
    report: dict = {"config": config.source, "plate": config.plate.name,
                    "core": {"compiled": core.COMPILED, "implementation": core.implementation(),
                             "import_error": core.IMPORT_ERROR}}
    if not core.COMPILED:
        problems.append(f"compiled core not loaded ({core.IMPORT_ERROR}) — rebuild with `make build` "
                        "(or `pip install -e .`)")
    from rig.acquire.ipc import Client, server_running
    sock = config.socket_path
    health = None
    if subset is not None and server_running(sock):
        raise click.ClickException("the acquisition service is reading the boards: stop it for a bring-up "
                                   "(sudo systemctl stop stepplate-acquire), then run rig doctor --chips again")
    if subset is not None:
        report["source"] = f"read directly, bring-up of {', '.join(subset)}"
        report["backend"], health, found = _bring_up(config, backend, faults, subset, seconds)
        problems += found
    elif backend is None and not faults and server_running(sock):
        # the service owns the pins: ask it rather than clocking the chips from two processes
        report["source"] = f"acquisition service on {sock}"
        client = Client(sock, reconnect=False)
        hello = None
        try:
            for msg in client.messages(timeout=5):
                if msg["type"] == "hello":
                    hello = msg
                elif msg["type"] == "health":
                    health = msg
                    break
        finally:
            client.close()
        report["backend"] = {"name": (hello or {}).get("backend"), "reason": (hello or {}).get("backend_reason", "")}
    else:
        report["source"] = "read directly"
        try:
            acq, gpio, reason = _build(config, backend, realtime=False, faults=faults, auto_tare=False)
        except click.ClickException as exc:      # the backend cannot open: that is the finding
            acq = gpio = None
            report["backend"] = {"name": None, "reason": exc.message}
            problems.append(exc.message)
        if gpio is not None:
            report["backend"] = {"name": getattr(gpio, "name", "?"), "reason": reason}
            try:
                acq.run(max_seconds=seconds)
            finally:
                gpio.close()
            health = acq.latest_health or None
    if health is None and report["backend"]["name"] is not None:
        problems.append("no health report from the acquisition — is the plate connected?")
    health = health or {}
    report["health"] = {k: health.get(k) for k in ("achieved_sps", "rate_hz", "frames", "invalid_frames",
                                                   "resyncs", "max_clock_high_us", "spike_replacements")}
    report["chips"] = health.get("chips", [])
    problems += [p["message"] for p in health.get("problems", [])]
    model = pi_model()
    if report["backend"]["name"] == "sim" and model is not None:
        warnings.append(f"the SIMULATED plate on a {model} ({report['backend']['reason']}): "
                        "no real sample is read")
    cal, p, w = _calibration_report(config)
    report["calibration"] = cal
    problems += p
    warnings += w
    report["problems"] = problems
    report["warnings"] = warnings
    report["ok"] = not problems
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_doctor(report)
    ctx.exit(0 if not problems else 1)


def _bring_up(config, backend, faults, subset, seconds) -> tuple[dict, dict | None, list[str]]:
    """Read only the ``subset`` boards for ``seconds`` (of the backend's clock): the backend's
    description, a health-like report with every corner (the others "not checked") and the
    problems of the boards read."""
    from rig.acquire.health import chip_problem
    from rig.constants import CORNER_NAMES, CORNERS
    from rig.hw.gpio.select import open_backend
    from rig.hw.gpio.subset import ChipSubset
    from rig.hw.hx711 import HX711Array
    from rig.sim.rig import make_sim_backend
    try:
        gpio, reason = open_backend(backend, config, sim_factory=lambda: make_sim_backend(config, realtime=False))
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        msg = f"cannot open the GPIO backend: {exc}"
        return {"name": None, "reason": msg}, None, [msg]
    try:
        _inject(gpio, faults)
        hx = config.hx711
        drv = HX711Array(ChipSubset(gpio, subset), rate_sps=hx.rate_sps, gain=hx.gain,
                         max_clock_high_us=hx.max_clock_high_us, names=subset)
        t_end = gpio.now_ns() + int(seconds * 1e9)
        while gpio.now_ns() < t_end:
            drv.read_frame()
        h = drv.health()
    finally:
        gpio.close()
    read = {c["name"]: dict(c, corner=CORNER_NAMES.get(c["name"], c["name"])) for c in h["chips"]}
    chips = [read.get(c, {"name": c, "corner": CORNER_NAMES.get(c, c), "ready": None, "state": "not checked",
                          "achieved_sps": None, "invalid_frames": None}) for c in CORNERS]
    problems = []
    for c in read.values():     # a board is judged by its own state: a frame is invalid when any board is not ready
        p = chip_problem(c["name"], c["state"], ready=c["ready"], dead=False, last_error=c["last_error"])
        if p is not None:
            problems.append(p["message"])
    health = {"achieved_sps": h["achieved_sps"], "rate_hz": config.hx711.rate_sps, "frames": h["frames"],
              "invalid_frames": h["invalid_frames"], "resyncs": h["resyncs"],
              "max_clock_high_us": h["max_clock_high_us"], "chips": chips}
    return {"name": gpio.name, "reason": reason}, health, problems


def _print_doctor(r: dict) -> None:
    c = r["core"]
    h = r["health"]
    click.echo(f"rig doctor — plate {r['plate']} (config: {r['config']})")
    click.echo(f"GPIO backend:  {r['backend']['name'] or 'not open'} — {r['backend']['reason']}")
    click.echo(f"Compiled core: {'loaded' if c['compiled'] else 'NOT loaded'} ({c['implementation']})")
    if r["backend"]["name"] is None:
        click.echo("Chips:         not read (the GPIO backend did not open)")
    else:
        click.echo(f"Chips ({r['source']}): {h.get('achieved_sps')} of {h.get('rate_hz')} samples/s, "
                   f"{h.get('invalid_frames')} invalid frames, {h.get('resyncs')} resyncs, "
                   f"max clock-high {h.get('max_clock_high_us')} µs")
    for ch in r["chips"]:
        state = "-" if ch.get("ready") is None else ("ready" if ch.get("ready") else "NOT READY")
        inv, sps = ch.get("invalid_frames"), ch.get("achieved_sps")
        click.echo(f"  {ch.get('corner', ch.get('name')):<12} {state:<9} {ch.get('state', ''):<15} "
                   f"{sps if sps is not None else '-'} sps, {inv if inv is not None else '-'} invalid")
    cal = r["calibration"]
    click.echo(f"Calibration:   {cal.get('state')}" + (f" ({cal['path']})" if cal.get("path") else ""))
    for w in r["warnings"]:
        click.echo(f"warning: {w}")
    for p in r["problems"]:
        click.echo(f"PROBLEM: {p}")
    click.echo("OK" if r["ok"] else f"{len(r['problems'])} problem(s) — fix the first one and run `rig doctor` again")


# --- rig acquire / serve / demo -----------------------------------------------------------

@click.command()
@click.option("--backend", type=BACKENDS, default=None, help="GPIO backend (default: from the config).")
@click.option("--realtime/--fast", default=True, show_default=True, help="Simulator pacing.")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False), default=None,
              help="Unix socket to serve on (default: [acquisition] socket, or acquire.sock in the data folder).")
@click.option("--seconds", type=float, default=None, help="Stop after this many seconds (default: run until stopped).")
@click.pass_context
def acquire(ctx, backend, realtime, socket_path, seconds):
    """Run the acquisition process: read the plate, serve batches and health on the socket.

    This is what stepplate-acquire.service runs. It never imports the web stack.
    """
    import logging

    from rig.acquire.service import serve_forever
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = load_config(ctx)
    try:
        code = serve_forever(config, socket=socket_path, backend=backend, realtime=realtime, max_seconds=seconds,
                             
                             ready=lambda p: click.echo(f"acquisition serving on {p}", err=True))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.exit(code)
