"""Choose the GPIO backend at run time (gpiozero's pattern).

Order: the explicit argument (``--gpio``), then ``$RIG_GPIO``, then the config's
``gpio.backend``, then auto-detection: lgpio (every Pi, the 5 included), then RPi.GPIO
(Pi 4 and older), then the simulator, with a warning on each fallback. A backend named
explicitly (argument, environment or config) that cannot open is an error, never a silent
fallback: the message says what to install or change.
"""
from __future__ import annotations

import os
import warnings
from typing import Callable

from rig.gpio.base import GPIOBackend

NAMES = ("auto", "lgpio", "rpigpio", "sim")


class BackendError(RuntimeError):
    """The requested GPIO backend cannot be opened; the message says why and what to do."""


def _config(config):
    if config is None:
        from rig.config import Config
        config = Config()
    return config


def _open_named(name: str, config, sim_factory) -> GPIOBackend:
    g = config.gpio
    if name == "lgpio":
        from rig.gpio.lgpio import LgpioBackend
        return LgpioBackend(g.clock_pin, g.data_pins, chip_label=getattr(g, "chip_label", "auto"))
    if name == "rpigpio":
        from rig.gpio.rpigpio import RPiGPIOBackend
        return RPiGPIOBackend(g.clock_pin, g.data_pins)
    if name == "sim":
        if sim_factory is None:
            try:
                from rig.sim.rig import make_sim_backend
            except ImportError as exc:
                raise BackendError(f"the simulated plate (rig.sim.rig.make_sim_backend) is not available: {exc}") from exc
            return make_sim_backend(config)
        return sim_factory()
    raise BackendError(f"unknown GPIO backend {name!r} (known: {', '.join(NAMES)})")


def open_backend(explicit: str | None = None, config=None, *,
                 sim_factory: Callable[[], GPIOBackend] | None = None) -> tuple[GPIOBackend, str]:
    """Open the GPIO backend; returns (backend, human-readable reason for the choice)."""
    config = _config(config)
    env = os.environ.get("RIG_GPIO", "").strip().lower()
    cfg = str(config.gpio.backend).strip().lower()
    for name, why in ((explicit and explicit.strip().lower(), "explicit"), (env, "RIG_GPIO"),
                      (cfg, "config gpio.backend")):
        if not name or name == "auto":
            continue
        if name not in NAMES:
            raise BackendError(f"{why}: unknown GPIO backend {name!r} (known: {', '.join(NAMES)})")
        reason = {"explicit": f"explicit backend {name}", "RIG_GPIO": f"RIG_GPIO={name}",
                  "config gpio.backend": f"config gpio.backend = {name}"}[why]
        try:
            return _open_named(name, config, sim_factory), reason
        except BackendError:
            raise
        except (ImportError, RuntimeError, OSError) as exc:
            raise BackendError(f"{reason}, but it cannot be opened: {exc}") from exc

    # auto-detection
    try:
        b = _open_named("lgpio", config, sim_factory)
        return b, f"auto: lgpio imported and found gpiochip '{b.chip_label}'"
    except ImportError as exc:
        lgpio_why = "no lgpio"
        warnings.warn(f"GPIO auto: lgpio not available ({exc}); trying RPi.GPIO", RuntimeWarning, stacklevel=2)
    except (RuntimeError, OSError) as exc:
        lgpio_why = "lgpio found no Pi gpiochip"
        warnings.warn(f"GPIO auto: lgpio could not open the Pi's gpiochip ({exc}); trying RPi.GPIO",
                      RuntimeWarning, stacklevel=2)
    try:
        b = _open_named("rpigpio", config, sim_factory)
        return b, f"auto: {lgpio_why}; RPi.GPIO imported (BCM mode)"
    except (ImportError, RuntimeError, OSError) as exc:
        warnings.warn(f"GPIO auto: RPi.GPIO not usable ({exc}); using the simulator", RuntimeWarning, stacklevel=2)
    b = _open_named("sim", config, sim_factory)
    return b, f"auto: not a Raspberry Pi ({lgpio_why}) — using the simulator"
