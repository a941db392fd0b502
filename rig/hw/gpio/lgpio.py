"""lgpio backend: the default on a Raspberry Pi (Pi 3, 4, 5 and Zero 2 W).

The header's gpiochip is found by its label, not its number (the number changed between
kernels and on the Pi 5): every /dev/gpiochipN is opened and the first whose label is the
wanted one is used. PD_SCK is claimed as an output (low, so the chips stay powered) and the
DOUT lines as ONE input group with pull-ups, read with a single ``group_read`` per sample: an
HX711 holds DOUT high until a conversion is ready, so a board that is not there (or a broken
DOUT wire) reads "not responding" instead of whatever the firmware's default pull gives (on
a Pi 3/4 BCM 6 is pulled up and 13/19/26 down: a missing board would look ready, or stuck low).

Importing lgpio starts its notification thread, which makes a FIFO ``.lgd-nfyN`` in the
directory named by ``$LG_WD`` (the library ``chdir``s there) or else the current one; under
systemd with ``ProtectSystem=strict``, or run by hand from ``/``, that directory is read-only
and the import itself fails with ``FileNotFoundError``. :func:`import_lgpio` therefore points
``LG_WD`` at a writable directory of StepPlate's own when it is unset or not writable, and
puts the working directory back after the import.
"""
from __future__ import annotations

import glob
import os
import re
import stat
import tempfile
from typing import Sequence

from rig.hw.gpio.base import Clock, GPIOBackend

#: labels of the 40-pin header's gpiochip: Pi 5, Pi 4, Pi 3 / Zero 2 W
PI_CHIP_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
INSTALL_HINT = "install the Raspberry Pi extras: pip install 'stepplate[pi]'"
DEVICE_GLOB = "/dev/gpiochip*"


class LgpioUnusable(OSError):
    """lgpio imports, or would, but cannot work here: its work directory or the GPIO device.
    ``fix``: what to do about it, in one sentence (rig doctor and "plate not connected" say it)."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix


#: the fixes LgpioUnusable names
FIX_WORKDIR = "give the service a writable LG_WD (hardware/systemd/stepplate-acquire.service does)"
FIX_GROUP = "add the service user to the gpio group (`sudo usermod -aG gpio stepplate`)"
FIX_CONFIG = "check gpio.chip_label and the pins in the config, and that no other program holds them"


def chip_devices() -> list[int]:
    """The numbers N of the /dev/gpiochipN character devices on this machine."""
    return sorted(int(m.group(1)) for p in glob.glob(DEVICE_GLOB) if (m := re.search(r"gpiochip(\d+)$", p)))


def _writable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def lgpio_workdir() -> str:
    """A writable directory for lgpio's notification FIFO: ``$LG_WD`` when it is one, else the
    service's runtime directory (systemd's ``$RUNTIME_DIRECTORY``), else
    ``$XDG_RUNTIME_DIR/stepplate``, else a private ``stepplate-lgpio-<uid>`` in the temporary
    directory (created 0700, refused if someone else owns it)."""
    wd = os.environ.get("LG_WD", "")
    if wd and _writable_dir(wd):
        return wd
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime and _writable_dir(runtime):
        return runtime
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and _writable_dir(xdg):
        d = os.path.join(xdg, "stepplate")
        os.makedirs(d, mode=0o700, exist_ok=True)
        return d
    d = os.path.join(tempfile.gettempdir(), f"stepplate-lgpio-{os.getuid()}")
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise LgpioUnusable(f"{d} is not a directory of this user's: set LG_WD to a writable directory",
                            FIX_WORKDIR)
    return d


def import_lgpio():
    """``import lgpio`` with a writable ``LG_WD`` (see the module docstring). ImportError when the
    library is not installed; LgpioUnusable (naming the directory) when it cannot start."""
    wd = lgpio_workdir()
    os.environ["LG_WD"] = wd
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    try:
        import lgpio
    except ImportError as exc:
        raise ImportError(f"the lgpio backend needs the lgpio module ({exc}); {INSTALL_HINT}") from exc
    except OSError as exc:
        raise LgpioUnusable(f"lgpio could not create its notification FIFO in {wd} ({exc}); "
                            "set LG_WD to a writable directory (the acquire service's RuntimeDirectory)",
                            FIX_WORKDIR) from exc
    finally:
        if cwd is not None:
            try:
                os.chdir(cwd)           # the library chdir()s to LG_WD; relative paths keep their meaning
            except OSError:
                pass
    return lgpio


class LgpioBackend(GPIOBackend):
    name = "lgpio"

    def __init__(self, clock_pin: int, data_pins: Sequence[int], clock: Clock | None = None,
                 chip_label: str = "auto", chip_numbers: Sequence[int] | None = None):
        super().__init__(clock_pin, data_pins, clock)
        lgpio = import_lgpio()
        self._lg = lgpio
        wanted = PI_CHIP_LABELS if chip_label in ("", "auto") else (chip_label,)
        numbers = list(chip_numbers) if chip_numbers is not None else chip_devices()
        if not numbers:
            raise LgpioUnusable(f"no GPIO character device: nothing matches {DEVICE_GLOB} on this machine "
                                "(not a Raspberry Pi, or a kernel without the GPIO character device)", FIX_CONFIG)
        found = []
        refused = False
        self._handle = None
        for num in numbers:
            try:
                h = lgpio.gpiochip_open(num)
            except Exception as exc:    # lgpio.error('can not open gpiochip'): absent, or no permission
                found.append(f"gpiochip{num}: {exc}")
                refused = True
                continue
            try:
                label = lgpio.gpio_get_chip_info(h)[3]
            except Exception:
                lgpio.gpiochip_close(h)
                continue
            found.append(f"gpiochip{num}={label!r}")
            if label in wanted:
                self._handle, self.chip_number, self.chip_label = h, num, label
                break
            lgpio.gpiochip_close(h)
        if self._handle is None:
            raise LgpioUnusable(f"no gpiochip labelled {' or '.join(map(repr, wanted))} "
                                f"(found: {', '.join(found) or 'none'}); is this a Raspberry Pi? "
                                "Set gpio.chip_label in the config to use another chip.",
                                FIX_GROUP if refused else FIX_CONFIG)
        h = self._handle
        try:
            lgpio.gpio_claim_output(h, self.clock_pin, 0)
            lgpio.group_claim_input(h, list(self.data_pins), lgpio.SET_PULL_UP)
        except Exception as exc:
            self._release()
            raise RuntimeError(f"cannot claim GPIO {self.clock_pin} / {list(self.data_pins)} on "
                               f"{self.chip_label}: {exc} (another program using the pins?)") from exc
        self._claimed = True
        self._leader = self.data_pins[0]

    def set_clock(self, high: bool) -> None:
        self._lg.gpio_write(self._handle, self.clock_pin, 1 if high else 0)

    def read_data(self) -> int:
        status, bits = self._lg.group_read(self._handle, self._leader)
        if status < 0:
            raise OSError(f"lgpio group_read failed ({status})")
        return bits

    def _release(self) -> None:
        lg, h = self._lg, self._handle
        if h is None:
            return
        for fn, arg in ((lg.gpio_write, (self.clock_pin, 0)), (lg.group_free, (self.data_pins[0],)),
                        (lg.gpio_free, (self.clock_pin,))):
            try:
                fn(h, *arg)
            except Exception:
                pass
        try:
            lg.gpiochip_close(h)
        finally:
            self._handle = None

    def close(self) -> None:
        self._release()

    def describe(self) -> dict:
        d = super().describe()
        d["gpiochip"] = getattr(self, "chip_label", None)
        return d
