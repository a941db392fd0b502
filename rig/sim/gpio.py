"""The simulated GPIO bus: emulated HX711 chips on virtual time.

``SimGpioChip`` is the pin-level model (write a pin, read a pin, read a group of pins) that
``SimBus`` and the fake ``lgpio`` / ``RPi.GPIO`` modules of the tests route to, so every
backend runs against the same emulated chips. Each GPIO call advances the virtual clock by
``op_cost_ns`` (about what one call costs on a Pi), so PD_SCK high times are measurable and
deterministic.

Bus-side faults: ``stretch_next_high_ns`` (the next clock-high lasts that much longer, as when
the reading process is pre-empted with PD_SCK high) and ``inject_late_read(ns)`` (the next
read happens that much later).
"""
from __future__ import annotations

from typing import Sequence

from rig.hw.gpio.base import GPIOBackend, VirtualClock
from rig.sim.chip import EmulatedHX711


class SimGpioChip:
    """Pin-number based model of a gpiochip with HX711s attached."""

    def __init__(self, clock: VirtualClock | None = None, op_cost_ns: int = 1000):
        self.clock = clock if clock is not None else VirtualClock()
        self.op_cost_ns = int(op_cost_ns)
        self._clocked: dict[int, list[EmulatedHX711]] = {}   # PD_SCK pin -> chips
        self._dout: dict[int, EmulatedHX711] = {}             # DOUT pin -> chip
        self.levels: dict[int, int] = {}                      # last level written per pin
        self.pulls: dict[int, str] = {}                       # input pin -> "up" / "down" / "none"
        self.stretch_next_high_ns = 0
        self._late_ns = 0
        self.writes = 0
        self.reads = 0

    def attach(self, chip: EmulatedHX711, clock_pin: int, data_pin: int) -> None:
        if data_pin in self._dout or data_pin in self._clocked:
            raise ValueError(f"pin {data_pin} already in use")
        self._clocked.setdefault(clock_pin, []).append(chip)
        self._dout[data_pin] = chip

    def inject_late_read(self, ns: int) -> None:
        self._late_ns += int(ns)

    def write(self, pin: int, level: int) -> None:
        clock = self.clock
        clock.advance(self.op_cost_ns)
        level = 1 if level else 0
        prev = self.levels.get(pin, 0)
        self.levels[pin] = level
        self.writes += 1
        chips = self._clocked.get(pin)
        if not chips or level == prev:
            return
        if not level and self.stretch_next_high_ns:
            clock.advance(self.stretch_next_high_ns)
            self.stretch_next_high_ns = 0
        t = clock.now_ns()
        for chip in chips:
            chip.clock_edge(t, bool(level))

    def _sample_time(self) -> int:
        self.clock.advance(self.op_cost_ns + self._late_ns)
        self._late_ns = 0
        self.reads += 1
        return self.clock.now_ns()

    #: A Pi 3/4's power-on pulls (BCM2835/2711 datasheets): GPIO 0-8 up, 9-27 down.
    FIRMWARE_PULL_UP_BELOW = 9

    def set_pull(self, pin: int, pull: str) -> None:
        """The pull resistor a backend asked for on input ``pin``: "up", "down" or "none"
        ("none" leaves the firmware's default in place)."""
        if pull not in ("up", "down", "none"):
            raise ValueError(f"pull must be up, down or none, got {pull!r}")
        self.pulls[pin] = pull

    def _level(self, pin: int, t: int) -> int:
        chip = self._dout.get(pin)
        if chip is not None:
            return chip.dout(t)
        if pin in self.levels:              # an output reads back its level
            return self.levels[pin]
        # nothing drives it (no board, a broken wire): the pull decides what it reads
        pull = self.pulls.get(pin, "none")
        if pull == "none":
            return 1 if pin < self.FIRMWARE_PULL_UP_BELOW else 0
        return 1 if pull == "up" else 0

    def read(self, pin: int) -> int:
        t = self._sample_time()
        return self._level(pin, t)

    def read_group(self, pins: Sequence[int]) -> int:
        """One read of several pins: bit i is pins[i]'s level."""
        t = self._sample_time()
        bits = 0
        for i, pin in enumerate(pins):
            if self._level(pin, t):
                bits |= 1 << i
        return bits


class SimBus(GPIOBackend):
    """GPIO backend on a SimGpioChip: chip i's DOUT on data_pins[i], all on one PD_SCK."""

    name = "sim"

    def __init__(self, chips: Sequence[EmulatedHX711], clock: VirtualClock | None = None, clock_pin: int = 5,
                 data_pins: Sequence[int] = (6, 13, 19, 26), op_cost_ns: int = 1000):
        chips = list(chips)
        if not chips:
            raise ValueError("SimBus needs at least one chip")
        if len(chips) > len(data_pins):
            raise ValueError(f"{len(chips)} chips but only {len(data_pins)} data pins")
        data_pins = tuple(data_pins)[: len(chips)]
        clock = clock if clock is not None else VirtualClock()
        super().__init__(clock_pin, data_pins, clock)
        self.chips = chips
        self.gpio = SimGpioChip(clock, op_cost_ns)
        for chip, pin in zip(chips, self.data_pins):
            self.gpio.attach(chip, self.clock_pin, pin)
            self.gpio.set_pull(pin, "up")          # as the lgpio and RPi.GPIO backends claim DOUT
        self.gpio.write(self.clock_pin, 0)

    @property
    def stretch_next_high_ns(self) -> int:
        return self.gpio.stretch_next_high_ns

    @stretch_next_high_ns.setter
    def stretch_next_high_ns(self, ns: int) -> None:
        self.gpio.stretch_next_high_ns = int(ns)

    def inject_late_read(self, ns: int) -> None:
        self.gpio.inject_late_read(ns)

    def set_clock(self, high: bool) -> None:
        self.gpio.write(self.clock_pin, 1 if high else 0)

    def read_data(self) -> int:
        return self.gpio.read_group(self.data_pins)

    def describe(self) -> dict:
        d = super().describe()
        d["chips"] = [c.name or f"chip{i}" for i, c in enumerate(self.chips)]
        d["op_cost_ns"] = self.gpio.op_cost_ns
        return d
