"""The rig's one config file (TOML), validated at load.

Every option has a default, so an empty file (or none) is a valid config. An unknown option,
a wrong type or an impossible value is a ConfigError that names the option: a typo must not
be silently ignored. Option-by-option documentation: docs/config.md (its reference part is
generated from this module, as is hardware/rig.example.toml; tests/cli/test_config.py checks
that neither has drifted).

Each option is declared once, with ``opt(default, doc, ...)``: its default, a one-line
meaning, and the constraints that the generic validation checks (``choices``, bounds
``ge``/``gt``/``le``/``lt`` (applied to each item of a list), ``length``, ``nonempty``).
A section's ``check`` method adds the rules that involve more than one option.

Where the file is looked for: the ``--config`` option, then ``$RIG_CONFIG``, then
``/etc/stepplate/rig.toml``; when none exists the defaults are used.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import textwrap
import typing
from dataclasses import dataclass, field
from pathlib import Path

from rig import strict_toml
from rig.constants import SOCKET_NAME

DEFAULT_PATHS = (Path("/etc/stepplate/rig.toml"),)

#: Longest path a Unix-domain socket can bind to on Linux (sun_path is 108 bytes with the NUL).
MAX_SOCKET_PATH = 107


class ConfigError(ValueError):
    """A config file or option is wrong; the message names the option."""


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def opt(default, doc: str, *, unit: str = "", choices: tuple = (), ge=None, gt=None, le=None,
        lt=None, length: int | None = None, nonempty: bool = False, hint: str = ""):
    """Declare an option: its default, its meaning and the constraints validation checks."""
    meta = {"doc": doc, "unit": unit, "choices": tuple(choices), "ge": ge, "gt": gt, "le": le,
            "lt": lt, "length": length, "nonempty": nonempty, "hint": hint}
    return field(default=default, metadata=meta)


def _fmt(v) -> str:
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return str(int(v))
    return repr(v) if isinstance(v, str) else str(v)


def _check_value(value, meta: dict, key: str) -> None:
    """The generic rules from ``opt`` metadata; a list's bounds apply to each item."""
    if meta.get("length") is not None:
        _check(len(value) == meta["length"], key, f"must list {meta['length']} values (got {len(value)})")
    if meta.get("nonempty"):
        _check(bool(str(value).strip()), key, "must not be empty")
    items = [(f"{key}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, tuple) else [(key, value)]
    hint = f" ({meta['hint']})" if meta.get("hint") else ""
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    for k, v in items:
        if meta.get("choices"):
            _check(v in meta["choices"], k, "must be one of "
                   f"{', '.join(_fmt(c) for c in meta['choices'])} (got {_fmt(v)}){hint}")
        for name, ok, word in (("ge", lambda a, b: a >= b, "at least"), ("gt", lambda a, b: a > b, "above"),
                               ("le", lambda a, b: a <= b, "at most"), ("lt", lambda a, b: a < b, "below")):
            bound = meta.get(name)
            if bound is not None:
                _check(ok(v, bound), k, f"must be {word} {_fmt(bound)}{unit} (got {_fmt(v)}){hint}")


class _Section:
    """Generic validation of a section's options from their ``opt`` metadata, then ``check``."""

    def validate(self, p: str) -> None:
        for f in dataclasses.fields(self):
            _check_value(getattr(self, f.name), f.metadata, f"{p}.{f.name}")
        self.check(p)

    def check(self, p: str) -> None:
        """Rules involving several options of this section (override)."""


@dataclass(frozen=True)
class GpioConfig(_Section):
    """Which GPIO library drives the pins, and which BCM pins the four HX711 boards use."""

    backend: str = opt("auto", "GPIO library; auto picks lgpio, then RPi.GPIO, then (never on a Raspberry "
                       "Pi) the simulator, with a warning on each fallback", choices=("auto", "lgpio", "rpigpio", "sim"))
    chip_label: str = opt("auto", "gpiochip label for lgpio; auto: the Pi's pinctrl-* chip "
                          "(the Pi 5 included)", nonempty=True)
    clock_pin: int = opt(5, "BCM pin of the shared PD_SCK clock line (default: header pin 29)", ge=2, le=27,
                         hint="usable header GPIOs are BCM 2..27")
    data_pins: tuple[int, ...] = opt((6, 13, 19, 26), "BCM pins of the four DOUT lines, in corner "
                                     "order fl, fr, bl, br (default: header pins 31, 33, 35, 37)",
                                     length=4, ge=2, le=27, hint="usable header GPIOs are BCM 2..27")

    def check(self, p: str) -> None:
        _check(self.clock_pin not in self.data_pins, f"{p}.clock_pin",
               f"BCM {self.clock_pin} is also in {p}.data_pins")
        _check(len(set(self.data_pins)) == len(self.data_pins), f"{p}.data_pins", "pins must be distinct")


@dataclass(frozen=True)
class Hx711Config(_Section):
    """How the HX711 chips are set up (all four alike)."""

    rate_sps: int = opt(80, "samples per second; must match how the boards' RATE pin is wired "
                        "(high: 80, low: 10)", unit="SPS", choices=(10, 80))
    gain: int = opt(128, "PGA gain: 128 or 64 read channel A, 32 reads channel B", choices=(128, 64, 32))
    max_clock_high_us: float = opt(50.0, "a frame whose PD_SCK stayed high longer than this is "
                                   "invalid (the chip may have powered down)", unit="µs", gt=0, lt=60,
                                   hint="the chip powers down after 60 µs high")


@dataclass(frozen=True)
class PlateConfig(_Section):
    """The platform: where the cells sit and what they are rated for."""

    name: str = opt("stepplate-1", "plate name or serial, written into calibrations and recordings",
                    nonempty=True)
    cell_spacing_ml_mm: float = opt(440.0, "distance between the left and right load cells "
                                    "(centre to centre)", unit="mm", ge=50, le=2000)
    cell_spacing_ap_mm: float = opt(340.0, "distance between the front and back load cells "
                                    "(centre to centre)", unit="mm", ge=50, le=2000)
    cell_capacity_kg: float = opt(50.0, "rated capacity of each load cell (see hardware/README.md "
                                  "for which capacity suits which use)", unit="kg", gt=0, le=2000)
    cell_sensitivity_mv_v: float = opt(2.0, "rated output of each load cell at capacity",
                                       unit="mV/V", ge=0.1, le=10)
    min_fz_n: float = opt(20.0, "below this total vertical force the COP is undefined (nobody on "
                          "the plate)", unit="N", gt=0, lt=500)


@dataclass(frozen=True)
class PathsConfig(_Section):
    """Where the rig keeps its data."""

    data_dir: str = opt("~/.local/share/stepplate", "data folder: recordings, calibration, the SQLite "
                        "database and the acquisition socket (on a Pi: /var/lib/stepplate)",
                        nonempty=True)

    @property
    def data_path(self) -> Path:
        return Path(os.path.expanduser(self.data_dir))


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class WebConfig(_Section):
    """The dashboard's network side and its database."""

    host: str = opt("0.0.0.0", "address the dashboard listens on (0.0.0.0: every interface)",
                    nonempty=True)
    port: int = opt(5000, "network port of the dashboard (below 1024 needs CAP_NET_BIND_SERVICE, "
                    "which the shipped unit grants)", ge=1, le=65535)
    database_url: str = opt("", "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/stepplate; "
                            "empty: SQLite in the data folder")
    https: bool = opt(False, "serve HTTPS with cert_file and key_file")
    cert_file: str = opt("", "PEM certificate (chain) for HTTPS")
    key_file: str = opt("", "PEM private key for HTTPS")

    def check(self, p: str) -> None:
        if self.database_url:
            _check(bool(_URL.match(self.database_url)), f"{p}.database_url",
                   f"must be a URL like dialect://… or empty for SQLite (got {self.database_url!r})")
        if self.https:
            for k in ("cert_file", "key_file"):
                _check(bool(getattr(self, k).strip()), f"{p}.{k}", f"must be given when {p}.https is true")


@dataclass(frozen=True)
class DisplayConfig(_Section):
    """Units the dashboard and reports show (stored data is always SI: N, mm)."""

    force_unit: str = opt("n", "force shown as newtons (n), kilograms-force (kg) or percent of "
                          "body weight (percent_bw; N when no body weight is known)",
                          choices=("n", "kg", "percent_bw"))
    length_unit: str = opt("mm", "COP and distances shown in mm or cm", choices=("mm", "cm"))


@dataclass(frozen=True)
class AcquisitionConfig(_Section):
    """The acquisition process and how it hands data to the others."""

    batch_ms: int = opt(40, "samples are published in batches of this length (shorter: lower live "
                        "latency, more messages; docs/live-stream.md)", unit="ms", ge=10, le=1000)
    socket: str = opt("", "Unix socket the acquisition process publishes on; empty: acquire.sock "
                      "in the data folder")


@dataclass(frozen=True)
class CalibrationConfig(_Section):
    """How calibration is policed."""

    max_age_days: int = opt(30, "a calibration older than this is reported as stale by rig doctor "
                            "and the dashboard", unit="days", ge=1, le=3650)


@dataclass(frozen=True)
class Config:
    gpio: GpioConfig = field(default_factory=GpioConfig)
    hx711: Hx711Config = field(default_factory=Hx711Config)
    plate: PlateConfig = field(default_factory=PlateConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    acquisition: AcquisitionConfig = field(default_factory=AcquisitionConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    source: str = field(default="defaults", compare=False)

    def validate(self) -> "Config":
        for name in section_names():
            getattr(self, name).validate(name)
        # acquisition.batch_ms shorter than one sample period (the 40 ms default at 10 SPS)
        # is valid: batches are cut by stream time, so each batch then holds one sample
        sock = str(self.socket_path)
        _check(len(os.fsencode(sock)) <= MAX_SOCKET_PATH, "acquisition.socket",
               f"socket path {sock} is longer than {MAX_SOCKET_PATH} bytes (Linux limit)")
        return self

    def geometry(self):
        from rig.signal.plate import PlateGeometry
        return PlateGeometry.rectangular(self.plate.cell_spacing_ml_mm / 1000, self.plate.cell_spacing_ap_mm / 1000)

    @property
    def socket_path(self) -> Path:
        """The acquisition socket: ``acquisition.socket`` or acquire.sock in the data folder."""
        if self.acquisition.socket:
            return Path(os.path.expanduser(self.acquisition.socket))
        return self.paths.data_path / SOCKET_NAME

    def storage(self, database: str | None = None, data_dir: str | None = None) -> tuple[str, Path]:
        """(database URL, data folder): the one rule for where a rig's data lives, shared by
        `rig serve`, the dashboard's defaults, `rig backup` and `rig restore`. Database:
        ``database``, else ``$STEPPLATE_DATABASE_URL``, else ``[web] database_url``, else SQLite
        ``stepplate.db`` in the data folder; data folder: ``data_dir``, else ``[paths] data_dir``."""
        d = Path(data_dir).expanduser() if data_dir else self.paths.data_path
        url = database or os.environ.get("STEPPLATE_DATABASE_URL") or self.web.database_url \
            or f"sqlite:///{d / 'stepplate.db'}"
        return url, d


def section_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Config) if f.name != "source")


def _coerce(value, typ, key: str):
    """Check a TOML value against a dataclass field type; ints are accepted for floats."""
    origin = typing.get_origin(typ)
    if origin is tuple:
        _check(isinstance(value, list), key, f"must be a list, got {type(value).__name__}")
        item = typing.get_args(typ)[0]
        return tuple(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    return strict_toml.typed(value, typ, key, ConfigError)


def _section(cls, data: dict, name: str):
    _check(isinstance(data, dict), name, "must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown option (known: {', '.join(sorted(known))})")
    return cls(**{k: _coerce(v, hints[k], f"{name}.{k}") for k, v in data.items()})


def from_dict(data: dict, source: str = "<dict>") -> Config:
    """Build and validate a Config from parsed TOML."""
    sections = section_names()
    for key in data:
        if key not in sections:
            raise ConfigError(f"{key}: unknown section (known: {', '.join(sorted(sections))})")
    hints = typing.get_type_hints(Config)
    kwargs = {name: _section(hints[name], data[name], name) for name in data}
    return Config(**kwargs, source=source).validate()


def load(path: str | os.PathLike | None = None) -> Config:
    """Load the config: explicit path, then $RIG_CONFIG, then the default locations."""
    if path is None:
        env = os.environ.get("RIG_CONFIG")
        if env:
            path = env
        else:
            path = next((p for p in DEFAULT_PATHS if p.exists()), None)
    if path is None:
        return Config().validate()
    path = Path(path)
    data = strict_toml.read(path, ConfigError, "config file")
    try:
        return from_dict(data, source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


# --- documentation generated from the declarations -----------------------------------------

def options():
    """Every option as (section, name, type, default, field metadata), in declaration order."""
    hints = typing.get_type_hints(Config)
    for sec in section_names():
        cls = hints[sec]
        fhints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            yield sec, f.name, fhints[f.name], f.default, f.metadata


def toml_value(v) -> str:
    """A default as TOML source (the option types used here only)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def _type_name(typ) -> str:
    if typing.get_origin(typ) is tuple:
        return f"list of {_type_name(typing.get_args(typ)[0])}"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}[typ]


def allowed(meta: dict) -> str:
    """The constraints of an option in words, for the docs."""
    parts = []
    if meta.get("choices"):
        parts.append("one of " + ", ".join(toml_value(c) for c in meta["choices"]))
    for name, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
        if meta.get(name) is not None:
            parts.append(f"{sym} {_fmt(meta[name])}")
    if meta.get("length") is not None:
        parts.append(f"exactly {meta['length']} items")
    if meta.get("nonempty"):
        parts.append("not empty")
    return ", ".join(parts)


def template() -> str:
    """A complete config file: every option at its default, each with its meaning.

    Loading it gives exactly ``Config()``; hardware/rig.example.toml is this text.
    """
    hints = typing.get_type_hints(Config)
    out = ["# StepPlate rig config (TOML). Every option is shown at its default; delete what you",
           "# do not change. Reference: docs/config.md. Check a file with: rig config check FILE", ""]
    current = None
    for sec, name, typ, default, meta in options():
        if sec != current:
            if current is not None:
                out.append("")
            out.append(f"[{sec}]")
            out.append(f"# {(hints[sec].__doc__ or '').strip()}")
            current = sec
        unit = f" [{meta['unit']}]" if meta.get("unit") else ""
        allow = allowed(meta)
        text = f"{meta['doc']}{unit}" + (f". Allowed: {allow}." if allow else ".")
        out += textwrap.wrap(text, 94, initial_indent="# ", subsequent_indent="#   ")
        out.append(f"{name} = {toml_value(default)}")
    return "\n".join(out) + "\n"


def markdown_reference() -> str:
    """The option tables of docs/config.md."""
    hints = typing.get_type_hints(Config)
    out, current = [], None
    for sec, name, typ, default, meta in options():
        if sec != current:
            if current is not None:
                out.append("")
            out += [f"### [{sec}]", "", (hints[sec].__doc__ or "").strip(), "",
                    "| option | type | default | allowed | meaning |", "|---|---|---|---|---|"]
            current = sec
        unit = f" ({meta['unit']})" if meta.get("unit") else ""
        out.append(f"| `{name}` | {_type_name(typ)} | `{toml_value(default)}` | {allowed(meta) or 'any'} "
                   f"| {meta['doc']}{unit} |")
    return "\n".join(out) + "\n"


def render_with(overrides: dict[str, object]) -> str:
    """The template with some options set, e.g. ``{"paths.data_dir": "/var/lib/stepplate"}``.

    The result keeps every comment; it is validated, and a key that is not an option is a
    ConfigError.
    """
    lines = template().splitlines()
    todo = dict(overrides)
    hints = typing.get_type_hints(Config)
    section = None
    for i, line in enumerate(lines):
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^(\w+) = ", line)
        if m and f"{section}.{m.group(1)}" in todo:
            key = f"{section}.{m.group(1)}"
            typ = typing.get_type_hints(hints[section])[m.group(1)]
            raw = todo.pop(key)
            value = _coerce(list(raw) if isinstance(raw, tuple) else raw, typ, key)
            lines[i] = f"{m.group(1)} = {toml_value(value)}"
    if todo:
        raise ConfigError(f"{sorted(todo)[0]}: unknown option")
    text = "\n".join(lines) + "\n"
    from_dict(strict_toml.loads(text, ConfigError, "<rendered>"), source="<rendered>")
    return text
