"""Some of a backend's DOUT lines: the bring-up of a plate one board at a time.

The HX711 driver reads a frame only when every chip it clocks is ready, so with one board
wired and three missing every frame would be invalid. ``ChipSubset`` shows the driver only the
chosen lines of a backend (the others stay claimed, with their pull-ups, and are clocked too:
PD_SCK is shared), so `rig doctor --chips fl` reads board fl alone at its full rate.
"""
from __future__ import annotations

from typing import Sequence

from rig.constants import CORNERS
from rig.hw.gpio.base import GPIOBackend


def parse_chips(text: str) -> tuple[str, ...]:
    """"fl,br" -> ("fl", "br") in the plate's corner order; ValueError naming a bad corner."""
    names = [c.strip().lower() for c in str(text).split(",") if c.strip()]
    bad = [c for c in names if c not in CORNERS]
    if bad or not names:
        raise ValueError(f"chips {text!r}: give corners among {', '.join(CORNERS)}, e.g. fl or fl,fr")
    return tuple(c for c in CORNERS if c in names)


class ChipSubset(GPIOBackend):
    """``inner`` with only the DOUT lines of ``corners`` (names in CORNERS order of inner's pins)."""

    def __init__(self, inner: GPIOBackend, corners: Sequence[str]):
        if inner.n_data != len(CORNERS):
            raise ValueError(f"a chip subset needs the four-corner backend, got {inner.n_data} data lines")
        self.inner = inner
        self.corners = tuple(corners)
        self._index = [CORNERS.index(c) for c in self.corners]
        super().__init__(inner.clock_pin, [inner.data_pins[i] for i in self._index], inner.clock)
        self.name = inner.name

    def set_clock(self, high: bool) -> None:
        self.inner.set_clock(high)

    def read_data(self) -> int:
        bits = self.inner.read_data()
        out = 0
        for j, i in enumerate(self._index):
            if bits >> i & 1:
                out |= 1 << j
        return out

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> dict:
        return {**self.inner.describe(), "subset": list(self.corners)}
