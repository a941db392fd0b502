"""Fake ``lgpio`` and ``RPi.GPIO`` modules that route to a SimGpioChip with emulated HX711s.

Only the calls the backends use are faked, with the documented signatures and return
shapes, and with the same refusals as the real libraries (claiming a busy line, using a
freed handle, RPi.GPIO without setmode), so the backends' code paths run end to end.
"""
from __future__ import annotations

import types

from rig.sim.gpio import SimGpioChip


class FakeLgpio:
    """State behind a fake ``lgpio`` module: several gpiochips, one of them wired."""

    def __init__(self, chips: dict[int, tuple[str, SimGpioChip | None]]):
        self.chips = chips                  # number -> (label, pin model or None)
        self.handles: dict[int, int] = {}   # handle -> chip number
        self.claimed: dict[int, set[int]] = {}
        self.groups: dict[int, dict[int, list[int]]] = {}
        self.opened: list[int] = []
        self._next = 10

    class error(Exception):
        pass

    def module(self) -> types.ModuleType:
        m = types.ModuleType("lgpio")
        m.error = self.error
        for name in ("gpiochip_open", "gpiochip_close", "gpio_get_chip_info", "gpio_claim_output",
                     "group_claim_input", "group_read", "gpio_write", "gpio_free", "group_free"):
            setattr(m, name, getattr(self, name))
        # the real module's line flags (lgpio 0.2.2.0: SET_PULL_UP 32, SET_PULL_DOWN 64, SET_PULL_NONE 128)
        m.SET_PULL_UP, m.SET_PULL_DOWN, m.SET_PULL_NONE = 32, 64, 128
        return m

    def _chip(self, h):
        if h not in self.handles:
            raise self.error("unknown handle")
        return self.handles[h]

    def gpiochip_open(self, gpiochip):
        if gpiochip not in self.chips:
            raise self.error("can not open gpiochip")
        h = self._next
        self._next += 1
        self.handles[h] = gpiochip
        self.claimed[h] = set()
        self.groups[h] = {}
        self.opened.append(gpiochip)
        return h

    def gpiochip_close(self, handle):
        self._chip(handle)
        del self.handles[handle]
        return 0

    def gpio_get_chip_info(self, handle):
        num = self._chip(handle)
        return 0, 54, f"gpiochip{num}", self.chips[num][0]

    def _claim(self, handle, gpios):
        busy = [g for g in gpios if any(g in c for h, c in self.claimed.items() if self.handles.get(h) == self.handles[handle])]
        if busy:
            raise self.error("GPIO busy")
        self.claimed[handle].update(gpios)

    def gpio_claim_output(self, handle, gpio, level=0, lFlags=0):
        self._chip(handle)
        self._claim(handle, [gpio])
        self._pins(handle).write(gpio, level)
        return 0

    def group_claim_input(self, handle, gpio, lFlags=0):
        self._chip(handle)
        self._claim(handle, list(gpio))
        self.groups[handle][gpio[0]] = list(gpio)
        pull = {32: "up", 64: "down", 128: "none", 0: "none"}[lFlags]
        pins = self.chips[self.handles[handle]][1]
        for g in gpio:
            if pins is not None:
                pins.set_pull(g, pull)
        return 0

    def _pins(self, handle) -> SimGpioChip:
        pins = self.chips[self._chip(handle)][1]
        if pins is None:
            raise self.error("nothing wired to this gpiochip in the test")
        return pins

    def group_read(self, handle, gpio):
        group = self.groups[handle].get(gpio)
        if group is None:
            raise self.error("GPIO not in a group")
        return 0, self._pins(handle).read_group(group)

    def gpio_write(self, handle, gpio, level):
        if gpio not in self.claimed[handle]:
            raise self.error("GPIO not allocated")
        self._pins(handle).write(gpio, level)
        return 0

    def gpio_free(self, handle, gpio):
        self.claimed[handle].discard(gpio)
        return 0

    def group_free(self, handle, gpio):
        for g in self.groups[handle].pop(gpio, []):
            self.claimed[handle].discard(g)
        return 0


class FakeRPiGPIO:
    """State behind a fake ``RPi.GPIO`` module."""

    BCM, BOARD = 11, 10
    OUT, IN = 0, 1
    HIGH, LOW = 1, 0
    PUD_OFF, PUD_DOWN, PUD_UP = 20, 21, 22

    def __init__(self, pins: SimGpioChip, pi5: bool = False):
        self.pins = pins
        self.pi5 = pi5
        self.mode = None
        self.setup_pins: dict[int, int] = {}
        self.cleaned: list[int] = []

    def module(self) -> tuple[types.ModuleType, types.ModuleType]:
        gpio = types.ModuleType("RPi.GPIO")
        for k in ("BCM", "BOARD", "OUT", "IN", "HIGH", "LOW", "PUD_OFF", "PUD_DOWN", "PUD_UP"):
            setattr(gpio, k, getattr(self, k))
        for name in ("setmode", "getmode", "setwarnings", "setup", "output", "input", "cleanup"):
            setattr(gpio, name, getattr(self, name))
        pkg = types.ModuleType("RPi")
        pkg.GPIO = gpio
        pkg.__path__ = []
        return pkg, gpio

    def setmode(self, mode):
        self.mode = mode

    def getmode(self):
        return self.mode

    def setwarnings(self, flag):
        pass

    def setup(self, channel, direction, pull_up_down=PUD_OFF, initial=None):
        if self.pi5:
            raise RuntimeError("Cannot determine SOC peripheral base address")
        if self.mode is None:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or GPIO.setmode(GPIO.BCM)")
        for ch in (channel if isinstance(channel, (list, tuple)) else [channel]):
            self.setup_pins[ch] = direction
            if direction == self.OUT and initial is not None:
                self.pins.write(ch, initial)
            if direction == self.IN:
                self.pins.set_pull(ch, {self.PUD_UP: "up", self.PUD_DOWN: "down", self.PUD_OFF: "none"}[pull_up_down])

    def output(self, channel, value):
        if self.setup_pins.get(channel) != self.OUT:
            raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
        self.pins.write(channel, value)

    def input(self, channel):
        if channel not in self.setup_pins:
            raise RuntimeError("You must setup() the GPIO channel first")
        return self.pins.read(channel)

    def cleanup(self, channel=None):
        chans = list(self.setup_pins) if channel is None else (
            list(channel) if isinstance(channel, (list, tuple)) else [channel])
        for ch in chans:
            self.setup_pins.pop(ch, None)
            self.cleaned.append(ch)
