"""Choose the GPIO backend at run time (gpiozero's pattern).

Order: the explicit argument (``--gpio``), then ``$RIG_GPIO``, then the config's
``gpio.backend``, then auto-detection: lgpio (every Pi, the 5 included), then RPi.GPIO
(Pi 4 and older), then — off a Raspberry Pi only — the simulator, with a warning on each
fallback. A backend named explicitly (argument, environment or config) that cannot open is an
error, never a silent fallback: the message says what to install or change.

On a Raspberry Pi (``/proc/device-tree/model``) auto-detection never ends on the simulator: a
clinic must not be served simulated sway because a library failed to load. Without a working
GPIO library it raises :class:`PlateNotConnected`, naming each library's failure and the fix;
``--backend sim`` / ``RIG_GPIO=sim`` remain the ways to a simulated plate on a Pi.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

from rig.hw.gpio.base import GPIOBackend

NAMES = ("auto", "lgpio", "rpigpio", "sim")


#: Where Linux names the board; a Raspberry Pi's reads "Raspberry Pi 4 Model B Rev 1.4" etc.
MODEL_PATH = Path("/proc/device-tree/model")


class BackendError(RuntimeError):
    """The requested GPIO backend cannot be opened; the message says why and what to do."""


class PlateNotConnected(BackendError):
    """On a Raspberry Pi, no GPIO library could open the header's pins: the plate cannot be read.
    The message starts "plate not connected:" and says the cause and the fix."""


def pi_model() -> str | None:
    """The board's model string when this is a Raspberry Pi, else None."""
    try:
        model = MODEL_PATH.read_bytes().decode("utf-8", "replace").strip("\x00\n ")
    except OSError:
        return None
    return model if "raspberry pi" in model.lower() else None


def _fix_for(lgpio_exc: BaseException) -> str:
    """What to do when lgpio failed this way, in one sentence: the fix the error carries
    (rig.hw.gpio.lgpio.LgpioUnusable), else by its kind."""
    from rig.hw.gpio.lgpio import FIX_CONFIG
    if isinstance(lgpio_exc, ImportError):
        return "install lgpio: `sudo apt install python3-lgpio`, or pip install 'stepplate[pi]' in the venv"
    return getattr(lgpio_exc, "fix", FIX_CONFIG)


def _open_named(name: str, gpio, sim_factory) -> GPIOBackend:
    if name == "lgpio":
        from rig.hw.gpio.lgpio import LgpioBackend  # imports the lgpio library: only when chosen
        return LgpioBackend(gpio.clock_pin, gpio.data_pins, chip_label=getattr(gpio, "chip_label", "auto"))
    if name == "rpigpio":
        from rig.hw.gpio.rpigpio import RPiGPIOBackend  # imports RPi.GPIO: only when chosen
        return RPiGPIOBackend(gpio.clock_pin, gpio.data_pins)
    if name == "sim":
        if sim_factory is None:
            raise BackendError("the simulated plate was chosen but no sim_factory was given "
                               "(the caller passes rig.sim.rig.make_sim_backend)")
        return sim_factory()
    raise BackendError(f"unknown GPIO backend {name!r} (known: {', '.join(NAMES)})")


def open_backend(explicit: str | None, config, *,
                 sim_factory: Callable[[], GPIOBackend] | None = None) -> tuple[GPIOBackend, str]:
    """Open the GPIO backend; returns (backend, human-readable reason for the choice).

    ``config`` is the rig config (or just its ``gpio`` section: ``backend``, ``clock_pin``,
    ``data_pins``, ``chip_label``). The simulator lives above this layer, so whoever may end
    up on it passes ``sim_factory`` (rig.acquire does); without one, "sim" is an error.
    """
    gpio = getattr(config, "gpio", config)
    env = os.environ.get("RIG_GPIO", "").strip().lower()
    cfg = str(gpio.backend).strip().lower()
    for name, why in ((explicit and explicit.strip().lower(), "explicit"), (env, "RIG_GPIO"),
                      (cfg, "config gpio.backend")):
        if not name or name == "auto":
            continue
        if name not in NAMES:
            raise BackendError(f"{why}: unknown GPIO backend {name!r} (known: {', '.join(NAMES)})")
        reason = {"explicit": f"explicit backend {name}", "RIG_GPIO": f"RIG_GPIO={name}",
                  "config gpio.backend": f"config gpio.backend = {name}"}[why]
        try:
            return _open_named(name, gpio, sim_factory), reason
        except BackendError:
            raise
        except (ImportError, RuntimeError, OSError) as exc:
            raise BackendError(f"{reason}, but it cannot be opened: {exc}") from exc

    # auto-detection
    model = pi_model()
    try:
        b = _open_named("lgpio", gpio, sim_factory)
        return b, f"auto: lgpio imported and found gpiochip '{b.chip_label}'"
    except ImportError as exc:
        lgpio_exc, lgpio_why = exc, "no lgpio"
        warnings.warn(f"GPIO auto: lgpio not available ({exc}); trying RPi.GPIO", RuntimeWarning, stacklevel=2)
    except (RuntimeError, OSError) as exc:
        lgpio_exc, lgpio_why = exc, f"lgpio cannot open the pins: {exc}"
        warnings.warn(f"GPIO auto: lgpio could not open the Pi's gpiochip ({exc}); trying RPi.GPIO",
                      RuntimeWarning, stacklevel=2)
    try:
        b = _open_named("rpigpio", gpio, sim_factory)
        return b, f"auto: {lgpio_why}; RPi.GPIO imported (BCM mode)"
    except (ImportError, RuntimeError, OSError) as exc:
        rpi_exc = exc
    if model is not None:
        raise PlateNotConnected(f"plate not connected: this is a {model} but no GPIO library can read the pins "
                                f"(lgpio: {lgpio_exc}; RPi.GPIO: {rpi_exc}). Fix: {_fix_for(lgpio_exc)}. "
                                "A simulated plate only on request: --backend sim or RIG_GPIO=sim.")
    warnings.warn(f"GPIO auto: RPi.GPIO not usable ({rpi_exc}); using the simulator", RuntimeWarning, stacklevel=2)
    b = _open_named("sim", gpio, sim_factory)
    return b, f"auto: not a Raspberry Pi ({lgpio_why}) — using the simulator"
