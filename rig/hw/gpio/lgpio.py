"""lgpio backend: the default on a Raspberry Pi (Pi 3, 4, 5 and Zero 2 W).

The header's gpiochip is found by its label, not its number (the number changed between
kernels and on the Pi 5): every /dev/gpiochipN is opened and the first whose label is the
wanted one is used. PD_SCK is claimed as an output (low, so the chips stay powered) and the
DOUT lines as ONE input group, read with a single ``group_read`` per sample.
"""
from __future__ import annotations

import glob
import re
from typing import Sequence

from rig.hw.gpio.base import Clock, GPIOBackend

#: labels of the 40-pin header's gpiochip: Pi 5, Pi 4, Pi 3 / Zero 2 W
PI_CHIP_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
INSTALL_HINT = "install the Raspberry Pi extras: pip install 'stepplate[pi]'"


def _chip_numbers() -> list[int]:
    nums = sorted(int(m.group(1)) for p in glob.glob("/dev/gpiochip*") if (m := re.search(r"gpiochip(\d+)$", p)))
    return nums or list(range(8))


class LgpioBackend(GPIOBackend):
    name = "lgpio"

    def __init__(self, clock_pin: int, data_pins: Sequence[int], clock: Clock | None = None,
                 chip_label: str = "auto", chip_numbers: Sequence[int] | None = None):
        super().__init__(clock_pin, data_pins, clock)
        try:
            import lgpio
        except ImportError as exc:
            raise ImportError(f"the lgpio backend needs the lgpio module ({exc}); {INSTALL_HINT}") from exc
        self._lg = lgpio
        wanted = PI_CHIP_LABELS if chip_label in ("", "auto") else (chip_label,)
        numbers = list(chip_numbers) if chip_numbers is not None else _chip_numbers()
        found = []
        self._handle = None
        for num in numbers:
            try:
                h = lgpio.gpiochip_open(num)
            except Exception:           # lgpio.error: no such chip
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
            raise RuntimeError(f"no gpiochip labelled {' or '.join(map(repr, wanted))} "
                               f"(found: {', '.join(found) or 'none'}); is this a Raspberry Pi? "
                               "Set gpio.chip_label in the config to use another chip.")
        h = self._handle
        try:
            lgpio.gpio_claim_output(h, self.clock_pin, 0)
            lgpio.group_claim_input(h, list(self.data_pins))
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
