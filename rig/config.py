"""The rig's one config file (TOML), validated at load.

Every option has a default, so an empty file (or none) is a valid config. An unknown option,
a wrong type or an impossible value is a ConfigError that names the option: a typo must not
be silently ignored. Option-by-option documentation: docs/config.md.

Where the file is looked for: the ``--config`` option, then ``$RIG_CONFIG``, then
``/etc/stepplate/rig.toml``; when none exists the defaults are used.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATHS = (Path("/etc/stepplate/rig.toml"),)


class ConfigError(ValueError):
    """A config file or option is wrong; the message names the option."""


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


@dataclass(frozen=True)
class GpioConfig:
    backend: str = "auto"                  #: auto | lgpio | rpigpio | sim
    chip_label: str = "auto"               #: gpiochip label for lgpio ("auto": the Pi's pinctrl-* chip)
    clock_pin: int = 5                     #: BCM pin of the shared PD_SCK line
    data_pins: tuple[int, ...] = (6, 13, 19, 26)  #: BCM pins of DOUT: fl, fr, bl, br

    def validate(self, p: str) -> None:
        _check(self.backend in ("auto", "lgpio", "rpigpio", "sim"), f"{p}.backend",
               f"must be one of auto, lgpio, rpigpio, sim (got {self.backend!r})")
        _check(len(self.data_pins) == 4, f"{p}.data_pins", "must list 4 BCM pins (fl, fr, bl, br)")
        pins = (self.clock_pin, *self.data_pins)
        for pin in pins:
            _check(2 <= pin <= 27, f"{p}.data_pins" if pin != self.clock_pin else f"{p}.clock_pin",
                   f"BCM pin {pin} is not a usable header GPIO (2..27)")
        _check(len(set(pins)) == len(pins), f"{p}.data_pins", "pins must be distinct and differ from clock_pin")


@dataclass(frozen=True)
class Hx711Config:
    rate_sps: int = 80            #: 10 or 80: must match how the boards' RATE pin is wired
    gain: int = 128               #: 128 or 64 (channel A), 32 (channel B)
    max_clock_high_us: float = 50.0  #: a frame whose PD_SCK stayed high longer is invalid

    def validate(self, p: str) -> None:
        _check(self.rate_sps in (10, 80), f"{p}.rate_sps", f"must be 10 or 80 (got {self.rate_sps})")
        _check(self.gain in (128, 64, 32), f"{p}.gain", f"must be 128, 64 or 32 (got {self.gain})")
        _check(0 < self.max_clock_high_us < 60, f"{p}.max_clock_high_us",
               "must be above 0 and below the chip's 60 µs power-down time")


@dataclass(frozen=True)
class PlateConfig:
    name: str = "stepplate-1"          #: plate name/serial, written into calibrations and recordings
    cell_spacing_ml_mm: float = 440.0  #: distance between left and right load cells
    cell_spacing_ap_mm: float = 340.0  #: distance between front and back load cells
    cell_capacity_kg: float = 50.0     #: rated capacity of each load cell
    cell_sensitivity_mv_v: float = 2.0 #: rated output of each load cell at capacity
    min_fz_n: float = 20.0             #: below this total force the COP is undefined

    def validate(self, p: str) -> None:
        _check(bool(self.name.strip()), f"{p}.name", "must not be empty")
        for k in ("cell_spacing_ml_mm", "cell_spacing_ap_mm"):
            _check(50 <= getattr(self, k) <= 2000, f"{p}.{k}", "must be between 50 and 2000 mm")
        _check(0 < self.cell_capacity_kg <= 2000, f"{p}.cell_capacity_kg", "must be in (0, 2000] kg")
        _check(0.1 <= self.cell_sensitivity_mv_v <= 10, f"{p}.cell_sensitivity_mv_v", "must be in [0.1, 10] mV/V")
        _check(0 < self.min_fz_n < 500, f"{p}.min_fz_n", "must be in (0, 500) N")


@dataclass(frozen=True)
class PathsConfig:
    data_dir: str = "~/.local/share/stepplate"  #: recordings, calibration, database, socket

    def validate(self, p: str) -> None:
        _check(bool(self.data_dir.strip()), f"{p}.data_dir", "must not be empty")

    @property
    def data_path(self) -> Path:
        return Path(os.path.expanduser(self.data_dir))


@dataclass(frozen=True)
class WebConfig:
    host: str = "0.0.0.0"       #: address the dashboard listens on
    port: int = 5000            #: network port of the dashboard
    database_url: str = ""      #: SQLAlchemy URL; empty: SQLite in the data folder

    def validate(self, p: str) -> None:
        _check(1 <= self.port <= 65535, f"{p}.port", f"must be 1..65535 (got {self.port})")


@dataclass(frozen=True)
class Config:
    gpio: GpioConfig = field(default_factory=GpioConfig)
    hx711: Hx711Config = field(default_factory=Hx711Config)
    plate: PlateConfig = field(default_factory=PlateConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    source: str = field(default="defaults", compare=False)

    def validate(self) -> "Config":
        for f in dataclasses.fields(self):
            if f.name != "source":
                getattr(self, f.name).validate(f.name)
        return self

    def geometry(self):
        from rig.plate import PlateGeometry
        return PlateGeometry.rectangular(self.plate.cell_spacing_ml_mm / 1000, self.plate.cell_spacing_ap_mm / 1000)


def _coerce(value, typ, key: str):
    """Check a TOML value against a dataclass field type; ints are accepted for floats."""
    origin = typing.get_origin(typ)
    if origin is tuple:
        _check(isinstance(value, list), key, f"must be a list, got {type(value).__name__}")
        item = typing.get_args(typ)[0]
        return tuple(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if typ is float:
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), key,
               f"must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if typ is int:
        _check(isinstance(value, int) and not isinstance(value, bool), key,
               f"must be an integer, got {type(value).__name__} {value!r}")
        return value
    if typ is str:
        _check(isinstance(value, str), key, f"must be a string, got {type(value).__name__} {value!r}")
        return value
    if typ is bool:
        _check(isinstance(value, bool), key, f"must be true or false, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported option type {typ}")  # pragma: no cover


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
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name != "source"}
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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return from_dict(data, source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
