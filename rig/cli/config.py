"""`rig config …` (check, template, init) and `rig status` (the systemd units' state and logs).

Exit codes of ``rig config check``: 0 the file is valid, 1 it is not (the message names the
option). Exit codes of ``rig status`` follow the LSB status convention: 0 every unit is
active, 3 at least one is not running (inactive, failed, activating or not installed),
4 the status is unknown because systemd is not available here (a container, a laptop
without systemd, CI).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import click

from rig import config as cfg

#: The units hardware/systemd/ ships, acquisition first (it starts before the web).
UNITS = ("stepplate-acquire.service", "stepplate-web.service")
SHOW_PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "MainPID", "NRestarts",
                   "ActiveEnterTimestamp", "User")
NO_SYSTEMD_MARKERS = ("not been booted with systemd", "Failed to connect to bus",
                      "System has not been booted", "Host is down")

EXIT_OK, EXIT_INVALID = 0, 1
EXIT_NOT_RUNNING, EXIT_UNKNOWN = 3, 4


@click.group("config")
def config_group() -> None:
    """Check, print or create the rig config file (TOML; reference: docs/config.md)."""


def _warnings(c: cfg.Config) -> list[str]:
    """Things that are valid but probably not what the clinic wants on this machine."""
    out = []
    if c.web.https:
        for k in ("cert_file", "key_file"):
            p = Path(os.path.expanduser(getattr(c.web, k)))
            if not p.is_file():
                out.append(f"web.{k}: {p} does not exist on this machine")
    if c.hx711.rate_sps == 10:
        out.append("hx711.rate_sps: 10 SPS is fine for quiet stance but too slow for landings "
                   "(wire RATE high for 80 SPS; hardware/README.md)")
    if c.web.port < 1024:
        out.append(f"web.port: {c.web.port} is a privileged port; the web process needs "
                   "CAP_NET_BIND_SERVICE (the shipped unit grants it)")
    if c.paths.data_dir.startswith("~"):
        out.append(f"paths.data_dir: {c.paths.data_dir} depends on the user; the services run as "
                   "different users, so a Pi needs an absolute path such as /var/lib/stepplate")
    return out


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the file is valid.")
def check(file: str, quiet: bool) -> None:
    """Validate FILE: exit 0 if valid, 1 with the offending option named if not."""
    try:
        c = cfg.load(file)
    except cfg.ConfigError as exc:
        click.echo(f"invalid: {exc}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    if quiet:
        return
    g = c.gpio
    click.echo(f"ok: {file}")
    click.echo(f"  pins: PD_SCK BCM {g.clock_pin}; DOUT " +
               ", ".join(f"{k}={p}" for k, p in zip(("fl", "fr", "bl", "br"), g.data_pins)))
    click.echo(f"  hx711: {c.hx711.rate_sps} SPS, gain {c.hx711.gain}")
    click.echo(f"  plate: {c.plate.name}, cells {c.plate.cell_spacing_ml_mm:g} x "
               f"{c.plate.cell_spacing_ap_mm:g} mm, {c.plate.cell_capacity_kg:g} kg each")
    click.echo(f"  data: {c.paths.data_path}; socket {c.socket_path}")
    scheme = "https" if c.web.https else "http"
    click.echo(f"  web: {scheme}://{c.web.host}:{c.web.port}/; database "
               f"{c.web.database_url or 'SQLite in the data folder'}")
    for w in _warnings(c):
        click.echo(f"warning: {w}")


@config_group.command("template")
@click.option("--format", "fmt", type=click.Choice(["toml", "markdown"]), default="toml",
              show_default=True, help="toml: a config file with every option at its default; "
                                      "markdown: the option reference of docs/config.md.")
def template(fmt: str) -> None:
    """Print every option with its default and meaning."""
    click.echo(cfg.template() if fmt == "toml" else cfg.markdown_reference(), nl=False)


def _parse_setting(s: str) -> tuple[str, object]:
    key, sep, raw = s.partition("=")
    if not sep or "." not in key:
        raise click.BadParameter(f"{s!r}: expected SECTION.OPTION=VALUE", param_hint="--set")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word or path: take it as a string
    return key.strip(), value


@config_group.command("init")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "settings", multiple=True, metavar="SECTION.OPTION=VALUE",
              help="Set an option (repeatable), e.g. --set paths.data_dir=/var/lib/stepplate.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def init(file: str, settings: tuple[str, ...], force: bool) -> None:
    """Write a documented config FILE (every option, comments kept), validated before writing."""
    path = Path(file)
    if path.exists() and not force:
        click.echo(f"{path} exists; left unchanged (use --force to overwrite)")
        return
    try:
        text = cfg.render_with(dict(_parse_setting(s) for s in settings))
    except cfg.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


# --- rig status -------------------------------------------------------------------------------

class SystemdUnavailable(RuntimeError):
    pass


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)


def unit_state(unit: str) -> dict[str, str]:
    """``systemctl show`` properties of a unit; SystemdUnavailable when systemd is not running."""
    if shutil.which("systemctl") is None:
        raise SystemdUnavailable("systemctl not found")
    proc = _run(["systemctl", "show", unit, "--no-pager", "-p", ",".join(SHOW_PROPERTIES)])
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        if any(m in text for m in NO_SYSTEMD_MARKERS):
            raise SystemdUnavailable(text.strip().splitlines()[0])
        raise SystemdUnavailable(f"systemctl show {unit} failed: {text.strip()}")
    state = {}
    for line in proc.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            state[k] = v
    return state


def unit_log(unit: str, lines: int) -> list[str]:
    """The last journal lines of a unit (a message line when the journal cannot be read)."""
    if shutil.which("journalctl") is None:
        return ["(journalctl not found)"]
    proc = _run(["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-iso"])
    if proc.returncode != 0:
        return [f"(journal not readable: {(proc.stderr or proc.stdout).strip()}; "
                "add this user to the systemd-journal group)"]
    return proc.stdout.rstrip("\n").splitlines()


def collect(lines: int = 20) -> dict:
    """Status of every unit, or {"systemd": False, "reason": …} when systemd is not here."""
    try:
        units = {u: unit_state(u) for u in UNITS}
    except SystemdUnavailable as exc:
        return {"systemd": False, "reason": str(exc), "units": {}}
    out = {"systemd": True, "units": {}}
    for u, state in units.items():
        state = dict(state)
        state["log"] = unit_log(u, lines) if lines > 0 else []
        out["units"][u] = state
    return out


def exit_code(report: dict) -> int:
    if not report["systemd"]:
        return EXIT_UNKNOWN
    active = all(s.get("ActiveState") == "active" for s in report["units"].values())
    return EXIT_OK if active else EXIT_NOT_RUNNING


@click.command("status")
@click.option("--lines", "-n", default=20, show_default=True, type=click.IntRange(0, 10_000),
              help="Journal lines to show per unit (0: none).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(lines: int, as_json: bool) -> None:
    """State and recent log of the acquisition and web services (systemd units).

    Exit 0: all active; 3: some unit not running; 4: systemd not available here.
    """
    report = collect(lines)
    code = exit_code(report)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        raise SystemExit(code)
    if not report["systemd"]:
        click.echo(f"systemd is not available on this machine ({report['reason']}): "
                   f"cannot read {', '.join(UNITS)}. On a Pi, install them with "
                   "hardware/install-pi.sh.")
        raise SystemExit(code)
    for unit, s in report["units"].items():
        if s.get("LoadState") == "not-found":
            click.echo(f"● {unit}: not installed (run hardware/install-pi.sh)")
            continue
        line = f"● {unit}: {s.get('ActiveState', '?')} ({s.get('SubState', '?')})"
        if s.get("MainPID", "0") not in ("", "0"):
            line += f", pid {s['MainPID']}"
        if s.get("User"):
            line += f", user {s['User']}"
        if s.get("NRestarts", "0") not in ("", "0"):
            line += f", restarted {s['NRestarts']}×"
        if s.get("Result") not in (None, "", "success"):
            line += f", last result {s['Result']}"
        if s.get("ActiveEnterTimestamp"):
            line += f", since {s['ActiveEnterTimestamp']}"
        click.echo(line)
        for log_line in s["log"]:
            click.echo(f"    {log_line}")
    raise SystemExit(code)
