"""RPi.GPIO backend (BCM numbering): Raspberry Pi 4 and older only.

RPi.GPIO drives the SoC registers directly and does not support the Pi 5 (its GPIO sit
behind the RP1 chip): use the lgpio backend there.
"""
from __future__ import annotations

from typing import Sequence

from rig.hw.gpio.base import Clock, GPIOBackend

INSTALL_HINT = "install the Raspberry Pi extras: pip install 'stepplate[pi]'"


class RPiGPIOBackend(GPIOBackend):
    name = "rpigpio"

    def __init__(self, clock_pin: int, data_pins: Sequence[int], clock: Clock | None = None):
        super().__init__(clock_pin, data_pins, clock)
        try:
            import RPi.GPIO as GPIO
        except ImportError as exc:
            raise ImportError(f"the rpigpio backend needs RPi.GPIO ({exc}); {INSTALL_HINT}") from exc
        except RuntimeError as exc:     # imported off a Pi / on a Pi 5
            raise RuntimeError(f"RPi.GPIO cannot run here ({exc}); on a Raspberry Pi 5 RPi.GPIO is not "
                               "supported: use gpio.backend = \"lgpio\"") from exc
        self._gpio = GPIO
        try:
            GPIO.setwarnings(False)
            GPIO.setmode(GPIO.BCM)
            GPIO.setup(self.clock_pin, GPIO.OUT, initial=GPIO.LOW)
            # pull-ups: an absent board's DOUT then reads high, "not responding" (see lgpio.py)
            GPIO.setup(list(self.data_pins), GPIO.IN, pull_up_down=GPIO.PUD_UP)
        except RuntimeError as exc:
            raise RuntimeError(f"RPi.GPIO failed to set up the pins ({exc}). RPi.GPIO does not support the "
                               "Raspberry Pi 5: use gpio.backend = \"lgpio\"") from exc
        self._open = True
        self._bits = tuple(1 << i for i in range(len(self.data_pins)))

    def set_clock(self, high: bool) -> None:
        self._gpio.output(self.clock_pin, self._gpio.HIGH if high else self._gpio.LOW)

    def read_data(self) -> int:
        inp = self._gpio.input
        bits = 0
        for pin, bit in zip(self.data_pins, self._bits):
            if inp(pin):
                bits |= bit
        return bits

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        GPIO = self._gpio
        try:
            GPIO.output(self.clock_pin, GPIO.LOW)
        finally:
            # PD_SCK stays an output driven low: a floating clock could power the chips down
            GPIO.cleanup(list(self.data_pins))
