"""The GPIO interface the HX711 driver needs, and the clocks it runs on.

A backend drives one output (the shared PD_SCK clock line) and reads N inputs (one DOUT per
HX711) in a single call. Time comes from a Clock so that the same driver code runs on the
wall clock on a Pi and on virtual time in the simulator (deterministic, faster than real).
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Protocol, Sequence


class Clock(Protocol):
    def now_ns(self) -> int: ...
    def sleep_ns(self, ns: int) -> None: ...


class SystemClock:
    """Wall-clock monotonic time. Short waits spin; longer ones sleep."""

    SPIN_BELOW_NS = 200_000

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def sleep_ns(self, ns: int) -> None:
        if ns <= 0:
            return
        if ns < self.SPIN_BELOW_NS:
            end = time.monotonic_ns() + ns
            while time.monotonic_ns() < end:
                pass
        else:
            time.sleep(ns / 1e9)


class VirtualClock:
    """Simulated time. ``sleep_ns`` and ``advance`` move it forward.

    With ``realtime=True`` a sleep also waits on the wall clock until real time has caught
    up with virtual time, so the simulation is paced like the hardware (``rig demo``) while
    its protocol timing stays deterministic.
    """

    def __init__(self, start_ns: int = 0, realtime: bool = False):
        self._t = int(start_ns)
        self.realtime = realtime
        self._wall0 = time.monotonic_ns()
        self._virt0 = self._t

    def now_ns(self) -> int:
        return self._t

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError("time cannot go backwards")
        self._t += int(ns)

    def sleep_ns(self, ns: int) -> None:
        self.advance(max(0, int(ns)))
        if self.realtime:
            ahead = (self._t - self._virt0) - (time.monotonic_ns() - self._wall0)
            if ahead > 0:
                time.sleep(ahead / 1e9)


class GPIOBackend(ABC):
    """One shared clock output, N data inputs, a clock."""

    #: short name used in config, RIG_GPIO and `rig doctor`
    name: str = "abstract"

    def __init__(self, clock_pin: int, data_pins: Sequence[int], clock: Clock | None = None):
        if len(set(data_pins)) != len(data_pins):
            raise ValueError(f"data pins must be distinct, got {list(data_pins)}")
        if clock_pin in data_pins:
            raise ValueError(f"clock pin {clock_pin} is also listed as a data pin")
        self.clock_pin = int(clock_pin)
        self.data_pins = tuple(int(p) for p in data_pins)
        self.clock: Clock = clock if clock is not None else SystemClock()

    @property
    def n_data(self) -> int:
        return len(self.data_pins)

    @abstractmethod
    def set_clock(self, high: bool) -> None:
        """Drive PD_SCK high (True) or low (False)."""

    @abstractmethod
    def read_data(self) -> int:
        """Read every DOUT line at once: bit i is data_pins[i]'s level."""

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def sleep_ns(self, ns: int) -> None:
        self.clock.sleep_ns(ns)

    def close(self) -> None:
        """Release the pins (leave PD_SCK low so the chips stay powered)."""

    def describe(self) -> dict:
        return {"backend": self.name, "clock_pin": self.clock_pin, "data_pins": list(self.data_pins)}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
